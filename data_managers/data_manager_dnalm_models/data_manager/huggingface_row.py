"""Wrap the table row that `dnalm install-model` wrote in the JSON a Galaxy data manager returns."""

import json
import sys


def main(row_path, output_path):
    with open(row_path, encoding="utf-8") as stream:
        row = json.load(stream)
    with open(output_path, "w", encoding="utf-8") as stream:
        json.dump({"data_tables": {"huggingface": [row]}}, stream, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
