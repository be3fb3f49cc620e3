"""dnalm tokenize: ids exactly as the tutorial's transformers tokenizer gives them."""

import gzip
import json

import pytest
from dnalm.cli import main
from dnalm.io.sequences import read_sequences
from dnalm.io.token_table import read_token_table
from dnalm.tokenization.loading import bundled_tokenizer_path, load_tokenizer
from helpers import REPO, TEST_DATA

SHARED_SEQUENCES = sorted((REPO.parent / "shared" / "data" / "sequences").glob("*.fa.gz"))


def tokenize(tmp_path, *options, name="out.parquet"):
    out = tmp_path / name
    assert main(["tokenize", *map(str, options), "-o", str(out)]) == 0
    table, tokenizer_json = read_token_table(out)
    return table.to_pydict(), tokenizer_json


def transformers_tokenizer():
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(bundled_tokenizer_path()))


def test_tutorial_examples(tmp_path):
    reference = transformers_tokenizer()
    assert reference("ATT")["input_ids"] == [1, 2061, 2]
    long = "ATTGTGGGTCCCCGTAGATGATAGGGGCCCCCC"
    assert reference(long, max_length=5, truncation=True)["input_ids"] == [1, 2061, 281, 485, 2]

    text = tmp_path / "two.txt"
    text.write_text(f"ATT\n{long}\n")
    rows, _ = tokenize(tmp_path, text)
    assert rows["input_ids"][0] == [1, 2061, 2]
    rows, _ = tokenize(tmp_path, text, "--max-length", 5, name="cut.parquet")
    assert rows["input_ids"] == [[1, 2061, 2], [1, 2061, 281, 485, 2]]


def test_truncation_is_counted_in_summary(tmp_path):
    text = tmp_path / "two.txt"
    text.write_text("ATT\nATTGTGGGTCCCCGTAGATGATAGGGGCCCCCC\n")
    summary = tmp_path / "s.tsv"
    assert main(["tokenize", str(text), "-o", str(tmp_path / "o.parquet"),
                 "--max-length", "5", "--summary", str(summary)]) == 0
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    assert metrics["truncated sequences"] == "1"
    assert metrics["bp per token"] == "n/a"


@pytest.mark.skipif(not SHARED_SEQUENCES, reason="../shared reference sequences not present")
@pytest.mark.parametrize("fasta", SHARED_SEQUENCES, ids=lambda path: path.name)
def test_every_shared_record_matches_transformers(tmp_path, fasta):
    records = list(read_sequences(fasta))
    assert len(records) == 10_000
    rows, tokenizer_json = tokenize(tmp_path, fasta)
    assert rows["id"] == [record.id for record in records]
    expected = transformers_tokenizer()([record.sequence for record in records])["input_ids"]
    assert rows["input_ids"] == expected
    assert rows["length_bp"] == [len(record.sequence) for record in records]
    bundled = json.loads(bundled_tokenizer_path().read_text())
    assert json.loads(tokenizer_json)["model"]["vocab"] == bundled["model"]["vocab"]


def test_fasta_gzip_csv_tsv_txt_give_the_same_ids(tmp_path):
    fasta, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa", name="fa.parquet")
    fasta_gz, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa.gz", name="gz.parquet")
    assert fasta_gz == fasta
    assert len(fasta["id"]) == 80
    # duplicate FASTA ids are kept, in order
    assert fasta["id"][40:42] == ["chr12", "chr12"] or fasta["id"].count("chr12") >= 2
    csv_rows, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.csv", "--id-column", "name",
                           name="csv.parquet")
    tsv_rows, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.tsv", "--input-format", "tsv",
                           "--column", "sequence", "--id-column", "name", name="tsv.parquet")
    txt_rows, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.txt", name="txt.parquet")
    for rows in (csv_rows, tsv_rows):
        assert rows["id"] == fasta["id"][:20]
        assert rows["input_ids"] == fasta["input_ids"][:20]
    assert txt_rows["input_ids"] == fasta["input_ids"][:20]
    assert txt_rows["id"] == [str(i) for i in range(1, 21)]


def test_summary_and_histogram(tmp_path):
    summary, histogram = tmp_path / "s.tsv", tmp_path / "h.png"
    assert main(["tokenize", str(TEST_DATA / "hg38_windows_small.fa"), "-o", str(tmp_path / "o.parquet"),
                 "--summary", str(summary), "--histogram", str(histogram)]) == 0
    lines = summary.read_text().splitlines()
    assert lines[0] == "metric\tvalue"
    metrics = dict(line.split("\t") for line in lines[1:])
    rows, _ = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa", name="again.parquet")
    lengths = sorted(len(ids) for ids in rows["input_ids"])
    ids = rows["id"]
    assert metrics["sequences"] == "80"
    assert metrics["duplicate ids"] == str(len(ids) - len(set(ids)))
    assert metrics["tokens per sequence min"] == str(lengths[0])
    assert metrics["tokens per sequence max"] == str(lengths[-1])
    assert float(metrics["tokens per sequence median"]) == (lengths[39] + lengths[40]) / 2
    content_tokens = sum(lengths) - 2 * 80
    assert float(metrics["bp per token"]) == pytest.approx(80 * 201 / content_tokens, abs=0.005)
    assert metrics["unknown tokens"] == "0"
    assert histogram.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_genome_windows_drop_policy(tmp_path):
    rows, _ = tokenize(tmp_path, TEST_DATA / "tiny_genome.fa", "--window", 200)
    genome = {record.id: record.sequence for record in read_sequences(TEST_DATA / "tiny_genome.fa")}
    expected_ids = [
        f"{name}:{start}-{start + 200}"
        for name, sequence in genome.items()
        for start in range(0, len(sequence) - 199, 200)
        if "N" not in sequence[start : start + 200]
    ]
    assert rows["id"] == expected_ids
    assert "chr1:0-200" not in rows["id"]  # the leading N run is dropped
    assert rows["length_bp"] == [200] * len(expected_ids)
    reference = transformers_tokenizer()
    for window_id, ids in zip(rows["id"], rows["input_ids"]):
        name, _, span = window_id.partition(":")
        start, end = map(int, span.split("-"))
        assert ids == reference(genome[name][start:end])["input_ids"]


def test_genome_windows_split_policy_and_soft_mask(tmp_path):
    summary = tmp_path / "s.tsv"
    rows, _ = tokenize(tmp_path, TEST_DATA / "tiny_genome.fa", "--genome", "--n-policy", "split",
                       "--summary", summary)
    # chr1: N-free stretches [150,1450) [1525,2225) [2255,2730); chr2 [0,650)
    assert rows["id"][:7] == [f"chr1:{s}-{s + 200}" for s in (150, 350, 550, 750, 950, 1150)] + ["chr1:1525-1725"]
    assert rows["id"][-3:] == ["chr2:0-200", "chr2:200-400", "chr2:400-600"]
    assert len(rows["id"]) == 14
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    assert metrics["windows kept"] == "14"
    assert metrics["windows dropped (shorter than the window)"] == "4"
    assert metrics["bp in N runs"] == str(150 + 75 + 30)
    # the soft-masked stretch (lowercase in the file) is tokenized as uppercase DNA
    text = (TEST_DATA / "tiny_genome.fa").read_text()
    assert any(c.islower() for c in text)
    soft = [ids for window_id, ids in zip(rows["id"], rows["input_ids"]) if window_id == "chr1:1150-1350"]
    assert 0 not in soft[0]


def test_reverse_complement_augmentation(tmp_path):
    fasta = tmp_path / "two.fa"
    fasta.write_text(">a\nAACGTTTG\n>b\nCCCNA\n")
    rows, _ = tokenize(tmp_path, fasta, "--reverse-complement", "--tokenizer", "char")
    assert rows["id"] == ["a", "a(-)", "b", "b(-)"]
    char = dict(A=5, C=6, G=7, T=8, N=9)
    assert rows["input_ids"][1] == [1] + [char[c] for c in "CAAACGTT"] + [2]
    assert rows["input_ids"][3] == [1] + [char[c] for c in "TNGGG"] + [2]


def test_kmer6_vocabulary_and_ids(tmp_path):
    tokenizer = load_tokenizer("kmer:6")
    vocab = tokenizer.get_vocab()
    assert len(vocab) == 4096 + 5
    assert [vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")] == [0, 1, 2, 3, 4]
    assert vocab["AAAAAA"] == 5 and vocab["TTTTTT"] == 4100
    # ACGTAC = 0*4^5 + 1*4^4 + 2*4^3 + 3*4^2 + 0*4 + 1 = 433 among the k-mers
    assert vocab["ACGTAC"] == 5 + 433
    text = tmp_path / "one.txt"
    text.write_text("ACGTACAAAAAANTTTTTGG\n")
    rows, _ = tokenize(tmp_path, text, "--tokenizer", "kmer:6")
    # ACGTAC | AAAAAA | NTTTTT (has N) | GG (shorter than 6) -> [UNK]s
    assert rows["input_ids"] == [[1, 438, 5, 0, 0, 2]]


def test_kmer_summary_says_where_unknown_tokens_come_from(tmp_path):
    # 201-bp windows: 33 six-mers and a 3-bp tail, the one [UNK] of each sequence
    summary = tmp_path / "summary.tsv"
    tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa", "--tokenizer", "kmer:6", "--summary", summary)
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    assert metrics["unknown tokens"] == "80"
    assert metrics["unknown tokens from a last k-mer shorter than 6 bp"] == "80"
    # 3-mers cut 201 bp exactly: no tail
    tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa", "--tokenizer", "kmer:3", "--summary", summary)
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    assert metrics["unknown tokens from a last k-mer shorter than 3 bp"] == "0"
    assert metrics["unknown tokens"] == "0"


def test_char_tokenizer_round_trip(tmp_path):
    rows, tokenizer_json = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.txt", "--tokenizer", "char")
    sequences = [r.sequence for r in read_sequences(TEST_DATA / "hg38_windows_small.txt")]
    assert [len(ids) for ids in rows["input_ids"]] == [len(s) + 2 for s in sequences]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    assert tokenizer.decode(rows["input_ids"][0]) == sequences[0]


def test_user_tokenizer_json(tmp_path):
    user_file = tmp_path / "my_tokenizer.json"
    user_file.write_text(load_tokenizer("kmer:3").to_str())
    rows, tokenizer_json = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.txt", "--tokenizer", user_file)
    assert json.loads(tokenizer_json)["model"]["vocab"]["AAA"] == 5
    first = next(iter(read_sequences(TEST_DATA / "hg38_windows_small.txt"))).sequence
    vocab = load_tokenizer("kmer:3").get_vocab()
    assert rows["input_ids"][0] == [1] + [vocab[first[i : i + 3]] for i in range(0, 201 - 2, 3)] + [2]


def test_gzip_csv_is_read(tmp_path):
    packed = tmp_path / "windows.csv.gz"
    packed.write_bytes(gzip.compress((TEST_DATA / "hg38_windows_small.csv").read_bytes()))
    rows, _ = tokenize(tmp_path, packed)
    assert len(rows["id"]) == 20
