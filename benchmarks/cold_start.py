"""A first `statelab generalise --sample 20` at the study's 1000 epochs, with an empty
compilation cache: how much of it is compiling, and how much training, for this tree and an
earlier one side by side in one run (issue 16's target 4: compiling less than training).

    python benchmarks/cold_start.py [--before 9a22c3a | --before REV | --before none]
                                    [--sample 20] [--epochs 1000] [--rounds 2]

Every run is a fresh process (`python -m statelab generalise ... --quiet`) with its source
first on PYTHONPATH, a new empty compilation cache and a new store; REV is checked out into a
temporary git worktree, removed afterwards. The engines take turns, round after round, so
that a change in the machine's load falls on both alike; each figure is the median of the
rounds. Compile and run seconds are the CLI's own, summed over calls that overlap on the
cores (so on 2 cores they can add up to twice the wall time); CPU seconds are the child
process's user and system time, every thread counted. Cache hits are programs one chunk
loaded that another chunk of the same run had compiled and stored.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_speed import cpu_name, sources
from reproduce_speed import PRINTED

BEFORE_DRAW = "9a22c3a"  # the last commit that compiled the initial weights per group size


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def cold_generalise(options: list[str], out: Path, environment: dict[str, str]) -> dict:
    """`statelab generalise OPTIONS --out OUT --quiet` in a fresh process with ``environment``
    added and a new, empty compilation cache: its wall and CPU seconds and the CLI's own
    figures (also benchmarks/device_agreement.py's)."""
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, **environment, "STATELAB_COMPILATION_CACHE": cache}
        program = [sys.executable, "-m", "statelab", "generalise", *options,
                   "--out", str(out), "--quiet"]  # fmt: skip
        started, cpu = time.perf_counter(), cpu_seconds()
        done = subprocess.run(program, env=environment, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"statelab generalise failed: {done.stderr.strip()[-300:]}")
    printed = PRINTED.search(done.stdout)
    if printed is None:
        raise SystemExit(f"no timing line in statelab's output: {done.stdout[-300:]}")
    fill_s, compile_s, hits, run_s, _ = printed.groups()
    return {"wall s": wall, "CPU s": cpu, "training and storing s": float(fill_s),
            "compile s": float(compile_s), "run s": float(run_s),
            "cache hits": int(hits)}  # fmt: skip


def one_run(source: Path, sample: int, epochs: int) -> dict[str, float]:
    """One cold `generalise` of the tree in ``source``: its figures."""
    with tempfile.TemporaryDirectory() as out:
        options = ["--sample", str(sample), "--epochs", str(epochs)]
        return cold_generalise(options, Path(out) / "g", {"PYTHONPATH": str(source)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE_DRAW, help="git revision beside, or none")
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.rounds < 1 or args.sample < 1 or args.epochs < 1:
        parser.error("--rounds, --sample and --epochs must be at least 1")
    print(f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores; device: cpu (JAX's default)")
    print(f"statelab generalise --sample {args.sample} --epochs {args.epochs}, empty cache, "
          f"median of {args.rounds} rounds")  # fmt: skip
    with sources(args.before) as folders:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in folders}
        for _ in range(args.rounds):
            for name, source in folders.items():
                runs[name].append(one_run(source, args.sample, args.epochs))
    columns = list(runs["now"][0])
    print(f"{'engine':>10} | " + " | ".join(f"{c:>{len(c)}}" for c in columns) + " | compile/run")
    for name, done in runs.items():
        median = {c: statistics.median(r[c] for r in done) for c in columns}
        cells = " | ".join(f"{median[c]:{len(c)}.{0 if c == 'cache hits' else 1}f}"
                           for c in columns)  # fmt: skip
        print(f"{name:>10} | {cells} | {median['compile s'] / median['run s']:11.2f}")
    if len(runs) == 2:
        before, now = (statistics.median(r["training and storing s"] for r in done)
                       for done in runs.values())  # fmt: skip
        print(f"training and storing: {before / now:.2f}x faster now")


if __name__ == "__main__":
    main()
