"""Seconds per 1000-epoch repeat of the study's `stateful` experiment at 1, 10, 100 and 1000
repeats, compile time apart, beside the study's own Keras loop (TensorFlow backend).

    python benchmarks/engine_speed.py [--keras-epochs 1000] [--no-keras]

Keras runs in a process of its own; with --keras-epochs below 1000 its time is scaled up to
1000 epochs (and says so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import jax

import statelab
from statelab.engine import lstm as engine

EPOCHS = 1000


def time_run(repeats: int) -> tuple[float, float]:
    """(first call: compile + run, warm call: run) in seconds."""
    engine.compiled.cache_clear()
    jax.clear_caches()
    started = time.perf_counter()
    statelab.run("stateful", repeats=repeats, epochs=EPOCHS)
    first = time.perf_counter() - started
    started = time.perf_counter()
    statelab.run("stateful", repeats=repeats, epochs=EPOCHS)
    return first, time.perf_counter() - started


def keras_seconds(epochs: int) -> dict | None:
    script = Path(__file__).with_name("keras_study_loop.py")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.run(
        [sys.executable, str(script), str(epochs)], capture_output=True, text=True, env=env
    )
    if process.returncode != 0:
        print(f"Keras loop not run: {process.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(process.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--repeats", type=int, nargs="*", default=[1, 10, 100, 1000])
    args = parser.parse_args()
    print(
        f"device: {jax.devices()[0]} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    )
    print(f"jax {jax.__version__}; stateful preset, {EPOCHS} epochs x 22 steps per repeat")
    print(f"{'repeats':>8} {'compile s':>10} {'run s':>8} {'ms/repeat':>10}")
    single = None
    for repeats in args.repeats:
        first, warm = time_run(repeats)
        per_repeat = warm / repeats
        single = per_repeat if repeats == 1 else single
        print(f"{repeats:>8} {first - warm:>10.2f} {warm:>8.3f} {per_repeat * 1e3:>10.3f}")
        last_per_repeat = per_repeat
    if args.no_keras:
        return
    keras = keras_seconds(args.keras_epochs)
    if keras is None:
        return
    per_1000 = keras["seconds"] * EPOCHS / keras["epochs"]
    scaled = "" if keras["epochs"] == EPOCHS else f" (measured {keras['epochs']} epochs, scaled)"
    print(f"Keras {keras['keras']} (TensorFlow) study loop: {per_1000:.1f} s per repeat{scaled}")
    if single is not None:
        print(f"ratio Keras / statelab, 1 repeat: {per_1000 / single:,.0f}x")
    print(
        f"ratio Keras / statelab per repeat at {args.repeats[-1]} repeats: {per_1000 / last_per_repeat:,.0f}x"
    )


if __name__ == "__main__":
    main()
