"""Every tool's form must read well, as a person opens it.

Each tool is opened from the tool panel's search, as a person finds it; its collapsed
sections are opened, and every parameter shown must have a label and a help line of its
own (Galaxy's bare "(--option)" does not count), and the tool's help must be rendered (no
raw reStructuredText). Screenshots: form-<tool>.png.
"""

import pytest
from galaxy_ui import check_form_reads_well, expand_sections, open_galaxy, open_tool, shot

TOOLS = [
    "dnalm_tokenize",
    "dnalm_train_tokenizer",
    "dnalm_pretrain",
    "dnalm_embed",
    "dnalm_score",
    "dnalm_score_variants",
    "dnalm_generate",
    "dnalm_finetune",
    "dnalm_predict",
    "dnalm_compare_effects",
]


@pytest.mark.parametrize("tool_id", TOOLS)
def test_tool_form_reads_well(page, galaxy, tool_id):
    open_galaxy(page, galaxy)
    open_tool(page, tool_id)
    expand_sections(page)
    check_form_reads_well(page, every_parameter_has_help=True)
    shot(page, f"form-{tool_id}")
