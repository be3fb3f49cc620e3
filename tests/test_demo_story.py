"""make demo's story (.ci/demo_story.py, .ci/demo_summary.py): outputs named after their labels,
the summary's numbers with what they beat, the probe, the captions and the next step."""

import importlib.util
import json
import math
import shlex
import shutil
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

from dnalm.cli import build_parser, main
from dnalm.tokenization.loading import load_tokenizer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".ci"))  # demo_story imports demo_summary beside it
spec = importlib.util.spec_from_file_location("demo_story", REPO / ".ci" / "demo_story.py")
demo_story = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_story)
demo_summary = demo_story.demo_summary
GENOME_WORKFLOW_DATA = REPO / "workflows" / "dna-lm-genome-pretraining" / "test-data"
# Written by `dnalm pretrain` (tiny preset, 2 epochs) on the kmer:3 tokens of the genome
# workflow's yeast_genome_slice.fa (200 bp windows), chrXV and chrXVI held out.
PRETRAIN_METRICS = REPO / "tests" / "data" / "yeast_slice_pretrain_metrics.tsv"
NO_PROBE = SimpleNamespace(probe=None, genome=None, python=Path(sys.executable))


def test_outputs_get_their_labels_and_the_summary_their_numbers(tmp_path, capsys):
    # what planemo run downloads: Galaxy's names, and outputs.json mapping labels to them
    exon = tmp_path / "DNA LM score on dataset 1-3 scores__0af4.tabular"
    intron = tmp_path / "DNA LM score on dataset 1, 4, and 5 scores__7163.tabular"
    shutil.copy(REPO / "test-data" / "zeroshot_exon_effects.tsv", exon)
    shutil.copy(REPO / "test-data" / "zeroshot_intron_effects.tsv", intron)
    summary = tmp_path / "DNA LM compare effects on dataset 6 and 7 summary__38a3.tabular"
    assert main(["compare-effects", str(exon), str(intron), "--labels", "exon", "intron",
                 "-o", str(summary)]) == 0
    outputs = {label: {"class": "File", "path": str(path), "basename": label}
               for label, path in (("exon_effects", exon), ("intron_effects", intron),
                                   ("summary", summary))}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))

    files = demo_story.rename_outputs(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "exon_effects.tsv", "intron_effects.tsv", "outputs.json", "summary.tsv"]
    assert json.loads((tmp_path / "outputs.json").read_text())["summary"]["path"] == \
        str(tmp_path / "summary.tsv")

    demo_story.print_summary("dna-lm-zeroshot", tmp_path, files, NO_PROBE)
    printed = capsys.readouterr().out
    rows = {(r["group"], r["statistic"]): r["value"]
            for r in demo_summary.read_tsv(files["summary"])}
    assert (f"effects: exon median {float(rows[('exon', 'median')]):.4g} (n 100), "
            f"intron median {float(rows[('intron', 'median')]):.4g} (n 100)") in printed
    assert "Welch's t-test p " in printed and "Mann-Whitney U p " in printed
    assert "summary.tsv" in printed


def kmer_model_zip(path, k=3):
    """A zip holding the tokenizer.json dnalm writes for kmer:K (all the vocabulary needs)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tokenizer.json", load_tokenizer(f"kmer:{k}").to_str())
    return path


def test_the_held_out_loss_is_set_against_a_uniform_guess_over_the_dna_tokens(tmp_path):
    model = kmer_model_zip(tmp_path / "model.zip")
    assert demo_summary.dna_tokens(model) == 4 ** 3  # [UNK], [CLS], ... are not DNA
    micro = REPO / "test-data" / "micro_model.zip"  # DNABERT-2's BPE vocabulary
    vocabulary = load_tokenizer("dnabert2").get_vocab()
    assert demo_summary.dna_tokens(micro) == sum(set(t) <= set("ACGT") for t in vocabulary)

    lines = demo_summary.describe("metrics", PRETRAIN_METRICS, model=model)
    epochs = [r for r in demo_summary.read_tsv(PRETRAIN_METRICS) if r["kind"] == "epoch"]
    first, last = float(epochs[0]["val_loss"]), float(epochs[-1]["val_loss"])
    assert f"pretraining: held-out validation loss {first:.4g} -> {last:.4g} over 2 " \
           "evaluation(s)" in lines
    assert (f"  a uniform guess over the model's 64 DNA tokens scores ln 64 = "
            f"{math.log(64):.3f}: the held-out loss is {math.log(64) - last:.3f} below it") in lines


def test_the_probe_runs_from_the_story_and_says_what_the_model_beats(tmp_path):
    model = REPO / "test-data" / "micro_model.zip"
    windows = GENOME_WORKFLOW_DATA / "yeast_heldout_windows.csv"  # 20 coding, 20 intergenic
    results = demo_summary.run_probe(sys.executable, model, windows, tmp_path)
    assert results["per_class"] == 20 and (tmp_path / "probe.log").read_text()
    lines = demo_summary.probe_lines(results)
    assert lines[0].startswith("probe: a linear classifier telling coding from intergenic "
                               "windows of the held-out chromosomes (20 + 20, 5-fold; chance 0.5)")
    model_row, kmer_row = results["pretrained"], results["kmer4"]
    assert f"accuracy {model_row['accuracy']:.3f} ± {model_row['accuracy_sd']:.3f}" in lines[1]
    assert lines[2].strip().startswith(f"4-mer frequencies        accuracy {kmer_row['accuracy']:.3f}")
    assert f"{model_row['accuracy'] - kmer_row['accuracy']:+.3f}" in lines[-1]
    # a model that cannot be read: the story says so and goes on
    assert demo_summary.run_probe(sys.executable, windows, windows, tmp_path) is None


def test_the_next_step_is_a_command_line_that_parses(tmp_path):
    out = REPO / "out" / "demo-genome"
    lines = demo_summary.next_step(out / "model.zip", REPO / "genomes" / "sacCer3" / "sacCer3.fa")
    command = next(line.strip() for line in lines if line.strip().startswith("dnalm "))
    argv = shlex.split(command)[1:]
    args = build_parser("score-variants").parse_args(argv)
    assert args.model == "out/demo-genome/model.zip"
    assert args.genome == "genomes/sacCer3/sacCer3.fa"
    assert "built-in genome sacCer3" in lines[-1]


def test_a_galaxy_path_in_a_tool_line_becomes_the_file_the_user_gets():
    uuid = "43356290-af2f-4a4d-8382-d8d59fd9578d"  # the line as make demo's pretrain printed it
    line = ("model written to /tmp/tmpfscgv0v3/job_working_directory/000/3/outputs/"
            f"dataset_{uuid}.dat")
    asked = []

    def outputs():
        asked.append(1)
        return {uuid.replace("-", ""): "out/demo/model.zip (once downloaded)"}

    assert demo_story.named_as_downloaded(line, outputs) == \
        "model written to out/demo/model.zip (once downloaded)"
    assert demo_story.named_as_downloaded("epoch 1.00/2  step 8/16", outputs) == \
        "epoch 1.00/2  step 8/16"
    assert len(asked) == 1  # Galaxy is asked only about a line with a path
    assert demo_story.named_as_downloaded(line, dict) == "model written to a Galaxy dataset"


def test_the_summary_captions_the_figures_and_ends_with_the_next_step(tmp_path, capsys):
    model = kmer_model_zip(tmp_path / "model.zip")
    shutil.copy(PRETRAIN_METRICS, tmp_path / "metrics.tsv")
    plot = tmp_path / "embeddings_pca.png"
    plot.write_bytes(b"\x89PNG")
    files = {"model": model, "metrics": tmp_path / "metrics.tsv", "embeddings_pca": plot}
    genome = GENOME_WORKFLOW_DATA / "yeast_genome_slice.fa"
    demo_story.print_summary("dna-lm-genome-pretraining", tmp_path, files,
                             SimpleNamespace(probe=None, genome=genome, python=sys.executable))
    printed = capsys.readouterr().out
    assert "ln 64 = 4.159" in printed
    caption = printed[printed.index("embeddings_pca.png"):]
    assert "first two principal components" in caption
    next_step = printed[printed.index("Next: score your own variants"):]  # the end
    assert f"--genome {demo_summary.relative(genome)}" in next_step
    assert "or in Galaxy (make serve)" in next_step and "score variants" in next_step


def test_a_step_that_ends_after_the_last_poll_is_still_said_done():
    # make demo's embed ends seconds before planemo stops Galaxy: no poll sees it "ok"
    jobs = {"a1": {"name": "pretrain", "ended": True}, "b2": {"name": "embed", "ended": False}}
    assert demo_story.unfinished_steps(jobs, succeeded=True) == ["embed: done"]
    assert demo_story.unfinished_steps(jobs, succeeded=False) == ["embed: not finished"]
