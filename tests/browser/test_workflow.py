"""The tutorial's workflow, imported and run from the Workflows page as a person would.

Upload a FASTA of real hg38 windows into a new history; on the Workflows page, import
workflows/dna-lm-pretraining/*.gxwf.yml through Import > Upload file; run the imported copy
from its card with the tiny preset for one epoch; on the invocation's Outputs tab every
output of the workflow must turn green, and the embeddings must have one row per sequence
and the tiny model's 64 dimensions. Screenshots: workflow-*.png.
"""

import re

from conftest import REPO
from conftest import SMALL_FASTA as FASTA
from galaxy_ui import (
    JOB_SECONDS,
    choose_workflow_file,
    expand,
    invocation_output,
    log_in,
    new_history,
    open_workflow_list,
    shot,
    upload,
    wait_until_green,
    wait_until_ok,
    workflow_card,
    workflow_input,
)
from playwright.sync_api import expect

WORKFLOW = REPO / "workflows" / "dna-lm-pretraining" / "dna-lm-pretraining.gxwf.yml"
NAME = "DNA language model pretraining (GTN Mistral-DNA tutorial)"
OUTPUTS = [
    "token_table",
    "tokenize_summary",
    "model",
    "metrics",
    "loss_curve",
    "report",
    "embeddings",
    "embeddings_pca",
]


def test_tutorial_workflow_from_the_workflows_page(page, galaxy):
    log_in(page, galaxy)
    new_history(page)
    upload(page, FASTA)
    wait_until_green(page, 1)

    # make serve has imported the workflow for its admin already; a person imports the file.
    open_workflow_list(page)
    expect(workflow_card(page, NAME)).to_be_visible()
    shot(page, "workflow-01-list")
    import_button = choose_workflow_file(page, WORKFLOW)
    shot(page, "workflow-02-import-file")
    import_button.click()
    imported = workflow_card(page, f"{NAME} (imported from uploaded file)")
    expect(imported).to_be_visible()
    shot(page, "workflow-03-imported")

    # The run form: no "tools have changed" warning, the three inputs labelled and explained.
    imported.locator('[id^="g-card-action-workflow-run-"]').click()
    expect(page.locator("#run-workflow")).to_be_visible()
    expect(page.locator('[data-description="workflow run warning"]')).to_have_count(0)
    for label in ("DNA sequences", "Model preset", "Maximum epochs"):
        expect(workflow_input(page, label).locator(".ui-form-info")).not_to_be_empty()
    sequences = workflow_input(page, "DNA sequences")
    expect(sequences.locator(".multiselect__single")).to_have_text(f"1: {FASTA.name}")
    preset = workflow_input(page, "Model preset")
    preset.locator(".multiselect").click()
    expect(preset.locator(".multiselect__element")).to_have_count(3)  # tutorial, tiny, small-dense
    preset.locator(".multiselect__option", has_text="tiny:").click()
    expect(preset.locator(".multiselect__single")).to_contain_text("tiny")
    workflow_input(page, "Maximum epochs").locator("input").fill("1")
    shot(page, "workflow-04-run-form")
    page.locator("#run-workflow").click()

    # The invocation: all steps scheduled, then every output green on the Outputs tab.
    state = page.locator('[data-description="workflow invocation state"]')
    expect(state.locator(".steps-progress .progress-note")).to_have_attribute(
        "title", re.compile(r"^6 of 6 steps successfully scheduled"), timeout=JOB_SECONDS * 1000
    )
    shot(page, "workflow-05-invoked")
    page.locator('.nav-item[title="Outputs"] > a.nav-link').click()
    for label in OUTPUTS:
        output = invocation_output(page, label)
        expect(output).to_have_count(1, timeout=JOB_SECONDS * 1000)
        wait_until_ok(output.locator(".content-item"))
    jobs = state.locator(".jobs-progress .progress-note")
    expect(jobs).to_have_attribute("title", re.compile(r"^3 of 3 jobs complete"))

    summary = invocation_output(page, "tokenize_summary").locator(".content-item")
    expect(expand(summary)).to_contain_text(re.compile(r"sequences\s*80"))
    embeddings = invocation_output(page, "embeddings").locator(".content-item")
    expand(embeddings)
    expect(embeddings).to_contain_text("81 lines")  # a header and the 80 sequences
    expect(embeddings).to_contain_text("65 columns")  # id + the tiny model's hidden size, 64
    expect(embeddings.locator(".dataset-peek")).to_contain_text("dim_0")
    embeddings.scroll_into_view_if_needed()
    shot(page, "workflow-06-outputs")
