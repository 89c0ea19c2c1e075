"""The results store, before and after: repeats written and read per second and bytes per
repeat, for the first release's layout (JSON text, weights and loss curves in every row,
synchronous NORMAL) and today's (float32 BLOBs, weights and curves only with --keep,
synchronous FULL), side by side in one run, beside the engine's own speed. Each figure is the
fastest of --rounds fresh stores, so that other programs on the machine count for less.

    python benchmarks/store_speed.py [--repeats 1000] [--epochs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import statelab
from statelab.execution.store import FILENAME, Store, parse_keep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from first_release import read_first_layout, write_first_layout  # noqa: E402


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(FILENAME))


def fastest(measure, rounds: int) -> tuple[float, float, int]:
    """The fastest write and the fastest read of ``rounds`` measurements, and the size."""
    runs = [measure() for _ in range(rounds)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]


def today(result, keep: str | None) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder)) as store:
        started = time.perf_counter()
        store.add([result], parse_keep(keep))
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        store.load(result.name, result.spec, result.dataset, result.series, result.data_hash,
                   result.seed, result.repeats)  # fmt: skip
        read_s = time.perf_counter() - started
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return write_s, read_s, size_of(Path(folder))


def first_release(result) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILENAME
        started = time.perf_counter()
        write_first_layout(path, [result])
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        read_first_layout(path)
        read_s = time.perf_counter() - started
        return write_s, read_s, size_of(Path(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    statelab.run("stateful", repeats=args.repeats, epochs=args.epochs)  # compile
    started = time.perf_counter()
    result = statelab.run("stateful", repeats=args.repeats, epochs=args.epochs)
    engine_s = time.perf_counter() - started
    n = args.repeats
    print(f"{n} repeats x {args.epochs} epochs (stateful preset); "
          f"engine {n / engine_s:,.0f} repeats/s")  # fmt: skip
    print(
        f"{'layout':<34} {'write/s':>9} {'read/s':>9} {'bytes/repeat':>13} {'write % engine':>15}"
    )
    rows = {
        "first release (JSON, all kept)": fastest(lambda: first_release(result), args.rounds),
        "today (default)": fastest(lambda: today(result, None), args.rounds),
        "today (--keep weights,loss)": fastest(lambda: today(result, "weights,loss"), args.rounds),
    }
    for label, (write_s, read_s, size) in rows.items():
        print(f"{label:<34} {n / write_s:>9,.0f} {n / read_s:>9,.0f} {size / n:>13,.0f} "
              f"{100 * write_s / engine_s:>14.1f}%")  # fmt: skip
    before, after = rows["first release (JSON, all kept)"], rows["today (default)"]
    print(
        f"today vs the first release: writes {before[0] / after[0]:.1f}x faster, "
        f"reads {before[1] / after[1]:.1f}x faster, {before[2] / after[2]:.0f}x smaller"
    )


if __name__ == "__main__":
    main()
