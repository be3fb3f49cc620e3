"""One declaration per setting: the dataclass field gives the option, its default, help, choices and
range, and the Galaxy form agrees with it."""

import argparse
import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import NamedTuple

import pytest

from dnalm.analysis.generated_sequences import ComparisonSettings
from dnalm.cli import COMMANDS, build_parser
from dnalm.commands.compare_effects import CompareEffectsSettings
from dnalm.commands.predict import PredictSettings
from dnalm.commands.score import ScoreSettings
from dnalm.commands.score_variants import ScoreVariantsSettings
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.commands.tokenize import DEFAULT_WINDOW, TokenizeSettings
from dnalm.commands.train_tokenizer import TrainTokenizerSettings
from dnalm.errors import DnalmError
from dnalm.inference.batches import ContextSettings
from dnalm.inference.embedding import EmbeddingSettings
from dnalm.inference.generation import GenerationSettings
from dnalm.inference.mutagenesis import MutagenesisSettings
from dnalm.settings import (
    check_settings,
    declared_settings,
    default_of,
    option_name,
    setting,
    settings_summary,
)
from dnalm.training.finetuning import FinetuneSettings
from dnalm.training.pretraining_settings import PretrainingSettings
from dnalm.training.trainer_settings import TrainerSettings
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


@dataclass
class SeveralSettings:
    distances: tuple = setting((), "distances", choices=("l2", "cosine"), flag="distance",
                               several=True, metavar="D")

    def __post_init__(self):
        check_settings(self)


def test_an_option_of_several_values_checks_each():
    parser = argparse.ArgumentParser()
    add_setting_options(parser, SeveralSettings)
    args = parser.parse_args(["--distance", "cosine", "l2"])
    assert settings_from_args(SeveralSettings, args).distances == ["cosine", "l2"]
    assert parser.parse_args([]).distances == () and "--distance D [D ...]" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--distance", "l2", "manhattan"])
    with pytest.raises(DnalmError, match=r"^--distance must be one of l2, cosine, not l2 manhattan$"):
        SeveralSettings(distances=("l2", "manhattan"))


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

class Form(NamedTuple):
    """What a tool's form offers of its command's settings."""

    settings: tuple  # the settings classes whose options the command makes
    left_out: frozenset = frozenset()  # settings the form leaves at their default
    own_shape: frozenset = frozenset()  # offered another way, checked by the tests below
    filled_in: dict = {}  # left None on the command line; the value the form always passes


GENOME_WINDOW = {"window": DEFAULT_WINDOW}  # the form sets the window only in genome mode
TOOL_SETTINGS = {
    "dnalm_tokenize": Form((TokenizeSettings,), own_shape=frozenset({"genome", "tokenizer"}),
                           filled_in=GENOME_WINDOW),
    "dnalm_train_tokenizer": Form((TrainTokenizerSettings,), own_shape=frozenset({"genome"}),
                                  filled_in=GENOME_WINDOW),
    "dnalm_pretrain": Form((PretrainingSettings,), left_out=frozenset({"dataloader_workers"})),
    "dnalm_finetune": Form((FinetuneSettings,), left_out=frozenset({"logging_steps"})),
    "dnalm_embed": Form((EmbeddingSettings, ContextSettings)),
    # --masked-score: None on the command line (a causal LM refuses it), see below.
    "dnalm_score": Form((ScoreSettings,), own_shape=frozenset({"distances", "masked_score"})),
    # Windows of a few hundred bp fit every model's context: the form keeps "error".
    "dnalm_score_variants": Form((ScoreVariantsSettings,), left_out=frozenset({"long_sequences"}),
                                 own_shape=frozenset({"distances", "masked_score"})),
    "dnalm_generate": Form((GenerationSettings,)),
    "dnalm_predict": Form((PredictSettings,)),
    "dnalm_compare_effects": Form((CompareEffectsSettings,)),
    "dnalm_compare_sequences": Form((ComparisonSettings,)),
    "dnalm_mutagenesis": Form((MutagenesisSettings,)),
}


def test_every_tool_form_is_checked():
    tools = sorted(p.stem for p in (REPO / "tools").glob("dnalm_*.xml"))
    assert sorted(TOOL_SETTINGS) == tools


def declared_by(form):
    return [f for settings_class in form.settings for f in declared_settings(settings_class)]


MACROS = {m.get("name"): m for m in ET.parse(REPO / "tools" / "macros.xml").getroot() if m.tag == "xml"}


def expanded(element):
    """``element`` with each ``<expand macro="..."/>`` replaced by the macro's content, its
    ``@TOKEN@``s replaced by the expand's values or the macro's ``token_*`` defaults."""
    for parent in list(element.iter()):
        for index, child in reversed(list(enumerate(parent))):
            if child.tag == "expand":
                parent.remove(child)
                macro = MACROS[child.get("macro")]
                values = {name[len("token_"):]: value for name, value in macro.items()
                          if name.startswith("token_")}
                values.update((name, value) for name, value in child.items() if name != "macro")
                for offset, part in enumerate(macro):
                    part = with_tokens(copy.deepcopy(part), values)
                    parent.insert(index + offset, expanded(part))
    return element


def with_tokens(element, values):
    for node in element.iter():
        for attribute, text in node.items():
            for name, value in values.items():
                text = text.replace(f"@{name.upper()}@", value)
            node.set(attribute, text)
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
    form = TOOL_SETTINGS[tool]
    params = form_parameters(tool)
    declared = declared_by(form)
    assert {f.name for f in declared
            if option_name(f) not in params and f.name not in form.own_shape} == form.left_out
    for settings_field in declared:
        param, metadata = params.get(option_name(settings_field)), settings_field.metadata
        if param is None or settings_field.name in form.own_shape:
            continue
        default, kind, name = default_of(settings_field), param.get("type"), option_name(settings_field)
        if kind == "select":
            options = [option.get("value") for option in param.iter("option")]
            assert sorted(options) == sorted(metadata["choices"]), name
            assert [o.get("value") for o in param.iter("option") if o.get("selected") == "true"] \
                == [default], name
        elif kind == "boolean":  # the option turns the default around, so the box starts unticked
            assert (param.get("truevalue"), param.get("checked")) == (name, "false"), name
        elif kind == "text":  # a list as comma-separated names; None (not given) as empty
            shown = ",".join(default) if isinstance(default, list) else default or ""
            assert param.get("value") == shown, name
            assert default is not None or param.get("optional") == "true", name
        else:
            assert kind == ("integer" if settings_field.type in (int, "int") else "float"), name
            if settings_field.name in form.filled_in:  # None on the command line: "not given"
                assert default is None, name
                assert int(param.get("value")) == form.filled_in[settings_field.name], name
            elif default is None:  # the preset's, or the device's: an empty, optional parameter
                assert not param.get("value") and param.get("optional") == "true", name
            else:
                assert float(param.get("value")) == pytest.approx(default), name
            assert lower_bound_agrees(param, metadata), f"{name} min {param.get('min')}"
            assert upper_bound_agrees(param, metadata), f"{name} max {param.get('max')}"


def selected(param):
    return [option.get("value") for option in param.iter("option") if option.get("selected") == "true"]


@pytest.mark.parametrize("tool", ["dnalm_score", "dnalm_score_variants"])
def test_the_distance_choice_offers_none_each_distance_and_both(tool):
    """The form's --distance is one select (none, each distance, both) for the option's list."""
    (distances,) = [f for f in declared_by(TOOL_SETTINGS[tool]) if f.name == "distances"]
    param = form_parameters(tool)[option_name(distances)]
    options = [option.get("value") for option in param.iter("option")]
    assert options == ["none", *distances.metadata["choices"], "both"]
    assert default_of(distances) == () and selected(param) == ["none"]


def named_select(tool, conditional):
    inputs = expanded(ET.parse(REPO / "tools" / f"{tool}.xml").getroot().find("inputs"))
    return next(c for c in inputs.iter("conditional") if c.get("name") == conditional).find("param")


@pytest.mark.parametrize("tool", ["dnalm_tokenize", "dnalm_train_tokenizer"])
def test_genome_mode_is_off_and_the_tokenizer_is_dnabert2_unless_chosen(tool):
    settings = TOOL_SETTINGS[tool].settings[0]()
    assert settings.genome is False and selected(named_select(tool, "genome")) == ["records"]
    if tool == "dnalm_tokenize":  # the tokenizer's source select: the option's named values
        assert selected(named_select(tool, "tokenizer")) == [settings.tokenizer]


@pytest.mark.parametrize("tool", TOOL_SETTINGS)
def test_every_command_makes_its_options_from_the_declaration(tool):
    """Each declared setting is an option of the command, with the declared default."""
    command = tool.removeprefix("dnalm_").replace("_", "-")
    assert command in COMMANDS
    subparsers = next(a for a in build_parser(command)._actions if a.dest == "command")
    actions = {o: a for a in subparsers.choices[command]._actions for o in a.option_strings}
    for settings_field in declared_by(TOOL_SETTINGS[tool]):
        action = actions[option_name(settings_field)]
        assert (action.dest, action.default) == (settings_field.name, default_of(settings_field))
        assert action.choices == settings_field.metadata["choices"]


def test_the_training_tools_share_one_declaration_of_their_common_settings():
    shared = {f.name: f for f in declared_settings(TrainerSettings)}
    assert {"precision", "attention", "max_steps", "logging_steps", "time_budget_minutes"} <= set(shared)
    for settings_class in (PretrainingSettings, FinetuneSettings):
        assert issubclass(settings_class, TrainerSettings)
        own = {f.name: f for f in declared_settings(settings_class)}
        assert all(own[name] is shared[name] or own[name].metadata is shared[name].metadata
                   for name in shared)


def test_a_window_outside_its_range_is_refused_in_one_line(capsys):
    from dnalm.cli import main

    for window, wanted in (("0", "in [1, 100000], not 0"), ("100001", "in [1, 100000], not 100001")):
        assert main(["score-variants", "model.zip", "calls.vcf", "--genome", "genome.fa",
                     "-o", "out.tsv", "--window", window]) == 1
        assert capsys.readouterr().err == f"dnalm score-variants: error: --window must be {wanted}\n"
    with pytest.raises(SystemExit):
        main(["score-variants", "model.zip", "calls.vcf", "--genome", "g.fa", "-o", "o.tsv",
              "--window", "wide"])
    assert "argument --window: invalid int value: 'wide'" in capsys.readouterr().err


@pytest.mark.parametrize("tool", ["dnalm_score", "dnalm_score_variants"])
def test_the_masked_score_starts_at_the_marginal_and_is_passed_only_when_changed(tool):
    """--masked-score is None unless given (a causal LM refuses it): the form offers its
    choices with the marginal, the masked LM's default, selected, and passes only pll."""
    (masked_score,) = [f for f in declared_by(TOOL_SETTINGS[tool]) if f.name == "masked_score"]
    assert default_of(masked_score) is None
    param = form_parameters(tool)[option_name(masked_score)]
    assert [o.get("value") for o in param.iter("option")] == list(masked_score.metadata["choices"])
    assert selected(param) == ["marginal"]
    command = (REPO / "tools" / f"{tool}.xml").read_text()
    assert "@MASKED_SCORE_ARGUMENT@" in command
    assert "#if $advanced.masked_score == 'pll'" in (REPO / "tools" / "macros.xml").read_text()
