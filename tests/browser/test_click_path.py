"""A user's click path through the dnalm tools, in a real browser on a real Galaxy.

Upload a FASTA of real hg38 windows, then, from the tool panel as the tutorial goes:
tokenize, pretrain a tiny model on the CPU, embed the sequences with it; each output must
turn green and show what it should. Selectors are the ones Galaxy's
own browser tests use (galaxy/navigation/navigation.yml in the Galaxy wheel). Each step
leaves a screenshot in artifacts/screenshots/.
"""

import re

from conftest import REPO, SCREENSHOTS
from playwright.sync_api import expect

FASTA = REPO / "test-data" / "hg38_windows_small.fa"
JOB_SECONDS = 600  # a job on a busy 2-core machine, Galaxy's metadata step included
HELP_LEFTOVERS = re.compile(r"``|^\.\. |:ref:`|\*\*\S", re.MULTILINE)  # reStructuredText not rendered


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, galaxy):
    page.goto(f"{galaxy['url']}/login/start")
    page.locator("form#login input[name='login']").fill(galaxy["email"])
    page.locator("form#login input[name='password']").fill(galaxy["password"])
    page.locator("//button[@name='login']").click()
    expect(page.locator("#masthead")).to_be_visible()
    expect(page.locator("#user.loggedin-only")).to_be_attached()


def new_history(page):
    """Start from an empty history so the datasets' hids are 1, 2, 3, ..."""
    page.locator('[data-description="create new history"]').click()
    expect(page.locator("#current-history-panel #empty-history-message")).to_be_visible()


def history_item(page, hid):
    return page.locator(f'#current-history-panel .content-item[data-hid="{hid}"]')


def wait_until_green(page, hid):
    item = history_item(page, hid)
    expect(item).to_have_attribute("data-state", re.compile("ok|error|failed_metadata"), timeout=JOB_SECONDS * 1000)
    expect(item).to_have_attribute("data-state", "ok")
    return item


def expand(item):
    item.locator(".content-title").click()
    return item.locator(".dataset-peek")


def upload(page, path):
    page.locator("#activity-upload").click()
    with page.expect_file_chooser() as chooser:
        page.locator("div#regular button#btn-local").click()
    chooser.value.set_files(path)
    page.locator("div#regular button#btn-start").click()
    expect(page.locator("div#regular .upload-row.upload-init, div#regular .upload-row.upload-queued")).to_have_count(
        0, timeout=JOB_SECONDS * 1000
    )
    page.locator("div#regular button#btn-close").click()


def open_tool_panel(page):
    search = page.locator("#toolbox-panel .search-query")
    if not search.is_visible():
        page.locator("#activity-tools").click()
    return search


def open_tool(page, tool_id):
    open_tool_panel(page).fill(f"id:{tool_id}")
    page.locator(f'#toolbox-panel a[href$="/?tool_id={tool_id}&version=latest"]').first.click()
    expect(page.locator("button#execute").first).to_be_visible()


def form_element(page, parameter):
    return page.locator(f'div.ui-form-element[id="form-element-{parameter}"]')


def choose(page, parameter, option_text):
    """Pick an option of a select (or a dataset of a data parameter) by its visible text."""
    element = form_element(page, parameter)
    element.locator(".multiselect").first.click()
    element.locator(".multiselect__option", has_text=option_text).first.click()


def type_value(page, parameter, value):
    form_element(page, parameter).locator("input").first.fill(str(value))


def check_form_reads_well(page):
    """Every visible parameter has a label, and the help is rendered, not raw text."""
    help_text = page.locator("div.form-help").inner_text()
    assert "tutorial" in help_text.lower()
    assert not HELP_LEFTOVERS.search(help_text), HELP_LEFTOVERS.search(help_text)
    for element in page.locator("div.ui-form-element:visible").all():
        title = element.locator(".ui-form-title").first.inner_text().strip()
        if not title:  # a conditional's select: Galaxy shows its label as the box's header
            header = element.locator("xpath=ancestor::div[contains(@class, 'portlet-section')][1]/div[1]")
            title = header.inner_text().strip() if header.count() else ""
        assert title, f"a parameter without a label: {element.get_attribute('id')}"


def test_tutorial_click_path(page, galaxy):
    log_in(page, galaxy)
    new_history(page)

    upload(page, FASTA)
    fasta = wait_until_green(page, 1)
    expect(fasta.locator(".name")).to_contain_text(FASTA.name)
    shot(page, "01-uploaded-fasta")

    open_tool_panel(page)
    expect(page.locator("#toolbox-panel .toolSectionTitle", has_text="DNA language models")).to_be_visible()
    shot(page, "02-tool-panel")

    open_tool(page, "dnalm_tokenize")
    check_form_reads_well(page)
    shot(page, "03-tokenize-form")
    page.locator("button#execute").first.click()

    # Outputs in the tool's order: token ids (parquet), summary (tabular), histogram (png).
    token_ids = wait_until_green(page, 2)
    summary = wait_until_green(page, 3)
    histogram = wait_until_green(page, 4)
    expect(token_ids.locator(".name")).to_contain_text("token ids")
    expect(expand(summary)).to_contain_text("sequences")
    expect(histogram.locator(".name")).to_contain_text("tokens per sequence")
    shot(page, "04-tokenize-outputs")

    # Pretrain the tiny preset on the token ids (hid 2, the only Parquet dataset), briefly.
    open_tool(page, "dnalm_pretrain")
    check_form_reads_well(page)
    choose(page, "model_source|preset", "tiny")
    type_value(page, "epochs", 2)
    type_value(page, "gradient_accumulation", 1)
    type_value(page, "learning_rate", 0.003)
    shot(page, "05-pretrain-form")
    page.locator("button#execute").first.click()

    # Outputs: model (zip), training metrics, loss curve, report.
    model = wait_until_green(page, 5)
    metrics = wait_until_green(page, 6)
    wait_until_green(page, 7)
    wait_until_green(page, 8)
    expect(model.locator(".name")).to_contain_text("model")
    expand(model)
    expect(model).to_contain_text("zip")
    expect(expand(metrics)).to_contain_text("val_loss")
    shot(page, "06-pretrain-outputs")

    # Embed the uploaded sequences with the new model: one row per sequence, 64 dimensions.
    open_tool(page, "dnalm_embed")
    check_form_reads_well(page)
    choose(page, "input", f"1: {FASTA.name}")
    shot(page, "07-embed-form")
    page.locator("button#execute").first.click()

    embeddings = wait_until_green(page, 9)
    expect(embeddings.locator(".name")).to_contain_text("embeddings")
    expand(embeddings)
    expect(embeddings).to_contain_text("81 lines")  # a header and the 80 sequences
    expect(embeddings).to_contain_text("65 columns")  # id + the tiny model's hidden size, 64
    expect(embeddings.locator(".dataset-peek")).to_contain_text("dim_0")
    shot(page, "08-embed-outputs")
