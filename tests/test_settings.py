"""One declaration per setting: the dataclass field gives the option, its default, help and choices."""

import argparse
from dataclasses import dataclass

import pytest

from dnalm.commands.setting_options import add_setting_options, settings_from_args, settings_summary
from dnalm.settings import setting


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
