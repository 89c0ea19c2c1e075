"""Many series in shared compiled calls: every M3 monthly series under one preset, against
Shampoo-only lanes of the same preset, side by side in one run.

    python benchmarks/many_series_speed.py [--data m3/monthly] [--preset stateful]
                                           [--repeats 10] [--epochs 1000]

Both fill a fresh store through the pipeline `statelab run` uses (chunks, store writes and
all). Reported: useful lane-steps per second (a lane-step is one training row of one repeat
in one epoch; padding does not count), the padding efficiency (useful over compiled steps),
the compiled programs and their compile time, and the ratio of the two throughputs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax

import statelab
from statelab.data import catalog
from statelab.execution import buckets, pipeline, runner
from statelab.execution.backends import InProcess
from statelab.execution.plan import repeats_per_chunk
from statelab.execution.store import Store
from statelab.studies.slice import slice_plan


def useful_and_compiled(plan) -> tuple[int, int]:
    """Training lane-steps per epoch: the lanes' own rows, and the rows they are compiled with."""
    own = compiled = 0
    for t in plan.tasks:
        own += len(t.repeats) * len(t.dataset.train_y)
        compiled += len(t.repeats) * runner.compiled_rows(t)[0]
    return own, compiled


def measure(selection, preset: str, repeats: int, epochs: int, chunk=None) -> dict[str, float]:
    spec = statelab.PRESETS[preset].spec.replace(epochs=epochs)
    plan = slice_plan(preset, spec, selection, repeats, seed=1)
    chunk = chunk or repeats_per_chunk(plan)
    own, compiled = useful_and_compiled(plan)
    programs = len(runner._COMPILED)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder)) as store:
        started = time.perf_counter()
        filled = pipeline.fill(store, plan, InProcess(), pipeline.Execution(chunk=chunk),
                               frozenset(), pipeline.Silent())  # fmt: skip
        wall = time.perf_counter() - started
    training = wall - filled.timings.compile_s
    return {
        "series": len(plan.series),
        "lanes": plan.planned,
        "lanes/chunk": chunk * len(plan.tasks),
        "buckets": len({runner.compiled_rows(t) for t in plan.tasks}),
        "programs": 3 * (len(runner._COMPILED) - programs),
        "compile s": filled.timings.compile_s,
        "cache hits": filled.timings.cache_hits,
        "wall s": wall,
        "efficiency": own / compiled,
        "lane-steps/s": own * epochs / training,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="m3/monthly")
    parser.add_argument("--preset", default="stateful")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    many = catalog.select(args.data)
    print(f"device: {jax.devices()[0]}; {args.preset}, {args.repeats} repeats x {args.epochs} "
          f"epochs; buckets: at most {buckets.WASTE:.0%} of steps padding")  # fmt: skip
    rows = {args.data: measure(many, args.preset, args.repeats, args.epochs)}
    # Shampoo-only lanes, as many as the collection's, in chunks of as many lanes.
    shampoo, first = catalog.select("shampoo"), rows[args.data]
    rows["shampoo"] = measure(shampoo, args.preset, first["lanes"], args.epochs,
                              chunk=first["lanes/chunk"])  # fmt: skip
    keys = list(rows[args.data])
    print(f"{'data':<12} " + " ".join(f"{k:>13}" for k in keys))
    for name, row in rows.items():
        print(f"{name:<12} " + " ".join(
            f"{row[k]:>13,.0f}" if row[k] >= 100 else f"{row[k]:>13.3g}" for k in keys))  # fmt: skip
    ratio = rows[args.data]["lane-steps/s"] / rows["shampoo"]["lane-steps/s"]
    print(f"useful throughput, {args.data} over Shampoo-only lanes: {ratio:.2f}")


if __name__ == "__main__":
    main()
