"""The engine's speed at neurons 1, 4, 8, 16 and 32: ms per 1000-epoch repeat of the study's
`stateful` experiment, the FLOPs that counts and the rate achieved, beside this machine's own
float32 matmul rate measured in the same run, and an earlier engine timed beside this one.

    python benchmarks/engine_speed.py [--before REV | --before none] [--rounds 3] [--quick]
                                      [--neurons 1 4 ...]
                                      [--keras-epochs N]

Each engine runs in a process of its own with its source first on PYTHONPATH: this tree's,
and REV's (default BEFORE, the engine before issue 16), checked out into a temporary git
worktree that is removed afterwards. Every case is one `statelab.run` of 1000 repeats (and
one of a single repeat at neurons 1). Its first call compiles and runs; compile seconds are
the first call less the best of the warm calls, so a compile longer than the run is still
timed apart. The engines' warm calls take turns, so that a change in the machine's load
falls on both alike. Neurons 1 runs the full 1000 epochs; larger networks run fewer epochs
(the table says how many) and their time is scaled to 1000, which slightly overstates it
(setting up the lanes and the forecast are scaled with it).

Then Adam's floor: this tree's Adam update alone (statelab.engine.optim), timed in its
engine's process, estimates the least time a repeat of P weights a lane can take with Keras's
Adam in float32 on this machine as XLA compiles it, and so the most GFLOP/s the repeat's FLOPs
can reach.

On a shared machine the absolute figures move with the load: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

EPOCHS = 1000  # what every figure is scaled to
STEPS = 22  # the stateful preset: 22 training rows, batch size 1
LAGS, BATCH = 1, 1
BEFORE = "d77c160"  # the last commit before issue 16's engine work
ELEVEN = "the eleven, together"  # a Case's preset: the eleven in one run, as generalise runs them


class Case(NamedTuple):
    neurons: int
    repeats: int
    epochs: int  # run; scaled to EPOCHS
    preset: str = "stateful"
    data: str | None = None  # statelab.run's data (None: Shampoo Sales)
    window: int | None = None  # batch size = training window (the batch-12 pair at a horizon)


CASES = (Case(1, 1, 1000), Case(1, 1000, 1000), Case(4, 1000, 100), Case(8, 1000, 50),
         Case(16, 1000, 20), Case(32, 1000, 10))  # fmt: skip
QUICK = tuple(c._replace(repeats=min(c.repeats, 200), epochs=max(1, c.epochs // 5)) for c in CASES)

FORMULA = """FLOPs counted per training step and lane (b rows, L lags, n units; a multiply-add is 2,
every other arithmetic op or transcendental 1; P = 4n(L + n + 1) + n + 1 parameters):
  forward   b (8n(L + n) + 13n + 3)    gates x W + h U + bias, 3 sigmoids, 2 tanh, cell, dense, loss
  backward  b (8n(L + n) + 24n + 4)    gradient of the gates, of W, U, bias and of the dense layer
  Adam      13 P                       two moments, sqrt, epsilon, step size, update"""


def step_flops(neurons: int, lags: int = LAGS, batch: int = BATCH) -> tuple[int, int, int]:
    """(forward, backward, Adam) FLOPs of one training step of one lane, as FORMULA says."""
    n = neurons
    return (batch * (8 * n * (lags + n) + 13 * n + 3), batch * (8 * n * (lags + n) + 24 * n + 4),
            13 * parameters(neurons, lags))  # fmt: skip


def repeat_flops(neurons: int) -> int:
    """FLOPs of one 1000-epoch repeat."""
    return sum(step_flops(neurons)) * STEPS * EPOCHS


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def adam_ns(weights: int = 16, lanes: int = 256, steps: int = 20_000, tries: int = 5) -> float:
    """Nanoseconds a weight and lane of one step of the engine's own Adam update alone takes
    on one core (statelab.engine.optim.keras_adam: two moments, the bias correction, a square
    root and a division a weight), in one compiled loop over arrays that stay in the core's
    cache (three of 16 KiB), lanes contiguous as the engine has them: an estimate of the
    least an engine running Keras's Adam in float32, as XLA compiles it, spends per weight and
    lane-step here (a hand-written kernel might do somewhat better; the gradient's stand-in
    adds one multiply a weight)."""
    import jax
    import jax.numpy as jnp

    from statelab.engine.optim import keras_adam

    adam = keras_adam(jnp.full(lanes, 1e-3, jnp.float32))

    def step(_, carry):
        weights_now, state = carry
        updates, state = adam.update(weights_now * 1e-3, state)  # a gradient that moves
        return weights_now + updates, state

    start = jnp.linspace(0.5, 1.5, weights * lanes, dtype=jnp.float32).reshape(weights, lanes)
    loop = jax.jit(lambda carry: jax.lax.fori_loop(0, steps, step, carry))
    carry = (start, adam.init(start))
    jax.block_until_ready(loop(carry))
    best = min(_seconds(lambda: jax.block_until_ready(loop(carry))) for _ in range(tries))
    return best / (steps * weights * lanes) * 1e9


def matmul_gflops(size: int = 2048, tries: int = 5) -> dict[str, float]:
    """This machine's float32 matmul rate, every core, by NumPy's BLAS and by JAX: the best of
    a few tries of a (size x size) product, large enough to run at the BLAS's full speed."""
    import jax
    import jax.numpy as jnp

    a = np.random.default_rng(0).standard_normal((size, size), np.float32)
    product, on_device = jax.jit(jnp.matmul), jax.device_put(a)
    jax.block_until_ready(product(on_device, on_device))
    calls = {"numpy": lambda: a @ a,
             "jax": lambda: jax.block_until_ready(product(on_device, on_device))}  # fmt: skip
    return {name: 2 * size**3 / min(_seconds(call) for _ in range(tries)) / 1e9
            for name, call in calls.items()}  # fmt: skip


def serve() -> None:
    """The child process: for each case read from stdin, time one `statelab.run` of it (the
    statelab first on sys.path) and print its wall seconds as one JSON line. Also the child
    of benchmarks/preset_speed.py."""
    import jax

    import statelab

    print(json.dumps(str(jax.devices()[0])), flush=True)
    for line in sys.stdin:
        if json.loads(line) == "adam":
            print(json.dumps(adam_ns()), flush=True)
            continue
        case = Case(*json.loads(line))
        if case.preset == ELEVEN:
            print(json.dumps(_seconds(_eleven(case))), flush=True)
            continue
        window = {} if case.window is None else {"batch_size": case.window,
                                                  "train_window": case.window}  # fmt: skip
        seconds = _seconds(lambda c=case, w=window: statelab.run(
            c.preset, data=c.data, repeats=c.repeats, epochs=c.epochs, neurons=c.neurons, **w
        ))  # fmt: skip
        print(json.dumps(seconds), flush=True)


def _eleven(case: Case):
    """One `statelab.run_experiments` of the study's eleven experiments on the case's series,
    each at the series' horizon as `generalise` runs them (one chunk's work on one series)."""
    import statelab
    from statelab.data import catalog
    from statelab.studies.generalise import at_horizon

    selection = catalog.select(case.data or "shampoo")
    series, horizon = selection.series[0], selection.test_size[0]
    experiments = [
        statelab.Experiment(name, at_horizon(
            name, preset.spec.replace(epochs=case.epochs, neurons=case.neurons), horizon))
        for name, preset in statelab.PRESETS.items()
    ]  # fmt: skip
    return lambda: statelab.run_experiments(experiments, series, repeats=case.repeats)


class Engine:
    """A child process running :func:`serve` with ``source`` (a src folder) as its statelab."""

    def __init__(self, source: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(source), STATELAB_COMPILATION_CACHE="0")
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.device = self._answer()

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"an engine's process ended early (exit {self.process.wait()})")
        return json.loads(line)

    def seconds(self, case: Case) -> float:
        self.process.stdin.write(json.dumps(list(case)) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def adam_ns(self) -> float:
        """:func:`adam_ns` in this engine's process (its XLA options, its optimizer)."""
        self.process.stdin.write(json.dumps("adam") + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


class Timed(NamedTuple):
    compile_s: float  # the first call less the best warm one
    run_s: float  # the best warm call


def ms_per_repeat(case: Case, timed: Timed) -> float:
    """Milliseconds per EPOCHS-epoch repeat, scaled from the epochs the case ran."""
    return timed.run_s / case.repeats * EPOCHS / case.epochs * 1e3


def measure(engines: dict[str, Engine], case: Case, rounds: int) -> dict[str, Timed]:
    """One case on every engine: a first call each, then ``rounds`` warm calls taking turns."""
    first = {name: engine.seconds(case) for name, engine in engines.items()}
    warm: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            warm[name].append(engine.seconds(case))
    return {name: Timed(first[name] - min(warm[name]), min(warm[name])) for name in engines}


def worktree(revision: str, folder: Path) -> Path:
    """A checkout of ``revision`` of this repository in ``folder``: its src folder."""
    repository = Path(__file__).resolve().parent.parent
    subprocess.run(["git", "-C", str(repository), "worktree", "add", "--detach", "--quiet",
                    str(folder), revision], check=True)  # fmt: skip
    return folder / "src"


@contextlib.contextmanager
def sources(before: str):
    """The src folders to time, by name: ``before``'s (a git revision, checked out into a
    temporary worktree that is removed afterwards; none: left out), then this tree's as "now"."""
    here = Path(__file__).resolve().parent.parent / "src"
    with tempfile.TemporaryDirectory(prefix="statelab-before-") as folder:
        if before.lower() == "none":
            yield {"now": here}
            return
        tree = Path(folder) / "tree"
        try:
            yield {before: worktree(before, tree), "now": here}
        finally:
            subprocess.run(["git", "-C", str(here.parent), "worktree", "remove", "--force",
                            str(tree)], check=False)  # fmt: skip


@contextlib.contextmanager
def running(before: str):
    """The engines to time (see :func:`sources`), each in a process of its own."""
    with sources(before) as folders:
        engines: dict[str, Engine] = {}
        try:
            for name, folder in folders.items():
                engines[name] = Engine(folder)
            yield engines
        finally:
            for engine in engines.values():
                engine.close()


def keras_seconds(epochs: int) -> dict | None:
    """The study's own Keras loop (TensorFlow) for one repeat, in a process of its own."""
    script = Path(__file__).with_name("keras_study_loop.py")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.run(
        [sys.executable, str(script), str(epochs)], capture_output=True, text=True, env=env
    )
    if process.returncode != 0:
        print(f"Keras loop not run: {process.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(process.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def row(case: Case, timed: dict[str, Timed], matmul: float) -> str:
    """One case's line of the table: per engine compile s, ms a repeat, GFLOP/s, % of matmul;
    then, with two engines, the first's time over the second's."""
    cells, times = [f"{case.neurons:>7} {case.repeats:>7} {case.epochs:>6} "
                    f"{repeat_flops(case.neurons) / 1e6:>9.1f}"], []  # fmt: skip
    for one in timed.values():
        ms = ms_per_repeat(case, one)
        rate = repeat_flops(case.neurons) / (ms / 1e3) / 1e9
        times.append(ms)
        cells.append(f"{one.compile_s:>10.2f} {ms:>9.3f} {rate:>7.2f} {100 * rate / matmul:>5.1f}")
    if len(times) == 2:
        cells.append(f"{times[0] / times[1]:>7.2f}x")
    return " | ".join(cells)


def parameters(neurons: int, lags: int = LAGS) -> int:
    """Weights of one lane's network, as FORMULA counts them (P)."""
    return 4 * neurons * (lags + neurons + 1) + neurons + 1


def adam_floor(case: Case, ns: float, cores: int) -> tuple[float, float]:
    """Adam's floor for a case of many repeats: the ms a repeat that Adam alone takes at ``ns``
    a weight and lane-step, its lanes shared by ``cores`` cores, and the GFLOP/s the repeat's FLOPs would
    reach in that time (a ceiling on the engine's rate)."""
    ms = parameters(case.neurons) * ns * STEPS * EPOCHS / cores / 1e6
    return ms, repeat_flops(case.neurons) / (ms / 1e3) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision to time beside, or none")
    parser.add_argument("--rounds", type=int, default=3, help="warm calls per case and engine")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and epochs")
    parser.add_argument("--neurons", type=int, nargs="*", help="only these sizes")
    parser.add_argument("--keras-epochs", type=int, default=0, help="also time Keras's loop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # a child
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    cases = [
        c for c in (QUICK if args.quick else CASES) if c.neurons in (args.neurons or [c.neurons])
    ]
    print(f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores")
    print(FORMULA)
    print("FLOP per step and lane (forward, backward, Adam):",
          ", ".join(f"n={n}: {step_flops(n)}" for n in sorted({c.neurons for c in cases})))  # fmt: skip
    rates = [matmul_gflops()]
    timed: list[dict[str, Timed]] = []
    with running(args.before) as engines:
        timed = [measure(engines, case, args.rounds) for case in cases]
        adam = engines["now"].adam_ns()
    rates.append(matmul_gflops())
    matmul = max(max(r.values()) for r in rates)
    print("devices: " + ", ".join(f"{name} {e.device}" for name, e in engines.items()))
    print("float32 matmul GFLOP/s, every core (before the engines; after): " + "; ".join(
        ", ".join(f"{k} {v:.1f}" for k, v in r.items()) for r in rates))  # fmt: skip
    print(f"% mm: the engine's GFLOP/s over the best of these, {matmul:.1f}")
    print(
        f"ms/repeat: per {EPOCHS}-epoch repeat ({STEPS} steps an epoch), the best of "
        f"{args.rounds} warm calls, scaled from the epochs run; compile s: first call less that"
    )
    columns = f"{'compile s':>10} {'ms/repeat':>9} {'GFLOP/s':>7} {'% mm':>5}"
    print(" " * 32 + "".join(f" | {name[:34]:<34}" for name in engines))
    print(f"{'neurons':>7} {'repeats':>7} {'epochs':>6} {'MFLOP/rep':>9}"
          + f" | {columns}" * len(engines) + (" | speed-up" if len(engines) == 2 else ""))  # fmt: skip
    for case, one in zip(cases, timed, strict=True):
        print(row(case, one, matmul))
    cores = len(os.sched_getaffinity(0))
    print(f"\nAdam's floor (an estimate): this tree's Adam update alone (13 FLOPs a weight, with a square root "
          f"and a division) took {adam:.3f} ns a weight and lane-step on one core, vectorised, "
          f"in cache; for P weights a lane, a repeat needs at least P x that x {STEPS * EPOCHS} "
          f"steps, over {cores} cores (a single repeat is bound by the step's latency instead, "
          f"and left out):")  # fmt: skip
    print(f"{'neurons':>7} {'repeats':>7} {'P':>6} | {'floor ms':>9} {'GFLOP/s at most':>15} "
          f"{'% mm':>5} | {'now ms':>9} {'now / floor':>11}")  # fmt: skip
    for case, one in zip(cases, timed, strict=True):
        if case.repeats < 100:
            continue
        floor_ms, ceiling = adam_floor(case, adam, cores)
        now = ms_per_repeat(case, one["now"])
        print(f"{case.neurons:>7} {case.repeats:>7} {parameters(case.neurons):>6} | "
              f"{floor_ms:>9.3f} {ceiling:>15.1f} {100 * ceiling / matmul:>5.1f} | "
              f"{now:>9.3f} {now / floor_ms:>10.1f}x")  # fmt: skip
    if args.keras_epochs:
        keras = keras_seconds(args.keras_epochs)
        if keras is not None:
            per_1000 = keras["seconds"] * EPOCHS / keras["epochs"]
            print(f"Keras {keras['keras']} (TensorFlow) study loop, one repeat: {per_1000:.1f} s "
                  f"per {EPOCHS} epochs (measured {keras['epochs']})")  # fmt: skip


if __name__ == "__main__":
    main()
