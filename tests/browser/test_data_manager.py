"""An administrator installs a model for everyone; a user then picks it on a tool form.

As the admin (conftest logs in as the admin of `make serve`): upload the micro model's zip,
open Admin > Local data > DNA LM models and install the zip from the history under a name
of its own (the server start installed Mistral-DNA already, so this is a second row). The
huggingface table then lists it. DNA LM: embed, "Installed on this server", offers it by that
name; embedding 80 real hg38 windows with it gives a header and 80 rows of the micro model's
16 dimensions. Screenshots: data-manager-*.png.
"""

import re

from conftest import REPO, SMALL_FASTA
from galaxy_ui import (
    choose,
    expand,
    form_element,
    new_history,
    open_data_manager,
    open_data_table,
    open_galaxy,
    open_tool,
    shot,
    type_value,
    upload_all,
    wait_until_green,
)
from playwright.sync_api import expect

MODEL_ZIP = REPO / "test-data" / "micro_model.zip"
NAME = "Micro model, installed in the browser"  # the row's name: this, then (sha256 <8 hex digits>)


def test_install_a_model_then_embed_with_it(page, galaxy):
    open_galaxy(page, galaxy)
    new_history(page)
    upload_all(page, [(MODEL_ZIP, "zip"), (SMALL_FASTA, None)])

    open_data_manager(page, galaxy, "DNA LM models", "data_manager_dnalm_models")
    choose(page, "source|route", "A model zip in my history")
    choose(page, "source|model_zip", f"1: {MODEL_ZIP.name}")
    type_value(page, "display_name", NAME)
    shot(page, "data-manager-01-form")
    page.locator("button#execute").first.click()
    wait_until_green(page, 3)  # the data manager's record; Galaxy adds the row when it is green

    table = open_data_table(page, "huggingface")
    expect(table).to_contain_text(NAME)
    expect(table).to_contain_text("dnalm_1_micro_model")
    shot(page, "data-manager-02-huggingface-table")

    open_tool(page, "dnalm_embed")
    choose(page, "model|source", "Installed on this server")
    choose(page, "model|model", NAME)
    picked = re.compile(rf"{re.escape(NAME)} \(sha256 [0-9a-f]{{8}}\)")
    expect(form_element(page, "model|model")).to_contain_text(picked)
    choose(page, "input", f"2: {SMALL_FASTA.name}")
    shot(page, "data-manager-03-embed-form")
    page.locator("button#execute").first.click()

    embeddings = wait_until_green(page, 4)
    expect(embeddings.locator(".name")).to_contain_text("embeddings")
    expand(embeddings)
    expect(embeddings).to_contain_text("81 lines")  # a header and the 80 windows
    expect(embeddings).to_contain_text("17 columns")  # id + the micro model's hidden size, 16
    expect(embeddings.locator(".dataset-peek")).to_contain_text("dim_15")
    shot(page, "data-manager-04-embeddings")
