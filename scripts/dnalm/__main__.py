from dnalm.cli import main

raise SystemExit(main())
