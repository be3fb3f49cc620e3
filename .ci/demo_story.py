"""Run one demo workflow in a local Galaxy through planemo and tell its story in a few lines.

    demo_story.py DEMO WORKFLOW_DIR [--tools DIR]

Galaxy's and planemo's own log (hundreds of lines) goes to out/DEMO/galaxy.log. The console
gets one line per stage (Galaxy starting, inputs uploading, each workflow step running with
its own progress lines: epochs, losses, test metrics), read from Galaxy's API while planemo
runs; then each downloaded output is renamed after its workflow output label, and a summary
gives the key numbers and the files. Only the standard library: it runs with any Python 3.
"""

import argparse
import csv
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "test_key"  # planemo's default master API key for the Galaxy it starts
POLL_SECONDS = 2
# What a tool prints that is worth a line on the console: its progress and its verdicts.
PROGRESS = re.compile(r"^(epoch |early stopping|time budget|best epoch|test: |trained in|"
                      r"warning|stopped|checkpoints? |written|model written)", re.IGNORECASE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", help="the demo's name, e.g. demo-finetune (outputs go to out/DEMO)")
    parser.add_argument("workflow_dir", type=Path, help="workflows/NAME, with NAME.ga and demo-job.yml")
    parser.add_argument("--tools", default="tools", help="the tool folder planemo loads")
    args = parser.parse_args(argv)

    name = args.workflow_dir.name
    out = REPO / "out" / args.demo
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log_path = out / "galaxy.log"
    port = free_port()
    command = [
        str(REPO / ".ci" / "planemo"), "run", "--port", str(port),
        "--job_config_file", str(REPO / ".ci" / "demo_job_conf.yml"),
        "--extra_tools", args.tools, "--download_outputs", "--output_directory", str(out),
        "--output_json", str(out / "outputs.json"),
        str(args.workflow_dir / f"{name}.ga"), str(args.workflow_dir / "demo-job.yml"),
    ]
    say(f"{args.demo}: the {name} workflow in a local Galaxy, on the CPU")
    say(f"  Galaxy's and planemo's log: {relative(log_path)}")
    started = time.monotonic()
    with open(log_path, "w") as log:
        planemo = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            follow(Galaxy(port), planemo, started)
        except KeyboardInterrupt:
            planemo.terminate()
            planemo.wait()
            raise
    if planemo.returncode != 0:
        say(f"the run failed (planemo exit status {planemo.returncode}); the end of {relative(log_path)}:")
        lines = log_path.read_text(errors="replace").splitlines()
        for line in lines[-25:]:
            say(f"  {line}")
        return 1
    files = rename_outputs(out)
    say(f"done in {minutes(time.monotonic() - started)}")
    print_summary(name, out, files)
    return 0


class Galaxy:
    """The few API calls the story needs, as the admin (planemo's master key)."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/api/"

    def get(self, path, **params):
        query = urllib.parse.urlencode({"key": ADMIN_KEY, **params})
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=20) as response:
            return json.load(response)

    def up(self):
        try:
            self.get("version")
            return True
        except OSError:
            return False


def follow(galaxy, planemo, started):
    """Print the stages until planemo exits; API hiccups only delay a line."""
    said = set()  # stages already announced
    jobs = {}  # job id -> {"name", "stdout" (characters read), "started"}
    labels = {}  # job id -> workflow step label
    say("Galaxy starting (the first start of a fresh checkout takes a few minutes)...")
    while planemo.poll() is None:
        time.sleep(POLL_SECONDS)
        try:
            if "up" not in said:
                if galaxy.up():
                    said.add("up")
                    say(f"Galaxy is up after {minutes(time.monotonic() - started)}")
                continue
            for job in reversed(galaxy.get("jobs", limit=100)):
                step_job(galaxy, job, jobs, labels, said)
        except (OSError, ValueError):
            continue  # Galaxy busy or stopping: the next poll catches up
    if "up" in said:
        say("downloading the outputs and stopping Galaxy")


def step_job(galaxy, job, jobs, labels, said):
    """Announce a job's start, relay its progress lines, announce its end."""
    if job["tool_id"] == "__DATA_FETCH__":
        if "upload" not in said:
            said.add("upload")
            say("uploading the inputs...")
        return
    if job["id"] not in labels:
        labels.update(step_labels(galaxy))
    seen = jobs.setdefault(job["id"], {"name": labels.get(job["id"], job["tool_id"]),
                                       "stdout": 0, "started": None, "ended": False})
    if seen["ended"]:
        return
    if job["state"] == "running" and seen["started"] is None:
        seen["started"] = time.monotonic()
        say(f"{seen['name']}: running")
    if job["state"] in ("running", "ok", "error"):
        relay_output(galaxy, job["id"], seen)
    if job["state"] in ("ok", "error"):
        seen["ended"] = True
        took = f" in {minutes(time.monotonic() - seen['started'])}" if seen["started"] else ""
        say(f"{seen['name']}: {'done' if job['state'] == 'ok' else 'FAILED'}{took}")
        if job["state"] == "error":
            stderr = galaxy.get(f"jobs/{job['id']}", full="true").get("tool_stderr", "")
            for line in stderr.strip().splitlines()[-5:]:
                say(f"    {line}")


def step_labels(galaxy):
    """Job id -> the workflow step's label (score_exon, pretrain, ...)."""
    labels = {}
    for invocation in galaxy.get("invocations"):
        for step in galaxy.get(f"invocations/{invocation['id']}").get("steps", []):
            if step.get("job_id") and step.get("workflow_step_label"):
                labels[step["job_id"]] = step["workflow_step_label"]
    return labels


def relay_output(galaxy, job_id, seen):
    """Print the progress lines the tool wrote since the last poll (live while it runs)."""
    try:
        console = galaxy.get(f"jobs/{job_id}/console_output", stdout_position=seen["stdout"],
                             stdout_length=1_000_000, stderr_position=0, stderr_length=0)
    except OSError:
        return
    text = console.get("stdout") or ""
    if console.get("state") != "running":
        text = text[seen["stdout"]:]  # a finished job's whole stdout
    complete = text[: text.rfind("\n") + 1]  # a line still being written waits
    seen["stdout"] += len(complete)
    for line in complete.splitlines():
        if PROGRESS.match(line.strip()):
            say(f"    {line.strip()}")


def rename_outputs(out):
    """Name each downloaded file after its workflow output label; return {label: path}.

    planemo's outputs.json maps each label to a File object whose path is Galaxy's name for
    the dataset; the path is updated there too.
    """
    outputs = json.loads((out / "outputs.json").read_text())
    files = {}
    for label, output in outputs.items():
        path = Path(output.get("path", "")) if isinstance(output, dict) else Path()
        if not path.is_file():
            continue
        target = out / f"{label}{EXTENSIONS.get(path.suffix, path.suffix)}"
        path.rename(target)
        files[label] = target
        output["path"] = str(target)
    (out / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n")
    return files


EXTENSIONS = {".tabular": ".tsv", ".txt": ".txt"}  # Galaxy's datatype -> the usual extension


def print_summary(name, out, files):
    say("")
    say(f"Summary of the {name} workflow run:")
    steps = [line for label, path in files.items() for line in describe(label, path)]
    for line in steps:
        say(f"  {line}")
    say(f"Outputs in {relative(out)}/:")
    width = max((len(path.name) for path in files.values()), default=0)
    for path in files.values():
        say(f"  {path.name:<{width}}  {size(path.stat().st_size)}")


def describe(label, path):
    """The key numbers of one output, by what it is (unknown kinds give nothing)."""
    if path.suffix not in (".tsv", ".tabular"):
        return []
    rows = read_tsv(path)
    if not rows:
        return []
    columns = rows[0].keys()
    if {"kind", "train_loss", "val_loss"} <= columns:  # pretrain's metrics
        steps = [r for r in rows if r["kind"] == "step" and r["train_loss"]]
        epochs = [r for r in rows if r["kind"] == "epoch" and r["val_loss"]]
        lines = []
        if steps:
            lines.append(f"pretraining: training loss {number(steps[0]['train_loss'])} -> "
                         f"{number(steps[-1]['train_loss'])} over {len(steps)} logged steps")
        if epochs:
            lines.append(f"pretraining: validation loss {number(epochs[0]['val_loss'])} -> "
                         f"{number(epochs[-1]['val_loss'])} over {len(epochs)} epoch(s)")
        return lines
    if {"epoch", "val_loss", "accuracy"} <= columns:  # fine-tune's per-epoch table
        return [f"fine-tuning: validation loss {number(rows[0]['val_loss'])} -> "
                f"{number(rows[-1]['val_loss'])}, accuracy {number(rows[0]['accuracy'])} -> "
                f"{number(rows[-1]['accuracy'])} over {len(rows)} epoch(s)"]
    if {"metric", "value"} <= columns:
        values = {r["metric"]: r["value"] for r in rows}
        if "accuracy" in values and label in ("test_metrics", "prediction_metrics"):
            what = "fine-tuned model on the test rows" if label == "test_metrics" else "predict"
            return [f"{what}: accuracy {number(values['accuracy'])}, MCC "
                    f"{number(values.get('mcc', ''))}, AUROC {number(values.get('auroc', ''))}"]
        if "tokens" in values and "sequences" in values:
            return [f"tokenize: {values['sequences']} sequences -> {values['tokens']} tokens "
                    f"({values.get('tokenizer', '')})"]
    if {"group", "statistic", "value"} <= columns:  # compare-effects' summary
        return compared_groups(rows)
    return []


def compared_groups(rows):
    values = {(r["group"], r["statistic"]): r["value"] for r in rows}
    groups = [g for g in dict.fromkeys(r["group"] for r in rows) if (g, "median") in values]
    lines = ["effects: " + ", ".join(f"{g} median {number(values[(g, 'median')])} "
                                     f"(n {values.get((g, 'n'), '?')})" for g in groups)]
    tests = {"welch_t_p_value": "Welch's t-test p", "mann_whitney_u_p_value": "Mann-Whitney U p"}
    found = [f"{words} {number(v)}" for (g, s), v in values.items() if (words := tests.get(s))]
    if found:
        lines.append("effects: " + ", ".join(found))
    return lines


def read_tsv(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.4g}"


def size(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000


def minutes(seconds):
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def relative(path):
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def say(line):
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
