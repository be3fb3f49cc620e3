"""Finish setting up the local Galaxy of `make serve` once it answers.

Makes the admin account (once), imports the suite's workflows into it (those not there
yet), then prints the URL and the login. Runs beside the server and gives up when the
server process it watches has gone.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import requests
import yaml


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bootstrap-api-key", required=True)
    parser.add_argument("--watch-pid", type=int, required=True, help="the server; stop waiting when it has gone")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-name", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--workflows", type=Path, help="folder searched for *.ga and *.gxwf.yml")
    parser.add_argument("--model", action="append", default=[], metavar="SLUG=NAME=FOLDER",
                        help="a model folder to install through the data manager (its row's value "
                        "is dnalm_1_SLUG), unless the huggingface table has it")
    parser.add_argument("--log", type=Path, help="where to write what was done")
    return parser.parse_args()


def server_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_galaxy(url, pid):
    while server_alive(pid):
        try:
            if requests.get(f"{url}/api/version", timeout=5).ok:
                return True
        except requests.RequestException:
            pass  # not listening yet, or still loading
        time.sleep(2)
    return False


class Galaxy:
    def __init__(self, url, api_key):
        self.url = url
        self.headers = {"x-api-key": api_key}

    def get(self, path, **params):
        response = requests.get(f"{self.url}/api/{path}", headers=self.headers, params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def post(self, path, payload):
        response = requests.post(f"{self.url}/api/{path}", headers=self.headers, json=payload, timeout=300)
        response.raise_for_status()
        return response.json()


def ensure_admin(bootstrap, email, name, password):
    """The admin's id, making the account on the first start."""
    users = bootstrap.get("users", f_email=email)
    if users:
        return users[0]["id"]
    return bootstrap.post("users", {"email": email, "username": name, "password": password})["id"]


def read_workflow(path):
    text = path.read_text()
    return json.loads(text) if path.suffix == ".ga" else yaml.safe_load(text)


def import_workflows(admin, folder, log):
    present = {workflow["name"] for workflow in admin.get("workflows")}
    for path in sorted([*folder.rglob("*.ga"), *folder.rglob("*.gxwf.yml")]):
        workflow = read_workflow(path)
        name = workflow.get("name") or workflow.get("label")
        if name in present:
            continue
        admin.post("workflows", {"workflow": workflow})
        present.add(name)  # a .ga and its .gxwf.yml source are one workflow: the .ga comes first
        print(f"imported workflow {name!r} from {path}", file=log)


def install_models(admin, models, log):
    """Run the data manager (the folder route) for each model the huggingface table lacks.

    Its jobs run in a history of their own; Galaxy adds the rows when they finish.
    """
    present = {row[0] for row in admin.get("tool_data/huggingface").get("fields", [])}
    history_id = None
    for spec in models:
        slug, name, folder = spec.split("=", 2)
        if f"dnalm_1_{slug}" in present or not Path(folder).is_dir():
            continue
        if history_id is None:
            history_id = admin.post("histories", {"name": "Installed models (data manager)"})["id"]
        admin.post("tools", {
            "tool_id": "data_manager_dnalm_models", "history_id": history_id,
            "inputs": {"source|route": "folder", "source|folder": folder, "slug": slug, "display_name": name},
        })
        print(f"installing {name} ({folder}) through the data manager", file=log)


def main():
    args = parse_args()
    log = open(args.log, "a") if args.log else sys.stderr
    if not wait_for_galaxy(args.url, args.watch_pid):
        return 1
    bootstrap = Galaxy(args.url, args.bootstrap_api_key)
    admin_id = ensure_admin(bootstrap, args.admin_email, args.admin_name, args.admin_password)
    admin = Galaxy(args.url, bootstrap.post(f"users/{admin_id}/api_key", {}))
    if args.workflows and args.workflows.is_dir():
        import_workflows(admin, args.workflows, log)
    if args.model:
        install_models(admin, args.model, log)
    print(
        f"\nGalaxy with the dnalm tools is ready: {args.url}\n"
        f"  log in as {args.admin_email} (admin), password {args.admin_password}\n"
        f"  tools: section 'DNA language models'; bundled data: Upload > Choose remote files\n"
        f"  models installed on the server: each model form's 'Installed on this server'\n"
        f"  Ctrl-C stops it.\n",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
