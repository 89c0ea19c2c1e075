"""The whole study end to end, in a fresh process each time: cold (an empty compilation
cache) and warm (the cache filled by an earlier run), broken down into imports, compiling,
training, the rest of filling the store, and writing the outputs.

    python benchmarks/reproduce_speed.py [--repeats 10] [--pool 0] [--runs 3]

Each figure is the median of --runs fresh processes; every run writes a new store. The wall
time is `statelab reproduce` as a user runs it, from process start to exit; the breakdown
comes from a second process that imports the same modules first, then runs the same
command (`statelab.cli.main`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

STUDY_KERAS_MINUTES_FOR_10 = 75  # the study's own Keras code, as its author reports

DRIVER = """
import sys, time
started = time.perf_counter()
import statelab.cli, statelab.execution.pipeline, statelab.outputs.study  # statelab, JAX, pandas
import statelab.stats, statelab.outputs.plots  # SciPy, statsmodels, matplotlib (loaded lazily)
print(f"imports {time.perf_counter() - started:.3f}")
import jax
print(f"device {jax.devices()[0]}")
try:
    statelab.cli.main(sys.argv[1:])
except SystemExit as done:
    assert done.code == 0, done.code
"""

PRINTED = re.compile(  # the CLI's line (statelab.cli._echo_filled)
    r"([\d.]+) s of wall time training and storing them \(.*: compile ([\d.]+) s \((\d+) from "
    r"the compilation cache\), run ([\d.]+) s\), ([\d.]+) s writing the outputs"
)


def command(out: str, repeats: int, pool: int) -> list[str]:
    return ["reproduce", "--repeats", str(repeats), "--pool", str(pool), "--out", out, "--quiet"]


def process(program: list[str], warm: bool, repeats: int, pool: int):
    """``program`` in a fresh process, with a new compilation cache (filled first if warm)
    and a new store; returns the process and its wall seconds."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        environment = {**os.environ, "STATELAB_COMPILATION_CACHE": cache}
        if warm:
            with tempfile.TemporaryDirectory() as other:
                subprocess.run([sys.executable, "-m", "statelab", *command(other, repeats, pool)],
                               env=environment, capture_output=True, check=True)  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run([*program, *command(out, repeats, pool)], env=environment,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done, time.perf_counter() - started


def one_run(warm: bool, repeats: int, pool: int) -> tuple[dict[str, float], str]:
    """One timed process and one broken down: the figures, and the device JAX ran on."""
    _, wall = process([sys.executable, "-m", "statelab"], warm, repeats, pool)
    driven, _ = process([sys.executable, "-c", DRIVER], warm, repeats, pool)
    imports = float(re.search(r"imports ([\d.]+)", driven.stdout)[1])
    device = re.search(r"device (.+)", driven.stdout)[1]
    fill_s, compile_s, hits, run_s, outputs_s = PRINTED.search(driven.stdout).groups()
    return {
        "wall": wall,
        "imports": imports,
        "compile": float(compile_s),
        "cache hits": float(hits),
        "training": float(run_s),
        "other filling": float(fill_s) - float(compile_s) - float(run_s),
        "outputs": float(outputs_s),
    }, device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--pool", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"statelab reproduce --repeats {args.repeats} --pool {args.pool}; "
          f"{os.cpu_count()} cores; median of {args.runs} fresh processes", flush=True)  # fmt: skip
    rows, devices = {}, set()
    for label in ("cold", "warm"):
        runs, ran_on = zip(*(one_run(label == "warm", args.repeats, args.pool)
                             for _ in range(args.runs)), strict=True)  # fmt: skip
        rows[label] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        devices.update(ran_on)
    print(f"device: {', '.join(sorted(devices))}")
    keys = list(rows["cold"])
    print(f"{'cache':>6} " + " ".join(f"{k:>13}" for k in keys))
    for label, row in rows.items():
        print(f"{label:>6} " + " ".join(f"{row[k]:>13.2f}" for k in keys))
    print(f"warm is {rows['cold']['wall'] / rows['warm']['wall']:.2f}x faster than cold")
    if args.repeats == 10:
        ratio = STUDY_KERAS_MINUTES_FOR_10 * 60 / rows["warm"]["wall"]
        print(f"vs the study's ~{STUDY_KERAS_MINUTES_FOR_10} min in Keras: {ratio:,.0f}x (warm)")


if __name__ == "__main__":
    main()
