#!/usr/bin/env bash
# Build a dnalm image with no registry but PyPI and Debian's package mirror (what CI has).
#
#   containers/build.sh cpu     # -> quay.io/galaxy-dnalm/dnalm:<version>-cpu   (make images)
#   containers/build.sh gpu     # -> quay.io/galaxy-dnalm/dnalm:<version>       (make image-gpu)
#
# The recipes are built unchanged; only two build arguments point at local stand-ins:
#   BASE_IMAGE   the recipes' default is Docker Hub's python:3.11-slim-bookworm. Here:
#                Debian bookworm with its Python 3.11, made by debootstrap from Debian's
#                mirror and imported as localhost/dnalm-base:bookworm (made once, reused).
#   TORCH_INDEX  (CPU image) the recipe's default is PyTorch's CPU wheel index. Here: a local
#                index of the torch==<pin>+cpu wheel and its dependencies as this machine's
#                pip finds them (on CI its configured find-links), mounted into the build.
# Set either variable to use the real thing instead, e.g.
#   BASE_IMAGE=python:3.11-slim-bookworm TORCH_INDEX=https://download.pytorch.org/whl/cpu
#
# ENGINE is the container command; the default is the Podman invocation that works on CI's
# hosts (cgroup v1: runc rather than crun, cgroupfs rather than systemd). Docker works too:
# ENGINE=docker containers/build.sh cpu.
set -euo pipefail
cd "$(dirname "$0")/.."

variant=${1:?usage: containers/build.sh cpu|gpu}
ENGINE=${ENGINE:-podman --runtime runc --cgroup-manager=cgroupfs}
# Podman's default ulimits exceed the hard limits of CI's hosts.
ULIMITS=${ULIMITS---ulimit nofile=20000:20000 --ulimit nproc=4096:4096}
WORK=${WORK:-.ci-work/images}
BASE_TAG=localhost/dnalm-base:bookworm
version=$(sed -n 's:.*<token name="@TOOL_VERSION@">\(.*\)</token>.*:\1:p' tools/macros.xml)
case $variant in
    cpu) tag=quay.io/galaxy-dnalm/dnalm:$version-cpu ;;
    gpu) tag=quay.io/galaxy-dnalm/dnalm:$version ;;
    *) echo "containers/build.sh: unknown variant '$variant' (cpu or gpu)" >&2; exit 2 ;;
esac
mkdir -p "$WORK"
started=$SECONDS

# Debian bookworm + python3 (3.11, as python:3.11-slim-bookworm) + venv + CA certificates,
# and a `python` command as the official image has. No apt lists, docs or man pages.
make_base_image() {
    if $ENGINE image exists "$BASE_TAG" 2>/dev/null; then return; fi
    local root=$WORK/rootfs
    rm -rf "$root"
    echo "== base image $BASE_TAG: debootstrap bookworm"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" http://deb.debian.org/debian > "$WORK/debootstrap.log"
    ln -s python3 "$root/usr/bin/python"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
    tar -C "$root" -c . | $ENGINE import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_TAG" > /dev/null
    rm -rf "$root"
}

# A PEP 503 index (a folder per project, each with an index.html) of the CPU torch wheel
# and its dependencies, as pip on this machine resolves them.
make_torch_index() {
    local index=$WORK/torch-cpu-index pin
    pin=$(grep -E '^torch==' requirements/pins.txt | sed 's/[[:space:]]*#.*//')
    if ! ls "$index"/torch/torch-"${pin#torch==}"+cpu-*.whl > /dev/null 2>&1; then
        echo "== local torch index: pip download ${pin}+cpu and its dependencies" >&2
        rm -rf "$index" "$WORK/wheels"
        python3 -m pip download -q --only-binary=:all: --dest "$WORK/wheels" "${pin}+cpu" >&2
        python3 - "$WORK/wheels" "$index" <<'EOF'
import html, pathlib, re, shutil, sys
wheels, index = map(pathlib.Path, sys.argv[1:])
for wheel in sorted(wheels.glob("*.whl")):
    project = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
    (index / project).mkdir(parents=True, exist_ok=True)
    shutil.move(wheel, index / project / wheel.name)
for folder in index.iterdir():
    links = "".join(f'<a href="{html.escape(w.name)}">{html.escape(w.name)}</a>\n' for w in sorted(folder.glob("*.whl")))
    (folder / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
EOF
        rm -rf "$WORK/wheels"
    fi
    echo "$index"
}

build_args=(--network=host)
case $ENGINE in
    # Docker finds containers/Dockerfile.X.dockerignore itself; Podman 4.3 is told.
    # shellcheck disable=SC2206  # ULIMITS is a list of flags
    podman*) build_args+=(--ignorefile "containers/Dockerfile.$variant.dockerignore" $ULIMITS) ;;
esac
# pip inside the build reaches PyPI with the host's CA certificates (a proxy's CA, if any).
build_args+=(-v /etc/ssl/certs:/etc/ssl/certs:ro)
if [ -z "${BASE_IMAGE:-}" ]; then
    make_base_image
    BASE_IMAGE=$BASE_TAG
fi
build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ "$variant" = cpu ]; then
    if [ -z "${TORCH_INDEX:-}" ]; then
        index=$(make_torch_index)
        build_args+=(-v "$PWD/$index:/torch-index:ro")
        TORCH_INDEX=file:///torch-index
    fi
    build_args+=(--build-arg "TORCH_INDEX=$TORCH_INDEX")
fi

echo "== $tag from containers/Dockerfile.$variant (base $BASE_IMAGE)"
build_started=$SECONDS
$ENGINE build "${build_args[@]}" -f "containers/Dockerfile.$variant" -t "$tag" .
size=$($ENGINE image inspect --format '{{.Size}}' "$tag")
echo "== built $tag: $(numfmt --to=si "$size")B, build $((SECONDS - build_started)) s," \
    "all $((SECONDS - started)) s"
