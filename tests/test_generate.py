"""dnalm generate: same seed same DNA, exact lengths, ACGT only, prompts, bad input."""

import re

from dnalm.cli import main
from helpers import MICRO_ZIP, MISTRAL_DNA, read_fasta


def generate(tmp_path, name, *options):
    out = tmp_path / name
    assert main(["generate", str(MICRO_ZIP), "-o", str(out), *options]) == 0
    return dict(read_fasta(out))


def test_same_seed_same_sequences_other_seed_other_sequences(tmp_path):
    options = ["--num-sequences", "3", "--length", "60", "--top-k", "50", "--top-p", "0.95"]
    first = generate(tmp_path, "a.fa", *options, "--seed", "7")
    again = generate(tmp_path, "b.fa", *options, "--seed", "7")
    other = generate(tmp_path, "c.fa", *options, "--seed", "8")
    assert list(first) == ["generated_1", "generated_2", "generated_3"]
    assert first == again
    assert first != other
    assert len(set(first.values())) == 3
    for sequence in first.values():
        assert len(sequence) == 60 and re.fullmatch("[ACGT]+", sequence)


def test_prompts_are_continued(tmp_path):
    prompts = tmp_path / "prompts.fa"
    prompts.write_text(">p1\nACGTACGTAA\n>p2\nGGGCCCAATT\n")
    records = generate(tmp_path, "g.fa", "--prompts", str(prompts), "--num-sequences", "2",
                       "--length", "25", "--include-prompt", "--temperature", "0.7")
    assert list(records) == ["p1_generated_1", "p1_generated_2", "p2_generated_1", "p2_generated_2"]
    assert records["p1_generated_1"].startswith("ACGTACGTAA")
    assert records["p2_generated_2"].startswith("GGGCCCAATT")
    assert all(len(s) == 35 for s in records.values())


def test_greedy_decoding_repeats_itself(tmp_path):
    records = generate(tmp_path, "g.fa", "--temperature", "0", "--num-sequences", "2", "--length", "40")
    assert records["generated_1"] == records["generated_2"]


def test_too_long_for_the_context_fails_without_output(tmp_path, capsys):
    out = tmp_path / "g.fa"
    assert main(["generate", str(MICRO_ZIP), "-o", str(out), "--length", "5000"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dnalm generate: error: generated_1: the model's context (128 tokens) ran out")
    assert not out.exists()


def test_bad_settings_and_classifier_checkpoint_are_refused(tmp_path, capsys):
    out = tmp_path / "g.fa"
    assert main(["generate", str(MICRO_ZIP), "-o", str(out), "--top-p", "1.5"]) == 1
    assert "--top-p must be in (0, 1]" in capsys.readouterr().err
    assert main(["generate", str(MISTRAL_DNA), "-o", str(out)]) == 1
    assert "without a language-model head" in capsys.readouterr().err
    assert not out.exists()
