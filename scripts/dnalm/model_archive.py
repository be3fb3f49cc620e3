"""Models travel between tools as a zip of a Hugging Face model directory.

The archive holds, at its root, what ``save_pretrained`` writes:
``config.json``, ``model.safetensors``, ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json`` (and nothing pickled). Readers also
accept the same files under a single top-level folder, which is what zipping a
checkpoint directory by hand gives.
"""

import zipfile
from pathlib import Path


def pack_model_directory(model_dir, zip_path):
    """Zip the files of ``model_dir`` (not sub-folders) at the archive's root."""
    model_dir = Path(model_dir)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(model_dir.iterdir()):
            if path.is_file():
                archive.write(path, arcname=path.name)
