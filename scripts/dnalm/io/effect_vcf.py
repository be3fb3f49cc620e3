"""The input VCF again, with the variant effects as INFO fields declared in its header.

Every record is kept, in order. An effect field has one value per ALT (``Number=A``);
an ALT that was not scored gets ``.`` there, and ``DNALM_SKIPPED`` says why (also one
value per ALT, ``.`` for a scored one), so a skipped record does not pass through
looking like one nobody looked at. The records are read and printed by htslib
(pysam); only the INFO column gains fields. With ``bgzip`` the file is
BGZF-compressed (what Galaxy's ``vcf_bgzip``, bcftools and tabix read);
``write_tabix_index`` then puts the index beside it, where readers look for it.
"""

import os
import sys

from dnalm.io.reference_genome import quiet_htslib

INFO_PREFIX = "DNALM_"
SKIPPED_ID = INFO_PREFIX + "SKIPPED"


def info_id(column):
    """``delta_log_likelihood`` -> ``DNALM_DELTA_LOG_LIKELIHOOD``."""
    return INFO_PREFIX + column.upper()


def write_effect_vcf(vcf_path, output, rows, columns, descriptions, skipped=None,
                     skip_reasons=None, bgzip=False):
    """Write ``vcf_path``'s records with ``rows[(record number, alt index)][column]`` as INFO.

    ``descriptions`` says in words what each column is, for the header;
    ``skipped[(record number, alt index)]`` is why an ALT was not scored, one of the
    words ``skip_reasons`` explains.
    """
    import pysam

    with quiet_htslib(), pysam.VariantFile(str(vcf_path)) as vcf:
        lines = []
        for number, record in enumerate(vcf, start=1):
            fields = str(record).rstrip("\n").split("\t")
            alts = len(record.alts or ())
            extra = []
            for column in columns:
                values = [rows.get((number, index), {}).get(column) for index in range(alts)]
                if any(value is not None for value in values):
                    text = ",".join("." if v is None else f"{v:.8g}" for v in values)
                    extra.append(f"{info_id(column)}={text}")
            reasons = [(skipped or {}).get((number, index)) for index in range(alts)]
            if any(reasons):
                extra.append(f"{SKIPPED_ID}={','.join(reason or '.' for reason in reasons)}")
            if extra:
                fields[7] = ";".join(([] if fields[7] == "." else [fields[7]]) + extra)
            lines.append("\t".join(fields) + "\n")
        # Read after the records: htslib declares contigs and INFO fields it met undeclared.
        header = str(vcf.header).splitlines(keepends=True)
    declared = [
        f'##INFO=<ID={info_id(column)},Number=A,Type=Float,Description="{descriptions[column]}">\n'
        for column in columns
    ]
    if skipped:
        words = "; ".join(f"{word}: {meaning}" for word, meaning in skip_reasons.items())
        declared.append(f'##INFO=<ID={SKIPPED_ID},Number=A,Type=String,Description="why dnalm '
                        f'did not score this ALT ({words})">\n')
    text_path = output if not bgzip else f"{output}.plain"
    try:
        with open(text_path, "w") as stream:
            stream.writelines(header[:-1] + declared + header[-1:])
            stream.writelines(lines)
        if bgzip:
            pysam.tabix_compress(text_path, str(output), force=True)
    finally:
        if bgzip and os.path.exists(text_path):
            os.remove(text_path)


def write_tabix_index(path):
    """``path``.tbi for the bgzipped VCF at ``path``, written whole or not at all; an
    unsorted VCF, which tabix cannot index, gets a warning instead."""
    import pysam

    index = f"{path}.tbi"
    partial = f"{index}.partial"
    try:
        with quiet_htslib():
            pysam.tabix_index(str(path), preset="vcf", index=partial, force=True)
        os.replace(partial, index)
    except (OSError, ValueError) as error:
        print(f"dnalm: warning: no tabix index for {path} ({error}); sort the input VCF "
              "(bcftools sort) to get one", file=sys.stderr, flush=True)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
