"""A user's click path through DNA LM: score variants, in a real browser on a real Galaxy.

Upload a small genome, a VCF called against it (a multi-allelic record with a symbolic ALT,
a deletion, an insertion, variants near a contig's ends; INFO REGION=exon or intron) and a
model; score the variants against the genome from the history, with the VCF written back
bgzipped; then compare the effects of the exon and the intron variants in that one table,
grouped by the REGION column. Each output must turn green and show what it should.
Screenshots: artifacts/screenshots/sv-*.png.
"""

import re

from conftest import REPO
from galaxy_ui import (
    check_form_reads_well,
    choose,
    expand,
    open_galaxy,
    new_history,
    open_tool,
    shot,
    type_value,
    upload_all,
    wait_until_green,
)
from playwright.sync_api import expect

TEST_DATA = REPO / "test-data"
GENOME, VARIANTS, MODEL = (TEST_DATA / name for name in
                           ("tiny_genome.fa", "variants_tiny.vcf", "micro_model.zip"))


def test_score_variants_then_compare_by_an_info_field(page, galaxy):
    open_galaxy(page, galaxy)
    new_history(page)
    upload_all(page, [(GENOME, "fasta"), (VARIANTS, "vcf"), (MODEL, "zip")])
    shot(page, "sv-01-uploaded")

    open_tool(page, "dnalm_score_variants")
    check_form_reads_well(page)
    choose(page, "input", f"2: {VARIANTS.name}")
    choose(page, "reference|source", "Use a genome from my history")
    choose(page, "reference|genome", f"1: {GENOME.name}")
    choose(page, "model|model", f"3: {MODEL.name}")
    type_value(page, "info_fields", "REGION")
    choose(page, "vcf_output", "Yes, as bgzipped VCF")
    check_form_reads_well(page)
    shot(page, "sv-02-score-variants-form")
    page.locator("button#execute").first.click()

    # Outputs: the effects table (hid 4), the VCF with the effects (hid 5).
    effects = wait_until_green(page, 4)
    effects_vcf = wait_until_green(page, 5)
    expect(effects.locator(".name")).to_contain_text("effects")
    peek = expand(effects)
    expect(effects).to_contain_text("8 lines")  # a header and 7 ALTs (the <DEL> skipped)
    expect(peek).to_contain_text("delta_log_likelihood")
    expect(peek).to_contain_text("rs_multi")
    expect(peek).to_contain_text("REGION")
    expect(effects_vcf.locator(".name")).to_contain_text("VCF with effects")
    expand(effects_vcf)
    expect(effects_vcf).to_contain_text("vcf_bgzip")
    shot(page, "sv-03-score-variants-outputs")

    # One table, its rows split by REGION: exon against intron log-likelihood differences.
    open_tool(page, "dnalm_compare_effects")
    check_form_reads_well(page)
    choose(page, "first", "4: ")
    choose(page, "grouping|mode", "In one table, named by a column")
    type_value(page, "grouping|group_by", "REGION")
    type_value(page, "column", "delta_log_likelihood")
    shot(page, "sv-04-compare-form")
    page.locator("button#execute").first.click()

    summary = wait_until_green(page, 6)
    wait_until_green(page, 7)
    peek = expand(summary)
    expect(peek).to_contain_text(re.compile(r"exon\s*n\s*4"))  # a table: no space between cells
    expect(summary).to_contain_text("13 lines")  # a header, 4 statistics per group, 4 tests
    shot(page, "sv-05-compare-outputs")
