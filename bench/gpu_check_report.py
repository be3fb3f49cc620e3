"""Figures of a bench/gpu_check.sh run: one line per step, then summary.md and results.json.

    python bench/gpu_check_report.py line STEP WORKDIR OUTDIR # the figures of one step, one line
    python bench/gpu_check_report.py summary WORKDIR OUTDIR   # summary.md + results.json in OUTDIR
    python bench/gpu_check_report.py faster-recipe WORKDIR    # dnalm or dnalm_compiled
    python bench/gpu_check_report.py train-figures METRICS PRESET MINUTES TARGET [RECIPE HELD_OUT]

WORKDIR holds what the steps wrote: steps.tsv (name, status, seconds) and the
benches' JSON files (pretrain.json, embed.json, probe.json, train.json,
genome_train.json, genome_probe.json);
OUTDIR/pytest.xml is the GPU tests' JUnit report with the figures they recorded.
"""

import ast
import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def load(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def pytest_figures(xml_path):
    """Counts and the recorded properties of each test, from a JUnit XML report."""
    if not Path(xml_path).is_file():
        return None
    root = ElementTree.parse(xml_path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    tests = {}
    for case in suite.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        properties = {}
        for prop in case.iter("property"):
            try:
                properties[prop.get("name")] = ast.literal_eval(prop.get("value"))
            except (ValueError, SyntaxError):
                properties[prop.get("name")] = prop.get("value")
        tests[case.get("name")] = {"outcome": outcome, "seconds": float(case.get("time", 0)),
                                   **properties}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {"counts": counts, "tests": tests}


def gpu_tests_line(work, out):
    figures = pytest_figures(Path(out) / "pytest.xml")
    if not figures:
        return "no JUnit report"
    c = figures["counts"]
    line = f"{c['passed']} passed, {c['failures'] + c['errors']} failed, {c['skipped']} skipped"
    failed = [name for name, t in figures["tests"].items() if t["outcome"] in ("failure", "error")]
    return line + (f" ({', '.join(failed)})" if failed else "")


def pretrain_line(work, out, name="pretrain.json"):
    figures = load(Path(work) / name)
    if not figures:
        return "no figures"
    parts = []
    for name, recipe in figures["recipes"].items():
        text = f"{name} {recipe['tokens_per_second']:,.0f} tok/s"
        if recipe.get("mfu") is not None:
            text += f" (MFU {100 * recipe['mfu']:.1f}%)"
        if recipe.get("gpu_busy_share") is not None:
            text += f" (GPU busy {100 * recipe['gpu_busy_share']:.0f}% of a step)"
        parts.append(text)
    parts += [f"{name} FAILED" for name in figures.get("failed", [])]
    for name, recipe in figures["recipes"].items():
        ratios = [f"{recipe[key]:.1f}x {key.removeprefix('speedup_over_')}"
                  for key in ("speedup_over_published", "speedup_over_defaults") if key in recipe]
        if ratios:
            parts.append(f"{name} = {', '.join(ratios)}")
    return "; ".join(parts)


def embed_line(work, out):
    figures = load(Path(work) / "embed.json")
    if not figures:
        return "no figures"
    return (f"tutorial loop {figures['tutorial_per_second']:,.1f} seq/s, dnalm embed "
            f"{figures['dnalm_per_second']:,.0f} seq/s ({figures['dtype']}): "
            f"{figures['speedup']:.1f}x")


def train_line(work, out, name="train.json"):
    figures = load(Path(work) / name)
    if not figures:
        return "no figures"
    return (f"{figures['preset']} preset, {figures['minutes']:g} min budget: "
            f"{figures.get('epochs', float('nan')):.2f} epochs, {figures.get('steps', '?')} steps, "
            f"{figures.get('median_tokens_per_second', float('nan')):,.0f} tok/s, best "
            f"validation loss {figures.get('best_val_loss', float('nan')):.4f}, accuracy "
            f"{figures.get('best_accuracy', float('nan')):.4f}")


def genome_train_line(work, out):
    figures = load(Path(work) / "genome_train.json")
    if not figures:
        return "no figures"
    return (f"recipe {figures.get('recipe', '?')}, held out {figures.get('held_out', '?')}; "
            + train_line(work, out, "genome_train.json"))


def probe_line(work, out, name="probe.json"):
    figures = load(Path(work) / name)
    if not figures:
        return "no figures"
    return ("test accuracy: pretrained {:.4f}, random init {:.4f}, 6-mer {:.4f}".format(
        figures["pretrained"]["test_accuracy"], figures["random_init"]["test_accuracy"],
        figures["kmer"]["test_accuracy"]))


def genome_probe_line(work, out):
    figures = load(Path(work) / "genome_probe.json")
    rows = "/".join(str(n) for n in (figures or {}).get("rows", {}).values())
    return f"coding vs intergenic ({rows} windows), " + probe_line(work, out, "genome_probe.json")


def faster_recipe(work):
    """The dnalm recipe the genome training uses: the compiled one where it was faster."""
    recipes = (load(Path(work) / "pretrain.json") or {}).get("recipes", {})
    speed = {name: recipes[name]["tokens_per_second"] for name in ("dnalm", "dnalm_compiled")
             if name in recipes}
    return "dnalm_compiled" if speed.get("dnalm_compiled", 0) > speed.get("dnalm", 0) else "dnalm"


LINES = {"gpu-tests": gpu_tests_line, "pretrain-bench": pretrain_line,
         "embed-bench": embed_line, "train": train_line, "probe": probe_line,
         "genome-train": genome_train_line, "genome-probe": genome_probe_line}


def training_figures(metrics_tsv, preset, minutes):
    """Summary of the short training from its metrics table."""
    import csv

    figures = {"preset": preset, "minutes": minutes}
    if not Path(metrics_tsv).is_file():
        return figures
    with open(metrics_tsv, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    epochs = [row for row in rows if row["kind"] == "epoch" and row["val_loss"]]
    steps = [row for row in rows if row["kind"] == "step" and row["tokens_per_second"]]
    if epochs:
        best = min(epochs, key=lambda row: float(row["val_loss"]))
        figures.update(epochs=float(epochs[-1]["epoch"]), steps=int(epochs[-1]["step"]),
                       best_val_loss=float(best["val_loss"]), best_accuracy=float(best["accuracy"]),
                       first_val_loss=float(epochs[0]["val_loss"]))
    if steps:
        speeds = sorted(float(row["tokens_per_second"]) for row in steps)
        figures["median_tokens_per_second"] = speeds[len(speeds) // 2]
    return figures


def summary(work, out):
    work, out = Path(work), Path(out)
    steps = []
    if (work / "steps.tsv").is_file():
        for line in (work / "steps.tsv").read_text().splitlines():
            name, status, seconds = line.split("\t")
            steps.append({"step": name, "status": status, "seconds": int(seconds)})
    environment = load(work / "environment.json") or {}
    results = {"environment": environment, "steps": steps,
               "gpu_tests": pytest_figures(out / "pytest.xml"),
               "pretrain_bench": load(work / "pretrain.json"),
               "embed_bench": load(work / "embed.json"),
               "train": load(work / "train.json"), "probe": load(work / "probe.json"),
               "genome_train": load(work / "genome_train.json"),
               "genome_probe": load(work / "genome_probe.json")}
    (out / "results.json").write_text(json.dumps(results, indent=1))

    lines = [f"# gpu_check {environment.get('mode', '')} run, {environment.get('date', '')}", "",
             f"device: {environment.get('device', '?')}; torch {environment.get('torch', '?')}, "
             f"transformers {environment.get('transformers', '?')}; "
             f"dnalm installed by {environment.get('install', '?')}", "",
             "| step | status | seconds | figures |", "| --- | --- | --- | --- |"]
    for step in steps:
        figures = LINES[step["step"]](work, out) if step["step"] in LINES else ""
        lines.append(f"| {step['step']} | {step['status']} | {step['seconds']} | {figures} |")
    lines.append(f"| total | | {sum(s['seconds'] for s in steps)} | |")
    tests = (results["gpu_tests"] or {}).get("tests", {})
    if tests:
        lines += ["", "GPU tests (figures they recorded):", ""]
        for name, test in tests.items():
            extra = {k: v for k, v in test.items() if k not in ("outcome", "seconds")}
            lines.append(f"- {name}: {test['outcome']} in {test['seconds']:.1f} s"
                         + (f" {json.dumps(extra)}" if extra else ""))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv):
    if argv[:1] == ["line"] and len(argv) == 4:
        name, work, out = argv[1:]
        try:
            print(LINES[name](work, out) if name in LINES else "")
        except Exception as error:  # a figure line must never fail the run
            print(f"(figures unreadable: {error})")
    elif argv[:1] == ["train-figures"] and len(argv) in (5, 7):
        metrics, preset, minutes, target = argv[1:5]
        figures = training_figures(metrics, preset, float(minutes))
        if len(argv) == 7:
            figures.update(recipe=argv[5], held_out=argv[6])
        Path(target).write_text(json.dumps(figures))
    elif argv[:1] == ["faster-recipe"] and len(argv) == 2:
        print(faster_recipe(argv[1]))
    elif argv[:1] == ["summary"] and len(argv) == 3:
        summary(*argv[1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
