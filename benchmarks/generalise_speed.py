"""The full generalisation: every selected series x the eleven presets x R repeats x the
study's 1000 epochs, through `statelab generalise`'s library call (store, chunks, outputs),
in this process and/or on a local Dask cluster, side by side in one run.

    python benchmarks/generalise_speed.py [--data m3/monthly] [--sample N] [--repeats 30]
        [--epochs 1000] [--backends inprocess,dask] [--workers 2] [--out DIR]

Each backend fills a fresh store. Reported per backend: wall time (filling and outputs),
trained networks (repeats) per second, peak memory of the process tree (this process and
any Dask workers, sampled every 0.2 s), the store's size, and the ratio to the first
backend. The Dask workers find the compilation cache warm when the in-process run came
first (the same programs; the default order), or when an earlier run of the same command
filled it. Last, N machines worked out on paper from the measured throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import jax
import psutil

import statelab
from statelab import layout
from statelab.execution import pipeline


class PeakMemory:
    """The largest resident memory of this process and its descendants, sampled."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self.stop = every, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        me = psutil.Process()
        while not self.stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # it ended meanwhile
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self.stop.wait(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def measure(args, out: Path, workers: int | None) -> dict[str, float]:
    execution = pipeline.Execution(workers=workers)
    with PeakMemory() as memory:
        started = time.perf_counter()
        settings = statelab.GeneraliseSettings(
            args.data,
            sample=args.sample,
            sample_seed=args.sample_seed,
            repeats=args.repeats,
            setup=statelab.Setup(epochs=args.epochs),
        )
        outcome = statelab.generalise(settings, out=out, execution=execution)
        wall = time.perf_counter() - started
    return {
        "series": len(outcome.result.collection.members),
        "networks": outcome.filled.run,
        "wall s": wall,
        "fill s": outcome.fill_s,
        "outputs s": outcome.outputs_s,
        "compile s": outcome.filled.timings.compile_s,
        "networks/s": outcome.filled.run / outcome.fill_s,
        "peak MiB": memory.peak / 2**20,
        "store MiB": (out / layout.STORE).stat().st_size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="m3/monthly")
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--sample-seed", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--backends", default="inprocess,dask")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep the stores here")
    args = parser.parse_args()
    backends = args.backends.split(",")
    root = args.out or Path(tempfile.mkdtemp(prefix="statelab-generalise-"))
    print(f"device: {jax.devices()[0]}; {os.cpu_count()} cores; data {args.data}"
          f"{f' (sample {args.sample})' if args.sample else ''}; {args.repeats} repeats x "
          f"{args.epochs} epochs x 11 presets")  # fmt: skip
    rows = {}
    for backend in backends:
        workers = None if backend == "inprocess" else args.workers
        label = backend if workers is None else f"dask x{workers}"
        rows[label] = measure(args, root / backend, workers)
        print(label, {k: round(v, 2) for k, v in rows[label].items()}, flush=True)
    keys = list(next(iter(rows.values())))
    print(f"\n{'backend':<12} " + " ".join(f"{k:>11}" for k in keys))
    first = next(iter(rows.values()))
    for label, row in rows.items():
        print(f"{label:<12} " + " ".join(f"{row[k]:>11.1f}" for k in keys)
              + f"   ratio {row['networks/s'] / first['networks/s']:.2f}x")  # fmt: skip
    best = max(rows.values(), key=lambda r: r["networks/s"])
    per_machine = best["networks/s"]
    total = best["networks"]
    print(
        f"\nOn paper: {total:,.0f} networks at {per_machine:.0f}/s per 2-core machine; "
        "N machines on a Dask cluster, if throughput adds up (chunks are independent):"
    )
    for n in (1, 2, 4, 8, 16, 32):
        print(f"  {n:>2} machines: {total / (per_machine * n) / 60:6.1f} min")
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
