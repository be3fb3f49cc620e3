"""A user's click paths through the dnalm tools, in a real browser on a real Galaxy.

Pretraining: upload a FASTA of real hg38 windows, then, from the tool panel as the tutorial
goes: tokenize, pretrain a tiny model on the CPU, embed the sequences with it; then score them
and generate new ones with the same model, and train a tokenizer of one's own on the FASTA.
Fine-tuning: upload a model and labelled GUE rows, fine-tune the model into a classifier, and
predict the test rows with it. Each output must turn green and show what it should. The steps
are in galaxy_ui.py. Each step leaves a screenshot in artifacts/screenshots/.
"""

import re

from conftest import REPO
from conftest import SMALL_FASTA as FASTA
from galaxy_ui import (
    check_form_reads_well,
    choose,
    expand,
    history_item,
    open_galaxy,
    new_history,
    open_tool,
    open_tool_panel,
    shot,
    type_value,
    upload,
    upload_all,
    wait_until_green,
)
from playwright.sync_api import expect


def test_tutorial_click_path(page, galaxy):
    open_galaxy(page, galaxy)
    new_history(page)

    upload(page, FASTA)
    fasta = wait_until_green(page, 1)
    expect(fasta.locator(".name")).to_contain_text(FASTA.name)
    shot(page, "01-uploaded-fasta")

    open_tool_panel(page)
    expect(page.locator("#toolbox-panel .toolSectionTitle", has_text="DNA language models")).to_be_visible()
    shot(page, "02-tool-panel")

    open_tool(page, "dnalm_tokenize")
    check_form_reads_well(page)
    shot(page, "03-tokenize-form")
    page.locator("button#execute").first.click()

    # Outputs in the tool's order: token ids (parquet), summary (tabular), histogram (png).
    token_ids = wait_until_green(page, 2)
    summary = wait_until_green(page, 3)
    histogram = wait_until_green(page, 4)
    expect(token_ids.locator(".name")).to_contain_text("token ids")
    expect(expand(summary)).to_contain_text("sequences")
    expect(histogram.locator(".name")).to_contain_text("tokens per sequence")
    shot(page, "04-tokenize-outputs")

    # Pretrain the tiny preset on the token ids (hid 2, the only Parquet dataset), briefly.
    open_tool(page, "dnalm_pretrain")
    check_form_reads_well(page)
    choose(page, "model_source|preset", "tiny")
    type_value(page, "epochs", 2)
    type_value(page, "gradient_accumulation", 1)
    type_value(page, "learning_rate", 0.003)
    shot(page, "05-pretrain-form")
    page.locator("button#execute").first.click()

    # Outputs: model (zip), training metrics, loss curve, report.
    model = wait_until_green(page, 5)
    metrics = wait_until_green(page, 6)
    wait_until_green(page, 7)
    wait_until_green(page, 8)
    expect(model.locator(".name")).to_contain_text("model")
    expand(model)
    expect(model).to_contain_text("zip")
    expect(expand(metrics)).to_contain_text("val_loss")
    shot(page, "06-pretrain-outputs")

    # Embed the uploaded sequences with the new model: one row per sequence, 64 dimensions.
    open_tool(page, "dnalm_embed")
    check_form_reads_well(page)
    choose(page, "input", f"1: {FASTA.name}")
    shot(page, "07-embed-form")
    page.locator("button#execute").first.click()

    embeddings = wait_until_green(page, 9)
    expect(embeddings.locator(".name")).to_contain_text("embeddings")
    expand(embeddings)
    expect(embeddings).to_contain_text("81 lines")  # a header and the 80 sequences
    expect(embeddings).to_contain_text("65 columns")  # id + the tiny model's hidden size, 64
    expect(embeddings.locator(".dataset-peek")).to_contain_text("dim_0")
    shot(page, "08-embed-outputs")

    # The other three tools, submitted one after another (each output's hid is taken before
    # the next form opens), then waited for: score and generate use the tiny model (hid 5, the
    # only zip, so the forms' default); score and train tokenizer read the uploaded FASTA.
    open_tool(page, "dnalm_score")
    check_form_reads_well(page)
    choose(page, "scoring|input", f"1: {FASTA.name}")
    shot(page, "09-score-form")
    page.locator("button#execute").first.click()
    expect(history_item(page, 10)).to_be_attached()

    open_tool(page, "dnalm_generate")
    check_form_reads_well(page)
    type_value(page, "num_sequences", 3)
    type_value(page, "length", 50)
    shot(page, "10-generate-form")
    page.locator("button#execute").first.click()
    expect(history_item(page, 11)).to_be_attached()

    open_tool(page, "dnalm_train_tokenizer")
    check_form_reads_well(page)
    choose(page, "input", f"1: {FASTA.name}")
    type_value(page, "vocab_size", 256)
    shot(page, "11-train-tokenizer-form")
    page.locator("button#execute").first.click()
    expect(history_item(page, 12)).to_be_attached()

    # Scores: a header and one row per sequence, five columns.
    scores = wait_until_green(page, 10)
    expect(scores.locator(".name")).to_contain_text("scores")
    expand(scores)
    expect(scores).to_contain_text("81 lines")
    expect(scores).to_contain_text("5 columns")
    expect(scores.locator(".dataset-peek")).to_contain_text("log_likelihood_per_token")
    expect(scores.locator(".dataset-peek")).to_contain_text("perplexity")
    shot(page, "12-score-outputs")

    # Generated DNA: three FASTA records of 50 bases each, A/C/G/T only.
    generated = wait_until_green(page, 11)
    expect(generated.locator(".name")).to_contain_text("generated DNA")
    peek = expand(generated)
    expect(generated).to_contain_text("3 sequences")
    expect(peek).to_contain_text(">generated_1")
    expect(peek).to_contain_text(re.compile(r"(^|[^ACGT])[ACGT]{50}([^ACGT]|$)"))
    shot(page, "13-generate-outputs")

    # The tokenizer: a tokenizer.json, its special tokens first.
    tokenizer = wait_until_green(page, 12)
    expect(tokenizer.locator(".name")).to_contain_text("tokenizer.json")
    expect(expand(tokenizer)).to_contain_text("added_tokens")
    expect(tokenizer).to_contain_text("vocabulary size 256")
    shot(page, "14-train-tokenizer-outputs")


# The fine-tuning workflow's test data: the micro model (a 2-layer Mixtral with the DNABERT-2
# tokenizer) and 64 / 32 / 32 rows of GUE's core-promoter TATA task.
FINETUNE_DATA = REPO / "workflows" / "dna-lm-finetuning" / "test-data"
MODEL = FINETUNE_DATA / "micro_model.zip"
TRAIN, DEV, TEST = (FINETUNE_DATA / f"tata_{split}_small.csv" for split in ("train", "dev", "test"))


def test_finetune_then_predict(page, galaxy):
    open_galaxy(page, galaxy)
    new_history(page)
    upload_all(page, [(MODEL, "zip"), (TRAIN, None), (DEV, None), (TEST, None)])
    shot(page, "15-uploaded-finetune-data")

    # Fine-tune with LoRA (the form's default), a learning rate for a new head, two epochs.
    open_tool(page, "dnalm_finetune")
    check_form_reads_well(page)
    choose(page, "model|model", f"1: {MODEL.name}")
    choose(page, "train", f"2: {TRAIN.name}")
    choose(page, "validation", f"3: {DEV.name}")
    type_value(page, "epochs", 2)
    type_value(page, "learning_rate", 0.001)
    shot(page, "16-finetune-form")
    page.locator("button#execute").first.click()

    # Outputs: classifier (zip), validation metrics per epoch, curves, report.
    classifier = wait_until_green(page, 5)
    metrics = wait_until_green(page, 6)
    wait_until_green(page, 7)
    wait_until_green(page, 8)
    expect(classifier.locator(".name")).to_contain_text("classifier")
    peek = expand(metrics)
    expect(peek).to_contain_text("val_loss")
    expect(peek).to_contain_text("mcc")
    expect(metrics).to_contain_text("3 lines")  # a header and the two epochs
    shot(page, "17-finetune-outputs")

    # Predict the test rows with the new classifier and measure it against their labels.
    open_tool(page, "dnalm_predict")
    check_form_reads_well(page)
    choose(page, "model|model", "5: ")
    choose(page, "input", f"4: {TEST.name}")
    choose(page, "evaluate", "Yes: metrics")
    shot(page, "18-predict-form")
    page.locator("button#execute").first.click()

    # Outputs: predictions, metrics, confusion matrix, ROC curves.
    predictions = wait_until_green(page, 9)
    measured = wait_until_green(page, 10)
    wait_until_green(page, 11)
    wait_until_green(page, 12)
    expand(predictions)
    expect(predictions).to_contain_text("33 lines")  # a header and the 32 test rows
    expect(predictions.locator(".dataset-peek")).to_contain_text("probability_1")
    peek = expand(measured)
    expect(peek).to_contain_text(re.compile(r"sequences\s*32"))
    expect(peek).to_contain_text(re.compile(r"accuracy\s*[01]\.\d{4}"))
    shot(page, "19-predict-outputs")
