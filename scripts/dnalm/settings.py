"""Declare a setting once: its default, its help and its allowed values, on a dataclass field.

A command-line option (``dnalm.commands.setting_options``) and a Galaxy
parameter are made from the field, so a new knob is one line here plus the
tool XML, as ``HfArgumentParser`` does for transformers' ``run_clm.py``.

    @dataclass
    class FooSettings:
        learning_rate: float = setting(5e-4, "peak learning rate")
        scheduler: str = setting("linear", "schedule", choices=("linear", "cosine"))
"""

from dataclasses import MISSING, field, fields


def setting(default, help, choices=None, group=None, flag=None):
    """A dataclass field that carries its command-line help.

    ``group`` names the ``--help`` section it is listed under; ``flag`` is the
    option's name where it differs from the field's (``--time-budget`` for
    ``time_budget_minutes``).
    """
    metadata = {"help": help, "choices": choices, "group": group, "flag": flag}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def declared_settings(settings_class):
    """The fields of ``settings_class`` declared with ``setting``, in order."""
    return [f for f in fields(settings_class) if "help" in f.metadata]


def default_of(settings_field):
    if settings_field.default is not MISSING:
        return settings_field.default
    return settings_field.default_factory()


def settings_summary(settings):
    """``{name: value}`` of every declared setting, for reports and run fingerprints."""
    return {f.name: getattr(settings, f.name) for f in declared_settings(type(settings))}
