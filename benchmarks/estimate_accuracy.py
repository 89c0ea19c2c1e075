"""The --dry-run cost model (statelab.execution.plan.estimate) beside measured runs.

    python benchmarks/estimate_accuracy.py [--skip-calls] [--skip-runs]

First one experiment at a time, as benchmarks/engine_speed.py times it: the study's
`stateful` preset on Shampoo (22 training rows) at 1 to 32 units, one repeat and 1000
repeats, every core busy as the runner keeps them (calls side by side), after a warm-up call
(so nothing compiles): the wall time against the model's, in ms per 1000-epoch repeat (fewer
epochs run are extrapolated to 1000 from two runs, as engine_speed.measure does).

Then whole runs through the library call behind each command (fresh stores, the
compilation cache as it is): `generalise --sample 20 --repeats 5 --epochs 100`,
`generalise --sample 100 --repeats 10`, `generalise --sample 10 --repeats 4 --epochs 300
--vary neurons=1,4`, and `reproduce --repeats 10 --pool 0`, each with its estimate:
filling the store (wall, and this process's CPU seconds over the cores), the compile seconds
the runs report, and the estimate's ratio to each. On a shared machine the wall figures move
with the load; the CPU-time figure is this process's own work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_speed import CASES, EPOCHS, at_epochs, epochs_label, epochs_run, wall_seconds


def calls(rounds: int = 2) -> None:
    """One experiment's repeats, warm, against the model, at EPOCHS epochs: engine_speed's
    cases, measured as it measures them (fewer epochs extrapolated from two runs)."""
    import statelab
    from statelab.execution import plan as plan_module
    from statelab.execution import runner

    def planned(neurons: int, repeats: int, epochs: int):
        spec = statelab.PRESETS["stateful"].spec.replace(epochs=epochs, neurons=neurons)
        return plan_module.make_plan([("stateful", spec, repeats)], [statelab.shampoo()], [12],
                                     seed=1)  # fmt: skip

    def best(neurons: int, repeats: int, epochs: int) -> float:
        tasks = planned(neurons, repeats, epochs).tasks
        runner.run_tasks(tasks)  # compile and warm
        return min(wall_seconds(lambda: runner.run_tasks(tasks)) for _ in range(rounds))

    print("| units | repeats | epochs run | measured ms a repeat | model ms | model / measured |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        wall, _ = at_epochs(case.epochs, [best(case.neurons, case.repeats, epochs)
                                          for epochs in epochs_run(case.epochs)])  # fmt: skip
        found = plan_module.estimate(planned(case.neurons, case.repeats, EPOCHS),
                                     chunk=case.repeats)  # fmt: skip
        measured, model = (
            s / case.repeats * 1e3 for s in (wall, found.seconds - found.compile_seconds)
        )
        print(f"| {case.neurons} | {case.repeats} | {epochs_label(case)} | {measured:.2f} | "
              f"{model:.2f} | {model / measured:.2f} |")  # fmt: skip


def runs(cores: int) -> None:
    """Whole runs, each beside its estimate."""
    import statelab
    from statelab.execution.pipeline import Execution

    collection = statelab.GeneraliseSettings(sample=20, repeats=5,
                                             setup=statelab.Setup(epochs=100))  # fmt: skip
    varied = statelab.VarySettings(
        statelab.GeneraliseSettings(sample=10, repeats=4, setup=statelab.Setup(epochs=300)),
        {"neurons": [1, 4]},
    )
    study = statelab.StudySettings(repeats=10, pool=0)
    longer = statelab.GeneraliseSettings(sample=100, repeats=10)
    cases = (
        ("generalise --sample 20 --repeats 5 --epochs 100", collection, statelab.generalise),
        ("generalise --sample 100 --repeats 10", longer, statelab.generalise),
        ("generalise --sample 10 --repeats 4 --epochs 300 --vary neurons=1,4", varied,
         statelab.vary),
        ("reproduce --repeats 10 --pool 0", study, statelab.reproduce),
    )  # fmt: skip
    print("\n| command | networks | estimate s (compiling) | filling s | CPU s / cores | "
          "compile s | estimate / filling | estimate / CPU per core |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for title, settings, call in cases:
        found = statelab.estimate(settings, Execution())
        with tempfile.TemporaryDirectory(prefix="statelab-estimate-") as out:
            started = time.process_time()
            outcome = call(settings, out=Path(out))
            cpu = time.process_time() - started
        filled = outcome.fill_s
        print(f"| {title} | {found.networks:,} | {found.seconds:.1f} ({found.compile_seconds:.1f}) "
              f"| {filled:.1f} | {cpu / cores:.1f} | {outcome.filled.timings.compile_s:.1f} | "
              f"{found.seconds / filled:.2f} | {found.seconds / (cpu / cores):.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    options = parser.parse_args()
    if not (options.skip_calls or options.skip_runs):  # each part in a process of its own
        for part in ("--skip-runs", "--skip-calls"):  # (the first's programs stay out of it)
            subprocess.run([sys.executable, __file__, part], check=True)
        return
    import jax

    import statelab  # noqa: F401  (before any JAX call: its XLA options apply only before)

    cores = len(os.sched_getaffinity(0))
    print(f"device: {jax.devices()[0]}; {cores} cores; load average {os.getloadavg()[0]:.1f} "
          "at the start")  # fmt: skip
    if not options.skip_calls:
        calls()
    if not options.skip_runs:
        runs(cores)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
