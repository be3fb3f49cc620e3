#!/bin/sh
# Install the pinned torch from one of PyTorch's wheel indexes, before dnalm itself:
#   containers/install_torch.sh https://download.pytorch.org/whl/cpu     # CPU build
#   containers/install_torch.sh https://download.pytorch.org/whl/cu130   # CUDA 13.0 build
# The version comes from requirements/pins.txt, so the later
# `pip install -c requirements/pins.txt .` finds torch already satisfied
# (2.13.0+cpu and 2.13.0+cu130 both satisfy torch==2.13.0) and keeps this build.
set -eu
index_url=$1
pin=$(grep -E '^torch==' requirements/pins.txt | sed 's/[[:space:]]*#.*//')
[ -n "$pin" ] || { echo "install_torch.sh: no torch== line in requirements/pins.txt" >&2; exit 1; }
pip install --no-cache-dir --index-url "$index_url" "$pin"
