"""What a demo's outputs say, for the end of its story (.ci/demo_story.py).

The key numbers of each downloaded output, each with what it beats (a pretrained model's
held-out loss against a uniform guess over its DNA tokens), the yeast probe of the model's
embeddings against k-mer frequencies (bench/bench_yeast_probe.py, run as it is), a caption
for the PCA plot and the next step: scoring your own VCF with the model just made. Only the
standard library: it runs with any Python 3; the probe runs in the dnalm environment.
"""

import csv
import json
import math
import re
import shlex
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "bench" / "bench_yeast_probe.py"
PROBE_KMER = 4  # the best k-mer frequencies on the yeast windows (README: the yeast probe)


def describe(label, path, model=None):
    """The key numbers of one output, by what it is (unknown kinds give nothing).

    ``model`` is the run's model zip, whose vocabulary gives a pretraining loss its baseline.
    """
    if path.suffix not in (".tsv", ".tabular"):
        return []
    rows = read_tsv(path)
    if not rows:
        return []
    columns = rows[0].keys()
    if {"kind", "train_loss", "val_loss"} <= columns:  # pretrain's metrics
        return pretraining_lines(rows, model)
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
    if {"set", "mean_kmer_variance", "median_longest_match"} <= columns:  # compare-sequences
        return generated_sets(rows)
    return []


def pretraining_lines(rows, model):
    steps = [r for r in rows if r["kind"] == "step" and r["train_loss"]]
    epochs = [r for r in rows if r["kind"] == "epoch" and r["val_loss"]]
    lines = []
    if steps:
        lines.append(f"pretraining: training loss {number(steps[0]['train_loss'])} -> "
                     f"{number(steps[-1]['train_loss'])} over {len(steps)} logged steps")
    if not epochs:
        return lines
    first, last = float(epochs[0]["val_loss"]), float(epochs[-1]["val_loss"])
    lines.append(f"pretraining: held-out validation loss {first:.4g} -> {last:.4g} "
                 f"over {len(epochs)} evaluation(s)")
    tokens = dna_tokens(model) if model else 0
    if tokens > 1:
        guess = math.log(tokens)
        verdict = (f"{guess - last:.3f} below it" if last < guess
                   else f"no better than that ({last - guess:+.3f})")
        lines.append(f"  a uniform guess over the model's {tokens} DNA tokens scores "
                     f"ln {tokens} = {guess:.3f}: the held-out loss is {verdict}")
    return lines


def dna_tokens(model_zip):
    """How many tokens of the model's vocabulary are DNA (A, C, G, T only), from its zip."""
    with zipfile.ZipFile(model_zip) as archive:
        name = next((n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "tokenizer.json"),
                    None)
        if name is None:
            return 0
        vocabulary = json.loads(archive.read(name))["model"]["vocab"]
    tokens = vocabulary if isinstance(vocabulary, dict) else [entry[0] for entry in vocabulary]
    return sum(1 for token in tokens if re.fullmatch(r"[ACGT]+", token))


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


# --- the yeast probe --------------------------------------------------------------------------

def generated_sets(rows):
    """One line per set of compare-sequences' summary: like real DNA, and new?"""
    return [f"{row['set']}: {row['sequences']} sequences, k-mer variance "
            f"{float(row['mean_kmer_variance']):.3g}, longest match in the genome "
            f"{number(row['median_longest_match'])} bp (median), "
            f"{float(row['mean_absent_12mer_share']):.0%} of 12-mers new, longest ORF "
            f"{number(row['mean_longest_orf'])} bp" for row in rows]


def run_probe(python, model_zip, windows, out):
    """bench/bench_yeast_probe.py on the model: its figures (dict), or None if it failed.

    Its own output goes to ``out``/probe.log, its figures to ``out``/probe.json.
    """
    command = [str(python), str(PROBE), str(model_zip), "--windows", str(windows),
               "--kmers", str(PROBE_KMER), "--json", str(out / "probe.json")]
    with open(out / "probe.log", "w") as log:
        finished = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if finished.returncode != 0:
        return None
    return json.loads((out / "probe.json").read_text())


def probe_lines(results):
    """The probe's verdict in a few lines: the model's embeddings, k-mer counts, chance."""
    model, kmers = results["pretrained"], results[f"kmer{PROBE_KMER}"]
    untrained = results["random_init"]
    gain = model["accuracy"] - kmers["accuracy"]
    verdict = (f"beat {PROBE_KMER}-mer counts by {gain:+.3f}: the model learnt more than which "
               "short words each kind of DNA uses" if gain > 0 else
               f"do not beat {PROBE_KMER}-mer counts ({gain:+.3f}): the model learnt no more "
               "than which short words each kind of DNA uses")
    return [
        f"probe: a linear classifier telling coding from intergenic windows of the held-out "
        f"chromosomes ({results['per_class']} + {results['per_class']}, "
        f"{results['folds']}-fold; chance 0.5), fitted on",
        f"  the model's embeddings    accuracy {model['accuracy']:.3f} "
        f"± {model['accuracy_sd']:.3f} (AUROC {model['auroc']:.3f})",
        f"  {PROBE_KMER}-mer frequencies        accuracy {kmers['accuracy']:.3f} "
        f"(AUROC {kmers['auroc']:.3f})",
        f"  the same model untrained  accuracy {untrained['accuracy']:.3f}",
        f"  the embeddings {verdict}",
    ]


# --- captions and the next step ---------------------------------------------------------------

def captions(labelled):
    """What to look for in each figure, by workflow output label."""
    pca = ("each dot is one sequence, placed by the first two principal components of its "
           "embedding")
    if labelled:
        pca += (", coloured by its label: coding and intergenic windows of the held-out "
                "chromosomes apart (two clouds, or arms) mean the model tells them apart "
                "without ever being told; one mixed cloud, that it does not (the probe puts a "
                "number on it)")
    else:
        pca += ": groups that stand apart are sequences the model sees as different"
    return {"embeddings_pca": pca,
            "loss_curve": "the validation loss should fall and flatten; rising again is "
                          "overfitting (the best epoch is the model kept)"}


def next_step(model_zip, genome):
    """A ready-to-paste command scoring your own VCF with the model, and the Galaxy route."""
    out = model_zip.parent
    command = ["dnalm", "score-variants", relative(model_zip), "your_variants.vcf.gz",
               "--genome", relative(genome), "--distance", "l2",
               "-o", relative(out / "your_effects.tsv"),
               "--output-vcf", relative(out / "your_effects.vcf.gz"), "--bgzip"]
    return [
        "Next: score your own variants with this model (a VCF, plain or bgzipped, called "
        f"against {genome.stem}; --chr-prefix add if its chromosomes are named I, II, ...):",
        "  source .venv/bin/activate",
        "  " + shlex.join(command),
        "or in Galaxy (make serve): upload the model zip and your VCF, then run DNA LM: score "
        f"variants with the built-in genome {genome.stem}.",
    ]


def read_tsv(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.4g}"


def relative(path):
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)
