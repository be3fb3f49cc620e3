"""The ``dnalm`` command line: argument parsing only, one subcommand per Galaxy tool.

Each subcommand lives in ``dnalm.commands.<name>`` and provides
``add_arguments(parser)`` and ``run(args)``; the work itself is done by plain
functions in the package, testable without Galaxy and without a GPU. A
command that declares ``DATA_PARALLEL = True`` is run once per GPU under
torchrun where several GPUs are visible (``dnalm.runtime.multi_gpu``).
"""

import argparse
import importlib
import sys
import textwrap

from dnalm import __version__
from dnalm.errors import DnalmError
from dnalm.io.outputs import out_of_space_reason

# What `dnalm --help` opens with: for people, not for developers (that is the docstring).
DESCRIPTION = ("DNA language models from the command line: tokenize DNA, pretrain a model, "
               "fine-tune it into a classifier, embed, score variants and generate sequences. "
               "Each command is one Galaxy tool of the dnalm suite.")

# subcommand -> (module under dnalm.commands, one-line help)
COMMANDS = {
    "tokenize": ("tokenize", "DNA sequences -> token ids (Parquet)"),
    "train-tokenizer": ("train_tokenizer", "train a BPE tokenizer on your own sequences"),
    "pretrain": ("pretrain", "train a causal or masked DNA language model from scratch"),
    "embed": ("embed", "one vector per sequence from a model's hidden states"),
    "score": ("score", "log-likelihood per sequence and zero-shot variant effects"),
    "score-variants": ("score_variants", "zero-shot effects of the variants of a VCF on a reference genome"),
    "generate": ("generate", "sample new DNA sequences from a model"),
    "finetune": ("finetune", "fine-tune a model into a sequence classifier (LoRA, full or head)"),
    "predict": ("predict", "classify sequences with a fine-tuned model; metrics when labelled"),
    "compare-effects": ("compare_effects", "compare variant effects between two groups"),
    "mutagenesis": ("mutagenesis", "the effect of every single-base substitution of some regions"),
    "compare-sequences": ("compare_sequences", "compare generated DNA with real DNA: k-mers, "
                          "PCA, novelty, ORFs"),
    "install-model": ("install_model", "check a published model and install it for a server (data manager)"),
}


class ExamplesKeptFormatter(argparse.HelpFormatter):
    """argparse's help, except that a description's indented lines (its examples) keep their
    line breaks: reflowed, the examples ran together into one paragraph."""

    def _fill_text(self, text, width, indent):
        lines, prose = [], []

        def fill_prose():
            if prose:
                lines.append(textwrap.fill(" ".join(prose), width, initial_indent=indent,
                                           subsequent_indent=indent))
                prose.clear()

        for line in text.strip().splitlines():
            if line.strip() and not line[0].isspace():
                prose.append(line.strip())
                continue
            fill_prose()
            lines.append(indent + line.rstrip())
        fill_prose()
        return "\n".join(lines)


def build_parser(selected=None):
    """The parser; only the ``selected`` command's module is imported.

    Importing a command can be slow (pretrain and embed pull in torch), so a
    ``dnalm tokenize`` job does not pay for the others.
    """
    parser = argparse.ArgumentParser(prog="dnalm", description=DESCRIPTION,
                                     epilog="'dnalm COMMAND --help' lists a command's options.")
    parser.add_argument("--version", action="version", version=f"dnalm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=ExamplesKeptFormatter)
        if name == selected:
            module = importlib.import_module(f"dnalm.commands.{module_name}")
            sub.description = module.__doc__
            module.add_arguments(sub)
            sub.set_defaults(run=module.run,
                             data_parallel=getattr(module, "DATA_PARALLEL", False))
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((word for word in argv if word in COMMANDS), None)
    args = build_parser(selected).parse_args(argv)
    try:
        if args.data_parallel:
            from dnalm.runtime.multi_gpu import relaunch_if_several_gpus

            exit_code = relaunch_if_several_gpus(argv)
            if exit_code is not None:  # the torchrun processes did the work
                if exit_code:
                    raise DnalmError(
                        f"the data-parallel training processes failed (exit {exit_code})")
                return 0
        args.run(args)
    except DnalmError as error:
        print(f"dnalm {args.command}: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        # A full disk outside the outputs (a checkpoint, a spill file) is one line too.
        reason = out_of_space_reason(error)
        if reason is None:
            raise
        where = f" {error.filename}" if getattr(error, "filename", None) else ""
        print(f"dnalm {args.command}: error: no space left writing{where}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dnalm {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
