"""make demo's story (.ci/demo_story.py): outputs named after their labels, the summary's numbers."""

import importlib.util
import json
import shutil
from pathlib import Path

from dnalm.cli import main

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("demo_story", REPO / ".ci" / "demo_story.py")
demo_story = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_story)


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

    demo_story.print_summary("dna-lm-zeroshot", tmp_path, files)
    printed = capsys.readouterr().out
    rows = {(r["group"], r["statistic"]): r["value"] for r in demo_story.read_tsv(files["summary"])}
    assert (f"effects: exon median {float(rows[('exon', 'median')]):.4g} (n 100), "
            f"intron median {float(rows[('intron', 'median')]):.4g} (n 100)") in printed
    assert "Welch's t-test p " in printed and "Mann-Whitney U p " in printed
    assert "summary.tsv" in printed
