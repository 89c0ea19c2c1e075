"""Every repeat's RMSE on this machine's default device beside the CPU's, on a sample of
series (issue 16, target 5: a GPU's per-repeat RMSEs agree with a CPU's to 1e-5 relative),
with each run's wall, compile and training time.

    python benchmarks/device_agreement.py [--data m3/monthly] [--sample 20] [--repeats 5]
                                          [--epochs 1000] [--tolerance 1e-5]

Two fresh processes run the same `statelab generalise` (the CLI, `--quiet`), each into a new
store with a new, empty compilation cache: one on JAX's default device (a GPU where JAX has
one), one with JAX_PLATFORMS=cpu. The two stores are then compared repeat by repeat
(experiment, series, repeat): the largest and median relative RMSE difference, how many
repeats differ by more than the tolerance, and any repeat that failed on one device only.
Each store names the device that ran it. On a machine without an accelerator both runs use
the CPU, and every RMSE must be the same bits (the engine's results do not depend on the
process that ran them). On a GPU machine, run it through benchmarks/gpu_check.sh.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
from pathlib import Path

from cold_start import cold_generalise

HERE = Path(__file__).resolve().parent


def one_run(args: argparse.Namespace, out: Path, cpu: bool) -> dict:
    """One `statelab generalise` in a fresh process: its timings and the device it ran on."""
    options = ["--data", args.data, "--sample", str(args.sample), "--repeats",
               str(args.repeats), "--epochs", str(args.epochs)]  # fmt: skip
    figures = cold_generalise(options, out, {"JAX_PLATFORMS": "cpu"} if cpu else {})
    with sqlite3.connect(out / "statelab.sqlite") as store:
        devices = sorted(d for (d,) in store.execute("SELECT DISTINCT device FROM provenance"))
    return {"device": ", ".join(devices), "wall s": figures["wall s"],
            "filling s": figures["training and storing s"],
            "compile s": figures["compile s"], "run s": figures["run s"]}  # fmt: skip


def stored_rmse(out: Path) -> dict[tuple[str, str, int], float | None]:
    """(experiment, series, repeat) -> RMSE (None where the repeat failed)."""
    with sqlite3.connect(out / "statelab.sqlite") as store:
        rows = store.execute("SELECT experiment, series, repeat, status, rmse FROM repeats")
        return {(e, s, r): (v if status == "ok" else None) for e, s, r, status, v in rows}


def compare(here: dict, cpu: dict, tolerance: float) -> dict:
    """Relative differences of the RMSEs of the repeats both runs hold."""
    if here.keys() != cpu.keys():
        raise SystemExit(f"the runs hold other repeats: {len(here)} and {len(cpu)}")
    differences, one_side = [], 0
    for key, value in here.items():
        other = cpu[key]
        if (value is None) != (other is None):
            one_side += 1
        elif value is not None:
            differences.append(abs(value - other) / abs(other) if other else abs(value))
    return {"repeats": len(here), "compared": len(differences),
            "largest": max(differences, default=0.0),
            "median": statistics.median(differences) if differences else 0.0,
            "over": sum(d > tolerance for d in differences), "failed on one only": one_side,
            "same bits": sum(d == 0.0 for d in differences)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="m3/monthly")
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    if min(args.sample, args.repeats, args.epochs) < 1 or args.tolerance <= 0:
        parser.error("--sample, --repeats and --epochs must be at least 1, --tolerance above 0")
    print(f"statelab generalise --data {args.data} --sample {args.sample} --repeats "
          f"{args.repeats} --epochs {args.epochs}: default device beside JAX_PLATFORMS=cpu, "
          f"each from an empty compilation cache")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        runs = {name: one_run(args, Path(folder) / name, cpu=name == "cpu")
                for name in ("default", "cpu")}  # fmt: skip
        found = compare(*(stored_rmse(Path(folder) / name) for name in runs), args.tolerance)
    columns = [c for c in runs["default"] if c != "device"]
    print(f"{'run':>8} | {'device':<24} | " + " | ".join(f"{c:>10}" for c in columns))
    for name, run in runs.items():
        cells = " | ".join(f"{run[c]:10.1f}" for c in columns)
        print(f"{name:>8} | {run['device'][:24]:<24} | {cells}")
    print(
        f"default / cpu, filling: {runs['default']['filling s'] / runs['cpu']['filling s']:.2f}"
        f"; compiling: {runs['default']['compile s'] / max(runs['cpu']['compile s'], 1e-9):.2f}"
    )
    print(f"RMSE, relative difference over {found['compared']:,} repeats both ran "
          f"({found['repeats']:,} in all): largest {found['largest']:.2e}, median "
          f"{found['median']:.2e}; {found['over']} over {args.tolerance:g}; "
          f"{found['same bits']:,} the same bits; {found['failed on one only']} failed on one "
          f"device only")  # fmt: skip


if __name__ == "__main__":
    main()
