"""The study's eleven experiments on one long series, each timed alone: ms per 1000-epoch
repeat, and each one's share of the eleven (the share it takes of a `generalise` run, whose
lanes are the eleven experiments in equal numbers), with an earlier engine timed beside
this one in the same run.

    python benchmarks/preset_speed.py [--data m3:N1679 | --data shampoo]
                                      [--before c9611a4 | --before REV | --before none]
                                      [--repeats 1000] [--epochs 100] [--rounds 3]

The default series is an M3 monthly series of 126 months, test 18 (106 training rows at lag
1; the collection's series have 66 to 144 months, Shampoo Sales 36 with 22 rows): the batch-12 pair
runs at batch size = window = 18, as `generalise` runs it. Each engine runs in a process
of its own (benchmarks/engine_speed.py's), the warm calls of the two take turns, and the
times are extrapolated to 1000 epochs from runs of the epochs given and of three times as
many (engine_speed.measure: what a run costs once is counted once). Last, the eleven together in one
`statelab.run_experiments` (as a `generalise` chunk runs them, where experiments that differ
only in how they forecast train one network a repeat), beside the sum of the eleven alone.
On a shared machine the absolute figures move with the load: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import sys

import statelab
from engine_speed import (
    ELEVEN,
    EPOCHS,
    Case,
    cpu_name,
    epochs_run,
    measure,
    ms_per_repeat,
    running,
)
from statelab.data import catalog
from statelab.errors import StatelabError
from statelab.studies.generalise import HORIZON_PAIR

BEFORE_SHUFFLE = "c9611a4"  # the engine before the shuffle drew its ranks in a loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="m3:N1679", help="one series (statelab.run's data)")
    parser.add_argument("--before", default=BEFORE_SHUFFLE, help="git revision, or none")
    parser.add_argument("--repeats", type=int, default=1000, help="repeats per experiment")
    parser.add_argument(
        "--epochs", type=int, default=100, help="epochs run, and 3x (extrapolated to 1000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="warm calls per case and engine")
    args = parser.parse_args()
    try:
        selection = catalog.select(args.data)
    except StatelabError as error:
        print(f"preset_speed: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    series, horizon = selection.series[0], selection.test_size[0]
    cases = [Case(1, args.repeats, args.epochs, name, args.data,
                  horizon if name in HORIZON_PAIR else None)
             for name in statelab.PRESETS]  # fmt: skip
    epochs = " and ".join(map(str, epochs_run(args.epochs)))
    print(
        f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores; {args.data}: "
        f"{len(series)} values, test {horizon}; {args.repeats} repeats, {epochs} epochs "
        f"run, times per {EPOCHS}-epoch repeat, the best of {args.rounds} warm calls"
    )
    eleven = Case(1, args.repeats, args.epochs, ELEVEN, args.data)
    with running(args.before) as engines:
        timed = [measure(engines, case, args.rounds) for case in cases]
        timed_together = measure(engines, eleven, args.rounds)
    print("devices: " + ", ".join(f"{name} {e.device}" for name, e in engines.items()))
    ms = {name: [ms_per_repeat(case, one[name]) for case, one in zip(cases, timed, strict=True)]
          for name in engines}  # fmt: skip
    print(f"{'experiment':<30}" + "".join(f" | {name[:8]:>8} ms {'share':>5}" for name in engines)
          + (" | speed-up" if len(engines) == 2 else ""))  # fmt: skip
    for k, case in enumerate(cases):
        cells = [f"{case.preset:<30}"]
        for times in ms.values():
            cells.append(f"{times[k]:>11.3f} {100 * times[k] / sum(times):>4.1f}%")
        if len(engines) == 2:
            first, second = ms.values()
            cells.append(f"{first[k] / second[k]:>7.2f}x")
        print(" | ".join(cells))
    cells = [f"{'the eleven, each alone':<30}"]
    cells += [f"{sum(t):>11.3f} {100:>4.0f}%" for t in ms.values()]
    if len(engines) == 2:
        first, second = ms.values()
        cells.append(f"{sum(first) / sum(second):>7.2f}x")
    print(" | ".join(cells))
    together = {name: ms_per_repeat(eleven, one) for name, one in timed_together.items()}
    cells = [f"{ELEVEN:<30}"]
    cells += [f"{t:>11.3f} {100 * t / sum(ms[name]):>4.0f}%" for name, t in together.items()]
    if len(engines) == 2:
        first, second = together.values()
        cells.append(f"{first / second:>7.2f}x")
    print(" | ".join(cells))
    print(
        "(the last row: one run of the eleven together, as a generalise chunk runs them; "
        "its share is of the eleven each alone)"
    )


if __name__ == "__main__":
    main()
