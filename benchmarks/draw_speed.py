"""Drawing a collection's initial weights: a call group holds repeat k of every series, and
every series' repeat k starts from the same weights (common random numbers), so the draw
draws each key once (statelab.execution.runner.draw), in blocks of 32 where there are fewer
than 256 keys. Side by side in one run, at 1, 16 and 64 units: the draw of S series x R
repeats as one group (R keys), of the same in blocks of 256, and of as many lanes with a key
each, which is what every lane cost before each key was drawn once (then in blocks of 256).

    python benchmarks/draw_speed.py [--series 100] [--repeats 10] [--rounds 3]

The programs are compiled first; the draws then take turns, and each figure is the best of
the rounds. The orthogonal initialiser's QR makes a lane cost more the larger the network
(benchmarks/engine_speed.py's once column).
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import jax
import numpy as np

import statelab
from statelab.execution import runner


def seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lanes = args.series * args.repeats
    print(f"device: {jax.devices()[0]}, {len(os.sched_getaffinity(0))} cores; jax "
          f"{jax.__version__}; {args.series} series x {args.repeats} repeats = {lanes} lanes; "
          f"the best of {args.rounds} rounds")  # fmt: skip
    print(f"{'units':>5} | {'a key a lane, ms':>16} | {'a collection, ms':>16} | "
          f"{'in blocks of 256':>16} | {'ratio':>6}")  # fmt: skip
    for neurons in (1, 16, 64):
        spec = statelab.Spec(neurons=neurons)
        specs, repeats = [spec] * args.series, [np.arange(args.repeats)] * args.series
        calls = (
            functools.partial(runner.draw, 1, [spec], [np.arange(lanes)]),
            functools.partial(runner.draw, 1, specs, repeats),
            functools.partial(runner.draw, 1, specs, repeats, runner.DRAW_BLOCKS[1]),
        )
        for call in calls:
            call()  # compiles
        best = [np.inf] * len(calls)
        for _ in range(args.rounds):
            for k, call in enumerate(calls):
                best[k] = min(best[k], seconds(call))
        every, shared, large = (b * 1e3 for b in best)
        print(f"{neurons:>5} | {every:>16.1f} | {shared:>16.1f} | {large:>16.1f} | "
              f"{every / shared:>5.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
