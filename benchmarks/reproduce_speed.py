"""The whole study end to end, timed from CLI start to the last file written.

    python benchmarks/reproduce_speed.py [--repeats 10 500 1000]

Runs `statelab reproduce` into a fresh folder (a new store) in a fresh process per repeat
count and prints the wall time beside the compile and run seconds the command reports.
At 10 repeats the A-vs-A pool is off (`--pool 0`: the original study); otherwise the
pool is the default 1000 repeats of `stateful`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDY_KERAS_MINUTES_FOR_10 = 75  # the study's own Keras code, as its author reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, nargs="*", default=[10, 500, 1000])
    args = parser.parse_args()
    print(f"{'repeats':>8} {'pool':>5} {'wall s':>8} {'compile s':>10} {'run s':>8} {'files':>6}")
    for repeats in args.repeats:
        pool = 0 if repeats <= 10 else 1000
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            process = subprocess.run(
                [sys.executable, "-m", "statelab", "reproduce", "--repeats", str(repeats),
                 "--pool", str(pool), "--out", out, "--quiet"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            wall = time.perf_counter() - started
            files = len(list(Path(out).iterdir()))
        timing = re.search(r"compile ([\d.]+) s, run ([\d.]+) s", process.stdout)
        compile_s, run_s = (float(timing[1]), float(timing[2])) if timing else (float("nan"),) * 2
        print(f"{repeats:>8} {pool:>5} {wall:>8.2f} {compile_s:>10.2f} {run_s:>8.2f} {files:>6}")
        if repeats == 10:
            ratio = STUDY_KERAS_MINUTES_FOR_10 * 60 / wall
            print(
                f"         vs the study's ~{STUDY_KERAS_MINUTES_FOR_10} min in Keras: {ratio:,.0f}x"
            )


if __name__ == "__main__":
    main()
