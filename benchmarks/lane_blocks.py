"""The training calls statelab.execution.calls no longer makes beside those it makes, on one
core, in one process: ms a call and ns a lane-step, and the ratio of the two calls (issue 16).
It rounds a CPU call of more than one block up to whole 512-bit vectors of 16 lanes (16k + 16
lanes, not 16k + 8), and runs a call of at most 4 lanes (one repeat, or a few) in 4, not 8.

    python benchmarks/lane_blocks.py [--rounds 7]

Each case is one call of the study's `stateful` lanes (Shampoo, 22 training rows, batch size
1, no shuffle) at n units. The programs are compiled first; then their calls take turns, so
that a change in the machine's load falls on all alike; each figure is the best of the
rounds. The compiled loop over lanes runs a remainder of 8 lanes as a vector of its own, so
a call of 16k + 16 lanes should take no longer than one of 16k + 8: a ratio near or above 1
(16k + 8 over 16k + 16) means the 8 more lanes cost nothing. A call of a few lanes is bound by
its steps' latency: a ratio above 1 (8 over 4) means the 4-lane vectors step quicker.
"""

from __future__ import annotations

import jax

from epoch_blocks import best_ms, rounds_asked, stateful_lanes
from statelab.engine import lstm as engine

# (units, epochs, lanes of the call no longer made, lanes of the call made for it)
CASES = ((1, 200, 24, 32), (1, 200, 504, 512), (1, 200, 1000, 1008), (4, 100, 24, 32),
         (4, 100, 152, 160), (8, 60, 24, 32), (8, 60, 40, 48),
         (1, 200, 8, 4), (4, 100, 8, 4), (8, 60, 8, 4), (16, 60, 8, 4), (32, 30, 8, 4))  # fmt: skip


def call(neurons: int, epochs: int, lanes_count: int):
    """The compiled training call of ``lanes_count`` lanes, warm, as a call that blocks."""
    shape, lanes = stateful_lanes(neurons, epochs, lanes_count)
    start, train, _ = engine.compiled(shape, epochs)
    carry = start(lanes)
    jax.block_until_ready(train(lanes, carry))
    return lambda: jax.block_until_ready(train(lanes, carry))


def main() -> None:
    rounds = rounds_asked(__doc__)
    print(f"{'units':>5} {'epochs':>6} | {'lanes':>5} {'ms':>8} {'ns/lane-step':>12} | "
          f"{'lanes':>5} {'ms':>8} {'ns/lane-step':>12} | {'ms ratio':>8}")  # fmt: skip
    for neurons, epochs, old, new in CASES:
        best = best_ms({count: call(neurons, epochs, count) for count in (old, new)}, rounds)
        cells = [f"{neurons:>5} {epochs:>6}"]
        for count, ms in best.items():
            cells.append(f"{count:>5} {ms:>8.2f} {ms / (epochs * 22 * count) * 1e6:>12.2f}")
        cells.append(f"{best[old] / best[new]:>7.2f}x")
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
