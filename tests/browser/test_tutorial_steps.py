"""A learner follows the zero-shot tutorial (docs/tutorials/zeroshot/tutorial.md) in Galaxy.

Nothing of the steps is written here: they are read from the tutorial's hands-on boxes
(tests/tutorial_markdown.py). The bundled data of its data-library.yaml is uploaded with the
datatypes it lists; then, for each step, the tool the tag names is opened, and every form
field the step quotes is found by its label, as the learner finds it, and set to the value
the step gives (a select by the option of that value, a dataset by its name in the history);
an output the step renames is renamed. The numbers the last question's solution states must
be what the comparison's summary shows, within half a unit of their last digit.

Labels are matched to fields through Galaxy's own model of the form (/api/tools/ID/build),
so that a field inside a conditional is found in the case the earlier settings chose.
Screenshots: tutorial-steps-*.png.
"""

import csv
import io
import xml.etree.ElementTree as ET

from conftest import REPO
from galaxy_ui import (
    choose,
    expand_sections,
    form_element,
    history_item,
    new_history,
    open_galaxy,
    open_tool,
    rename,
    shot,
    shown_label,
    type_value,
    upload_all,
    wait_until_green,
)
from playwright.sync_api import expect
from tutorial_markdown import BOLD_NUMBER, RAW_URL, agrees, hands_on_boxes, library_items, steps_to_run, tutorial_text

TUTORIAL = "zeroshot"
# The last question's solution states these rows of the comparison's summary, in this order
# ("Exon **1.009**, intron **1.127** (means **1.115** and **1.149**) ... t = **-0.40**, p = ...").
SOLUTION_ROWS = [
    ("exon", "median"), ("intron", "median"), ("exon", "mean"), ("intron", "mean"),
    ("exon vs intron", "welch_t_statistic"), ("exon vs intron", "welch_t_p_value"),
    ("exon vs intron", "mann_whitney_u_statistic"), ("exon vs intron", "mann_whitney_u_p_value"),
]


def test_follow_the_zeroshot_tutorial(page, galaxy):
    text = tutorial_text(TUTORIAL)
    steps = steps_to_run(hands_on_boxes(text))
    open_galaxy(page, galaxy)
    new_history(page)
    data = [(REPO / item["url"][len(RAW_URL):], item["ext"]) for item in library_items(TUTORIAL)]
    upload_all(page, data)
    hids = {path.name: hid for hid, (path, _) in enumerate(data, start=1)}  # a dataset's name -> its hid
    shot(page, "tutorial-steps-01-uploaded")

    next_hid = len(data) + 1
    for number, step in enumerate(steps, start=1):
        open_tool(page, step.tool_id)
        expand_sections(page)
        fill_form(page, galaxy, step, hids)
        shot(page, f"tutorial-steps-{number + 1:02}-{step.tool_id}-form")
        page.locator("button#execute").first.click()
        first_output, next_hid = next_hid, next_hid + output_count(step.tool_id)
        for hid in range(first_output, next_hid):
            wait_until_green(page, hid)
        if step.renamed_output:
            rename(page, first_output, step.renamed_output)
            hids[step.renamed_output] = first_output
    shot(page, f"tutorial-steps-{len(steps) + 2:02}-outputs")

    # The comparison's summary (the last step's first output) shows the solution's numbers.
    summary = read_summary(page, galaxy, first_output)
    last_question = text.split("{: .hands_on}")[-1].split("{: .question}")[0]
    figures = BOLD_NUMBER.findall(last_question)
    assert len(figures) == len(SOLUTION_ROWS), f"the last solution states {figures}"
    for figure, row in zip(figures, SOLUTION_ROWS):
        assert row in summary, f"the summary has no row {row}: {sorted(summary)}"
        assert agrees(summary[row], figure), f"{row}: the summary shows {summary[row]}, the tutorial {figure}"


def fill_form(page, galaxy, step, hids):
    """Each quoted field of ``step``, found by its label among the fields the form shows, set."""
    inputs = form_model(page, galaxy, step)
    chosen = {}
    for setting in step.settings:
        shown = dict(visible_fields(inputs, chosen))
        paths = [path for path, field in shown.items() if field.get("label") == setting.label]
        where = f"line {setting.line}, {step.tool_id}"
        assert len(paths) == 1, f"{where}: {len(paths)} fields labelled {setting.label!r} in the form"
        path, field = paths[0], shown[paths[0]]
        element = form_element(page, path)
        expect(element).to_be_visible()
        assert setting.label in shown_label(element), f"{where}: {path} shows {shown_label(element)!r}"
        if setting.value is None:
            continue  # named in words only ("the model zip"): the form's choice is kept
        if field["type"] == "data":
            assert setting.value in hids, f"{where}: no dataset {setting.value!r} in the history"
            choose(page, path, f"{hids[setting.value]}: {setting.value}")
        elif field["type"] == "select":
            texts = {value: text for text, value, *_ in field["options"]}
            assert setting.value in texts, f"{where}: {setting.label!r} has no option {setting.value!r}"
            choose(page, path, texts[setting.value])
        else:
            type_value(page, path, setting.value)
        chosen[path] = setting.value


def form_model(page, galaxy, step):
    """The tool's form as Galaxy builds it: its inputs, macros expanded, options listed."""
    response = page.request.get(f"{galaxy['url']}/api/tools/{step.tool_id}/build",
                                params={"tool_version": step.version})
    assert response.ok, f"{step.tool_id} {step.version}: {response.status}"
    model = response.json()
    assert model["version"] == step.version
    return model["inputs"]


def visible_fields(inputs, chosen, prefix=""):
    """``(path, field)`` of each field the form shows, a conditional's case as ``chosen`` sets
    its select (or as the select starts); paths as the form's element ids name them."""
    for field in inputs:
        path = prefix + field["name"]
        if field["type"] == "conditional":
            test = field["test_param"]
            test_path = f"{path}|{test['name']}"
            yield test_path, test
            selected = chosen.get(test_path, test.get("value"))
            case = next(case for case in field["cases"] if case["value"] == selected)
            yield from visible_fields(case["inputs"], chosen, f"{path}|")
        elif field["type"] == "section":
            yield from visible_fields(field["inputs"], chosen, f"{path}|")
        elif field["type"] != "hidden":
            yield path, field


def output_count(tool_id):
    outputs = ET.parse(REPO / "tools" / f"{tool_id}.xml").getroot().find("outputs")
    return len(outputs.findall("data"))


def read_summary(page, galaxy, hid):
    """``{(group, statistic): value}`` of the summary table with that hid in the current history."""
    url = galaxy["url"]
    history = page.request.get(f"{url}/api/histories/most_recently_used").json()
    contents = page.request.get(f"{url}/api/histories/{history['id']}/contents").json()
    dataset = next(item for item in contents if item["hid"] == hid)
    text = page.request.get(f"{url}/api/datasets/{dataset['id']}/display", params={"preview": "false"}).text()
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    expect(history_item(page, hid).locator(".name")).to_contain_text("summary")
    return {(row["group"], row["statistic"]): float(row["value"]) for row in rows}
