"""What a person does in Galaxy's web UI, as Playwright steps shared by the browser tests.

Selectors are the ones Galaxy's own browser tests use (galaxy/navigation/navigation.yml in
the Galaxy wheel) where that file has them.
"""

import re
import warnings
from pathlib import Path

from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

JOB_SECONDS = 600  # a job on a busy 2-core machine, Galaxy's metadata step included
APP_START_SECONDS = 120  # Galaxy's web client starting in a fresh browser context, machine busy
HELP_LEFTOVERS = re.compile(r"``|^\.\. |:ref:`|\*\*\S", re.MULTILINE)  # reStructuredText not rendered
ARGUMENT = re.compile(r"\(--[a-z0-9-]+\)$")  # Galaxy adds "(--option)" to a parameter's help
TERMINAL_STATES = re.compile(r"^(ok|error|failed_metadata|paused|deleted|discarded)$")


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, galaxy):
    open_login_form(page, galaxy["url"])
    page.locator("form#login input[name='login']").fill(galaxy["email"])
    page.locator("form#login input[name='password']").fill(galaxy["password"])
    page.locator("//button[@name='login']").click()
    expect_logged_in(page)


def open_galaxy(page, galaxy):
    """Galaxy's home page, in a browser context that is logged in already (conftest's `page`)."""
    page.goto(galaxy["url"])
    reload_until_shown(page, lambda: expect_logged_in(page), "Galaxy's home page")


def expect_logged_in(page):
    # The whole web client loads first: on a busy 2-core machine that takes more than
    # Playwright's default 5 s.
    expect(page.locator("#masthead")).to_be_visible(timeout=APP_START_SECONDS * 1000)
    expect(page.locator("#user.loggedin-only")).to_be_attached(timeout=APP_START_SECONDS * 1000)


def open_login_form(page, url):
    """The login page of a fresh browser context, which loads Galaxy's whole web client."""
    form = page.locator("form#login")
    page.goto(f"{url}/login/start")
    reload_until_shown(page, lambda: expect(form).to_be_visible(timeout=APP_START_SECONDS * 1000),
                       "the login page")


def reload_until_shown(page, expect_shown, what, reloads=2):
    """``expect_shown()``, reloading the page when the web client never started.

    On a loaded 2-core machine the page of a fresh browser context sometimes stays blank: every
    script the server was asked for was served, and the app never mounted (seen in CI and here,
    on the login page and on the home page). A person reloads; so does this.
    """
    for _ in range(reloads):
        try:
            expect_shown()
            return
        except AssertionError:
            warnings.warn(f"{what} stayed blank; reloading it")
            page.reload()
    expect_shown()


def new_history(page):
    """Start from an empty history so the datasets' hids are 1, 2, 3, ..."""
    page.locator('[data-description="create new history"]').click()
    expect(page.locator("#current-history-panel #empty-history-message")).to_be_visible()


def history_item(page, hid):
    return page.locator(f'#current-history-panel .content-item[data-hid="{hid}"]')


def wait_until_green(page, hid):
    return wait_until_ok(history_item(page, hid))


def wait_until_ok(item):
    """A dataset (history or invocation item) finishes, and finishes green."""
    expect(item).to_have_attribute("data-state", TERMINAL_STATES, timeout=JOB_SECONDS * 1000)
    expect(item).to_have_attribute("data-state", "ok")
    return item


def expand(item):
    item.locator(".content-title").click()
    return item.locator(".dataset-peek")


def upload(page, path, datatype=None):
    """Upload one local file; Galaxy detects its type unless a datatype is chosen (e.g. zip)."""
    page.locator("#activity-upload").click()
    with page.expect_file_chooser() as chooser:
        page.locator("div#regular button#btn-local").click()
    chooser.value.set_files(path)
    if datatype:
        extension = page.locator("div#regular .upload-row").last.locator(".upload-extension")
        extension.locator(".multiselect__select").click()
        extension.locator("input.multiselect__input").fill(datatype)
        extension.locator(".multiselect__option", has_text=re.compile(rf"^\s*{re.escape(datatype)}\s*$")).first.click()
    page.locator("div#regular button#btn-start").click()
    expect(page.locator("div#regular .upload-row.upload-init, div#regular .upload-row.upload-queued")).to_have_count(
        0, timeout=JOB_SECONDS * 1000
    )
    page.locator("div#regular button#btn-close").click()


def upload_all(page, files):
    """Upload (path, datatype) pairs one by one into an empty history: hid n is the nth file."""
    for hid, (path, datatype) in enumerate(files, start=1):
        upload(page, path, datatype)
        item = wait_until_green(page, hid)
        expect(item.locator(".name")).to_contain_text(path.name)


def open_tool_panel(page):
    """The tool panel's search box; the panel may be open already, or still rendering."""
    search = page.locator("#toolbox-panel .search-query")
    for _ in range(3):
        try:
            expect(search).to_be_visible(timeout=5_000)
            return search
        except AssertionError:
            page.locator("#activity-tools").click()
    expect(search).to_be_visible()
    return search


def open_tool(page, tool_id):
    open_tool_panel(page).fill(f"id:{tool_id}")
    page.locator(f'#toolbox-panel a[href$="/?tool_id={tool_id}&version=latest"]').first.click()
    expect(page.locator("button#execute").first).to_be_visible()


def open_data_manager(page, galaxy, name, tool_id):
    """Admin > Local data lists the data manager; its form opens at its tool URL (Galaxy's button
    opens that URL in a new tab: here it opens in the same one)."""
    page.locator("#activity-admin").click()
    page.locator("#admin-link-local-data").click()
    expect(page.locator("#data-managers-card").get_by_text(name, exact=True)).to_be_visible()
    page.goto(f"{galaxy['url']}/?tool_id={tool_id}")
    reload_until_shown(page, lambda: expect(page.locator("button#execute").first).to_be_visible(
        timeout=APP_START_SECONDS * 1000), f"the {name} form")


def open_data_table(page, table):
    """Admin > Local data > a data table: the card with its rows."""
    page.locator("#activity-admin").click()
    page.locator("#admin-link-local-data").click()
    page.locator(f"#{table}-table").click()
    return page.locator("#data-table-card")


def form_element(page, parameter):
    return page.locator(f'div.ui-form-element[id="form-element-{parameter}"]')


def choose(page, parameter, option_text):
    """Pick an option of a select (or a dataset of a data parameter) by its visible text."""
    element = form_element(page, parameter)
    element.locator(".multiselect").first.click()
    element.locator(".multiselect__option", has_text=option_text).first.click()


def rename(page, hid, name):
    """A history item's pencil > Edit Dataset Attributes > Name > Save."""
    item = history_item(page, hid)
    item.locator(".edit-btn").first.click()
    page.locator('[aria-labelledby="dataset-attributes-heading"] input#name').fill(name)
    page.locator("#dataset-attributes-default-save").click()
    expect(item.locator(".name")).to_contain_text(name)


def type_value(page, parameter, value):
    form_element(page, parameter).locator("input").first.fill(str(value))


def expand_sections(page):
    """Open the collapsed sections of a tool form (Advanced options, ...): every parameter shows."""
    for section in page.locator("#center .ui-portlet-section").all():
        content = section.locator(":scope > .portlet-content")
        if content.count() and not content.is_visible():
            section.locator(":scope > .portlet-header").click()
            expect(content).to_be_visible()


def shown_label(element):
    """The label a person sees for a form element ("" for none)."""
    title = element.locator(".ui-form-title").first.inner_text().strip()
    if not title:  # a conditional's select: Galaxy shows its label as the box's header
        header = element.locator("xpath=ancestor::div[contains(@class, 'portlet-section')][1]/div[1]")
        title = header.inner_text().strip() if header.count() else ""
    return title


STRAY_TAGS = "del, ins, s, strike, u, script, style, iframe"  # what help text written as text never holds


def check_form_reads_well(page, every_parameter_has_help=False):
    """Every visible parameter has a label (and, if asked, a help line); the help is rendered."""
    help_text = page.locator("div.form-help").inner_text()
    assert "tutorial" in help_text.lower()
    assert not HELP_LEFTOVERS.search(help_text), HELP_LEFTOVERS.search(help_text)
    for element in page.locator("div.ui-form-element:visible").all():
        name = element.get_attribute("id")
        title = shown_label(element)
        assert title, f"a parameter without a label: {name}"
        if every_parameter_has_help:
            info = element.locator(".ui-form-info")
            line = info.first.inner_text().strip() if info.count() else ""
            assert ARGUMENT.sub("", line).strip(), f"{title!r} ({name}) has no help line"
            assert not HELP_LEFTOVERS.search(line), f"{title!r} ({name}): {line}"
            # help is put in as HTML: a "<DEL>" written in it became a tag and struck the rest through
            stray = info.first.locator(STRAY_TAGS).count() if info.count() else 0
            assert not stray, f"{title!r} ({name}): its help holds HTML tags ({STRAY_TAGS}): {line}"


# --- workflows -----------------------------------------------------------------------------


def open_workflow_list(page):
    page.locator("#activity-workflows").click()
    expect(page.locator("#workflows-list")).to_be_visible()


def workflow_card(page, name):
    """The newest workflow of that name in the list (the list shows the latest changed first)."""
    title = page.locator('[id^="g-card-title-link-"]', has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))
    return page.locator(".g-card.workflow-card").filter(has=title).first


def choose_workflow_file(page, path):
    """Workflows > Import > Upload file > the file (a .ga or .gxwf.yml); then click Import."""
    open_workflow_list(page)
    page.locator("#workflow-import").click()
    page.locator(".workflow-import-file-link").click()
    page.locator(".workflow-import-file input[type=file]").set_input_files(path)
    expect(page.locator(".workflow-import-file")).to_contain_text(path.name)
    return page.locator(".wizard-actions .go-next-btn.btn-primary:not([disabled])")  # Import


def workflow_input(page, label):
    """A workflow input in the run form: the box with its label, help line and field."""
    return page.locator("div.workflow-run-element").filter(has=page.locator(f'[data-label="{label}"]'))


def invocation_output(page, label):
    """One output of the invocation on its Outputs tab: a heading with the label, the dataset."""
    heading = page.get_by_role("heading", name=label, exact=True)
    return page.locator('[data-description="terminal invocation output"]').filter(has=heading)
