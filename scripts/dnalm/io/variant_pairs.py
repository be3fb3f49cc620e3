"""Reference/alternative pairs of DNA sequences, from two files or one table.

Two files pair their records in one of two ways:

* ``id``: records with the same id form a pair, in the reference file's order;
  every id must appear exactly once in each file.
* ``order``: the n-th reference pairs with the n-th alternative, whatever their
  ids (the tutorial's files: ``>SNP1`` against ``>chr1``, alt ids repeated).

``auto`` (the default) pairs by id when both files hold the same ids, each once,
and by order when the ids cannot pair (repeated, or no id in common). Ids that
are unique but only partly shared are refused: that is a file with a missing or
extra record, and pairing it by order would shift every pair after the gap.
A pair takes the reference's id.
"""

from dnalm.errors import DnalmError
from dnalm.io.sequences import SequenceRecord, read_sequences

PAIRINGS = ("auto", "order", "id")


def pairs_from_files(ref_path, alt_path, pair_by="auto", input_format=None, iupac_policy="error"):
    """``(pairs, how)``: a list of ``(ref, alt)`` records and the pairing used (id/order)."""
    if pair_by not in PAIRINGS:
        raise DnalmError(f"unknown pairing '{pair_by}' (use one of {', '.join(PAIRINGS)})")
    refs = list(read_sequences(ref_path, input_format, iupac_policy=iupac_policy))
    alts = list(read_sequences(alt_path, input_format, iupac_policy=iupac_policy))
    if pair_by == "auto":
        pair_by = _pairing_for(refs, alts, ref_path, alt_path)
    if pair_by == "order":
        return _by_order(refs, alts, ref_path, alt_path), "order"
    return _by_id(refs, alts, ref_path, alt_path), "id"


def pairs_from_table(path, ref_column, alt_column, input_format=None, id_column=None,
                     iupac_policy="error"):
    """One pair per row: two readers over the same table, one per column."""
    refs = read_sequences(path, input_format, ref_column, id_column, iupac_policy)
    alts = read_sequences(path, input_format, alt_column, id_column, iupac_policy)
    return list(zip(refs, alts))


def _pairing_for(refs, alts, ref_path, alt_path):
    ref_ids, alt_ids = [r.id for r in refs], [a.id for a in alts]
    unique = len(set(ref_ids)) == len(ref_ids) and len(set(alt_ids)) == len(alt_ids)
    if not unique or not set(ref_ids) & set(alt_ids):
        return "order"
    if set(ref_ids) == set(alt_ids):
        return "id"
    missing = next((i for i in ref_ids if i not in set(alt_ids)), None)
    if missing is not None:
        raise DnalmError(
            f"{ref_path}: id '{missing}' has no alternative in {alt_path} (the files share "
            "only some ids; to pair the n-th reference with the n-th alternative, pair by order)"
        )
    extra = next(i for i in alt_ids if i not in set(ref_ids))
    raise DnalmError(
        f"{alt_path}: id '{extra}' has no reference in {ref_path} (the files share only some "
        "ids; to pair the n-th reference with the n-th alternative, pair by order)"
    )


def _by_order(refs, alts, ref_path, alt_path):
    if len(refs) != len(alts):
        raise DnalmError(
            f"{ref_path} has {len(refs)} sequences but {alt_path} has {len(alts)}: pairing by "
            "order needs one alternative per reference"
        )
    return list(zip(refs, alts))


def _by_id(refs, alts, ref_path, alt_path):
    refs_by_id = _unique_by_id(refs, ref_path)
    alts_by_id = _unique_by_id(alts, alt_path)
    unmatched_ref = [record_id for record_id in refs_by_id if record_id not in alts_by_id]
    if unmatched_ref:
        raise DnalmError(f"{ref_path}: id '{unmatched_ref[0]}' has no alternative in {alt_path}")
    unmatched_alt = [record_id for record_id in alts_by_id if record_id not in refs_by_id]
    if unmatched_alt:
        raise DnalmError(f"{alt_path}: id '{unmatched_alt[0]}' has no reference in {ref_path}")
    return [(ref, SequenceRecord(record_id, alts_by_id[record_id].sequence))
            for record_id, ref in refs_by_id.items()]


def _unique_by_id(records, path):
    by_id = {}
    for record in records:
        if record.id in by_id:
            raise DnalmError(
                f"{path}: id '{record.id}' appears twice, so pairs cannot be matched by id: "
                "pair by order (--pair-by order) to pair the n-th reference with the n-th "
                "alternative"
            )
        by_id[record.id] = record
    return by_id
