"""The results store's overhead: repeats written and read per second, beside the time the
engine took to produce them.

    python benchmarks/store_speed.py [--repeats 1000] [--epochs 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import statelab
from statelab.store import Store, data_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    statelab.run("stateful", repeats=args.repeats, epochs=args.epochs)  # compile
    started = time.perf_counter()
    result = statelab.run("stateful", repeats=args.repeats, epochs=args.epochs)
    engine_s = time.perf_counter() - started
    data = data_hash(statelab.shampoo())
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder)) as store:
        started = time.perf_counter()
        store.add([result], data)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        store.load("stateful", result.spec, result.dataset, data, result.seed,
                   np.arange(args.repeats), result.persistence_rmse)  # fmt: skip
        read_s = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
    n = args.repeats
    print(f"{n} repeats x {args.epochs} epochs (stateful preset)")
    print(f"engine:       {engine_s:8.3f} s  ({n / engine_s:,.0f} repeats/s)")
    print(f"store write:  {write_s:8.3f} s  ({n / write_s:,.0f} repeats/s, one transaction)")
    print(f"store read:   {read_s:8.3f} s  ({n / read_s:,.0f} repeats/s)")
    print(f"store size:   {size / n / 1024:8.1f} KiB per repeat")
    print(f"overhead: writing adds {100 * write_s / engine_s:.1f}% to the engine's time")


if __name__ == "__main__":
    main()
