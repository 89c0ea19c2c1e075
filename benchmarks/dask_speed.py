"""A Dask run on 2 local workers against the in-process run, same plan, same results, with
the compilation cache warm (filled by a first in-process run, as a second study would find
it).

    python benchmarks/dask_speed.py [--repeats 100] [--epochs 1000] [--chunk 25] [--workers 2]

Times filling a fresh store with the study's eleven experiments; cluster start-up is
reported apart. Checks that both stores hold the same bits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax

from statelab.execution import pipeline, runner
from statelab.execution.backends import InProcess, open_backend
from statelab.execution.store import Store
from statelab.spec import Setup
from statelab.studies import study


def fill(folder: Path, plan, chunk: int, backend) -> tuple[float, pipeline.Filled]:
    started = time.perf_counter()
    with Store(folder) as store:
        filled = pipeline.fill(store, plan, backend, pipeline.Execution(chunk=chunk), frozenset(),
                               pipeline.Silent())  # fmt: skip
    return time.perf_counter() - started, filled


def rmse_bits(folder: Path) -> list:
    with Store(folder) as store:
        return store.connection.execute(
            "SELECT experiment, repeat, rmse FROM repeats ORDER BY experiment, repeat"
        ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    plan = study.study_plan(
        study.StudySettings(repeats=args.repeats, pool=0, setup=Setup(epochs=args.epochs), seed=1)
    )
    print(f"device: {jax.devices()[0]}; {plan.planned} repeats x {args.epochs} epochs, "
          f"chunks of {args.chunk}")  # fmt: skip
    with tempfile.TemporaryDirectory() as warmup:
        fill(Path(warmup), plan, args.chunk, InProcess())  # fills the compilation cache
    runner._COMPILED.clear()  # as a new process finds it: the cache on disk, nothing in memory
    with tempfile.TemporaryDirectory() as local, tempfile.TemporaryDirectory() as remote:
        local_s, local_filled = fill(Path(local), plan, args.chunk, InProcess())
        started = time.perf_counter()
        with open_backend(workers=args.workers) as backend:
            backend.client.run(lambda: None)
            startup_s = time.perf_counter() - started
            remote_s, remote_filled = fill(Path(remote), plan, args.chunk, backend)
        same = rmse_bits(Path(local)) == rmse_bits(Path(remote))
    for label, seconds, filled in (
        ("in process", local_s, local_filled),
        (f"dask, {args.workers} workers", remote_s, remote_filled),
    ):
        t = filled.timings
        print(f"{label:<18} {seconds:7.2f} s  ({plan.planned / seconds:,.0f} repeats/s; "
              f"compile {t.compile_s:.2f} s summed, {t.cache_hits} programs from the cache)")  # fmt: skip
    print(f"cluster start-up {startup_s:.2f} s, not counted above")
    print(f"ratio in-process / dask: {local_s / remote_s:.2f}x; identical results: {same}")


if __name__ == "__main__":
    main()
