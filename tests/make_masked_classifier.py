"""Make test-data/masked_bert_classifier.zip: masked_bert.zip (the DNABERT-1 layout, a k-mer
vocab.txt read as overlapping 6-mers) fine-tuned by ``dnalm finetune`` (LoRA on its default
layers, one epoch) on tata_train_small.csv, the classifier that the predict tool's test reads.

    python tests/make_masked_classifier.py     # writes the zip into test-data/
"""

import argparse
from pathlib import Path

from dnalm.cli import main as dnalm

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-data", default=str(TEST_DATA))
    args = parser.parse_args()
    test_data = Path(args.test_data)
    target = test_data / "masked_bert_classifier.zip"
    code = dnalm(["finetune", str(test_data / "masked_bert.zip"),
                  str(test_data / "tata_train_small.csv"), "-o", str(target), "--epochs", "1",
                  "--learning-rate", "1e-3", "--precision", "fp32", "--seed", "42"])
    if code == 0:
        print(f"wrote {target} ({target.stat().st_size} bytes)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
