"""A training call of 50 epochs or fewer (or of a prime number of epochs), as one epoch block
(the engine before it ran two blocks or more) and as the engine runs it now
(statelab.engine.lstm.epoch_block: blocks, then the rest, "2+1"), side by side in one process:
ms a call, the ratio, and whether the two gave the same bits.

    python benchmarks/epoch_blocks.py [--rounds 7]

Each case is one call of the study's `stateful` lanes (Shampoo, 22 training rows, batch size
1, no shuffle) at n units, on one core. Both programs are compiled first; then their calls
take turns, so that a change in the machine's load falls on both alike; each figure is the
best of the rounds. With one block, XLA removes the loop over blocks (one trip), and the
training loop left copies the weights and Adam's moments every step; the programs' copies
inside their loops are counted from the compiled text.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import time

import jax
import numpy as np

import statelab
from statelab.data.dataset import prepare
from statelab.engine import lstm as engine
from statelab.execution import runner

CASES = ((1, 8, 50), (4, 16, 50), (8, 16, 50), (16, 16, 20), (16, 16, 50), (32, 8, 20),
         (16, 16, 53))  # fmt: skip


def stateful_lanes(neurons: int, epochs: int, count: int) -> tuple[engine.Shape, engine.Lane]:
    """``count`` lanes of the study's `stateful` preset at ``neurons`` units on Shampoo, and
    their compiled shape (no shuffle). Also benchmarks/lane_blocks.py's."""
    spec = statelab.Spec(epochs=epochs, neurons=neurons)
    dataset = prepare(statelab.shampoo(), spec)
    lanes = runner._lanes(spec, dataset, 1, np.arange(count), None)
    shape = runner.shape_of(spec, (len(dataset.train_y), len(dataset.test_x)))
    return shape._replace(shuffles=False), lanes


def rounds_asked(doc: str) -> int:
    """The --rounds asked, after printing the device. Also benchmarks/lane_blocks.py's."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="calls per program")
    rounds = parser.parse_args().rounds
    print(f"device: {jax.devices()[0]}, {len(os.sched_getaffinity(0))} cores; jax "
          f"{jax.__version__}; the best of {rounds} calls each, taking turns")  # fmt: skip
    return rounds


def best_ms(calls: dict, rounds: int) -> dict:
    """Each of ``calls`` (name -> a call that blocks until done) ``rounds`` times, taking
    turns: the best ms of each. Also benchmarks/lane_blocks.py's."""
    times: dict = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: min(t) * 1e3 for name, t in times.items()}


def _blocking(compiled, lanes, carry):
    return jax.block_until_ready(compiled(lanes, carry))


def program(shape: engine.Shape, epochs: int, one_block: bool, lanes, carry):
    """The compiled training call, traced with one block or with the engine's own."""
    rule = engine.epoch_block
    if one_block:
        engine.epoch_block = lambda epochs, drawn: (epochs, 0)  # read when traced
    try:
        train = jax.jit(functools.partial(engine.train_epochs, shape, epochs=epochs))
        return train.lower(lanes, carry).compile()
    finally:
        engine.epoch_block = rule


def copies_in_loops(compiled) -> int:
    """Copies in every computation but the call's own (its loops, and what they call)."""
    text = compiled.as_text()
    return len(re.findall(r" copy\(", text[: text.index("\nENTRY")]))


def main() -> None:
    rounds = rounds_asked(__doc__)
    print(f"{'units':>5} {'lanes':>5} {'epochs':>6} | {'one block ms':>12} {'copies':>6} | "
          f"{'now ms':>8} {'blocks':>6} {'copies':>6} | {'speed-up':>8} {'same bits':>9}")  # fmt: skip
    for neurons, lanes_count, epochs in CASES:
        shape, lanes = stateful_lanes(neurons, epochs, lanes_count)
        carry = engine.compiled(shape, epochs)[0](lanes)
        one, now = (program(shape, epochs, flag, lanes, carry) for flag in (True, False))
        same = all(np.array_equal(a, b) for a, b in zip(
            jax.tree.leaves(one(lanes, carry)), jax.tree.leaves(now(lanes, carry)), strict=True))  # fmt: skip
        best = best_ms({name: functools.partial(_blocking, compiled, lanes, carry)
                        for name, compiled in (("one", one), ("now", now))}, rounds)  # fmt: skip
        drawn = shape.padded_rows * (shape.lags + 2) * lanes_count * 4
        block, rest = engine.epoch_block(epochs, drawn)
        blocks = f"{(epochs - rest) // block}" + (f"+{rest}" if rest else "")
        print(f"{neurons:>5} {lanes_count:>5} {epochs:>6} | {best['one']:>12.2f} "
              f"{copies_in_loops(one):>6} | {best['now']:>8.2f} {blocks:>6} "
              f"{copies_in_loops(now):>6} | {best['one'] / best['now']:>7.2f}x {str(same):>9}")  # fmt: skip


if __name__ == "__main__":
    main()
