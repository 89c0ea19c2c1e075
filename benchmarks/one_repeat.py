"""Where one repeat's time goes: `statelab.run("stateful", repeats=1)` at 1000 epochs and at
one, and the run's stages timed inside it (issue 16's target of 5 ms a repeat, and its "if
the target is out of reach, show a profile of what remains").

    python benchmarks/one_repeat.py [--runs 100]

Each of 1000 epochs and of one, the best and median of --runs warm runs in this process, two
ways:
- back to back: the runs follow each other, as in a loop over series;
- after other work: 64 MB of memory is streamed through before each, which evicts the CPU's
  caches, as another program (or benchmarks/engine_speed.py's other engine, whose warm calls
  take turns with this one's) would.
A run of one epoch costs what a run costs besides its 999 further epochs (mostly Python).
Then the stages of a one-epoch run, back to back: the library's own functions, each wrapped
in a timer (inclusive of what it calls: an indented stage is part of the one above it, and
a call's lanes are taken for the draw too), and the seconds the run reports for its compiled
calls (Results.provenance.timings.run_s: dispatching them, running them, and reading the
training call's outputs back).
On a shared machine the figures move with the load: compare them within one run.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections import Counter

import jax
import numpy as np

import statelab
from statelab import api
from statelab.execution import runner

EPOCHS = 1000
# (module, function, what it does): a run's stages in the order they run; nested ones indented.
STAGES = (
    (api, "_one_series", "the series (Shampoo Sales, validated)"),
    (runner, "task", "the task: hashing, framing and scaling the series"),
    (runner, "call_groups", "its call group and call size"),
    (runner, "compile_calls", "looking up the compiled programs"),
    (runner, "_group_lanes", "the lanes: initial weights, data, flags"),
    (runner, "draw", "  of which drawing the initial weights (one program, read back)"),
    (runner, "call_lanes", "a call's lanes and padding (draw, training, forecast)"),
    (runner, "train_lanes", "the training call (start, train, read everything back)"),
    (runner, "forecast_lanes", "the forecast call"),
    (runner, "_results", "the results: forecasts in the series' units, RMSE, MASE"),
)


def run(epochs: int):
    return statelab.run("stateful", repeats=1, epochs=epochs)


def timed(epochs: int, runs: int, between=None) -> tuple[float, float]:
    """Best and median ms of ``runs`` runs, ``between`` called before each (not timed)."""
    seconds = []
    for _ in range(runs):
        if between is not None:
            between()
        started = time.perf_counter()
        run(epochs)
        seconds.append(time.perf_counter() - started)
    return min(seconds) * 1e3, statistics.median(seconds) * 1e3


def stages(runs: int) -> tuple[dict[str, float], float]:
    """Median ms of a one-epoch run in each stage (and under "compiled", in the compiled
    calls as the run reports them), and of the whole run."""
    spent: Counter = Counter()
    originals = [(module, name, getattr(module, name)) for module, name, _ in STAGES]

    def timer(name, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapped

    for module, name, function in originals:
        setattr(module, name, timer(name, function))
    per_run, whole = [], []
    try:
        for _ in range(runs + 1):  # the first warms the timers up
            spent.clear()
            started = time.perf_counter()
            spent["compiled"] = run(1).provenance.timings.run_s
            whole.append(time.perf_counter() - started)
            per_run.append(dict(spent))
    finally:
        for module, name, function in originals:
            setattr(module, name, function)
    names = [name for _, name, _ in STAGES] + ["compiled"]
    median = {name: statistics.median(one.get(name, 0.0) for one in per_run[1:]) * 1e3
              for name in names}  # fmt: skip
    return median, statistics.median(whole[1:]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs of each kind")
    runs = parser.parse_args().runs
    print(f"device: {jax.devices()[0]}, {len(os.sched_getaffinity(0))} cores; jax "
          f"{jax.__version__}; {runs} runs each")  # fmt: skip
    for epochs in (EPOCHS, 1):
        run(epochs)  # compiles
    memory = np.ones(8 << 20)  # 64 MB of float64

    def stream():
        memory.__iadd__(1.0)

    print(f"{'one repeat of stateful':<46} {'best ms':>8} {'median ms':>10}")
    for label, epochs, between in (
        (f"{EPOCHS} epochs, back to back", EPOCHS, None),
        (f"{EPOCHS} epochs, after other work (64 MB)", EPOCHS, stream),
        ("1 epoch, back to back", 1, None),
        ("1 epoch, after other work (64 MB)", 1, stream),
    ):
        best, median = timed(epochs, runs, between)
        print(f"{label:<46} {best:>8.2f} {median:>10.2f}")
    spent, whole = stages(runs)
    print(f"\nthe stages of a one-epoch run, back to back, timers on (medians of {runs}): "
          f"{whole:.2f} ms a run")  # fmt: skip
    for _, name, what in STAGES:
        print(f"  {what:<66} {spent[name]:>6.3f} ms {spent[name] / whole:>5.0%}")
    what = "  of which the compiled calls, as the run reports them (both calls)"
    print(f"  {what:<66} {spent['compiled']:>6.3f} ms {spent['compiled'] / whole:>5.0%}")


if __name__ == "__main__":
    main()
