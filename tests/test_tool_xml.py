"""Every tool form explains itself: each input has a label and a help line.

The browser test (tests/browser/test_tool_forms.py) checks the parameters a
form shows; this also reaches those inside conditional branches it does not open.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

TOOLS = sorted(p for p in (Path(__file__).parent.parent / "tools").glob("*.xml") if p.name != "macros.xml")


def form_params(tool_xml):
    inputs = ET.parse(tool_xml).getroot().find("inputs")
    return [param for param in inputs.iter("param") if param.get("type") != "hidden"]


def param_name(param):
    return param.get("name") or param.get("argument")


@pytest.mark.parametrize("tool_xml", TOOLS, ids=lambda p: p.stem)
def test_every_input_has_a_label_and_help(tool_xml):
    params = form_params(tool_xml)
    assert params, f"{tool_xml.name} has no inputs"
    unlabelled = [param_name(p) for p in params if not (p.get("label") or "").strip()]
    without_help = [param_name(p) for p in params if len((p.get("help") or "").strip()) < 10]
    assert not unlabelled, f"{tool_xml.name}: no label on {unlabelled}"
    assert not without_help, f"{tool_xml.name}: no help on {without_help}"


def test_all_six_tools_are_checked():
    assert [p.stem for p in TOOLS] == ["dnalm_embed", "dnalm_generate", "dnalm_pretrain",
                                       "dnalm_score", "dnalm_tokenize", "dnalm_train_tokenizer"]
