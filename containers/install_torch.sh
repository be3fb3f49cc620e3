#!/bin/sh
# Install the pinned torch from a wheel index, before dnalm itself:
#   containers/install_torch.sh https://download.pytorch.org/whl/cpu   # CPU build (CPU image)
#   containers/install_torch.sh https://pypi.org/simple                # CUDA 13.0 build (GPU image)
# The version comes from requirements/pins.txt, so the later
# `pip install -c requirements/pins.txt .` finds torch already satisfied
# (2.13.0+cpu satisfies torch==2.13.0) and keeps this build.
set -eu
index_url=$1
pin=$(grep -E '^torch==' requirements/pins.txt | sed 's/[[:space:]]*#.*//')
[ -n "$pin" ] || { echo "install_torch.sh: no torch== line in requirements/pins.txt" >&2; exit 1; }
pip install --no-cache-dir --index-url "$index_url" "$pin"
