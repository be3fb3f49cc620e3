"""The input VCF again, with the variant effects as INFO fields declared in its header.

Every record is kept, in order. An effect field has one value per ALT (``Number=A``);
an ALT that was not scored (symbolic, skipped) gets ``.``. The records are read and
printed by htslib (pysam); only the INFO column gains the effect fields. With
``bgzip`` the file is BGZF-compressed (what Galaxy's ``vcf_bgzip``, bcftools and
tabix read).
"""

import os

from dnalm.io.reference_genome import quiet_htslib

INFO_PREFIX = "DNALM_"


def info_id(column):
    """``delta_log_likelihood`` -> ``DNALM_DELTA_LOG_LIKELIHOOD``."""
    return INFO_PREFIX + column.upper()


def write_effect_vcf(vcf_path, output, rows, columns, descriptions, bgzip=False):
    """Write ``vcf_path``'s records with ``rows[(record number, alt index)][column]`` as INFO.

    ``descriptions`` says in words what each column is, for the header.
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
            if extra:
                fields[7] = ";".join(([] if fields[7] == "." else [fields[7]]) + extra)
            lines.append("\t".join(fields) + "\n")
        # Read after the records: htslib declares contigs and INFO fields it met undeclared.
        header = str(vcf.header).splitlines(keepends=True)
    declared = [
        f'##INFO=<ID={info_id(column)},Number=A,Type=Float,Description="{descriptions[column]}">\n'
        for column in columns
    ]
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
