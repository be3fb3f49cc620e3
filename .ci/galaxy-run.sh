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
# Uploads and the metadata step after each job run as Celery tasks in one worker (below) that
# has Galaxy imported already. Without it each of them is a new Python process importing
# Galaxy: 15-25 s of CPU every time, most of what a tool test costs on a 2-core machine.
export GALAXY_CONFIG_OVERRIDE_ENABLE_CELERY_TASKS=true
export GALAXY_CONFIG_OVERRIDE_METADATA_STRATEGY=directory_celery
# No containers and no conda: tools get dnalm from the galaxy_packages resolver.
export GALAXY_CONFIG_OVERRIDE_ENABLE_MULLED_CONTAINERS=false
export GALAXY_CONFIG_OVERRIDE_INTERACTIVETOOLS_ENABLE=false
export GALAXY_CONFIG_OVERRIDE_CONDA_AUTO_INIT=false
export GALAXY_CONFIG_OVERRIDE_CONDA_AUTO_INSTALL=false

# From the settings planemo (or make serve) wrote: the address to bind; Galaxy's data folder (by
# default data/ beside the settings file), where Celery keeps its results database, made now as
# the worker starts before Galaxy would; and the SQLite databases, given a 60 s busy timeout:
# Galaxy and the Celery worker write to them from two processes, and on a busy 2-core machine
# SQLite's default 5 s wait for the other's lock ran out ("database is locked").
read -r bind data_dir database broker < <("$venv/bin/python" - <<'PY'
import os, yaml
settings_file = os.environ["GALAXY_CONFIG_FILE"]
with open(settings_file) as handle:
    config = yaml.safe_load(handle)  # planemo writes JSON, which YAML reads too
galaxy = config["galaxy"]
data_dir = os.path.join(os.path.dirname(settings_file), galaxy.get("data_dir", "data"))
database = galaxy.get("database_connection") or f"sqlite:///{data_dir}/universe.sqlite?isolation_level=IMMEDIATE"
broker = galaxy.get("amqp_internal_connection") or f"sqlalchemy+sqlite:///{data_dir}/control.sqlite?isolation_level=IMMEDIATE"

def patient(url):
    if "sqlite" not in url or "timeout=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "timeout=60"

print(config["gravity"]["gunicorn"]["bind"], data_dir, patient(database), patient(broker))
PY
)
mkdir -p "$data_dir"
export GALAXY_CONFIG_OVERRIDE_DATABASE_CONNECTION=$database
export GALAXY_CONFIG_OVERRIDE_AMQP_INTERNAL_CONNECTION=$broker

# The Celery worker that gravity would start, in this process group (planemo and make serve stop
# the whole group) but not a child of gunicorn, which would report its exit.
("$venv/bin/celery" --app galaxy.celery worker --concurrency 2 --pool threads --loglevel INFO \
    --queues celery,galaxy.internal,galaxy.external &)

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
