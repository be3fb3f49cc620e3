"""Each workflow step names every setting of its tool, so Galaxy opens the run form without its
"tools which have changed" warning (and the browser test's run form appears): a parameter
added to a tool must be added, with a value, to every workflow step that runs the tool."""

import xml.etree.ElementTree as ET

import pytest
import yaml
from helpers import REPO

WORKFLOWS = sorted((REPO / "workflows").glob("*/*.gxwf.yml"))
MACROS = ET.parse(REPO / "tools" / "macros.xml").getroot()


def expanded(element):
    """``element`` with the macros.xml ``<expand>``s it uses put in place, a parameter's
    ``argument="@ARGUMENT@"`` token filled from the expand's own attribute."""
    for position, child in enumerate(list(element)):
        if child.tag == "expand":
            macro = MACROS.find(f"xml[@name='{child.get('macro')}']")
            if macro is not None:
                element.remove(child)
                for offset, part in enumerate(macro):
                    if part.get("argument") == "@ARGUMENT@":
                        part = ET.fromstring(ET.tostring(part))
                        part.set("argument", child.get("argument"))
                    element.insert(position + offset, part)
        else:
            expanded(child)
    return element


def settings(level):
    """Names of the non-dataset parameters directly at ``level`` (the form or a section)."""
    return {param.get("name") or param.get("argument").lstrip("-").replace("-", "_")
            for param in level.findall("param") if param.get("type") != "data"}


def tool_steps():
    for workflow in WORKFLOWS:
        for name, step in yaml.safe_load(workflow.read_text())["steps"].items():
            if step.get("tool_id"):
                yield pytest.param(step, id=f"{workflow.parent.name}:{name}")


@pytest.mark.parametrize("step", tool_steps())
def test_every_step_names_every_setting_of_its_tool(step):
    inputs = expanded(ET.parse(REPO / "tools" / f"{step['tool_id']}.xml").getroot()).find("inputs")
    state = step.get("state") or {}
    connected = {name.split("|")[0] for name in step.get("in") or {}}
    missing = sorted(settings(inputs) - set(state) - connected)
    for section in inputs.findall("section"):
        given = state.get(section.get("name"))
        if given is not None:
            inner = {name.split("|")[1] for name in step.get("in") or {}
                     if name.startswith(section.get("name") + "|")}
            missing += sorted(f"{section.get('name')}|{name}"
                              for name in settings(section) - set(given) - inner)
    assert not missing, f"the step leaves out {missing}: Galaxy would call its tool changed"
