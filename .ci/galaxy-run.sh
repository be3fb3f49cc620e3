#!/usr/bin/env bash
# Galaxy's run.sh for the planemo --galaxy_root folder (.ci-work/galaxy-root/run.sh links here).
#
# planemo cds into the root, writes the server settings to $GALAXY_CONFIG_FILE and runs
# `run.sh --server-name main`. Galaxy's own run.sh would go through gravity, which refuses to
# run as root, and common_startup.sh, which wants a git checkout; so start the one web
# process gravity would have started, bound to the address planemo chose.
set -euo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
venv=${GALAXY_VENV:-$repo/.ci-work/galaxy-venv}
: "${GALAXY_CONFIG_FILE:?planemo (or make serve) sets GALAXY_CONFIG_FILE}"

# planemo passes its settings as GALAXY_CONFIG_OVERRIDE_* variables, which beat galaxy.yml
# and anything exported before planemo starts; so the few that must differ are set here.
# No Celery worker runs, and with Celery tasks on, uploads wait for one forever.
export GALAXY_CONFIG_OVERRIDE_ENABLE_CELERY_TASKS=false
# No containers and no conda: tools get dnalm from the galaxy_packages resolver.
export GALAXY_CONFIG_OVERRIDE_ENABLE_MULLED_CONTAINERS=false
export GALAXY_CONFIG_OVERRIDE_INTERACTIVETOOLS_ENABLE=false
export GALAXY_CONFIG_OVERRIDE_CONDA_AUTO_INIT=false
export GALAXY_CONFIG_OVERRIDE_CONDA_AUTO_INSTALL=false

read -r bind tool_data <<<"$("$venv/bin/python" - <<'PY'
import json, os, yaml
with open(os.environ["GALAXY_CONFIG_FILE"]) as handle:
    config = yaml.safe_load(handle)  # planemo writes JSON, which YAML reads too
tool_data = os.environ.get("GALAXY_CONFIG_OVERRIDE_TOOL_DATA_PATH") or config["galaxy"].get(
    "tool_data_path", "tool-data")
print(config["gravity"]["gunicorn"]["bind"], tool_data)
PY
)"

# Galaxy reads twobit.loc from its tool-data folder at start-up and logs a traceback when
# there is none; an empty one says what is true here: no 2bit genomes.
mkdir -p "$tool_data"
[ -e "$tool_data/twobit.loc" ] || echo "# no 2bit genomes" > "$tool_data/twobit.loc"

# --keep-alive: the web client polls every 2-3 s, and gunicorn's default of 2 s closes idle
# connections just as the browser may reuse them: the likely cause of the requests that failed
# in the browser ("Failed to fetch", never reaching the server) on a loaded 2-core machine.
exec "$venv/bin/gunicorn" 'galaxy.webapps.galaxy.fast_factory:factory()' \
    -k galaxy.webapps.galaxy.workers.Worker \
    --bind "$bind" \
    --workers 1 \
    --timeout 600 \
    --keep-alive 75 \
    --config python:galaxy.web_stack.gunicorn_config \
    --no-control-socket
