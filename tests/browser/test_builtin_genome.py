"""A built-in genome on the tokenize form, as a person picks it: nothing uploaded.

`make serve` offers S. cerevisiae S288C (sacCer3, built by `make genome-sacCer3`) in Galaxy's
all_fasta data table. In an empty history: open DNA LM: tokenize, switch on genome mode, keep
"Use a built-in genome", pick sacCer3 and run. The three outputs must turn green, be named
after the genome, and the summary must show the whole genome: 16 chromosomes, 60,349 windows
of 200 bp. Screenshots: genome-*.png.
"""

import re

from galaxy_ui import choose, expand, form_element, open_galaxy, new_history, open_tool, shot, wait_until_green
from playwright.sync_api import expect

GENOME = "S. cerevisiae S288C (sacCer3)"


def test_tokenize_a_builtin_genome(page, galaxy):
    open_galaxy(page, galaxy)
    new_history(page)

    open_tool(page, "dnalm_tokenize")
    choose(page, "genome|mode", "Yes: non-overlapping windows")
    # A built-in genome is the default source, and sacCer3 is offered by its name.
    expect(form_element(page, "genome|reference|source")).to_contain_text("Use a built-in genome")
    choose(page, "genome|reference|genome", GENOME)
    expect(form_element(page, "genome|reference|genome")).to_contain_text(GENOME)
    shot(page, "genome-01-tokenize-form")
    page.locator("button#execute").first.click()

    # Outputs in the tool's order: token ids, summary, histogram; named after the genome's id.
    token_ids = wait_until_green(page, 1)
    summary = wait_until_green(page, 2)
    histogram = wait_until_green(page, 3)
    expect(token_ids.locator(".name")).to_contain_text("on sacCer3: token ids")
    expect(histogram.locator(".name")).to_contain_text("tokens per sequence")
    peek = expand(summary)
    expect(peek).to_contain_text(re.compile(r"input records\s*16"))
    expect(peek).to_contain_text(re.compile(r"windows kept\s*60349"))
    shot(page, "genome-02-tokenize-outputs")
