#!/usr/bin/env bash
# The GPU proof of issues 12 and 18 in one command, under 8 minutes on one H100/H200:
#
#   1. pretrain-bench  bench/bench_pretrain.py, tutorial preset, batch 32 x accumulation 50:
#                      published recipe, today's defaults, dnalm, and dnalm compiled
#                      (fixed shapes, CUDA graphs): tokens/s, MFU, peak memory, ratios, and a
#                      torch.profiler table of one step of the compiled recipe (GPU busy share)
#   2. genome-train    dnalm tokenize (200-bp windows) + pretrain, tutorial preset, on the whole
#                      yeast genome but the held-out chromosomes (chrXV, chrXVI), with the
#                      faster of the two dnalm recipes above, for what the budget leaves
#                      (4 minutes at most)
#   3. genome-probe    bench/yeast_probe_task.py + bench/bench_probe.py: coding vs intergenic
#                      windows of the held-out chromosomes, a linear probe on the model's
#                      embeddings beside 6-mer frequencies and the same model randomly initialised
#   4. gpu-tests       pytest's GPU-marked tests (tests/test_gpu.py), with the time left
# and, when asked for in GPU_CHECK_STEPS (issue 12's steps, about 4 more minutes):
#      embed-bench     bench/bench_embed.py: dnalm embed vs the tutorial's loop
#      train           dnalm tokenize + pretrain, tutorial preset, on 20,000 real hg38 windows
#      probe           bench/bench_probe.py on GUE prom_core_tata for that model
#
# Each step prints one line (status, seconds, figures). OUTDIR receives at most 7 files:
# summary.md (the table for bench/RESULTS.md), results.json, log.txt (everything),
# pytest.xml, profile.txt, genome_metrics.tsv (and pretrain_metrics.tsv with the train step).
# Work files go to a temporary folder.
#
# Usage:  bench/gpu_check.sh OUTDIR [--quick]
#   --quick  the same steps, small (tiny preset, few steps, a slice of the genome), on the CPU
#            in a few minutes; the GPU tests then run on the CPU too (DNALM_TEST_DEVICE=cpu,
#            a subset).
#
# The genome travels with the script as files (nothing is fetched): genomes/sacCer3/ as
# `make genome-sacCer3` writes it (carry it to the device: carry=["genomes/sacCer3"]), or
# any FASTA (plain or gzip) and CDS BED named by GPU_CHECK_GENOME and GPU_CHECK_CDS;
# --quick reads the slice in tests/data/sacCer3_slice/.
#
# It needs only python3 with torch, transformers, tokenizers, safetensors, accelerate, pyarrow,
# numpy, pandas, matplotlib and pytest (the device image has them all): dnalm itself is
# installed with `pip install --no-deps --no-build-isolation --target` into the work folder
# (or, where pip cannot build it, used from scripts/), plus any wheels in .whl/ (none needed).
# Nothing is downloaded.
#
# On the device (the device tool, from the repository root; carry=[".whl"] only if .whl/ holds
# wheels, and none are needed):
#   run(command="bash bench/gpu_check.sh $OUT", timeout_s=590, carry=["genomes/sacCer3"])
# Environment:
#   PYTHON                   default python3
#   GPU_CHECK_BUDGET_S       default 480: the training's time budget shrinks so that the run
#                            ends within it; no step runs past it + 60 s
#   GPU_CHECK_GENOME         genome FASTA (default genomes/sacCer3/sacCer3.fa, or .fa.gz)
#   GPU_CHECK_CDS            its CDS as BED (default genomes/sacCer3/cds.bed.gz)
#   GPU_CHECK_HELD_OUT       held-out chromosomes (default chrXV,chrXVI)
#   GPU_CHECK_GENOME_MINUTES default 4: the genome training's most
#   GPU_CHECK_TRAIN_MINUTES  default 3 (the train step)
#   GPU_CHECK_STEPS          the steps to run (default pretrain-bench,genome-train,
#                            genome-probe,gpu-tests; also embed-bench,train,probe)

set -uo pipefail

if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
QUICK=0
[ "${2:-}" = "--quick" ] && QUICK=1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
BUDGET_S=${GPU_CHECK_BUDGET_S:-480}
# No step runs past HARD_S, so the run always ends with its summary (--quick: no limit).
HARD_S=$((QUICK ? 36000 : BUDGET_S + 60))
TRAIN_MINUTES=${GPU_CHECK_TRAIN_MINUTES:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnalm_gpu_check.XXXXXX")
CHECKPOINTS=$WORK/checkpoints
trap 'rm -rf "$WORK" "$CHECKPOINTS"' EXIT
LOG=$OUT/log.txt
START=$SECONDS
FAILED=0
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export MPLBACKEND=Agg TMPDIR=$WORK
cd "$REPO" || exit 2
: > "$LOG"

say() { echo "$*" | tee -a "$LOG"; }
STEPS=,${GPU_CHECK_STEPS:-pretrain-bench,genome-train,genome-probe,gpu-tests},
wanted() { [[ $STEPS == *",$1,"* ]]; }

# step NAME CAP_SECONDS COMMAND...: run it with its output in the log, then one line.
# A shell function as COMMAND gets its cap in STEP_CAP (timeout cannot run a function).
step() {
    local name=$1 cap=$2 begin=$SECONDS rc status figures
    shift 2
    local left=$((HARD_S - (SECONDS - START) - 10))
    [ $left -lt $cap ] && cap=$((left > 10 ? left : 10))
    echo "=== $name (at most $cap s): $*" >> "$LOG"
    if declare -F "$1" > /dev/null; then
        STEP_CAP=$cap "$@" >> "$LOG" 2>&1
    else
        timeout --kill-after=15 "$cap" "$@" >> "$LOG" 2>&1
    fi
    rc=$?
    case $rc in
        0) status=ok ;;
        124|137) status="TIMED OUT (${cap} s)" ;;
        *) status="FAILED (exit $rc)" ;;
    esac
    [ $rc -eq 0 ] || FAILED=1
    printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - begin))" >> "$WORK/steps.tsv"
    figures=$("$PYTHON" bench/gpu_check_report.py line "$name" "$WORK" "$OUT" 2>&1 | tail -1)
    say "$(printf 'step %-15s %-18s %4d s  (at %3d s)  %s' "$name" "$status" \
        "$((SECONDS - begin))" "$((SECONDS - START))" "$figures")"
    "$PYTHON" bench/gpu_check_report.py summary "$WORK" "$OUT" > /dev/null 2>&1  # so far
    return $rc
}

# --- install: dnalm without dependencies, plus carried wheels --------------------------------
SITE=$WORK/site
[ -e "$REPO/build" ] && KEEP_BUILD=1 || KEEP_BUILD=0
if "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
        --target "$SITE" "$REPO" >> "$LOG" 2>&1; then
    INSTALL="pip install --no-deps"
else
    INSTALL="scripts/ on PYTHONPATH (pip could not build dnalm here)"
    mkdir -p "$SITE" && ln -sfn "$REPO/scripts/dnalm" "$SITE/dnalm"
fi
[ $KEEP_BUILD = 1 ] || rm -rf "$REPO/build"  # pip's in-tree build folder, if it made one
if compgen -G "$REPO/.whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" \
        "$REPO"/.whl/*.whl >> "$LOG" 2>&1 || say "warning: the wheels in .whl/ did not install"
    INSTALL="$INSTALL + $(ls "$REPO"/.whl/*.whl | wc -l) carried wheel(s)"
fi
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
MODE=$([ $QUICK = 1 ] && echo "--quick (CPU)" || echo "full")
"$PYTHON" - "$WORK/environment.json" "$MODE" "$INSTALL" <<'EOF' 2>&1 | tee -a "$LOG"
import datetime, json, platform, sys
import dnalm, torch, transformers
device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
          else f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads")
info = dict(mode=sys.argv[2], install=sys.argv[3], device=device, torch=torch.__version__,
            transformers=transformers.__version__, python=platform.python_version(),
            date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            dnalm=dnalm.__file__)
open(sys.argv[1], "w").write(json.dumps(info))
print(f"gpu_check {info['mode']}: {device}; torch {info['torch']}, transformers "
      f"{info['transformers']}, python {info['python']}; dnalm from {dnalm.__file__} "
      f"({sys.argv[3]})")
EOF
[ -s "$WORK/environment.json" ] || { say "gpu_check: dnalm, torch or transformers cannot be imported"; exit 1; }

# --- data: the 20,000 real hg38 windows (exon + intron), ids made unique ---------------------
if [ $QUICK = 1 ]; then take() { head -n 400; }; else take() { cat; }; fi
{ gzip -dc bench/data/hg38_exon_windows_201bp.fa.gz | take | sed 's/^>/>exon_/'
  gzip -dc bench/data/hg38_intron_windows_201bp.fa.gz | take | sed 's/^>/>intron_/'; } \
    > "$WORK/windows.fa"

# Checkpoints (every epoch, ~1.3 GB each for the tutorial model) in memory where there is room.
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 8000000 ]; then
    CHECKPOINTS=$(mktemp -d /dev/shm/dnalm_gpu_check.XXXXXX)
fi
# minutes_left MOST RESERVE_S: MOST minutes, or less so that RESERVE_S of the budget stay.
minutes_left() {
    awk -v left=$((BUDGET_S - (SECONDS - START) - $2)) -v most="$1" \
        'BEGIN { m = left / 60; if (m > most) m = most; if (m < 0.5) m = 0.5; printf "%.2f", m }'
}

# --- 1. pretraining speed --------------------------------------------------------------------
wanted pretrain-bench && {
BENCH=("$PYTHON" bench/bench_pretrain.py --fasta "$WORK/windows.fa" --json "$WORK/pretrain.json"
       --profile "$OUT/profile.txt" --recipes published,defaults,dnalm,dnalm_compiled)
if [ $QUICK = 1 ]; then
    # aot_eager: the compiled recipe's path (fixed shapes, dynamo, autograd) without minutes of
    # generating and compiling C++ on two cores.
    step pretrain-bench 1200 "${BENCH[@]}" --preset tiny --batch-size 8 \
        --gradient-accumulation 2 --steps 1 --compile-backend aot_eager
else
    step pretrain-bench 270 "${BENCH[@]}" --preset tutorial --batch-size 32 \
        --gradient-accumulation 50 --steps 2 --warmup 1
fi
}

# --- 2. a genome model: the yeast genome but the held-out chromosomes ------------------------
if [ $QUICK = 1 ]; then
    GENOME=${GPU_CHECK_GENOME:-tests/data/sacCer3_slice/sacCer3_slice.fa.gz}
    CDS=${GPU_CHECK_CDS:-tests/data/sacCer3_slice/cds.bed.gz}
else
    GENOME=${GPU_CHECK_GENOME:-$( [ -f genomes/sacCer3/sacCer3.fa ] && echo genomes/sacCer3/sacCer3.fa ||
                                  echo genomes/sacCer3/sacCer3.fa.gz)}
    CDS=${GPU_CHECK_CDS:-genomes/sacCer3/cds.bed.gz}
fi
HELD_OUT=${GPU_CHECK_HELD_OUT:-chrXV,chrXVI}
genome_train() {
    [ -f "$GENOME" ] && [ -f "$CDS" ] ||
        { echo "no genome: $GENOME or $CDS is missing (make genome-sacCer3, or set GPU_CHECK_GENOME and GPU_CHECK_CDS)"; return 2; }
    local begin=$SECONDS recipe minutes held_out=()
    # The faster dnalm recipe of the bench (--compile where compiling paid there).
    recipe=$("$PYTHON" bench/gpu_check_report.py faster-recipe "$WORK")
    if "$PYTHON" -m dnalm pretrain --help | grep -q -- --validation-contigs; then
        gzip -dcf "$GENOME" > "$WORK/genome.fa"
        held_out=(--validation-contigs "$HELD_OUT")
    else  # a dnalm without held-out contigs: they are left out of the data instead
        echo "dnalm pretrain has no --validation-contigs: $HELD_OUT left out of the FASTA"
        gzip -dcf "$GENOME" | awk -v out=",$HELD_OUT," \
            '/^>/ { name = substr($1, 2); keep = index(out, "," name ",") == 0 } keep' > "$WORK/genome.fa"
    fi
    "$PYTHON" -m dnalm tokenize "$WORK/genome.fa" --window 200 -o "$WORK/genome.parquet" || return 1
    rm -f "$WORK/genome.fa"
    if [ $QUICK = 1 ]; then
        minutes=1 GENOME_ARGS=(--preset tiny --epochs 2 --gradient-accumulation 2)
    else
        # What is left of the budget, less ~120 s for the last save, the probe and the GPU tests.
        minutes=$(minutes_left "${GPU_CHECK_GENOME_MINUTES:-4}" 120)
        GENOME_ARGS=(--preset tutorial)
    fi
    echo "genome training: $minutes min, recipe $recipe, held out $HELD_OUT${held_out[*]:+ (dnalm pretrain ${held_out[*]})}"
    timeout --kill-after=15 $((STEP_CAP - (SECONDS - begin))) "$PYTHON" -m dnalm pretrain \
        "$WORK/genome.parquet" -o "$WORK/genome_model.zip" "${GENOME_ARGS[@]}" \
        --time-budget "$minutes" "${held_out[@]}" $([ "$recipe" = dnalm_compiled ] && echo --compile) \
        --metrics "$OUT/genome_metrics.tsv" --checkpoint-dir "$CHECKPOINTS/genome" &&
    rm -rf "$CHECKPOINTS/genome" &&
    "$PYTHON" bench/gpu_check_report.py train-figures "$OUT/genome_metrics.tsv" \
        "${GENOME_ARGS[1]}" "$minutes" "$WORK/genome_train.json" "$recipe" "$HELD_OUT"
}
wanted genome-train && step genome-train $((QUICK ? 900 : 330)) genome_train

# The probe: coding vs intergenic 200-bp windows of the held-out chromosomes.
if ! wanted genome-probe; then
    :
elif [ -f "$WORK/genome_model.zip" ]; then
    genome_probe() {
        "$PYTHON" bench/yeast_probe_task.py "$GENOME" "$CDS" --contigs "$HELD_OUT" \
            -o "$WORK/yeast_task" &&
        "$PYTHON" bench/bench_probe.py "$WORK/genome_model.zip" --task "$WORK/yeast_task" \
            --json "$WORK/genome_probe.json"
    }
    step genome-probe $((QUICK ? 600 : 120)) genome_probe
else
    say "step genome-probe    skipped: the genome training made no model"
    FAILED=1
fi

# --- issue 12's steps, when asked for --------------------------------------------------------
wanted embed-bench && {
EMBED=("$PYTHON" bench/bench_embed.py --sequences "$WORK/windows.fa" --json "$WORK/embed.json")
if [ $QUICK = 1 ]; then
    step embed-bench 300 "${EMBED[@]}" --preset tiny --count 64 --tutorial-count 16 --batch-size 32
else
    step embed-bench 150 "${EMBED[@]}"
fi
}

if [ $QUICK = 1 ]; then
    PRESET=tiny MINUTES=1 EXTRA=(--epochs 2 --gradient-accumulation 2)
else
    PRESET=tutorial EXTRA=()
    MINUTES=$(minutes_left "$TRAIN_MINUTES" 100)  # less ~100 s for tokenizing, saving, the probe
fi
train() {
    "$PYTHON" -m dnalm tokenize "$WORK/windows.fa" -o "$WORK/tokens.parquet" &&
    timeout --kill-after=15 "$STEP_CAP" "$PYTHON" -m dnalm pretrain "$WORK/tokens.parquet" \
        -o "$WORK/model.zip" --preset "$PRESET" --time-budget "$MINUTES" "${EXTRA[@]}" --metrics "$OUT/pretrain_metrics.tsv" \
        --checkpoint-dir "$CHECKPOINTS/run" &&
    rm -rf "$CHECKPOINTS/run" &&
    "$PYTHON" bench/gpu_check_report.py train-figures "$OUT/pretrain_metrics.tsv" "$PRESET" \
        "$MINUTES" "$WORK/train.json"
}
wanted train && step train $(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 150 }') train

if ! wanted probe; then
    :
elif [ -f "$WORK/model.zip" ]; then
    PROBE=("$PYTHON" bench/bench_probe.py "$WORK/model.zip" --json "$WORK/probe.json")
    if [ $QUICK = 1 ]; then
        step probe 400 "${PROBE[@]}" --limit 200
    else
        step probe 150 "${PROBE[@]}"
    fi
else
    say "step probe           skipped: the training made no model"
    FAILED=1
fi

# --- GPU tests, with the time left -----------------------------------------------------------
wanted gpu-tests && {
PYTEST=("$PYTHON" -m pytest -q -p no:cacheprovider -o junit_family=legacy -m gpu
        --junitxml="$OUT/pytest.xml" tests/test_gpu.py)
if [ $QUICK = 1 ]; then
    step gpu-tests 600 env DNALM_TEST_DEVICE=cpu "${PYTEST[@]}" \
        -k "attention_auto or (grouped_mm and fp32-weights-bf16-autocast) or (packed_rows and fp32)"
else
    step gpu-tests 240 "${PYTEST[@]}"
fi
}

# --- summary ---------------------------------------------------------------------------------
say ""
"$PYTHON" bench/gpu_check_report.py summary "$WORK" "$OUT" >> "$LOG" 2>&1
say "gpu_check: $((SECONDS - START)) s in all; figures in $OUT/summary.md and results.json"
exit $FAILED
