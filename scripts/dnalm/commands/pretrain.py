"""Train a DNA language model from scratch on a token table: causal (next-token prediction,
the tutorial's) or masked (hidden tokens, as BERT and the Nucleotide Transformer).

The model is the tutorial's reduced Mixtral by default (or a smaller preset, a
config.json of your own, or an existing model to continue pretraining); with
--objective masked, a masked LM (the cpu-masked ModernBERT preset, or an ESM, BERT
or ModernBERT config or model). The output is a zip of a Hugging Face model
directory with its tokenizer.

Example: dnalm pretrain tokens.parquet -o model.zip --preset tiny --epochs 2 --report report.html
(a masked LM: --objective masked --preset cpu-masked)
"""

import tempfile
from pathlib import Path

from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.io.html_report import write_html_report
from dnalm.io.outputs import atomic_outputs
from dnalm.training.presets import PRESETS
from dnalm.training.pretraining_settings import PretrainingSettings
from dnalm.training.trainer_settings import OUTPUTS

# On a node with several GPUs, `dnalm` runs this command once per GPU under torchrun
# (dnalm.runtime.multi_gpu); each process then trains one data-parallel rank.
DATA_PARALLEL = True


def add_arguments(parser):
    parser.add_argument("tokens", help="token table (Parquet) made by 'dnalm tokenize'")
    parser.add_argument("-o", "--output", required=True, help="model archive to write (.zip)")

    model = parser.add_argument_group("model").add_mutually_exclusive_group()
    model.add_argument("--preset", choices=PRESETS, default="tutorial",
                       help="architecture: the tutorial's Mixtral (default), a tiny Mixtral "
                            "for CPU demos, a small dense Mistral, cpu-dense (the CPU recipe), "
                            "or cpu-masked, a ModernBERT for --objective masked")
    model.add_argument("--config", help="a Hugging Face config.json of a causal LM (or, with "
                                        "--objective masked, of a masked LM) to build instead")
    model.add_argument("--init-model", help="model archive (.zip) to continue pretraining from")

    outputs = add_setting_options(parser, PretrainingSettings)[OUTPUTS]
    outputs.add_argument("--metrics", help="training metrics table to write (TSV)")
    outputs.add_argument("--loss-curve", help="loss curve to write (PNG)")
    outputs.add_argument("--report", help="HTML report to write")
    outputs.add_argument("--input-name", help="name of TOKENS in the report (default: its file name)")
    outputs.add_argument(
        "--checkpoint-dir",
        help="folder to keep the checkpoints in; a rerun with the same folder resumes "
             "(default: a hidden folder beside the output, removed when the run succeeds)")


def run(args):
    from dnalm.runtime.allocator import keep_freed_memory
    from dnalm.runtime.device import announce_device
    from dnalm.runtime.multi_gpu import is_main_process
    from dnalm.training.checkpoints import checkpoint_folder
    from dnalm.training.pretraining import ModelChoice, pretrain

    settings = settings_from_args(PretrainingSettings, args)
    keep_freed_memory()
    announce_device("pretrain")
    model_choice = ModelChoice(args.preset, args.config, args.init_model)
    with checkpoint_folder(args.checkpoint_dir, args.output) as checkpoints:
        result = pretrain(args.tokens, settings, model_choice, checkpoints)
        if is_main_process():
            write_pretraining_outputs(result, args)


def write_pretraining_outputs(result, args):
    """The model zip, and the metrics table, loss curve and report where asked for."""
    from dnalm.io.model_archive import pack_model_directory
    from dnalm.training import metrics, report

    rows = metrics.metrics_rows(result.run.log_history)
    targets = (args.output, args.metrics, args.loss_curve, args.report)
    with tempfile.TemporaryDirectory(prefix="dnalm_pretrain_") as scratch, \
            atomic_outputs(*targets) as (zip_path, metrics_path, curve_path, report_path):
        model_dir = Path(scratch) / "model"
        model = result.run.model
        if result.settings.objective == "causal":
            model.config.use_cache = True  # for generation by the next tools
        model.save_pretrained(str(model_dir))
        result.tokenizer.save_pretrained(str(model_dir))
        pack_model_directory(model_dir, zip_path)
        if metrics_path:
            metrics.write_metrics_tsv(rows, metrics_path)
        curve = curve_path or (Path(scratch) / "curve.png" if report_path else None)
        if curve:
            report.plot_loss_curve(rows, curve, objective=result.settings.objective)
        if report_path:
            sections = report.pretraining_report_sections(result, args.input_name)
            write_html_report(report_path, sections, {"Curves": curve} if curve else None,
                              title="DNA LM pretraining report")
    best = metrics.best_epoch(rows)
    if best:
        print(f"best epoch {best['epoch']:.2f}: validation loss {best['val_loss']:.4f}, "
              f"accuracy {best['accuracy']:.4f}", flush=True)
    print(f"model written to {args.output}", flush=True)
