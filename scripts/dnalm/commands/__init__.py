"""One thin module per ``dnalm`` subcommand (one per Galaxy tool): parse arguments, call the core, write outputs."""
