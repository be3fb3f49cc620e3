"""Declare a setting once: its default, its help, its allowed values and range, on a dataclass field.

A command-line option (``dnalm.commands.setting_options``) and a Galaxy
parameter are made from the field, so a new knob is one line here plus the
tool XML, as ``HfArgumentParser`` does for transformers' ``run_clm.py``
(tests/test_settings.py checks that each tool XML's defaults, ranges and
options are the field's). A settings dataclass checks every value where it is made:

    @dataclass
    class FooSettings:
        learning_rate: float = setting(5e-4, "peak learning rate", above=0)
        scheduler: str = setting("linear", "schedule", choices=("linear", "cosine"))

        def __post_init__(self):
            check_settings(self)
"""

from dataclasses import MISSING, field, fields
from typing import NamedTuple

from dnalm.errors import DnalmError


def setting(default, help, choices=None, group=None, flag=None,
            min=None, max=None, above=None, below=None, several=False, metavar=None):
    """A dataclass field that carries its command-line help and its allowed values.

    ``group`` names the ``--help`` section it is listed under; ``flag`` is the
    option's name where it differs from the field's (``--time-budget`` for
    ``time_budget_minutes``). ``min``/``max`` are inclusive bounds,
    ``above``/``below`` exclusive ones (an epoch count above 0). ``several``:
    the option takes one or more values (``--distance l2 cosine``), each one
    of ``choices``; the field holds them as a tuple. ``metavar`` names the
    value in ``--help`` (``--window W``).
    """
    metadata = {"help": help, "choices": choices, "group": group, "flag": flag,
                "min": min, "max": max, "above": above, "below": below, "several": several,
                "metavar": metavar}
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


def option_name(settings_field):
    """The command-line option of a setting: ``--time-budget`` for ``time_budget_minutes``."""
    return "--" + (settings_field.metadata["flag"] or settings_field.name).replace("_", "-")


def settings_summary(settings):
    """``{name: value}`` of every declared setting, for reports and run fingerprints."""
    return {f.name: getattr(settings, f.name) for f in declared_settings(type(settings))}


def check_settings(settings):
    """Refuse values outside their declared choices or range, naming the options, in one line.

    ``None`` passes: it stands for a default filled in later (the preset's).
    """
    problems = []
    for settings_field in declared_settings(type(settings)):
        value = getattr(settings, settings_field.name)
        wanted = None if value is None else allowed_values(settings_field.metadata, value)
        if wanted:
            shown = " ".join(map(_shown, value)) if settings_field.metadata.get("several") else _shown(value)
            problems.append(f"{option_name(settings_field)} must be {wanted}, not {shown}")
    if problems:
        raise DnalmError("; ".join(problems))


def allowed_values(metadata, value):
    """What ``value`` should have been (``"at least 1"``, ``"in (0, 1]"``), or None when it is allowed."""
    choices = metadata["choices"]
    if choices is not None:
        values = value if metadata.get("several") else (value,)
        allowed = all(item in choices for item in values)
        return None if allowed else "one of " + ", ".join(map(str, choices))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = _bound(metadata, "min", "above"), _bound(metadata, "max", "below")
    too_low = low is not None and (value < low.value or (value == low.value and not low.inclusive))
    too_high = high is not None and (value > high.value or (value == high.value and not high.inclusive))
    if not (too_low or too_high):
        return None
    if low and high:
        opening, closing = "[" if low.inclusive else "(", "]" if high.inclusive else ")"
        return f"in {opening}{_shown(low.value)}, {_shown(high.value)}{closing}"
    if low:
        return f"{'at least' if low.inclusive else 'more than'} {_shown(low.value)}"
    return f"{'at most' if high.inclusive else 'less than'} {_shown(high.value)}"


class Bound(NamedTuple):
    value: float
    inclusive: bool


def _bound(metadata, inclusive, exclusive):
    """The ``Bound`` a setting declares on one side, or None."""
    if metadata[inclusive] is not None:
        return Bound(metadata[inclusive], True)
    if metadata[exclusive] is not None:
        return Bound(metadata[exclusive], False)
    return None


def _shown(value):
    return f"{value:g}" if isinstance(value, float) else str(value)
