"""A collection's per-series statistics in this process and in worker processes, taking turns
(issue 16: the analysis of a whole study, not only its training).

    python benchmarks/statistics_speed.py [--data m3/monthly] [--sample 300] [--epochs 2]
                                          [--rounds 2] [--out FOLDER]

It runs `statelab generalise` at those settings (30 repeats) into FOLDER, or resumes what
FOLDER holds (a temporary folder without --out; give the folder of a finished full run,
with --sample 0, to time the full study's statistics). The statistics take as long whatever
the epochs. Then it times `studies.generalise.per_series` on the stored results: every
series in this process, then spread over worker processes as a run spreads them
(`execution.processes`, SERIES_PER_WORKER series a worker or more, a worker a core; they
start and end within each call), the two taking turns. It prints the seconds of each, their
ratio, and whether the two tables are equal to the bit (their floats' bits, NaN and -0.0
included).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

import statelab
from statelab.execution import pipeline, processes
from statelab.execution.store import Store
from statelab.studies import generalise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="m3/monthly")
    parser.add_argument("--sample", type=int, default=300, help="series (0: all of them)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep (or reuse) the store here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="statelab-statistics-"))
    settings = statelab.GeneraliseSettings(args.data, sample=args.sample or None,
                                           setup=statelab.Setup(epochs=args.epochs))  # fmt: skip
    started = time.perf_counter()
    statelab.generalise(settings, out=out)
    print(f"generalise {args.data}, sample {args.sample or 'all'}, {args.epochs} epochs: "
          f"{time.perf_counter() - started:.1f} s (trained, or resumed, and analysed)")  # fmt: skip
    plan, collection = generalise.generalise_plan(settings)
    with Store(out) as store:
        runs = generalise.Runs.of(plan, pipeline.load(store, plan))
    series = sum(s in runs.by_series for s in collection.members)
    cores = processes.cpu_cores()
    workers = processes.workers_for(series, generalise.SERIES_PER_WORKER, cores)
    print(f"{series} series, {cores} cores: {workers} worker processes "
          f"({generalise.SERIES_PER_WORKER} series a worker or more)")  # fmt: skip
    ways = {"in this process": 10**9, "in worker processes": generalise.SERIES_PER_WORKER}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    tables: dict[str, pd.DataFrame] = {}
    for _ in range(args.rounds):
        for way, least in ways.items():
            generalise.SERIES_PER_WORKER = least
            started = time.perf_counter()
            tables[way] = generalise.per_series(runs, collection, plan.seed)
            seconds[way].append(time.perf_counter() - started)
    for way, taken in seconds.items():
        print(f"{way:<22} " + "  ".join(f"{s:6.1f}" for s in taken)
              + f"   median {statistics.median(taken):6.1f} s")  # fmt: skip
    here, spread = (statistics.median(seconds[way]) for way in ways)
    here_table, spread_table = tables.values()
    floats = here_table.select_dtypes("float64").columns
    equal = here_table.drop(columns=floats).equals(spread_table.drop(columns=floats)) and bool(
        (
            here_table[floats].to_numpy().view("u8") == spread_table[floats].to_numpy().view("u8")
        ).all()
    )
    print(f"ratio {here / spread:.2f}x; tables equal to the bit: {equal}")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
