"""A training call of 16k + 8 lanes beside one of 16k + 16, on one core, in one process: ms a
call and ns a lane-step, and the ratio of the two calls (issue 16; statelab.execution.calls
rounds a CPU call of more than one block up to whole 512-bit vectors of 16 lanes).

    python benchmarks/lane_blocks.py [--rounds 7]

Each case is one call of the study's `stateful` lanes (Shampoo, 22 training rows, batch size
1, no shuffle) at n units. The programs are compiled first; then their calls take turns, so
that a change in the machine's load falls on all alike; each figure is the best of the
rounds. The compiled loop over lanes runs a remainder of 8 lanes as a vector of its own, so
a call of 16k + 16 lanes should take no longer than one of 16k + 8: a ratio near or above 1
(16k + 8 over 16k + 16) means the 8 more lanes cost nothing.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

import statelab
from statelab.data.dataset import prepare
from statelab.engine import lstm as engine
from statelab.execution import runner

# (units, epochs, lanes of the call that ends in half a vector); the other call has 8 more
CASES = ((1, 200, 24), (1, 200, 504), (1, 200, 1000), (4, 100, 24), (4, 100, 152),
         (8, 60, 24), (8, 60, 40))  # fmt: skip


def call(neurons: int, epochs: int, lanes_count: int):
    """The compiled training call of ``lanes_count`` lanes, its lanes and its starting carry."""
    spec = statelab.Spec(epochs=epochs, neurons=neurons)
    dataset = prepare(statelab.shampoo(), spec)
    lanes = runner._lanes(spec, dataset, 1, np.arange(lanes_count), None)
    shape = runner.shape_of(spec, (len(dataset.train_y), len(dataset.test_x)))
    shape = shape._replace(shuffles=False)
    start, train, _ = engine.compiled(shape, epochs)
    carry = start(lanes)
    jax.block_until_ready(train(lanes, carry))
    return lambda: jax.block_until_ready(train(lanes, carry))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="calls per program")
    args = parser.parse_args()
    print(f"device: {jax.devices()[0]}, {len(os.sched_getaffinity(0))} cores; jax "
          f"{jax.__version__}; the best of {args.rounds} calls each, taking turns")  # fmt: skip
    print(f"{'units':>5} {'epochs':>6} | {'lanes':>5} {'ms':>8} {'ns/lane-step':>12} | "
          f"{'lanes':>5} {'ms':>8} {'ns/lane-step':>12} | {'ms ratio':>8}")  # fmt: skip
    for neurons, epochs, lanes in CASES:
        calls = {count: call(neurons, epochs, count) for count in (lanes, lanes + 8)}
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(args.rounds):
            for count, run in calls.items():
                started = time.perf_counter()
                run()
                best[count] = min(best[count], time.perf_counter() - started)
        cells = [f"{neurons:>5} {epochs:>6}"]
        for count, seconds in best.items():
            per_step = seconds / (epochs * 22 * count) * 1e9
            cells.append(f"{count:>5} {seconds * 1e3:>8.2f} {per_step:>12.2f}")
        cells.append(f"{best[lanes] / best[lanes + 8]:>7.2f}x")
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
