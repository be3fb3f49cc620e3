"""What a tokenize run did, as a two-column table, a text block and a histogram.

The numbers answer the tutorial's questions about tokenized data: how many
sequences, how many windows were dropped and why, how many tokens a sequence
becomes (min/median/max), how many bases one token covers on average, and
whether the vocabulary missed anything (``[UNK]``).
"""

from dnalm.io.plotting import pyplot


def summary_rows(tokenizer_name, vocab_size, counts, windows=None, reverse_complement=False,
                 letters=None):
    """Return ``[(metric, value), ...]`` from ``TokenizeCounts``, ``GenomeWindowCounts`` and
    ``LetterCounts`` (IUPAC ambiguity letters read as N; None when they were refused)."""
    histogram = counts.tokens_per_sequence
    rows = [("tokenizer", tokenizer_name), ("vocabulary size", vocab_size)]
    if windows is not None:
        rows += [
            ("input records", windows.records),
            ("windows kept", windows.kept),
            ("windows dropped (contain N)", windows.dropped_with_n),
            ("windows dropped (shorter than the window)", windows.dropped_short),
            ("bp in N runs", windows.bp_in_n_runs),
        ]
    else:
        input_records = counts.sequences // 2 if reverse_complement else counts.sequences
        rows.append(("input records", input_records))
    if letters is not None:
        # Read as N, so in genome mode they also count in the N lines above.
        rows += [
            ("records with IUPAC ambiguity letters (read as N)", letters.records_with_ambiguity),
            ("bp of IUPAC ambiguity letters (read as N)", letters.ambiguous_bases),
        ]
    if reverse_complement:
        rows.append(("reverse complements added", counts.sequences // 2))
    content_tokens = counts.tokens - counts.special_tokens
    rows += [
        ("sequences", counts.sequences),
        ("duplicate ids", counts.duplicate_ids),
        ("bp", counts.bases),
        ("tokens", counts.tokens),
        ("tokens per sequence min", _smallest(histogram)),
        ("tokens per sequence median", _format_number(_median(histogram))),
        ("tokens per sequence max", _largest(histogram)),
        ("tokens per sequence mean", _format_number(counts.tokens / max(counts.sequences, 1))),
        # Special tokens ([CLS], [SEP]) cover no bases; truncated sequences do not cover all theirs.
        ("bp per token", _bp_per_token(counts.bases, content_tokens, counts.truncated)),
        ("unknown tokens", counts.unknown_tokens),
        ("truncated sequences", counts.truncated),
    ]
    if tokenizer_name.startswith("kmer:"):
        # A length that is not a multiple of K ends in a shorter word, outside the vocabulary.
        k = int(tokenizer_name.split(":")[1])
        tails = sum(n for length, n in counts.bp_per_sequence.items() if length % k)
        rows.insert(rows.index(("unknown tokens", counts.unknown_tokens)) + 1,
                    (f"unknown tokens from a last k-mer shorter than {k} bp", tails))
    return rows


def write_summary_table(rows, path):
    with open(path, "w", encoding="utf-8") as out:
        out.write("metric\tvalue\n")
        for metric, value in rows:
            out.write(f"{metric}\t{value}\n")


def summary_text(rows):
    width = max(len(metric) for metric, _ in rows)
    return "\n".join(f"{metric:<{width}}  {value}" for metric, value in rows)


def write_histogram(counts, path, title="Tokens per sequence"):
    """Bar chart of how many sequences have each number of tokens (PNG)."""
    plt = pyplot()
    lengths = sorted(counts.tokens_per_sequence)
    frequencies = [counts.tokens_per_sequence[length] for length in lengths]
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    # One bar per token count when the range is narrow, else 80 bins.
    span = lengths[-1] - lengths[0] + 1
    bins = [lengths[0] - 0.5 + i for i in range(span + 1)] if span <= 80 else 80
    axes.hist(lengths, bins=bins, weights=frequencies, color="#2c7fb8", edgecolor="white")
    axes.set_xlabel("tokens per sequence (special tokens included)")
    axes.set_ylabel("sequences")
    axes.set_title(f"{title} ({counts.sequences:,} sequences)")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


def _smallest(histogram):
    return min(histogram, default=0)


def _largest(histogram):
    return max(histogram, default=0)


def _median(histogram):
    """Median of the values a histogram ``{value: count}`` counts, as numpy.median gives."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    middle = ((total - 1) // 2, total // 2)  # 0-based ranks of the middle value(s)
    found, seen = [], 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and middle[len(found)] < seen:
            found.append(value)
    return (found[0] + found[1]) / 2


def _bp_per_token(bases, content_tokens, truncated):
    if truncated or not content_tokens:
        return "n/a"  # truncated sequences have bases that no token covers
    return _format_number(bases / content_tokens)


def _format_number(value):
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"
