#!/usr/bin/env bash
# Issue 16's GPU checks (target 5) as one short, prepared run, for a session lent a GPU machine
# whose Python has JAX (CUDA build), Optax, NumPy, pandas, SciPy, statsmodels and matplotlib but
# none of statelab's other needs.
#
#   bash benchmarks/gpu_check.sh prepare     # here: fills the ignored .gpu/ (src, wheels, run.sh)
#   bash benchmarks/gpu_check.sh run         # there: the device tool's `run`, carry [".gpu"]
#
# `run` prints the device and JAX, then (each under its own time limit, so that one that hangs
# still leaves the others' figures):
#   1. benchmarks/device_agreement.py: a generalise sample on the GPU beside the same on the
#      CPU, each from an empty compilation cache: per-repeat RMSE agreement (1e-5 asked),
#      the device each store records, wall, compile and training seconds;
#   2. benchmarks/generalise_speed.py, in process: the full M3 monthly study (471,570
#      networks; 2 minutes asked, compiling under 30 s), its store and outputs under $OUT.
# AGREE and FULL override their options (a smaller check: AGREE="--sample 2 --epochs 20"
# FULL="--sample 4 --epochs 20"); LIMIT_AGREE and LIMIT_FULL their seconds.
set -u
cd "$(dirname "$0")/.."
# What such a machine lacked beside statelab's own needs (worked out against a Python 3.12
# venv of only those seven packages and their dependencies: see the closing note of issue 16).
EXTRAS=(annotated-doc annotated-types markdown-it-py mdurl mypy-extensions pandera pycatch22
        psutil pydantic pydantic-core pygments rich seaborn shellingham typeguard typer
        typing-inspect typing-inspection)

case "${1:-}" in
prepare)
    bash ../shared/gpu/prepare.sh "${EXTRAS[@]}"
    ;;
run)
    out=${OUT:-$PWD/gpu_out}
    mkdir -p "$out"
    run=(bash .gpu/run.sh)
    {
        command -v nvidia-smi >/dev/null && nvidia-smi -L
        "${run[@]}" python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
        echo "== device_agreement"
        # shellcheck disable=SC2086  # the options are words
        timeout "${LIMIT_AGREE:-240}" "${run[@]}" python3 benchmarks/device_agreement.py \
            ${AGREE:---sample 20 --repeats 5 --epochs 1000} || echo "device_agreement: status $?"
        echo "== generalise_speed"
        # shellcheck disable=SC2086
        timeout "${LIMIT_FULL:-300}" "${run[@]}" python3 benchmarks/generalise_speed.py \
            --backends inprocess --out "$out/full" ${FULL:-} || echo "generalise_speed: status $?"
    } 2>&1 | grep -v "^WARNING: All log messages before absl" | tee "$out/gpu_check.log"
    ;;
*)
    echo "usage: bash benchmarks/gpu_check.sh prepare|run" >&2
    exit 2
    ;;
esac
