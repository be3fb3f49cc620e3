"""Wrap the table row that `dnalm install-model` wrote in the JSON a Galaxy data manager returns.

The row's path becomes relative to the output's extra files folder: Galaxy moves that folder
into its object store before it reads the JSON, and data_manager_conf.xml moves the model from
there to dnalm_models/<value>.
"""

import json
import os
import sys


def main(row_path, extra_files_path, output_path):
    with open(row_path, encoding="utf-8") as stream:
        row = json.load(stream)
    row["path"] = os.path.relpath(row["path"], extra_files_path)
    with open(output_path, "w", encoding="utf-8") as stream:
        json.dump({"data_tables": {"huggingface": [row]}}, stream, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
