"""Drawing a collection's initial weights: a call group holds repeat k of every series, and
every series' repeat k starts from the same weights (common random numbers), so the draw
draws each key once (statelab.execution.runner.draw), 256 keys a call below 16 units and 32
from 16 on (runner.draw_block). Side by side in one run, at 1, 16 and 64 units, each column
the same number of lanes (S series x R repeats):
- S x R keys, 256 a call: what any group of that many lanes cost before each key was drawn
  once (every lane was drawn, 256 at a time);
- S x R keys now: a run of as many repeats of one experiment;
- a collection (R keys, each held by S lanes), 256 a call, and now.

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
    print(f"{'':>5} | {'every lane a key':^35} | {'a collection':^35} |")
    print(f"{'units':>5} | {'256 a call, ms':>16} | {'now, ms':>16} | "
          f"{'256 a call, ms':>16} | {'now, ms':>16} | {'before / now':>12}")  # fmt: skip
    for neurons in (1, 16, 64):
        spec = statelab.Spec(neurons=neurons)
        specs, repeats = [spec] * args.series, [np.arange(args.repeats)] * args.series
        calls = [
            functools.partial(runner.draw, 1, [spec], [np.arange(lanes)], block)
            for block in (256, None)
        ] + [functools.partial(runner.draw, 1, specs, repeats, block) for block in (256, None)]
        for call in calls:
            call()  # compiles
        best = [np.inf] * len(calls)
        for _ in range(args.rounds):
            for k, call in enumerate(calls):
                best[k] = min(best[k], seconds(call))
        cells = "".join(f" | {b * 1e3:>16.1f}" for b in best)
        print(f"{neurons:>5}{cells} | {best[0] / best[3]:>11.1f}x")


if __name__ == "__main__":
    main()
