"""The Galaxy tutorials (docs/tutorials/*/tutorial.md) read as steps: which tool, which form
fields set to what, and the figures the learner should see.

Shared by tests/test_tutorials.py (the tutorials name real tools, labels and figures) and
tests/browser/test_tutorial_steps.py (a browser follows one tutorial's steps), so it needs
nothing but the standard library. The conventions it reads:
- a step names its tool as ``{% tool [Tool name](toolshed.g2.bx.psu.edu/repos/OWNER/ID/ID/VERSION) %}``;
  "with the same parameters, but:" after it repeats the previous step of that tool, changed;
- a form field is quoted as ``*"Label"*``; inside a hands-on box it belongs to the step's tool
  (the last tool tag above it in the box); a value to set follows it as ``*"Label"*: `value` ``,
  for a select one of its options' values, for a dataset the name of a history item;
- "Rename the output `name`" names the step's (first) output;
- a figure the learner should see on the bundled data is a bold number, ``**0.852**``.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
RAW_URL = "https://raw.githubusercontent.com/galaxy-dnalm/dnalm/main/"  # the bundled data's URLs

TOOL_TAG = re.compile(r"\{% tool \[([^\]]+)\]\(([^)\s]+)\) %\}")
QUOTED_LABEL = re.compile(r'\*"([^"]+)"\*')
SETTING = re.compile(r'\*"([^"]+)"\*:\s*`([^`]*)`')
SAME_PARAMETERS = "with the same parameters, but"
RENAMED = re.compile(r"Rename the output `([^`]+)`")
BOLD_NUMBER = re.compile(r"\*\*(-?[\d,]*\d(?:\.\d+)?)\*\*")
NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")


@dataclass
class Setting:
    label: str
    value: str | None  # None: the label is only named, e.g. "the model zip" in words
    line: int


@dataclass
class ToolStep:
    name: str  # the tool's name, as the tag shows it
    address: str  # toolshed.g2.bx.psu.edu/repos/OWNER/ID/ID/VERSION
    line: int
    settings: list = field(default_factory=list)
    same_as_before: bool = False  # "with the same parameters, but:"
    renamed_output: str | None = None

    @property
    def tool_id(self):
        return self.address.split("/")[4]

    @property
    def version(self):
        return self.address.split("/")[5]


@dataclass
class HandsOn:
    title: str
    line: int
    steps: list = field(default_factory=list)
    labels_before_a_tool: list = field(default_factory=list)  # (line, label): a mistake
    text: str = ""


def tutorial_text(name):
    return (TUTORIALS / name / "tutorial.md").read_text()


def library_items(name):
    """The datasets of the tutorial's data-library.yaml (each with its url and ext), in order."""
    import yaml  # PyYAML: in both the dnalm and the Galaxy venv

    def leaves(items):
        for item in items:
            if "url" in item:
                yield item
            yield from leaves(item.get("items", []))

    return list(leaves(yaml.safe_load((TUTORIALS / name / "data-library.yaml").read_text())["items"]))


def hands_on_boxes(text):
    """The tutorial's hands-on boxes, each with its tool steps in order."""
    boxes, box = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if "<hands-on-title>" in line:
            title = line.split("<hands-on-title>", 1)[1].split("</hands-on-title>", 1)[0]
            box = HandsOn(title=title, line=number)
            boxes.append(box)
        if box is None:
            continue
        box.text += line + "\n"
        if "{: .hands_on}" in line:
            box = None
            continue
        tag = TOOL_TAG.search(line)
        if tag:
            box.steps.append(ToolStep(name=tag.group(1), address=tag.group(2), line=number,
                                      same_as_before=SAME_PARAMETERS in line))
        step = box.steps[-1] if box.steps else None
        renamed = RENAMED.search(line)
        if renamed and step:
            step.renamed_output = renamed.group(1)
        values = dict(SETTING.findall(line))
        for label in QUOTED_LABEL.findall(line):
            if step is None:
                box.labels_before_a_tool.append((number, label))
            else:
                step.settings.append(Setting(label=label, value=values.get(label), line=number))
    return boxes


def quoted_labels_outside_hands_on(text):
    """``(line, label)`` of every form label quoted in the prose and question boxes."""
    inside, quoted = False, []
    for number, line in enumerate(text.splitlines(), 1):
        if "<hands-on-title>" in line:
            inside = True
        if not inside:
            quoted += [(number, label) for label in QUOTED_LABEL.findall(line)]
        if "{: .hands_on}" in line:
            inside = False
    return quoted


def steps_to_run(boxes):
    """Every tool step with the settings to enter in its form: a step "with the same parameters,
    but" takes the previous step of its tool, its own settings in place of those of their labels."""
    steps, last_of_tool = [], {}
    for step in (step for box in boxes for step in box.steps):
        settings = list(step.settings)
        if step.same_as_before:
            changed = {setting.label: setting for setting in settings}
            earlier = last_of_tool[step.tool_id].settings
            settings = [changed.pop(s.label, s) for s in earlier] + list(changed.values())
        run = ToolStep(name=step.name, address=step.address, line=step.line, settings=settings,
                       renamed_output=step.renamed_output)
        last_of_tool[step.tool_id] = run
        steps.append(run)
    return steps


def value(number):
    """A number as a tutorial writes it (thousands commas, a typographic minus) as a float."""
    return float(number.replace(",", "").replace("\u2212", "-"))


def half_unit(number):
    """The tolerance of a figure: half a unit of its last digit (the tutorial may round)."""
    decimals = number.partition(".")[2]
    return 0.5 * 10 ** -len(decimals)


def agrees(measured, figure):
    """``measured`` rounds to the tutorial's ``figure``."""
    return abs(measured - value(figure)) <= half_unit(figure) + 1e-12
