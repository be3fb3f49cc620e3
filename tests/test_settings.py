"""One declaration per setting: the dataclass field gives the option, its default, help, choices and
range, and the Galaxy form agrees with it."""

import argparse
import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.inference.embedding import EmbeddingSettings
from dnalm.inference.generation import GenerationSettings
from dnalm.errors import DnalmError
from dnalm.settings import (
    check_settings,
    declared_settings,
    default_of,
    option_name,
    setting,
    settings_summary,
)
from dnalm.training.finetuning import FinetuneSettings
from dnalm.training.pretraining_settings import TrainingSettings
from helpers import REPO


@dataclass
class ExampleSettings:
    learning_rate: float = setting(5e-4, "peak learning rate", group="training")
    scheduler: str = setting("linear", "schedule", choices=("linear", "cosine"), group="training")
    time_budget_minutes: float = setting(0, "minutes", flag="time_budget")
    compile: bool = setting(False, "compile the model")
    targets: list = setting(["q_proj", "v_proj"], "modules")


def parse(argv):
    parser = argparse.ArgumentParser()
    add_setting_options(parser, ExampleSettings)
    return settings_from_args(ExampleSettings, parser.parse_args(argv)), parser


def test_defaults_come_from_the_declaration():
    settings, parser = parse([])
    assert settings == ExampleSettings()
    assert settings.learning_rate == 5e-4 and settings.targets == ["q_proj", "v_proj"]
    assert "peak learning rate (default: 0.0005)" in parser.format_help()
    assert "training:" in parser.format_help()


def test_options_types_flags_and_choices():
    settings, _ = parse(["--learning-rate", "1e-5", "--scheduler", "cosine",
                         "--time-budget", "3", "--compile", "--targets", "q_proj, k_proj"])
    assert settings.learning_rate == pytest.approx(1e-5)
    assert settings.scheduler == "cosine" and settings.time_budget_minutes == 3.0
    assert settings.compile is True and settings.targets == ["q_proj", "k_proj"]
    with pytest.raises(SystemExit):
        parse(["--scheduler", "step"])


def test_mutable_defaults_are_not_shared():
    first, second = ExampleSettings(), ExampleSettings()
    first.targets.append("o_proj")
    assert second.targets == ["q_proj", "v_proj"]
    assert settings_summary(second)["targets"] == ["q_proj", "v_proj"]


@dataclass
class RangedSettings:
    epochs: float = setting(3.0, "epochs", above=0)
    top_p: float = setting(1.0, "nucleus", above=0, max=1)
    patience: int = setting(3, "epochs", min=0)
    steps: int = setting(-1, "steps", max=1000, flag="max_steps")
    pooling: str = setting("mean", "pooling", choices=("mean", "max"))

    def __post_init__(self):
        check_settings(self)


def test_values_are_checked_against_their_range_where_the_settings_are_made():
    assert RangedSettings(epochs=0.5, top_p=1.0, patience=0, steps=1000).top_p == 1.0
    with pytest.raises(DnalmError) as refused:
        RangedSettings(epochs=0.0, top_p=1.5, patience=-1, steps=1001, pooling="min")
    assert str(refused.value) == (
        "--epochs must be more than 0, not 0; --top-p must be in (0, 1], not 1.5; "
        "--patience must be at least 0, not -1; --max-steps must be at most 1000, not 1001; "
        "--pooling must be one of mean, max, not min")
    with pytest.raises(DnalmError, match=r"^--top-p must be in \(0, 1\], not 0$"):
        RangedSettings(top_p=0.0)


# --- the Galaxy forms declare what the settings classes declare -------------------------------

TOOL_SETTINGS = {  # tool -> (settings class, the settings its form leaves at their default)
    "dnalm_pretrain": (TrainingSettings, {"dataloader_workers"}),
    "dnalm_finetune": (FinetuneSettings, {"logging_steps"}),
    "dnalm_generate": (GenerationSettings, set()),
    "dnalm_embed": (EmbeddingSettings, set()),
}


MACROS = {m.get("name"): m for m in ET.parse(REPO / "tools" / "macros.xml").getroot() if m.tag == "xml"}


def expanded(element):
    """``element`` with each ``<expand macro="..."/>`` replaced by the macro's content (tokens kept)."""
    for parent in list(element.iter()):
        for index, child in reversed(list(enumerate(parent))):
            if child.tag == "expand":
                parent.remove(child)
                for offset, part in enumerate(MACROS[child.get("macro")]):
                    parent.insert(index + offset, expanded(copy.deepcopy(part)))
    return element


def form_parameters(tool):
    inputs = expanded(ET.parse(REPO / "tools" / f"{tool}.xml").getroot().find("inputs"))
    return {param.get("argument"): param for param in inputs.iter("param") if param.get("argument")}


def lower_bound_agrees(param, metadata):
    if metadata["min"] is not None:
        return float(param.get("min")) == metadata["min"]
    if metadata["above"] is not None:  # Galaxy's bounds are inclusive: the form's lies inside
        return float(param.get("min")) > metadata["above"]
    return param.get("min") is None


def upper_bound_agrees(param, metadata):
    if metadata["max"] is not None:
        return float(param.get("max")) == metadata["max"]
    if metadata["below"] is not None:
        return float(param.get("max")) < metadata["below"]
    return param.get("max") is None


@pytest.mark.parametrize("tool", TOOL_SETTINGS)
def test_every_tool_form_has_its_settings_defaults_ranges_and_options(tool):
    settings_class, not_on_the_form = TOOL_SETTINGS[tool]
    params = form_parameters(tool)
    declared = declared_settings(settings_class)
    assert {f.name for f in declared if option_name(f) not in params} == not_on_the_form
    for settings_field in declared:
        param, metadata = params.get(option_name(settings_field)), settings_field.metadata
        if param is None:
            continue
        default, kind, name = default_of(settings_field), param.get("type"), option_name(settings_field)
        if kind == "select":
            options = [option.get("value") for option in param.iter("option")]
            assert sorted(options) == sorted(metadata["choices"]), name
            assert [o.get("value") for o in param.iter("option") if o.get("selected") == "true"] \
                == [default], name
        elif kind == "boolean":  # the option turns the default around, so the box starts unticked
            assert (param.get("truevalue"), param.get("checked")) == (name, "false"), name
        elif kind == "text":
            assert param.get("value") == ",".join(default), name
        else:
            assert kind == ("integer" if settings_field.type in (int, "int") else "float"), name
            if default is None:  # the preset's: an empty, optional parameter
                assert not param.get("value") and param.get("optional") == "true", name
            else:
                assert float(param.get("value")) == pytest.approx(default), name
            assert lower_bound_agrees(param, metadata), f"{name} min {param.get('min')}"
            assert upper_bound_agrees(param, metadata), f"{name} max {param.get('max')}"
