"""Command-line options made from settings dataclasses (``dnalm.settings.setting``)."""

from dnalm.settings import declared_settings, default_of, option_name


def add_setting_options(parser, settings_class, default_group=None, groups=None):
    """Add one option per declared field of ``settings_class``; fields name their group.

    Returns ``{title: argument group}``, so a command can add its own options
    (input and output files) to a group the settings made. ``groups``: the
    groups made already, in the order ``--help`` lists them.
    """
    groups = {} if groups is None else groups
    for settings_field in declared_settings(settings_class):
        title = settings_field.metadata["group"] or default_group
        if title is None:
            target = parser
        else:
            target = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
        default = default_of(settings_field)
        help_text = settings_field.metadata["help"]
        keywords = dict(dest=settings_field.name, default=default)
        if settings_field.metadata["metavar"]:
            keywords["metavar"] = settings_field.metadata["metavar"]
        if settings_field.type in (bool, "bool"):  # the flag turns the default around
            target.add_argument(option_name(settings_field),
                                action="store_false" if default else "store_true",
                                help=help_text, **keywords)
            continue
        kind = {"int": int, "float": float, "str": str}.get(settings_field.type, settings_field.type)
        if settings_field.metadata["several"]:  # --distance l2 cosine
            kind, keywords["nargs"] = str, "+"
        elif isinstance(default, list):
            kind = comma_separated  # --targets q_proj,v_proj
        suffix = "" if default is None or default in ("", (), []) else f" (default: {default})"
        target.add_argument(option_name(settings_field), type=kind,
                            choices=settings_field.metadata["choices"],
                            help=help_text + suffix, **keywords)
    return groups


def comma_separated(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def settings_from_args(settings_class, args, **overrides):
    """The ``settings_class`` instance the parsed ``args`` describe."""
    values = {f.name: getattr(args, f.name) for f in declared_settings(settings_class)}
    values.update(overrides)
    return settings_class(**values)


