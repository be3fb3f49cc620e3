"""`dnalm COMMAND --help`: the examples keep their lines, and each is a command line the parser takes."""

import shlex

import pytest
from dnalm.cli import build_parser, main


def help_text(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def examples(text):
    """The example command lines of a help text, each with its continuation lines."""
    lines = text.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    joined = "\n".join(line for line in lines if line.startswith(" "))
    return [" ".join(example.split()) for example in joined.replace("\\\n", " ").splitlines()
            if example.strip().startswith("dnalm ")]


@pytest.mark.parametrize("command", ["score-variants", "score", "compare-effects"])
def test_examples_are_shown_one_per_line_and_parse(command, capsys):
    shown = help_text(command, capsys)
    found = examples(shown)
    assert len(found) >= 2, shown
    for example in found:
        argv = shlex.split(example)[1:]
        assert argv[0] == command
        build_parser(command).parse_args(argv)  # exits with a usage error if it does not parse
    # each example starts a line of its own, none runs into the prose or the next one
    starts = [line.strip() for line in shown.splitlines() if line.strip().startswith("dnalm ")]
    assert len(starts) == len(found)


def test_prose_is_still_wrapped_to_the_terminal(capsys):
    shown = help_text("tokenize", capsys)
    description = shown.split("\n\n", 2)[1]
    assert all(len(line) <= 80 for line in description.splitlines())
    assert "Turn DNA sequences into token ids" in description
