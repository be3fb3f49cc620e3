"""Run one demo workflow in a local Galaxy through planemo and tell its story in a few lines.

    demo_story.py DEMO WORKFLOW_DIR [--tools DIR] [--probe WINDOWS_CSV] [--genome FASTA] [--python PY]

Galaxy's and planemo's own log (hundreds of lines) goes to out/DEMO/galaxy.log. The console
gets one line per stage (Galaxy starting, inputs uploading, each workflow step running with
its own progress lines: epochs, losses, test metrics), read from Galaxy's API while planemo
runs; a file a tool says it wrote is named as the user gets it (out/DEMO/LABEL.EXT), not by
its path inside Galaxy. Then each downloaded output is renamed after its workflow output
label, and a summary (.ci/demo_summary.py) gives the key numbers with what they beat, what
to look for in each figure, and with --probe and --genome the yeast probe of the model and
the next step. Only the standard library: it runs with any Python 3.
"""

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import demo_summary
from demo_summary import relative

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "test_key"  # planemo's default master API key for the Galaxy it starts
POLL_SECONDS = 2
WIDTH = 100  # of the summary's wrapped prose
# What a tool prints that is worth a line on the console: its progress and its verdicts.
PROGRESS = re.compile(r"^(epoch |early stopping|time budget|best epoch|test: |trained in|"
                      r"warning|stopped|checkpoints? |written|model written)", re.IGNORECASE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", help="the demo's name, e.g. demo-finetune (outputs go to out/DEMO)")
    parser.add_argument("workflow_dir", type=Path, help="workflows/NAME, with NAME.ga and demo-job.yml")
    parser.add_argument("--tools", default="tools", help="the tool folder planemo loads")
    parser.add_argument("--probe", type=Path, metavar="WINDOWS_CSV",
                        help="after the run, the yeast probe (bench/bench_yeast_probe.py) of the "
                             "model on these labelled coding and intergenic windows")
    parser.add_argument("--genome", type=Path,
                        help="the genome the model learnt: the next step scores a VCF against it")
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python",
                        help="the dnalm environment's python, which runs the probe")
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
            follow(Galaxy(port, out), planemo, started)
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
    print_summary(name, out, files, args)
    return 0


class Galaxy:
    """The few API calls the story needs, as the admin (planemo's master key).

    ``out`` is where the workflow's outputs are downloaded to (out/DEMO).
    """

    def __init__(self, port, out):
        self.url = f"http://127.0.0.1:{port}/api/"
        self.out = out

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
        for line in unfinished_steps(jobs, planemo.returncode == 0):
            say(line)
        say("outputs downloaded, Galaxy stopped")


def unfinished_steps(jobs, succeeded):
    """A line for each step seen running but not seen ending: the last step can end between
    two polls, and planemo then stops Galaxy at once. planemo succeeded only if it ended well."""
    return [f"{seen['name']}: {'done' if succeeded else 'not finished'}"
            for seen in jobs.values() if not seen["ended"]]


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
            say(f"    {named_as_downloaded(line.strip(), lambda: job_outputs(galaxy, job_id))}")


# A file inside Galaxy: .../job_working_directory/.../dataset_<uuid>.dat or .../objects/...
GALAXY_FILE = re.compile(r"\S*/dataset_(?P<uuid>[0-9a-fA-F-]{32,36})\.dat\b")


def named_as_downloaded(line, outputs):
    """``line`` with each Galaxy file path replaced by the name the user gets.

    ``outputs()`` gives ``{uuid (no dashes): name}`` of the job's outputs; it is asked only
    when the line holds such a path. A path it does not know becomes "a Galaxy dataset".
    """
    if not GALAXY_FILE.search(line):
        return line
    try:
        names = outputs()
    except (OSError, ValueError, KeyError):  # Galaxy busy: the line still loses the path
        names = {}
    return GALAXY_FILE.sub(
        lambda match: names.get(match["uuid"].replace("-", "").lower(), "a Galaxy dataset"), line)


def job_outputs(galaxy, job_id):
    """``{uuid: name}`` of a job's outputs: out/DEMO/LABEL.EXT for a workflow output, else
    the dataset's name in the history."""
    labels = {}  # dataset id -> workflow output label
    for invocation in galaxy.get("invocations"):
        outputs = galaxy.get(f"invocations/{invocation['id']}").get("outputs", {})
        labels.update({output["id"]: label for label, output in outputs.items()})
    names = {}
    for output in galaxy.get(f"jobs/{job_id}").get("outputs", {}).values():
        dataset = galaxy.get(f"datasets/{output['id']}")
        uuid = str(output.get("uuid") or dataset.get("uuid", "")).replace("-", "").lower()
        extension = "." + dataset.get("extension", "dat")
        if output["id"] in labels:
            name = f"{labels[output['id']]}{EXTENSIONS.get(extension, extension)}"
            names[uuid] = f"{relative(galaxy.out / name)} (once downloaded)"
        else:
            names[uuid] = f"the Galaxy dataset '{dataset.get('name', '?')}'"
    return names


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


def print_summary(name, out, files, args):
    """The key numbers, the probe (with --probe), the files with captions, the next step."""
    say("")
    say(f"Summary of the {name} workflow run:")
    model = files.get("model")
    for label, path in files.items():
        for line in demo_summary.describe(label, path, model=model):
            say(f"  {line}")
    if args.probe and model:
        say("  running the probe of the model's embeddings (bench/bench_yeast_probe.py, "
            f"about a minute; its log: {relative(out / 'probe.log')})...")
        results = demo_summary.run_probe(args.python, model, args.probe, out)
        lines = (demo_summary.probe_lines(results) if results
                 else [f"probe: failed; see {relative(out / 'probe.log')}"])
        for line in lines:
            say(f"  {line}")
    say(f"Outputs in {relative(out)}/:")
    width = max((len(path.name) for path in files.values()), default=0)
    captions = demo_summary.captions(labelled=bool(args.probe))
    for label, path in files.items():
        say(f"  {path.name:<{width}}  {size(path.stat().st_size)}")
        if label in captions:
            say(textwrap.fill(captions[label], WIDTH, initial_indent="      ",
                              subsequent_indent="      "))
    if args.genome and model:
        say("")
        for line in demo_summary.next_step(model, args.genome):
            say(line if line.startswith(" ") else textwrap.fill(line, WIDTH,
                                                                subsequent_indent="  "))


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


def say(line):
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
