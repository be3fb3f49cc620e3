#!/usr/bin/env bash
# Prove, without docker, that requirements/pins.txt resolves for the platforms the
# container images run on. pip's own resolver does the work: `--dry-run` with the
# image's Python version and glibc (manylinux) tags, binary wheels only, against
# the public indexes (local pip configuration and caches are ignored).
#
#   containers/check_pins.sh            # all checks; exit 1 on the first failure
#   PYTHON=/path/to/python containers/check_pins.sh   # pip >= 23.0
#   TORCH_CPU_INDEX=/dir/of/pytorch/cpu/wheels containers/check_pins.sh   # offline
#   PINS=other-pins.txt containers/check_pins.sh
#
# Checks
#   1. CPU image and CI (Python 3.11, Debian bookworm, glibc 2.36): the project's
#      dependencies + every pin resolve from PyPI, each pin at its pinned version.
#   2. the same with torch taken from PyTorch's CPU index (the +cpu wheel the CPU
#      image installs). Skipped with a notice when that index is unreachable.
#   3. GPU image (the same platform): resolution 1 is what it installs, since on
#      Linux x86_64 PyPI's torch wheel IS the CUDA build (it pulls nvidia-*/cuda-*
#      wheels); checked to include cuDNN.
#   4. pins used only in the GPU image's optional layer (marked `# gpu-image-only`;
#      flash-attn is source-only on PyPI) exist on PyPI at their pinned versions.
#   5. both recipes install dnalm with the command CI uses, and the image tag the
#      tools name (tools/macros.xml) is the package version.
set -euo pipefail

cd "$(dirname "$0")/.."
PINS=${PINS:-requirements/pins.txt}
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Ignore this machine's pip.conf, find-links, constraints and caches: the images
# are built from the public indexes only.
pip_public() {
    PIP_CONFIG_FILE=/dev/null "$PYTHON" -m pip --isolated --no-cache-dir \
        --disable-pip-version-check "$@"
}

fail() { echo "check_pins: FAIL: $*" >&2; exit 1; }

# --platform flags for every manylinux tag a glibc of version 2.<minor> accepts.
manylinux_platforms() {
    local glibc_minor=$1 arch=x86_64 minor
    for ((minor = glibc_minor; minor >= 17; minor--)); do
        printf -- '--platform manylinux_2_%s_%s ' "$minor" "$arch"
    done
    printf -- '--platform manylinux2014_%s --platform manylinux2010_%s --platform manylinux1_%s' \
        "$arch" "$arch" "$arch"
}

# The dependencies `pip install .` resolves, read from pyproject.toml.
"$PYTHON" - > "$WORK/project-deps.txt" <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as handle:
    print("\n".join(tomllib.load(handle)["project"]["dependencies"]))
EOF

# Pins that every install uses, and those only the GPU image's optional layer uses.
grep -Ev '^\s*(#|$)' "$PINS" | grep -v 'gpu-image-only' | sed 's/\s*#.*//' > "$WORK/pins-common.txt"
grep 'gpu-image-only' "$PINS" | sed 's/\s*#.*//' > "$WORK/pins-gpu-only.txt" || true

# resolve LABEL PYVER GLIBC_MINOR [extra pip args...]: dry-run resolution, then
# check that every common pin was selected at exactly its pinned version.
resolve() {
    local label=$1 pyver=$2 glibc=$3
    shift 3
    local report="$WORK/$label.json"
    echo "== $label: Python $pyver, glibc 2.$glibc, x86_64"
    # shellcheck disable=SC2046  # the platform flags are meant to split
    # --target: pip < 24 takes --platform only with it (--dry-run writes nothing there).
    if ! pip_public install --dry-run --quiet --target "$WORK/target" --only-binary=:all: \
        --python-version "$pyver" --implementation cp --abi "cp${pyver/./}" \
        $(manylinux_platforms "$glibc") \
        -c "$PINS" -r "$WORK/pins-common.txt" -r "$WORK/project-deps.txt" \
        --report "$report" "$@" > "$WORK/$label.log" 2>&1; then
        tail -20 "$WORK/$label.log" >&2
        fail "$label: $PINS does not resolve"
    fi
    "$PYTHON" - "$report" "$WORK/pins-common.txt" "$label" <<'EOF'
import json, re, sys
report, pins_file, label = sys.argv[1:]
chosen = {}
for item in json.load(open(report))["install"]:
    meta = item["metadata"]
    chosen[re.sub(r"[-_.]+", "-", meta["name"]).lower()] = (meta["version"], item["download_info"]["url"])
wrong = []
for line in open(pins_file):
    name, version = line.strip().split("==")
    name = re.sub(r"[-_.]+", "-", name).lower()
    got = chosen.get(name, ("missing", ""))[0]
    if got.split("+")[0] != version:
        wrong.append(f"{name}: pinned {version}, resolved {got}")
if wrong:
    sys.exit(f"check_pins: FAIL: {label}: " + "; ".join(wrong))
torch_version, torch_url = chosen["torch"]
cuda = sorted(n for n in chosen if n.startswith(("nvidia-", "cuda-")))
print(f"   {len(chosen)} packages; torch {torch_version} from {torch_url.rsplit('/', 1)[0] if torch_url.startswith('file:') else torch_url.split('/')[2]}"
      + (f"; CUDA wheels: {', '.join(cuda)}" if cuda else "; no CUDA wheels"))
EOF
}

torch_is_cpu_build() {
    "$PYTHON" -c "import json,sys; sys.exit(not any(i['metadata']['name'] == 'torch' and i['metadata']['version'].endswith('+cpu') for i in json.load(open(sys.argv[1]))['install']))" "$1"
}

# 1. CPU image + CI, everything from PyPI.
resolve cpu-image-pypi 3.11 36

# 2. CPU image as built: torch from PyTorch's CPU index (or, offline, a local
#    folder of wheels downloaded from it: TORCH_CPU_INDEX=/path/to/wheels).
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if [ -d "$TORCH_CPU_INDEX" ]; then
    torch_source=(--find-links "$TORCH_CPU_INDEX")
elif "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=10)" \
    "$TORCH_CPU_INDEX" 2>/dev/null; then
    torch_source=(--extra-index-url "$TORCH_CPU_INDEX")
else
    torch_source=()
    echo "== cpu-image-torch-cpu-index: SKIPPED ($TORCH_CPU_INDEX unreachable from here;"
    echo "   the CPU image installs torch==<pin>+cpu from it at build time)"
fi
if [ ${#torch_source[@]} -gt 0 ]; then
    resolve cpu-image-torch-cpu-index 3.11 36 "${torch_source[@]}"
    torch_is_cpu_build "$WORK/cpu-image-torch-cpu-index.json" \
        || fail "cpu-image: $TORCH_CPU_INDEX did not provide the +cpu torch wheel"
fi

# 3. GPU image: exactly resolution 1, since PyPI's Linux torch wheel is the CUDA build.
echo "== gpu-image: resolution 1 (the GPU image installs from PyPI alone) with CUDA wheels"
"$PYTHON" - "$WORK/cpu-image-pypi.json" <<'EOF' || fail "gpu-image: torch resolved without its CUDA libraries"
import json, sys
names = [i["metadata"]["name"].lower() for i in json.load(open(sys.argv[1]))["install"]]
sys.exit(0 if any(n.startswith("nvidia-cudnn") for n in names) else 1)
EOF

# 4. Source-only pins of the GPU image's optional layer exist at their versions.
while IFS= read -r pin; do
    [ -n "$pin" ] || continue
    name=${pin%%==*} version=${pin##*==}
    echo "== gpu-image optional layer: $name $version on PyPI"
    pip_public index versions "$name" 2>/dev/null | grep -Eq "^Available versions:.* ${version//./\\.}(,|$)" \
        || fail "$name==$version is not on PyPI"
done < "$WORK/pins-gpu-only.txt"

# 5. The recipes use CI's install command; the tools name the package version.
for recipe in containers/Dockerfile.cpu containers/Dockerfile.gpu; do
    grep -q 'pip install --no-cache-dir -c requirements/pins.txt \.' "$recipe" \
        || fail "$recipe does not install dnalm with 'pip install -c requirements/pins.txt .'"
done
package_version=$("$PYTHON" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
tool_version=$(sed -n 's/.*<token name="@TOOL_VERSION@">\(.*\)<\/token>.*/\1/p' tools/macros.xml)
[ "$package_version" = "$tool_version" ] \
    || fail "pyproject.toml version $package_version != tools/macros.xml @TOOL_VERSION@ $tool_version"
echo "== recipes use CI's install command; image tag $tool_version = package version"
echo "check_pins: OK"
