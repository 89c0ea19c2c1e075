"""A Dask run on 2 local workers against the in-process run, same plan, same results.

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

import statelab
from statelab import study
from statelab.cluster import dask_client
from statelab.store import Store


def fill(folder: Path, plan, chunk: int, client=None) -> float:
    started = time.perf_counter()
    with Store(folder) as store:
        study.fill_store(store, statelab.shampoo(), plan, seed=1, chunk=chunk, client=client)
    return time.perf_counter() - started


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
    plan = study.plan(statelab.shampoo(), args.repeats, 0, {"epochs": args.epochs})
    lanes = sum(len(e.repeats) for e in plan)
    print(
        f"device: {jax.devices()[0]}; {lanes} repeats x {args.epochs} epochs, chunks of {args.chunk}"
    )
    with tempfile.TemporaryDirectory() as local, tempfile.TemporaryDirectory() as remote:
        local_s = fill(Path(local), plan, args.chunk)
        started = time.perf_counter()
        with dask_client(workers=args.workers) as client:
            client.run(lambda: None)
            startup_s = time.perf_counter() - started
            remote_s = fill(Path(remote), plan, args.chunk, client)
        same = rmse_bits(Path(local)) == rmse_bits(Path(remote))
    print(f"in-process:            {local_s:8.2f} s")
    print(
        f"dask, {args.workers} workers:       {remote_s:8.2f} s  (+ {startup_s:.2f} s cluster start)"
    )
    print(f"ratio in-process / dask: {local_s / remote_s:.2f}x; identical results: {same}")


if __name__ == "__main__":
    main()
