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
falls on both alike. Neurons 1 runs the full 1000 epochs. Larger networks run fewer epochs
(the table says how many), and again three times as many: the difference is the time of
the epochs, the rest what a run costs once (setting up the lanes, the forecast, the
results), and a repeat's time is extrapolated to 1000 epochs with that part counted once.
(Scaling a short run's whole time, as this script did before b9ee597, counted that part 10
to 100 times, and its runs of one epoch block were slower a step: LSTM(16) at 19.2 ms a
repeat, where the same engine takes 12.8.)

Then two floors, each timed in this tree's engine's process. Adam's: this tree's Adam update
alone (statelab.engine.optim) estimates the least time a repeat of P weights a lane can take
with Keras's Adam in float32 on this machine as XLA compiles it, and so the most GFLOP/s the
repeat's FLOPs can reach. The divider's: Keras's Adam takes one square root and one division
a weight and step, correctly rounded, which the CPU's instructions compute in its divider
(vsqrtps and vdivps on x86); that pair alone, timed the same way, bounds any engine that
computes Keras's Adam with those instructions, as XLA and TensorFlow do. (A correctly rounded
division built from a refined reciprocal and a final correction, as CUDA computes it, could
go below it with the same bits; it needs a fused multiply-add, which JAX does not expose.)

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
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

EPOCHS = 1000  # what every figure is given at
STEPS = 22  # the stateful preset: 22 training rows, batch size 1
LAGS, BATCH = 1, 1
BEFORE = "d77c160"  # the last commit before issue 16's engine work
ELEVEN = "the eleven, together"  # a Case's preset: the eleven in one run, as generalise runs them


class Case(NamedTuple):
    neurons: int
    repeats: int
    epochs: int  # run, and 3x unless EPOCHS (see epochs_run), extrapolated to EPOCHS
    preset: str = "stateful"
    data: str | None = None  # statelab.run's data (None: Shampoo Sales)
    window: int | None = None  # batch size = training window (the batch-12 pair at a horizon)


# Other epochs than 1000 are extrapolated from two runs (see measure), each of two epoch blocks
# of two epochs or more in every engine (60 = 2 x 30, 180 = 4 x 45, 100 = 2 x 50, 300 = 6 x 50):
# a call of one block, or of blocks of one epoch, runs slower a step
# (statelab.engine.lstm.epoch_block) and would bend the line.
CASES = (Case(1, 1, 1000), Case(1, 1000, 1000), Case(4, 1000, 100), Case(8, 1000, 60),
         Case(16, 1000, 60), Case(32, 1000, 60))  # fmt: skip
# Quick: fewer repeats; the epochs stay, so that an extrapolation's two runs differ by more than
# the noise.
QUICK = tuple(c._replace(repeats=min(c.repeats, 200)) for c in CASES)

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


def wall_seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


WEIGHTS, LANES, FLOOR_STEPS = 16, 256, 20_000  # a floor's loop: (16, 256) arrays, 16 KiB each


def _floor_ns(step, carry, tries: int = 5) -> float:
    """Nanoseconds a weight and lane of ``step`` (carry -> carry, over (WEIGHTS, LANES)
    float32 arrays, lanes contiguous as the engine has them) takes on one core, in one
    compiled loop of FLOOR_STEPS steps over arrays that stay in the core's cache."""
    import jax

    loop = jax.jit(lambda carry: jax.lax.fori_loop(0, FLOOR_STEPS, lambda _, c: step(c), carry))
    jax.block_until_ready(loop(carry))
    best = min(wall_seconds(lambda: jax.block_until_ready(loop(carry))) for _ in range(tries))
    return best / (FLOOR_STEPS * WEIGHTS * LANES) * 1e9


def _start():
    import jax.numpy as jnp

    return jnp.linspace(0.5, 1.5, WEIGHTS * LANES, dtype=jnp.float32).reshape(WEIGHTS, LANES)


def adam_ns() -> float:
    """Nanoseconds a weight and lane-step of the engine's own Adam update alone
    (statelab.engine.optim.keras_adam: two moments, the bias correction, a square root and a
    division a weight): an estimate of the least an engine running Keras's Adam in float32,
    as XLA compiles it, spends per weight and lane-step here (a hand-written kernel might do
    somewhat better; the gradient's stand-in adds one multiply a weight)."""
    import jax.numpy as jnp

    from statelab.engine.optim import keras_adam

    adam = keras_adam(jnp.full(LANES, 1e-3, jnp.float32))

    def step(carry):
        weights_now, state = carry
        updates, state = adam.update(weights_now * 1e-3, state)  # a gradient that moves
        return weights_now + updates, state

    return _floor_ns(step, (_start(), adam.init(_start())))


def divider_ns() -> float:
    """Nanoseconds a weight and lane-step of Keras's Adam's square root and division alone
    (``m / (sqrt(v) + eps)``, with a multiply and an add to keep the values moving), both
    correctly rounded float32 by the CPU's instructions, in its divider: a floor for any engine
    that computes Keras's Adam with them, on this machine."""
    import jax.numpy as jnp

    def step(carry):
        v, m = carry
        return v + 1e-3 * (m / (jnp.sqrt(v) + 1e-7)), m

    return _floor_ns(step, (_start(), _start() * 0.5))


FLOORS = {"adam": adam_ns, "divider": divider_ns}


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
    return {name: 2 * size**3 / min(wall_seconds(call) for _ in range(tries)) / 1e9
            for name, call in calls.items()}  # fmt: skip


def serve() -> None:
    """The child process: for each case read from stdin, time one `statelab.run` of it (the
    statelab first on sys.path) and print its wall seconds as one JSON line. Also the child
    of benchmarks/preset_speed.py."""
    import jax

    import statelab

    print(json.dumps(str(jax.devices()[0])), flush=True)
    for line in sys.stdin:
        asked = json.loads(line)
        if isinstance(asked, str):  # a floor's name
            print(json.dumps(FLOORS[asked]()), flush=True)
            continue
        case = Case(*asked)
        if case.preset == ELEVEN:
            print(json.dumps(wall_seconds(_eleven(case))), flush=True)
            continue
        window = {} if case.window is None else {"batch_size": case.window,
                                                  "train_window": case.window}  # fmt: skip
        seconds = wall_seconds(lambda c=case, w=window: statelab.run(
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

    def floor_ns(self, name: str) -> float:
        """One of the FLOORS in this engine's process (its XLA options, its optimizer)."""
        self.process.stdin.write(json.dumps(name) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


class Timed(NamedTuple):
    compile_s: float  # the first call less the best warm one
    run_s: float  # at EPOCHS epochs: the best warm call, or extrapolated from two (see measure)
    once_s: float  # of that, what the run costs once, whatever its epochs (0: not known)


def ms_per_repeat(case: Case, timed: Timed) -> float:
    """Milliseconds per EPOCHS-epoch repeat."""
    return timed.run_s / case.repeats * 1e3


def _best(engines: dict[str, Engine], case: Case, rounds: int) -> dict[str, Timed]:
    """One case as it is on every engine: a first call each, then ``rounds`` warm calls
    taking turns."""
    first = {name: engine.seconds(case) for name, engine in engines.items()}
    warm: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            warm[name].append(engine.seconds(case))
    return {name: Timed(first[name] - min(warm[name]), min(warm[name]), 0.0) for name in engines}


def epochs_run(epochs: int) -> tuple[int, ...]:
    """The epochs a case of ``epochs`` runs: EPOCHS as it is; any other number, and three
    times as many, to extrapolate from (:func:`at_epochs`)."""
    return (epochs,) if epochs == EPOCHS else (epochs, 3 * epochs)


def at_epochs(epochs: int, seconds: Sequence[float]) -> tuple[float, float]:
    """A run's seconds at EPOCHS epochs, and the part of it that does not grow with epochs
    (0 where not known), from its best seconds at each of :func:`epochs_run`'s: the one run,
    or a straight line through the two."""
    if len(seconds) == 1:
        return seconds[0], 0.0
    short, long = seconds
    per_epoch = (long - short) / (2 * epochs)
    once = short - epochs * per_epoch
    return once + EPOCHS * per_epoch, once


def measure(engines: dict[str, Engine], case: Case, rounds: int) -> dict[str, Timed]:
    """One case on every engine, at EPOCHS epochs (:func:`epochs_run`, :func:`at_epochs`)."""
    timed = [_best(engines, case._replace(epochs=e), rounds) for e in epochs_run(case.epochs)]
    return {name: Timed(timed[0][name].compile_s,
                        *at_epochs(case.epochs, [one[name].run_s for one in timed]))
            for name in engines}  # fmt: skip


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


def epochs_label(case: Case) -> str:
    return ",".join(str(epochs) for epochs in epochs_run(case.epochs))


def row(case: Case, timed: dict[str, Timed], matmul: float) -> str:
    """One case's line of the table: per engine compile s, ms a repeat (and of it, the ms
    that a run costs once, shared by its repeats), GFLOP/s, % of matmul; then, with two
    engines, the first's time over the second's."""
    cells, times = [f"{case.neurons:>7} {case.repeats:>7} {epochs_label(case):>7} "
                    f"{repeat_flops(case.neurons) / 1e6:>9.1f}"], []  # fmt: skip
    for one in timed.values():
        ms = ms_per_repeat(case, one)
        once = f"{one.once_s / case.repeats * 1e3:>6.3f}" if case.epochs != EPOCHS else f"{'-':>6}"
        rate = repeat_flops(case.neurons) / (ms / 1e3) / 1e9
        times.append(ms)
        cells.append(f"{one.compile_s:>10.2f} {ms:>9.3f} {once} {rate:>7.2f} "
                     f"{100 * rate / matmul:>5.1f}")  # fmt: skip
    if len(times) == 2:
        cells.append(f"{times[0] / times[1]:>7.2f}x")
    return " | ".join(cells)


def parameters(neurons: int, lags: int = LAGS) -> int:
    """Weights of one lane's network, as FORMULA counts them (P)."""
    return 4 * neurons * (lags + neurons + 1) + neurons + 1


def floor(case: Case, ns: float, cores: int) -> tuple[float, float]:
    """A floor for a case of many repeats: the ms a repeat takes at ``ns`` a weight and
    lane-step, its lanes shared by ``cores`` cores, and the GFLOP/s the repeat's FLOPs would
    reach in that time (a ceiling on the engine's rate)."""
    ms = parameters(case.neurons) * ns * STEPS * EPOCHS / cores / 1e6
    return ms, repeat_flops(case.neurons) / (ms / 1e3) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision to time beside, or none")
    parser.add_argument("--rounds", type=int, default=3, help="warm calls per case and engine")
    parser.add_argument("--quick", action="store_true", help="200 repeats a case")
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
        floors = {name: engines["now"].floor_ns(name) for name in FLOORS}
    rates.append(matmul_gflops())
    matmul = max(max(r.values()) for r in rates)
    print("devices: " + ", ".join(f"{name} {e.device}" for name, e in engines.items()))
    print("float32 matmul GFLOP/s, every core (before the engines; after): " + "; ".join(
        ", ".join(f"{k} {v:.1f}" for k, v in r.items()) for r in rates))  # fmt: skip
    print(f"% mm: the engine's GFLOP/s over the best of these, {matmul:.1f}")
    print(
        f"ms/repeat: per {EPOCHS}-epoch repeat ({STEPS} steps an epoch), the best of "
        f"{args.rounds} warm calls; where two epoch counts ran, extrapolated from them, and "
        f"once: of that, the ms the run costs once whatever its epochs, a repeat's share; "
        f"compile s: first call less the best"
    )
    columns = f"{'compile s':>10} {'ms/repeat':>9} {'once':>6} {'GFLOP/s':>7} {'% mm':>5}"
    print(" " * 32 + "".join(f" | {name[:34]:<34}" for name in engines))
    print(f"{'neurons':>7} {'repeats':>7} {'epochs':>7} {'MFLOP/rep':>9}"
          + f" | {columns}" * len(engines) + (" | speed-up" if len(engines) == 2 else ""))  # fmt: skip
    for case, one in zip(cases, timed, strict=True):
        print(row(case, one, matmul))
    cores = len(os.sched_getaffinity(0))
    print(f"\nTwo floors, each timed on one core, vectorised, in cache, in ns a weight and "
          f"lane-step: Adam's (an estimate: this tree's Adam update alone, 13 FLOPs a weight) "
          f"{floors['adam']:.3f}; the divider's (Keras's Adam's square root and division alone, "
          f"correctly rounded float32 by the CPU's instructions, as XLA and TensorFlow compute "
          f"them) "
          f"{floors['divider']:.3f}. For P weights a lane, a repeat needs at least P x that x "
          f"{STEPS * EPOCHS} steps, over {cores} cores (a single repeat is bound by the step's "
          f"latency instead, and left out):")  # fmt: skip
    print(f"{'neurons':>7} {'repeats':>7} {'P':>6}" + "".join(
        f" | {name + ' ms':>11} {'GFLOP/s at most':>15} {'% mm':>5} {'now /':>6}"
        for name in floors))  # fmt: skip
    for case, one in zip(cases, timed, strict=True):
        if case.repeats < 100:
            continue
        now = ms_per_repeat(case, one["now"])
        cells = [f"{case.neurons:>7} {case.repeats:>7} {parameters(case.neurons):>6}"]
        for ns in floors.values():
            floor_ms, ceiling = floor(case, ns, cores)
            cells.append(f"{floor_ms:>11.3f} {ceiling:>15.1f} {100 * ceiling / matmul:>5.1f} "
                         f"{now / floor_ms:>5.1f}x")  # fmt: skip
        print(" | ".join(cells))
    print("(now /: this tree's ms a repeat over the floor's)")
    if args.keras_epochs:
        keras = keras_seconds(args.keras_epochs)
        if keras is not None:
            per_1000 = keras["seconds"] * EPOCHS / keras["epochs"]
            print(f"Keras {keras['keras']} (TensorFlow) study loop, one repeat: {per_1000:.1f} s "
                  f"per {EPOCHS} epochs (measured {keras['epochs']})")  # fmt: skip


if __name__ == "__main__":
    main()
