"""The results store, before and after: repeats written and read per second and bytes per
repeat, for the first release's layout (JSON text, weights and loss curves in every row,
synchronous NORMAL) and today's (float32 BLOBs, weights and curves only with --keep,
synchronous FULL), side by side in one run, beside the engine's own speed; and today's with a
constant in place of each row's checksum, to show what the checksums cost. Each figure is the
fastest of --rounds fresh stores, the layouts taking turns in each round, so that other
programs on the machine count for less.

    python benchmarks/store_speed.py [--repeats 1000] [--epochs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import jax

import statelab
from statelab.execution.store import FILENAME, Store, parse_keep
from statelab.execution.store_schema import StoredRepeat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from first_release import read_first_layout, write_first_layout  # noqa: E402


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(FILENAME))


Measure = Callable[[], tuple[float, float, int]]  # seconds writing, seconds reading, bytes


def fastest(measures: dict[str, Measure], rounds: int) -> dict[str, tuple[float, float, int]]:
    """Each measure's fastest write and fastest read of ``rounds`` rounds, and its size."""
    runs: dict[str, list] = {label: [] for label in measures}
    for _ in range(rounds):
        for label, measure in measures.items():
            runs[label].append(measure())
    return {label: (min(r[0] for r in got), min(r[1] for r in got), got[0][2])
            for label, got in runs.items()}  # fmt: skip


def unchecked():
    """Today's store with a constant in place of each row's checksum, unchecked on reading."""
    return mock.patch.multiple(
        "statelab.execution.store",
        sealed=lambda row: (*row, bytes(8)),
        unsealed=lambda values: StoredRepeat(*values[:-1]),
    )


def today(result, keep: str | None, checksums: bool = True) -> tuple[float, float, int]:
    with (
        nullcontext() if checksums else unchecked(),
        tempfile.TemporaryDirectory() as folder,
        Store(Path(folder)) as store,
    ):
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
    print(f"device: {jax.devices()[0]}; {n} repeats x {args.epochs} epochs (stateful preset); "
          f"engine {n / engine_s:,.0f} repeats/s")  # fmt: skip
    print(
        f"{'layout':<34} {'write/s':>9} {'read/s':>9} {'bytes/repeat':>13} {'write % engine':>15}"
    )
    rows = fastest({
        "first release (JSON, all kept)": lambda: first_release(result),
        "today (default)": lambda: today(result, None),
        "today (--keep weights,loss)": lambda: today(result, "weights,loss"),
        "today, no checksums (default)": lambda: today(result, None, checksums=False),
    }, args.rounds)  # fmt: skip
    for label, (write_s, read_s, size) in rows.items():
        print(f"{label:<34} {n / write_s:>9,.0f} {n / read_s:>9,.0f} {size / n:>13,.0f} "
              f"{100 * write_s / engine_s:>14.1f}%")  # fmt: skip
    before, after = rows["first release (JSON, all kept)"], rows["today (default)"]
    print(
        f"today vs the first release: writes {before[0] / after[0]:.1f}x faster, "
        f"reads {before[1] / after[1]:.1f}x faster, {before[2] / after[2]:.0f}x smaller"
    )
    bare = rows["today, no checksums (default)"]
    print(
        f"the checksums cost {1e6 * (after[0] - bare[0]) / n:.1f} us a row written "
        f"({bare[0] / after[0]:.2f}x the speed) and {1e6 * (after[1] - bare[1]) / n:.1f} us a "
        f"row read ({bare[1] / after[1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
