"""The Galaxy tutorials (docs/tutorials/) stay true to the suite they teach.

tutorial_markdown.py reads them (its docstring lists the conventions they follow). A form
field quoted outside a hands-on box belongs to one of the tutorial's tools; a figure the
learner should see is listed in FIGURES below with the file that states it.
"""

import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml
from helpers import REPO
from test_settings import expanded
from tutorial_markdown import (
    BOLD_NUMBER,
    NUMBER,
    RAW_URL,
    TOOL_TAG,
    TUTORIALS,
    agrees,
    half_unit,
    hands_on_boxes,
    library_items,
    quoted_labels_outside_hands_on,
    steps_to_run,
    tutorial_text,
    value,
)

NAMES = sorted(p.name for p in TUTORIALS.iterdir() if p.is_dir())

# Every bold number of each tutorial, with the file that states it (what the demos print, as
# the workflows' READMEs record it, or what the workflow test asserts). Tolerance: the source
# states a number within half a unit of the tutorial's last digit (the tutorial may round).
FIGURES = {
    "pretraining": [
        (figure, "workflows/dna-lm-pretraining/dna-lm-pretraining-tests.yml")
        for figure in ("128", "25728", "34", "48")
    ],
    "finetuning": [
        (figure, "workflows/dna-lm-finetuning/README.md")
        for figure in ("0.613", "0.602", "0.585", "0.368", "0.384", "0.401",
                       "0.676", "0.363", "0.730")
    ],
    "zeroshot": [
        (figure, "workflows/dna-lm-zeroshot/README.md")
        for figure in ("1.009", "1.127", "1.115", "1.149", "-0.40", "0.69", "4778", "0.59")
    ],
    "sequence-generation": [
        (figure, "workflows/dna-lm-sequence-generation/dna-lm-sequence-generation-tests.yml")
        for figure in ("500", "150")
    ],
    "genome-and-variant-effects": [
        *((figure, "workflows/dna-lm-genome-pretraining/README.md")
          for figure in ("60,349", "50,153", "10,196", "3.874", "3.854",
                         "0.852", "0.778", "0.587", "0.887")),
        ("4.159", "README.md"),
        *((figure, "workflows/dna-lm-variant-effects/README.md")
          for figure in ("1.009", "1.127", "0.69", "4778", "0.59")),
    ],
}

def front_matter(name):
    _, header, _ = tutorial_text(name).split("---\n", 2)
    return yaml.safe_load(header)


def workflow_files(name):
    return sorted((TUTORIALS / name / "workflows").iterdir())


def workflows_of(name):
    return [p.name[:-len(".ga")] for p in workflow_files(name) if p.name.endswith(".ga")]


# --- the tools of the suite, as a tutorial names them ----------------------------------------

MACROS_XML = ET.parse(REPO / "tools" / "macros.xml").getroot()
TOKENS = {t.get("name"): t.text for t in MACROS_XML.iter("token")}
SHED = yaml.safe_load((REPO / ".shed.yml").read_text())


def with_version_tokens(text, root=None):
    """``text`` with the suite's tokens; a tool's own (``root``'s <macros>) win, as in Galaxy."""
    own = {t.get("name"): t.text for t in root.iterfind("macros/token")} if root is not None else {}
    for name, value in {**TOKENS, **own}.items():
        text = text.replace(name, value)
    return text


def tool(tool_id):
    path = REPO / "tools" / f"{tool_id}.xml"
    assert path.exists(), f"no tool {tool_id}"
    return ET.parse(path).getroot()


def form_labels(tool_id):
    """The labels a user sees in the tool's form: parameters, sections and repeats."""
    inputs = expanded(tool(tool_id).find("inputs"))
    labels = {p.get("label") for p in inputs.iter("param") if p.get("type") != "hidden"}
    labels |= {e.get("title") for e in inputs.iter() if e.tag in ("section", "repeat")}
    return labels - {None}


def select_options(tool_id):
    """For each label that only names selects of fixed options, the values those options offer
    (a built-in genome or model is a select filled from a data table, beside a data parameter
    of the same label)."""
    params = list(expanded(tool(tool_id).find("inputs")).iter("param"))
    options = {}
    for param in params:
        options.setdefault(param.get("label"), set()).update(o.get("value") for o in param.iter("option"))

    def of_fixed_options(param):
        return param.get("type") == "select" and param.find("option") is not None

    fixed = {p.get("label") for p in params if of_fixed_options(p)}
    others = {p.get("label") for p in params if not of_fixed_options(p)}
    return {label: options[label] for label in fixed - others}


def tool_tags(name):
    return TOOL_TAG.findall(tutorial_text(name))


def tool_id_of(address):
    host, repos, owner, repository, tool_id, version = address.split("/")
    return tool_id


def test_there_is_a_tutorial_for_every_workflow():
    named = sorted(w for name in NAMES for w in workflows_of(name))
    assert named == sorted(p.name for p in (REPO / "workflows").iterdir() if p.is_dir())
    assert sorted(FIGURES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_front_matter(name):
    header = front_matter(name)
    for key in ("title", "questions", "objectives", "time_estimation", "key_points",
                "contributors"):
        assert header.get(key), f"{name}: front matter has no {key}"
    assert "zenodo_link" in header
    assert "galaxy-dnalm" in header["contributors"]
    assert re.fullmatch(r"(\d+H)?(\d+M)?", header["time_estimation"])


@pytest.mark.parametrize("name", NAMES)
def test_every_box_is_closed_and_every_question_has_a_solution(name):
    text = tutorial_text(name)
    assert text.count("<hands-on-title>") == text.count("{: .hands_on}") > 0
    assert text.count("<question-title>") == text.count("{: .question}") > 0
    for question in text.split("{: .question}")[:-1]:
        box = question.rsplit("<question-title>", 1)[-1]
        assert "<solution-title>" in box and "{: .solution}" in box, f"{name}: {box[:80]!r}"


@pytest.mark.parametrize("name", NAMES)
def test_every_tool_tag_names_a_tool_at_its_current_version(name):
    assert tool_tags(name), f"{name} names no tool"
    for label, address in tool_tags(name):
        host, repos, owner, repository, tool_id, version = address.split("/")
        assert (host, repos, owner) == ("toolshed.g2.bx.psu.edu", "repos", SHED["owner"]), address
        assert repository == tool_id and tool_id in SHED["repositories"], address
        root = tool(tool_id)
        assert root.get("id") == tool_id
        assert label == root.get("name"), f"{name}: [{label}] is {root.get('name')!r}"
        assert version == with_version_tokens(root.get("version"), root), f"{name}: {address}"


@pytest.mark.parametrize("name", NAMES)
def test_the_tutorial_runs_the_tools_of_its_workflows(name):
    in_workflows = set()
    for workflow in workflow_files(name):
        if workflow.name.endswith(".ga"):
            steps = json.loads(workflow.read_text())["steps"].values()
            in_workflows |= {s["tool_id"] for s in steps if s.get("tool_id")}
    assert {tool_id_of(address) for _, address in tool_tags(name)} == in_workflows


@pytest.mark.parametrize("name", NAMES)
def test_every_quoted_label_is_in_its_tools_form(name):
    text = tutorial_text(name)
    checked = 0
    for box in hands_on_boxes(text):
        assert not box.labels_before_a_tool, f"{name}: {box.labels_before_a_tool} before any tool in its box"
        for step in box.steps:
            labels, offered = form_labels(step.tool_id), select_options(step.tool_id)
            for setting in step.settings:
                where = f"{name}:{setting.line}"
                assert setting.label in labels, f"{where}: {step.tool_id} has no {setting.label!r}"
                options = offered.get(setting.label)
                assert setting.value is None or options is None or setting.value in options, \
                    f"{where}: {setting.label!r} offers {sorted(options)}, not {setting.value!r}"
                checked += 1
    tutorial_tools = {tool_id_of(address) for _, address in tool_tags(name)}
    anywhere = set().union(*(form_labels(t) for t in tutorial_tools))
    for number, label in quoted_labels_outside_hands_on(text):
        assert label in anywhere, f"{name}:{number}: no tool of the tutorial has {label!r}"
        checked += 1
    assert checked, f"{name} quotes no form label"


@pytest.mark.parametrize("name", NAMES)
def test_workflows_link_to_the_iwc_workflows(name):
    files = workflow_files(name)
    assert workflows_of(name), f"{name}/workflows holds no .ga"
    for path in files:
        assert path.is_symlink() and path.exists(), f"{path} is not a working link"
        target = path.resolve()
        assert target.parent.parent == (REPO / "workflows").resolve(), target
        assert path.name == target.name
    for workflow in workflows_of(name):
        assert {p.name for p in files} >= {f"{workflow}.ga", f"{workflow}-tests.yml"}


@pytest.mark.parametrize("name", NAMES)
def test_every_workflow_named_exists(name):
    named = set(re.findall(r"`(dna-lm-[a-z-]+)`", tutorial_text(name)))
    assert set(workflows_of(name)) <= named, f"{name} does not name its own workflows"
    for workflow in named:
        assert (REPO / "workflows" / workflow / f"{workflow}.ga").exists(), workflow


@pytest.mark.parametrize("name", NAMES)
def test_the_data_library_lists_the_bundled_data(name):
    urls = [item["url"] for item in library_items(name)]
    assert all(url.startswith(RAW_URL) for url in urls), urls
    listed = sorted(url[len(RAW_URL):] for url in urls)
    bundled = sorted(str(p.relative_to(REPO)) for w in workflows_of(name)
                     for p in (REPO / "workflows" / w / "test-data").iterdir())
    assert listed == bundled
    text = tutorial_text(name)
    for path in listed:
        assert path.rsplit("/", 1)[1] in text, f"{name} never names {path}"


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_is_stated_by_its_source(name):
    bold = BOLD_NUMBER.findall(tutorial_text(name))
    assert sorted(set(bold)) == sorted({figure for figure, _ in FIGURES[name]})
    for figure, source in FIGURES[name]:
        stated = [value(n) for n in NUMBER.findall((REPO / source).read_text().replace("\u2212", "-"))]
        close = [n for n in stated if agrees(n, figure)]
        assert close, f"{name}: {figure} is not in {source}"


def test_a_wrong_figure_label_or_version_would_be_caught():
    """The checks above can fail: a figure off by one unit, a label or a version not in the suite."""
    source = (REPO / "workflows/dna-lm-zeroshot/README.md").read_text()
    assert not [n for n in NUMBER.findall(source) if abs(value(n) - 1.010) <= half_unit("1.010")]
    assert "Model preset" not in form_labels("dnalm_pretrain")
    assert "cpu" not in select_options("dnalm_pretrain")["Architecture"]
    assert with_version_tokens(tool("dnalm_pretrain").get("version"), tool("dnalm_pretrain")) != "0.1.0"


def test_a_step_with_the_same_parameters_repeats_the_previous_one():
    """What the browser test (tests/browser/test_tutorial_steps.py) enters in the zero-shot forms."""
    steps = steps_to_run(hands_on_boxes(tutorial_text("zeroshot")))
    assert [s.tool_id for s in steps] == ["dnalm_score", "dnalm_score", "dnalm_compare_effects"]
    assert [s.renamed_output for s in steps] == ["exon_effects", "intron_effects", None]
    exon, intron = ({s.label: s.value for s in step.settings} for step in steps[:2])
    assert exon["Reference sequences"] == "zeroshot_exon_ref.fasta.gz"
    assert intron["Reference sequences"] == "zeroshot_intron_ref.fasta.gz"
    assert intron["Alternative sequences"] == "zeroshot_intron_alt.fasta.gz"
    assert intron["Model"] == "mistral_dna_1m_tf0.zip" and intron["Pooling of the token vectors"] == "max"
    assert len(intron) == len(exon) == 9
