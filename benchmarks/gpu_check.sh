#!/usr/bin/env bash
# Issue 16's GPU checks (target 5) as one short, prepared run, for a session lent a GPU machine
# whose Python has JAX (CUDA build), Optax, NumPy, pandas, SciPy, statsmodels and matplotlib but
# none of statelab's other needs.
#
#   bash benchmarks/gpu_check.sh prepare     # here: fills the ignored .gpu/ (src, wheels, run.sh)
#   bash benchmarks/gpu_check.sh run         # there: the device tool's `run`, carry [".gpu"]
#
# `run` installs the wheels once (.gpu/run.sh), prints the device and JAX, then runs, each
# under its own time limit so that one that hangs still leaves the other's figures:
#   1. benchmarks/device_agreement.py: a generalise sample on the GPU beside the same on the
#      CPU, each from an empty compilation cache: per-repeat RMSE agreement (1e-5 asked),
#      the device each store records, wall, compile and training seconds;
#   2. benchmarks/generalise_speed.py, in process: the full M3 monthly study (471,570
#      networks; 2 minutes asked, compiling under 30 s), its store in /tmp (about 130 MB).
# The log and the study's small summaries go to $OUT (./gpu_out without it). AGREE and FULL
# override the two's options (a smaller check: AGREE="--sample 2 --epochs 20" FULL="--sample 4
# --epochs 20"), LIMIT_AGREE and LIMIT_FULL their seconds (150 and 240: with the machine's
# start, a rerun still fits 15 minutes of device time). The exit status is 1 when a check
# failed or ran out of time.
set -uo pipefail
cd "$(dirname "$0")/.."
# What such a machine lacks beside those seven packages and their dependencies (worked out
# against a Python 3.12 venv of only them: pip download of statelab's other needs, less what
# the venv held).
EXTRAS=(annotated-doc annotated-types cloudpickle loky markdown-it-py mdurl mypy-extensions pandera pycatch22
        psutil pydantic pydantic-core pygments rich seaborn shellingham typeguard typer
        typing-inspect typing-inspection)

checks() {  # under .gpu/run.sh: the wheels installed, .gpu/src on PYTHONPATH
    local failed=0 full=/tmp/statelab_gpu_full
    command -v nvidia-smi >/dev/null && nvidia-smi -L
    python3 -c "import jax; print('jax', jax.__version__, jax.devices())" || failed=1
    echo "== device_agreement"
    # shellcheck disable=SC2086  # the options are words
    timeout -k 10 "${LIMIT_AGREE:-150}" python3 benchmarks/device_agreement.py \
        ${AGREE:---sample 10 --repeats 3 --epochs 1000} || { echo "device_agreement: status $?"; failed=1; }
    echo "== generalise_speed"
    rm -rf "$full"
    # shellcheck disable=SC2086
    timeout -k 10 "${LIMIT_FULL:-240}" python3 benchmarks/generalise_speed.py \
        --backends inprocess --out "$full" ${FULL:-} || { echo "generalise_speed: status $?"; failed=1; }
    for name in generalise.json across.csv experiments.csv; do
        [ -f "$full/inprocess/$name" ] && cp "$full/inprocess/$name" "$OUT_DIR/"
    done
    return $failed
}

case "${1:-}" in
prepare)
    if [ ! -f ../shared/gpu/prepare.sh ]; then
        echo "gpu_check: ../shared/gpu/prepare.sh not found; run this from a checkout beside shared/" >&2
        exit 2
    fi
    bash ../shared/gpu/prepare.sh "${EXTRAS[@]}"
    ;;
run)
    if [ ! -x .gpu/run.sh ]; then
        echo "gpu_check: .gpu/run.sh not found; run 'bash benchmarks/gpu_check.sh prepare' first" >&2
        exit 2
    fi
    export OUT_DIR=${OUT:-$PWD/gpu_out}
    mkdir -p "$OUT_DIR"
    bash .gpu/run.sh bash benchmarks/gpu_check.sh checks 2>&1 \
        | grep --line-buffered -v "^WARNING: All log messages before absl" | tee "$OUT_DIR/gpu_check.log"
    ;;
checks)
    checks
    ;;
*)
    echo "usage: bash benchmarks/gpu_check.sh prepare|run" >&2
    exit 2
    ;;
esac
