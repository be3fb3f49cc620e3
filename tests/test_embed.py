"""dnalm embed: exact hidden-state pooling, every pooling and padding side, outputs, bad input."""

import csv

import numpy as np
import pytest
import torch
from dnalm.cli import main
from dnalm.inference.batches import Piece, special_token_ids
from dnalm.inference.embedding import EmbeddingSettings, embed_pieces
from dnalm.inference.model_loading import load_base_model
from dnalm.io.model_archive import open_model
from dnalm.io.token_table import TokenTableWriter
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO, fasta_ids_and_sequences

WINDOWS_300 = REPO / "tests" / "data" / "hg38_windows_300.fa"  # 150 exon + 150 intron windows
SMALL_FA = REPO / "test-data" / "hg38_windows_small.fa"


def read_tsv(path):
    with open(path) as stream:
        rows = list(csv.reader(stream, delimiter="\t"))
    return rows[0], [row[0] for row in rows[1:]], np.array([row[1:] for row in rows[1:]], dtype=np.float32)


@pytest.fixture(scope="module")
def mistral():
    with open_model(MISTRAL_DNA) as files:
        tokenizer = files.tokenizer()
        yield load_base_model(files, "cpu"), tokenizer


def test_embeddings_equal_plain_transformers_reference(tmp_path, mistral_dna_reference):
    """AutoModel last_hidden_state, masked mean: the issue's exactness criterion."""
    out = tmp_path / "embeddings.tsv"
    assert main(["embed", str(MISTRAL_DNA), str(WINDOWS_300), "-o", str(out)]) == 0
    header, ids, ours = read_tsv(out)
    expected_ids, sequences = fasta_ids_and_sequences(WINDOWS_300)
    assert header == ["id"] + [f"dim_{i}" for i in range(64)]
    assert ids == expected_ids and ours.shape == (300, 64)

    model, tokenizer = mistral_dna_reference
    reference = []
    with torch.no_grad():
        for start in range(0, 300, 50):
            batch = tokenizer(sequences[start:start + 50], return_tensors="pt", padding=True)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            reference.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    reference = np.concatenate(reference)
    assert batch["input_ids"][0, 0] == 1  # [CLS] added, as in the tutorial
    relative_error = np.abs(ours - reference).max() / np.abs(reference).max()
    assert relative_error <= 1e-4
    # exons and introns really get different vectors
    assert not np.allclose(ours[:150].mean(0), ours[150:].mean(0), atol=1e-3)


@pytest.mark.parametrize("pooling", ["mean", "max", "first", "last"])
@pytest.mark.parametrize("special_tokens", [True, False])
def test_left_and_right_padding_give_the_unpadded_result(mistral, pooling, special_tokens):
    model, tokenizer = mistral
    _, sequences = fasta_ids_and_sequences(SMALL_FA)
    # Very different lengths, so most rows of a batch are padded.
    sequences = [sequences[i][: 20 + 25 * i] for i in range(8)]
    pieces = [Piece(i, f"s{i}", e.ids) for i, e in enumerate(tokenizer.encode_batch(sequences))]
    specials = special_token_ids(tokenizer)

    def embed(side, batch_size):
        settings = EmbeddingSettings(pooling=pooling, special_tokens=special_tokens,
                                     batch_size=batch_size, padding_side=side)
        blocks = list(embed_pieces(model, pieces, settings, pad_id=3, special_ids=specials))
        assert [ids for ids, _ in blocks] == [[f"s{i}" for i in range(8)]]
        return blocks[0][1]

    alone = embed("right", 1)
    np.testing.assert_allclose(embed("right", 8), alone, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embed("left", 8), alone, rtol=1e-4, atol=1e-5)

    # And pooling picks the right tokens: compare with the hidden states of one sequence.
    with torch.no_grad():
        hidden = model(torch.tensor([pieces[5].input_ids])).last_hidden_state[0].numpy()
    if not special_tokens:
        hidden = hidden[1:-1]  # without [CLS] and [SEP]
    expected = {"mean": hidden.mean(0), "max": hidden.max(0), "first": hidden[0], "last": hidden[-1]}
    np.testing.assert_allclose(alone[5], expected[pooling], rtol=1e-4, atol=1e-5)


def test_layer_index_and_npy_output(tmp_path, mistral):
    model, tokenizer = mistral
    last, layer4, layer0 = tmp_path / "last.npy", tmp_path / "l4.npy", tmp_path / "l0.npy"
    for path, layer in ((last, "-1"), (layer4, "4"), (layer0, "0")):
        assert main(["embed", str(MISTRAL_DNA), str(SMALL_FA), "-o", str(path),
                     "--output-format", "npy", "--layer", layer]) == 0
    np.testing.assert_array_equal(np.load(last), np.load(layer4))  # 4 layers: 4 is the last
    _, sequences = fasta_ids_and_sequences(SMALL_FA)
    token_vectors = model.embed_tokens.weight.detach()[tokenizer.encode(sequences[0]).ids]
    np.testing.assert_allclose(np.load(layer0)[0], token_vectors.mean(0).numpy(), rtol=1e-5)
    assert np.load(last).shape == (80, 64)


def test_h5ad_keeps_extra_columns_and_pca_plot(tmp_path):
    import anndata

    table = tmp_path / "labelled.tsv"
    ids, sequences = fasta_ids_and_sequences(SMALL_FA)
    with open(table, "w") as stream:
        stream.write("name\tsequence\tregion\n")
        for i, (record_id, sequence) in enumerate(zip(ids, sequences)):
            stream.write(f"{record_id}\t{sequence}\t{'exon' if i < 40 else 'intron'}\n")
    out, plot = tmp_path / "embeddings.h5ad", tmp_path / "pca.png"
    assert main(["embed", str(MICRO_ZIP), str(table), "-o", str(out), "--output-format", "h5ad",
                 "--id-column", "name", "--pca-plot", str(plot), "--label-column", "region"]) == 0
    adata = anndata.read_h5ad(out)
    assert adata.shape == (80, 16)
    assert list(adata.obs["id"]) == ids
    assert adata.obs_names.is_unique and adata.obs_names[0] == "SNP1"  # FASTA ids repeat
    assert list(adata.obs["region"]) == ["exon"] * 40 + ["intron"] * 40
    assert "sequence" not in adata.obs.columns
    tsv = tmp_path / "same.tsv"
    assert main(["embed", str(MICRO_ZIP), str(SMALL_FA), "-o", str(tsv)]) == 0
    np.testing.assert_allclose(adata.X, read_tsv(tsv)[2], rtol=1e-6)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_token_table_input_matches_sequence_input(tmp_path, mistral):
    _, tokenizer = mistral
    ids, sequences = fasta_ids_and_sequences(SMALL_FA)
    table = tmp_path / "tokens.parquet"
    with TokenTableWriter(table, tokenizer.to_str()) as writer:
        writer.write({"id": ids, "input_ids": [e.ids for e in tokenizer.encode_batch(sequences)]})
    from_table, from_fasta = tmp_path / "t.tsv", tmp_path / "f.tsv"
    assert main(["embed", str(MISTRAL_DNA), str(table), "-o", str(from_table)]) == 0
    assert main(["embed", str(MISTRAL_DNA), str(SMALL_FA), "-o", str(from_fasta)]) == 0
    assert read_tsv(from_table)[1] == ids
    np.testing.assert_array_equal(read_tsv(from_table)[2], read_tsv(from_fasta)[2])


def test_token_table_with_another_tokenizer_is_refused(tmp_path, capsys):
    from dnalm.tokenization.loading import load_tokenizer

    other = load_tokenizer("char") if _has_vocabularies() else _renamed_token_tokenizer()
    table = tmp_path / "tokens.parquet"
    with TokenTableWriter(table, other.to_str()) as writer:
        writer.write({"id": ["a"], "input_ids": [[1, 5, 6, 2]]})
    out = tmp_path / "out.tsv"
    assert main(["embed", str(MISTRAL_DNA), str(table), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "tokenized with a different tokenizer than the model's" in err
    assert not out.exists()


def _has_vocabularies():
    try:
        import dnalm.tokenization.fixed_vocabularies  # noqa: F401
    except ImportError:
        return False
    return True


def _renamed_token_tokenizer():
    from dnalm.tokenization.loading import load_tokenizer, tokenizer_from_json

    text = load_tokenizer().to_str().replace('"CGTA"', '"CGTT"', 1)
    return tokenizer_from_json(text)


def long_sequence_fasta(tmp_path):
    _, sequences = fasta_ids_and_sequences(SMALL_FA)
    path = tmp_path / "long.fa"
    path.write_text(f">short\n{sequences[0]}\n>long\n{''.join(sequences[:12])}\n")
    return path


def test_long_sequences_error_by_default_and_leave_no_output(tmp_path, capsys):
    out = tmp_path / "out.tsv"
    fasta = long_sequence_fasta(tmp_path)
    assert main(["embed", str(MICRO_ZIP), str(fasta), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dnalm embed: error: record 'long' has ")
    assert "more than the model's context of 128" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.fa"]


def test_long_sequences_truncate_warns_and_split_combines(tmp_path, capsys):
    fasta = long_sequence_fasta(tmp_path)
    truncated, split = tmp_path / "truncated.tsv", tmp_path / "split.tsv"
    assert main(["embed", str(MICRO_ZIP), str(fasta), "-o", str(truncated),
                 "--long-sequences", "truncate"]) == 0
    assert "warning: 1 sequence(s) longer than the model's context (128 tokens) were truncated, e.g. 'long'" in capsys.readouterr().err
    assert main(["embed", str(MICRO_ZIP), str(fasta), "-o", str(split),
                 "--long-sequences", "split"]) == 0
    for path in (truncated, split):
        assert read_tsv(path)[1] == ["short", "long"]
    # the short sequence is untouched; the long one differs between the two policies
    np.testing.assert_array_equal(read_tsv(truncated)[2][0], read_tsv(split)[2][0])
    assert not np.allclose(read_tsv(truncated)[2][1], read_tsv(split)[2][1])


def test_bad_sequence_and_bad_label_column_leave_no_output(tmp_path, capsys):
    out, plot = tmp_path / "out.tsv", tmp_path / "pca.png"
    bad = REPO / "test-data" / "bad_letter.fa"
    assert main(["embed", str(MICRO_ZIP), str(bad), "-o", str(out), "--pca-plot", str(plot)]) == 1
    assert "only the letters A, C, G, T, N are allowed" in capsys.readouterr().err
    assert main(["embed", str(MICRO_ZIP), str(SMALL_FA), "-o", str(out), "--pca-plot", str(plot),
                 "--label-column", "region"]) == 1
    assert "--label-column 'region' is not a column of" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
