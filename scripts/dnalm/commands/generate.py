"""Generate new DNA sequences with a causal language model, from prompts or from scratch.

Example: dnalm generate model.zip --num-sequences 10 --length 200 --seed 1 -o generated.fa
"""

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.sequence_options import add_sequence_options
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.inference.batches import pad_id_of
from dnalm.inference.generation import GenerationSettings, generate_dna
from dnalm.inference.model_loading import load_causal_lm
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.sequences import read_sequences


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument("-o", "--output", required=True, help="FASTA file to write")
    parser.add_argument(
        "--prompts", default=None,
        help="sequences to continue (FASTA, CSV, TSV or text); default: start from [CLS]",
    )
    add_setting_options(parser, GenerationSettings)
    parser.add_argument("--include-prompt", action="store_true",
                        help="write the prompt followed by its continuation")
    add_sequence_options(parser)


def run(args):
    settings = settings_from_args(GenerationSettings, args)
    with open_model(args.model) as model_files:
        tokenizer = model_files.tokenizer()
        model = load_causal_lm(model_files)
        prompts = []
        if args.prompts is not None:
            prompts = list(read_sequences(
                args.prompts, args.input_format, args.column, args.id_column, args.iupac_policy
            ))
        bos_id = tokenizer.token_to_id("[CLS]")
        if bos_id is None:
            bos_id = model_files.config.get("bos_token_id", 1)
        generated = generate_dna(
            model, tokenizer, prompts, settings, bos_id,
            pad_id_of(tokenizer, model_files.config), model_files.max_positions,
        )
        with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
            for name, prompt, dna in generated:
                if args.include_prompt and prompt is not None:
                    dna = prompt.sequence + dna
                stream.write(f">{name}\n{dna}\n")
