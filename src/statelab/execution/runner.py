"""Tasks (an experiment's repeats on one series) -> engine lanes -> results.

Lanes whose shapes agree (and whose epoch counts agree) run in one compiled, vectorised
program, whatever experiment or series they belong to, in calls of as many lanes as the
device wants (statelab.execution.calls), side by side on a CPU's cores; the loop here is
over such calls and over segments of epochs (for progress), never over repeats or steps.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from statelab.data.dataset import Dataset, prepare
from statelab.data.series import data_hash
from statelab.engine import lstm as engine
from statelab.errors import StatelabError
from statelab.execution import cache, interrupts
from statelab.execution.calls import (
    FEW_LANES,
    CallSizes,
    Device,
    call_count,
    call_size,
    padded_lanes,
    this_device,
)
from statelab.execution.evaluate import mase, persistence_rmse, rmse
from statelab.execution.results import Provenance, Results, Timings, code_version, versions
from statelab.spec import Spec, check_seed

WEIGHT_NAMES = engine.LSTMWeights._fields
# The most repeats one call takes: lanes cost memory up front, so a typo is refused first.
MAX_REPEATS = 1_000_000

# Lanes from which a call's shuffling lanes run in a call of their own (see run_tasks).
SHUFFLE_APART_LANES = 256

# progress(epochs_done, epochs_total, lanes) after every segment of epochs.
ProgressCallback = Callable[[int, int, int], None]


class Experiment(NamedTuple):
    name: str
    spec: Spec
    repeats: int | Sequence[int] | None = None  # this experiment's own repeats, if not the run's


class Task(NamedTuple):
    """An experiment's repeats on one series: a set of lanes, with the series already framed,
    split and scaled (so it is checked once, where the task is made: :func:`task`)."""

    name: str
    spec: Spec
    series: str  # the series' name
    data_hash: str  # the series' contents (statelab.data.series.data_hash)
    dataset: Dataset
    repeats: np.ndarray
    rows: tuple[int, int] | None = None  # compiled (training, test) rows, if more than its own


def task(name: str, spec: Spec, series: pd.Series, repeats: int | Sequence[int]) -> Task:
    """A task, validated: bad settings, data too short for the split, and bad repeats all
    fail here, before any work starts."""
    return Task(name, spec, str(series.name), data_hash(series), prepare(series, spec),
                repeat_indices(repeats))  # fmt: skip


class CallGroup(NamedTuple):
    """Lanes that share one compiled program, and the calls they run in: the networks they
    train (one for each set of twins, see :func:`training_key`) in ``calls`` calls of
    ``per_call`` lanes each (the last padded), then every lane's forecast from its network."""

    shape: engine.Shape
    epochs: int
    members: list[int]  # indices into the task list
    lanes: int  # the members' repeats
    per_call: int  # lanes a call (statelab.execution.calls.call_size)
    first: np.ndarray  # (trained,) the lane (of the members' repeats in order) each network trains
    twin: np.ndarray  # (lanes,) the network each lane forecasts from: an index into ``first``

    @property
    def trained(self) -> int:
        return len(self.first)

    @property
    def calls(self) -> int:
        return call_count(self.trained, self.per_call)


def compiled_rows(task: Task) -> tuple[int, int]:
    """The (training, test) rows a task's lanes are compiled with: its own, or the larger
    ones of the bucket the plan gave it."""
    return task.rows or (len(task.dataset.train_y), len(task.dataset.test_x))


def shape_of(spec: Spec, rows: tuple[int, int], trace: bool = False) -> engine.Shape:
    """The static shape of lanes of ``spec`` compiled with ``rows`` (training, test) rows."""
    return engine.Shape(
        lags=spec.lags,
        neurons=spec.neurons,
        batch_size=spec.batch_size,
        train_rows=rows[0],
        test_rows=rows[1],
        forecast_batch=spec.forecast_batch,
        profile=spec.keras,
        trace=trace,
    )


def as_weights(given: Mapping[str, object], spec: Spec, count: int) -> engine.LSTMWeights:
    """Keras-layout weights, one set for every repeat or one per repeat -> (count, ...) arrays."""
    missing = set(WEIGHT_NAMES) - set(given)
    if missing:
        raise StatelabError(f"initial weights lack {', '.join(sorted(missing))}")
    n, lags = spec.neurons, spec.lags
    arrays = {}
    for name, expected in engine.weight_shapes(lags, n)._asdict().items():
        try:
            array = np.asarray(given[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise StatelabError(f"initial weight {name} is not an array of numbers") from None
        if not np.isfinite(array).all():
            raise StatelabError(f"initial weight {name} holds values that are not finite")
        if array.shape == expected:
            array = np.broadcast_to(array, (count, *expected))
        elif array.shape != (count, *expected):
            raise StatelabError(
                f"initial weight {name} has shape {array.shape}; expected {expected} "
                f"or {(count, *expected)} for {lags} lag(s) and {n} unit(s)"
            )
        arrays[name] = array
    return engine.LSTMWeights(**arrays)


# Keys drawn per call of the program that draws them (see draw): fewer for larger networks,
# whose orthogonal initialiser's QR costs a lane more than a call costs. Each key is drawn
# once, and a collection's call group holds few (a repeat of one series shares its key with
# every other series'). benchmarks/draw_speed.py: 10 keys drew 4.5x quicker in blocks of 32
# than of 256 at 12 units, 4.5x at 16 and 6x at 64; 1000 keys 1.4x slower at 12 units, 1.07x
# at 16 and 1.07x quicker at 64; at 1 to 4 units 1000 keys took 1.7-3.9x longer in blocks
# of 32 (more calls), and 10 keys about as long. One block a network size: one program to compile.
LARGE_NETWORK = 16  # units


def draw_block(neurons: int) -> int:
    """Keys drawn per call of the program that draws initial weights of ``neurons`` units."""
    return 32 if neurons >= LARGE_NETWORK else 256


def read_back(tree):
    """Every leaf of ``tree`` in NumPy, once the call that makes it is done. NumPy takes a CPU
    array through the buffer protocol: a read-only view, after waiting for the call, 2-3 us
    a leaf, where ``jax.device_get`` spends about 12 asking each leaf for an asynchronous
    copy that a CPU never makes (a one-repeat run reads 15 leaves). Another device's array
    is copied to the host, leaf after leaf."""
    return jax.tree.map(np.asarray, tree)


def draw(seed: int, specs: Sequence[Spec], repeats: Sequence[np.ndarray], block: int | None = None):
    """The initial weights (lanes first) and shuffle key data of every repeat of every spec:
    each repeat from (seed, its spec's seed stream, its index). The specs share lags and
    units (they are lanes of one compiled call).

    A repeat's draw depends only on its key, not on the repeats beside it; so each key is
    drawn once, however many lanes hold it (a collection's call group holds repeat k of every
    series, each drawn alike: common random numbers). Keys are drawn ``block`` at a time
    (:func:`draw_block` by default), the last block padded, so that the program that draws
    compiles once per network size and block rather than once per number of keys: a cold run
    met a new number in almost every call group, and each cost about 2 s of compiling (the
    orthogonal initialiser's QR). A group whose calls run FEW_LANES lanes draws that many at
    a time (see _group_lanes). The QR of 256 lanes cost 0.35 s at 64 units, of 32 lanes
    35 ms, of 4 lanes 12 ms."""
    streams = np.concatenate(
        [np.full(len(r), s.seed_stream, np.uint64) for s, r in zip(specs, repeats, strict=True)]
    )
    # A repeat's key as one number, its stream then its index (each below 2**32: Spec and
    # repeat_indices check): np.unique of a column is quicker than of rows (axis=0), which
    # costs a one-repeat run 80 us.
    indices = np.concatenate(repeats).astype(np.uint64)
    keys, lane_key = np.unique((streams << 32) | indices, return_inverse=True)
    streams, indices = (keys >> 32).astype(np.uint32), (keys & 0xFFFFFFFF).astype(np.uint32)
    block = block or draw_block(specs[0].neurons)
    blocks = [
        engine.initial_weights(seed, *call_lanes((streams, indices), start, block),
                               specs[0].lags, specs[0].neurons)
        for start in range(0, len(keys), block)
    ]  # fmt: skip
    drawn = read_back(blocks)
    lane_key = lane_key.reshape(-1)
    # Lanes that are the keys in order (a run of one experiment) need no gathering copy: at
    # 100k lanes of 64 units it would be 6.8 GB more at the peak.
    pick = slice(len(keys)) if np.array_equal(lane_key, np.arange(len(keys))) else lane_key
    return jax.tree.map(lambda *parts: np.concatenate(parts)[pick], *drawn)


def _lanes(
    spec: Spec,
    dataset: Dataset,
    seed: int,
    repeats: np.ndarray,
    weights,
    rows: tuple[int, int] | None = None,
    drawn=None,
) -> engine.Lane:
    """The lanes of one experiment's repeats on one dataset, its rows padded with zeros up to
    ``rows`` (training, test) where given. ``drawn``: its part of :func:`draw`'s output,
    when the caller drew for several at once."""
    count = len(repeats)
    own = (len(dataset.train_y), len(dataset.test_x))
    rows = rows or own
    drawn, shuffle_keys = drawn or draw(seed, [spec], [repeats])
    weights = engine.lanes_last(drawn if weights is None else as_weights(weights, spec, count))

    def flag(value: bool) -> jax.Array:
        return np.full(count, value)

    regime = engine.Regime(
        stateful=flag(spec.stateful),
        carry_across_epochs=flag(spec.stateful and not spec.reset_after_epoch),
        carry_across_predictions=flag(spec.stateful and not spec.reset_after_prediction),
        seed_state=flag(spec.stateful and spec.seed_state),
        shuffle=flag(spec.shuffle),
    )

    def tile(array: np.ndarray, length: int) -> jax.Array:
        array = np.asarray(array, np.float32)
        padded = np.zeros((length, *array.shape[1:]), np.float32)
        padded[: len(array)] = array
        return np.broadcast_to(padded[..., None], (*padded.shape, count))

    return engine.Lane(
        weights=weights,
        shuffle_key=np.asarray(shuffle_keys).T,
        regime=regime,
        learning_rate=np.full(count, spec.learning_rate, np.float32),
        train_x=tile(dataset.train_x, rows[0]),
        train_y=tile(dataset.train_y, rows[0]),
        test_x=tile(dataset.test_x, rows[1]),
        train_rows=np.full(count, own[0], np.int32),
        test_rows=np.full(count, own[1], np.int32),
    )


def call_lanes(tree, start: int, size: int):
    """The lanes one call of ``size`` lanes takes from ``start`` in a tree (lane axis last):
    past the tree's last lane, copies of it (padding, which the call computes and drops)."""
    count = jax.tree.leaves(tree)[0].shape[-1]
    if start + size <= count:
        return jax.tree.map(lambda a: a[..., start : start + size], tree)
    taken = np.minimum(np.arange(start, start + size), count - 1)
    return jax.tree.map(lambda a: np.take(a, taken, axis=-1), tree)


# Compiled programs of this process, by (shape, epochs per segment, lanes); and those being
# compiled, each with its outcome to come. Chunks run side by side (backends.InProcess) meet
# the same keys at the same moment: each compiled every program the other was compiling (a
# cold `generalise --sample 20` compiled 8 training programs where 6 were needed).
_COMPILED: dict[tuple[engine.Shape, int, int], tuple] = {}
_COMPILING: dict[tuple[engine.Shape, int, int], Future] = {}
_COMPILING_LOCK = threading.Lock()


def _compile(key: tuple[engine.Shape, int, int]) -> Timings:
    """Ahead-of-time compile start, train segment and forecast for one key, unless this
    process has them, or wait for the thread compiling them; the seconds it took (waiting
    too) and the cache hits it had (zero when it had them or waited)."""
    started = time.perf_counter()
    with _COMPILING_LOCK:
        if key in _COMPILED:
            return Timings()
        other = _COMPILING.get(key)
        if other is None:
            _COMPILING[key] = mine = Future()
    if other is not None:
        other.result()  # raises what the compiling thread met
        return Timings(time.perf_counter() - started)
    try:
        timings = _compile_now(key, started)
    except BaseException as error:
        mine.set_exception(error)
        raise
    else:
        mine.set_result(None)  # before the key leaves _COMPILING: no waiter is left waiting
    finally:  # also after a Ctrl-C between the lines above: a later caller compiles anew
        with _COMPILING_LOCK:
            del _COMPILING[key]
        if not mine.done():
            mine.set_exception(StatelabError("compiling was interrupted"))
    return timings


def _compile_now(key: tuple[engine.Shape, int, int], started: float) -> Timings:
    """Compile one key's programs (only :func:`_compile` calls this, once a key)."""
    shape, length, lanes = key
    start, train, forecast = engine.compiled(shape, length)
    example = jax.eval_shape(lambda: _example_lanes(shape, lanes))
    carry = jax.eval_shape(start, example)
    lowered = (
        start.lower(example),
        train.lower(example, carry),
        forecast.lower(example, carry.weights, carry.state),
    )

    def compile_one(program):
        before = cache.hits()  # this thread's
        return program.compile(), cache.hits() - before

    # XLA compiles without holding the GIL: the three programs compile side by side.
    with ThreadPoolExecutor(len(lowered)) as pool:
        done = list(pool.map(compile_one, lowered))
    _COMPILED[key] = tuple(executable for executable, _ in done)
    return Timings(time.perf_counter() - started, 0.0, sum(hits for _, hits in done))


def compile_calls(keys: Sequence[tuple[engine.Shape, int, int]]) -> dict[tuple, Timings]:
    """Compile the programs of several calls side by side (tracing takes turns, XLA runs on
    every core): (shape, epochs per segment, lanes) each -> its compile :class:`Timings`.
    The calls' compile seconds add up to the wall time of the whole, each call's share in
    proportion to its own time, so sums over calls stay wall times."""
    unique = [key for key in dict.fromkeys(keys) if key not in _COMPILED]
    started = time.perf_counter()
    own = {}
    if unique:  # else no pool: starting one costs a one-repeat run more than its work
        with ThreadPoolExecutor(len(unique)) as pool:
            own = dict(zip(unique, pool.map(_compile, unique), strict=True))
    own.update((key, Timings()) for key in keys if key not in own)  # compiled before
    wall, total = time.perf_counter() - started, sum(t.compile_s for t in own.values())
    return {
        key: t._replace(compile_s=wall * t.compile_s / total if total else 0.0)
        for key, t in own.items()
    }


def segment_length(epochs: int, segments: int) -> int:
    """Epochs per segment: one compiled length for every segment of a call."""
    return engine.largest_divisor(epochs, epochs // max(1, segments))


def _example_lanes(shape: engine.Shape, lanes: int) -> engine.Lane:
    """Zeros of the lane layout, for tracing shapes only."""
    lags = shape.lags
    zeros = lambda *dims: jnp.zeros((*dims, lanes))  # noqa: E731
    flag = jnp.zeros(lanes, bool)
    return engine.Lane(
        weights=engine.LSTMWeights(
            *(zeros(*dims) for dims in engine.weight_shapes(lags, shape.neurons))
        ),
        shuffle_key=jnp.zeros((2, lanes), jnp.uint32),
        regime=engine.Regime(flag, flag, flag, flag, flag),
        learning_rate=jnp.zeros(lanes),
        train_rows=jnp.zeros(lanes, jnp.int32),
        test_rows=jnp.zeros(lanes, jnp.int32),
        train_x=zeros(shape.train_rows, lags),
        train_y=zeros(shape.train_rows),
        test_x=zeros(shape.test_rows, lags),
    )


def train_lanes(
    shape: engine.Shape,
    epochs: int,
    lanes: engine.Lane,
    progress: ProgressCallback | None = None,
    segments: int = 1,
):
    """Train every lane, in ``segments`` segments of epochs (progress is reported after
    each): returns the trained (weights, state), (E, N) losses, with ``shape.trace`` the
    training trace (else None), all in NumPy, and the :class:`Timings`."""
    length = segment_length(epochs, segments)
    lane_count = lanes.learning_rate.shape[0]
    compiling = _compile((shape, length, lane_count))
    start, train, _ = _COMPILED[shape, length, lane_count]
    started = time.perf_counter()
    carry = start(lanes)
    losses, traces = [], []
    for done in range(length, epochs + 1, length):
        if interrupts.PRESSED.is_set():  # Ctrl-C: a call in another thread stops here too
            raise KeyboardInterrupt
        carry, segment_losses, trace = train(lanes, carry)
        losses.append(segment_losses)
        traces.append(trace)
        if progress is not None:
            jax.block_until_ready(segment_losses)
            progress(done, epochs, lane_count)
    # Every output read back at once (it waits for the calls too): each further wait costs a
    # one-repeat run another call into JAX.
    trained, losses, traces = read_back(((carry.weights, carry.state), losses, traces))
    losses, trace = np.concatenate(losses, axis=0), None
    if shape.trace:
        trace = jax.tree.map(lambda *parts: np.concatenate(parts, axis=0), *traces)
    return trained, losses, trace, compiling._replace(run_s=time.perf_counter() - started)


def forecast_lanes(
    shape: engine.Shape, epochs: int, lanes: engine.Lane, trained, segments: int = 1
) -> tuple[engine.Forecast, Timings]:
    """Every lane's forecast from ``trained``, the (weights, state) that training left it
    (lane axis last), and the :class:`Timings`."""
    key = (shape, segment_length(epochs, segments), lanes.learning_rate.shape[0])
    compiling = _compile(key)
    started = time.perf_counter()
    predicted = jax.block_until_ready(_COMPILED[key][2](lanes, *trained))
    return predicted, compiling._replace(run_s=time.perf_counter() - started)


def trace_experiment(
    experiment: Experiment, series: pd.Series, *, repeats: int = 1, seed: int = 1
) -> tuple[engine.TrainTrace, engine.Forecast]:
    """Run with the state recorded: the state entering every training batch, (N, E, B, b, n),
    and every prediction batch, (N, P, f, n) (the seeding rows first, then the test rows)."""
    dataset = prepare(series, experiment.spec)
    shape = shape_of(experiment.spec, (len(dataset.train_y), len(dataset.test_x)), trace=True)
    size = padded_lanes(repeats, this_device().kind)  # one call
    lanes = call_lanes(_lanes(experiment.spec, dataset, seed, np.arange(repeats), None), 0, size)
    trained, _, trace, _ = train_lanes(shape, experiment.spec.epochs, lanes)
    forecast, _ = forecast_lanes(shape, experiment.spec.epochs, lanes, trained)
    trim = lambda a: np.moveaxis(np.asarray(a), -1, 0)[:repeats]  # noqa: E731
    return jax.tree.map(trim, trace), jax.tree.map(trim, forecast)


def failure_reasons(
    losses: np.ndarray,
    forecasts_scaled: np.ndarray,
    forecasts: np.ndarray | None = None,
    errors: np.ndarray | None = None,
) -> np.ndarray:
    """(N, E) losses, (N, T) forecasts scaled and in the series' units -> (N,) reasons a
    repeat diverged; "" where it did not."""
    reasons = np.full(len(losses), "", dtype=object)
    bad_loss = ~np.isfinite(losses)
    for k in np.flatnonzero(bad_loss.any(axis=1)):
        epoch = int(np.argmax(bad_loss[k])) + 1
        reasons[k] = f"training loss not finite from epoch {epoch}"
    for k in np.flatnonzero(~np.isfinite(forecasts_scaled).all(axis=1)):
        reasons[k] = reasons[k] or "forecast not finite"
    if forecasts is not None:
        for k in np.flatnonzero(~np.isfinite(forecasts).all(axis=1)):
            reasons[k] = reasons[k] or "forecast not finite in the series' units (values too large)"
    if errors is not None:
        for k in np.flatnonzero(~np.isfinite(errors)):
            reasons[k] = reasons[k] or "RMSE not finite in the series' units (values too large)"
    return reasons


def repeat_indices(repeats: int | Sequence[int]) -> np.ndarray:
    """A count N -> repeats 0..N-1; a list -> those repeat indices (validated)."""
    if isinstance(repeats, int | np.integer):
        if not 1 <= repeats <= MAX_REPEATS:
            raise StatelabError(
                f"--repeats must be a whole number from 1 to {MAX_REPEATS:,}, got {repeats}"
            )
        return np.arange(int(repeats))
    indices = np.asarray(repeats, dtype=np.int64)
    if indices.ndim != 1 or len(indices) == 0 or (indices < 0).any():
        raise StatelabError("repeat indices must be a non-empty list of whole numbers >= 0")
    if len(indices) > MAX_REPEATS or indices.max() >= 2**32:
        raise StatelabError(f"repeat indices must number at most {MAX_REPEATS:,}, each below 2**32")
    if len(np.unique(indices)) < len(indices):
        raise StatelabError("repeat indices must be distinct")
    return indices


# Settings that change how a network forecasts but not how it trains: they set the lane
# flags carry_across_predictions and seed_state (see _lanes), which engine.train_epochs does
# not read (tests/test_engine.py checks that training ignores them), and the forecast batch,
# which is part of the compiled shape (so within a call group, the forecast mode differs only
# at batch size 1, where "batched" and "one-step" are the same).
FORECAST_ONLY = ("reset_after_prediction", "seed_state", "forecast")


def training_key(one: Task) -> tuple:
    """What a task's networks train from, but for their repeat indices (the series' data and
    every setting that training reads): tasks of one call group (one compiled shape) with equal
    keys train the same network, bit for bit, for the same repeat index (the
    study's stateful, stateful_reset_test, stateful_seed_train and stateful_seed_train_resets
    differ only in how they forecast). Such twins train once, and each forecasts from it."""
    spec = {k: v for k, v in one.spec.to_dict().items() if k not in FORECAST_ONLY}
    return (one.data_hash, tuple(spec.items()))


def _twins(members: Sequence[Task]) -> tuple[np.ndarray, np.ndarray]:
    """For the members' lanes (their repeats, in order): the first lane of each network they
    train, in order, and for every lane the index of its network among those."""
    keys: dict[tuple, int] = {}
    networks = [keys.setdefault(training_key(one), len(keys)) for one in members]
    if len(keys) == len(members):  # no twins: a task's repeats are distinct (repeat_indices)
        every = np.arange(sum(len(one.repeats) for one in members))
        return every, every
    lanes = np.concatenate([np.stack([np.full(len(one.repeats), network), one.repeats], axis=1)
                            for network, one in zip(networks, members, strict=True)])  # fmt: skip
    _, first, twin = np.unique(lanes, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the networks in the order their first lanes come
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[twin.reshape(-1)]


def call_groups(
    tasks: Sequence[Task], device: Device, twins: bool = True, sizes: CallSizes | None = None
) -> list[CallGroup]:
    """The compiled programs a chunk of ``tasks`` runs on ``device``, and their calls: lanes
    of the same shape and epochs share one, whatever experiment or series they belong to.
    ``twins``: twins train once (not when the caller gives initial weights: those go to a
    task's repeats in order, so twins' repeat k may start from different ones). ``sizes``:
    the call sizes the whole run allows (chosen for a device of the same kind; else unused)."""
    shapes = [shape_of(one.spec, compiled_rows(one)) for one in tasks]
    lanes: dict[tuple, int] = {}
    for shape, one in zip(shapes, tasks, strict=True):
        lanes[shape, one.spec.epochs] = lanes.get((shape, one.spec.epochs), 0) + len(one.repeats)
    groups: dict[tuple, tuple[engine.Shape, int, list[int]]] = {}
    for position, (shape, one) in enumerate(zip(shapes, tasks, strict=True)):
        # Shuffling lanes of a large call run apart from the rest, in a call of their own: a
        # call draws permutations for all its lanes once any lane shuffles (statelab.engine.lstm),
        # so mixed in, every lane would pay for the shuffle (4x the training of batch-1
        # lanes). A small call stays whole: there another program to compile costs more
        # than the shuffle. A lane's result is the same either way (lanes are independent).
        apart = one.spec.shuffle and lanes[shape, one.spec.epochs] >= SHUFFLE_APART_LANES
        key = (shape, one.spec.epochs, apart)
        groups.setdefault(key, (shape, one.spec.epochs, []))[2].append(position)
    made = []
    for shape, epochs, members in groups.values():
        shape = shape._replace(shuffles=any(tasks[i].spec.shuffle for i in members))
        size = sum(len(tasks[i].repeats) for i in members)
        if twins:
            first, twin = _twins([tasks[i] for i in members])
        else:
            first = twin = np.arange(size)
        chosen_here = sizes is not None and sizes.kind == device.kind  # for this kind of device
        allowed = sizes.sizes.get((shape, epochs), ()) if chosen_here else ()
        per_call = call_size(device, shape, epochs, len(first), allowed)
        made.append(CallGroup(shape, epochs, members, size, per_call, first, twin))
    return made


def run_tasks(
    tasks: Sequence[Task],
    *,
    seed: int = 1,
    initial_weights: Mapping[str, object] | None = None,
    progress: ProgressCallback | None = None,
    segments: int = 1,
    sizes: CallSizes | None = None,
) -> list[Results]:
    """Run every task's repeats; tasks whose shapes agree share one compiled program, whatever
    experiment or series they belong to, in calls of as many lanes as the device wants
    (statelab.execution.calls), of the ``sizes`` a whole run allows where given. Returns a
    :class:`Results` per task, in order."""
    check_seed(seed)
    check_unique(tasks, by_settings=True)
    if not tasks:
        return []
    device = this_device()
    made = ((versions(),), (str(jax.devices()[0]),))
    work = call_groups(tasks, device, twins=initial_weights is None, sizes=sizes)
    keys = [(g.shape, segment_length(g.epochs, segments), g.per_call) for g in work]
    compiled = compile_calls(keys)
    stacked = [_group_lanes(tasks, g, seed, initial_weights) for g in work]
    # Twins train once (see training_key): each group's calls train its networks, then every
    # lane forecasts from its own network's weights and state.
    networks = [_at(lanes, g.first) for lanes, g in zip(stacked, work, strict=True)]
    # Progress follows one call of the largest group.
    largest = max(range(len(work)), key=lambda k: work[k].trained * work[k].shape.train_rows)

    def train_call(k: int, start: int):
        key, group = keys[k], work[k]
        part = call_lanes(networks[k], start, key[2])
        report = progress if (k, start) == (largest, 0) else None
        trained, losses, _, timings = train_lanes(group.shape, group.epochs, part, report, segments)
        return (*trained, losses), timings

    trained = _in_calls(train_call, [g.trained for g in work], keys, device.cores)
    # Every lane's trained weights, state and losses: its network's.
    per_lane = [_at(_joined(parts), g.twin) for parts, g in zip(trained, work, strict=True)]

    def forecast_call(k: int, start: int):
        key, group = keys[k], work[k]
        part, own = (call_lanes(tree, start, key[2]) for tree in (stacked[k], per_lane[k][:2]))
        predicted, timings = forecast_lanes(group.shape, group.epochs, part, own, segments)
        return read_back(predicted.forecasts_scaled), timings

    forecast = _in_calls(forecast_call, [g.lanes for g in work], keys, device.cores)
    results: list[Results | None] = [None] * len(tasks)
    for k, (key, group) in enumerate(zip(keys, work, strict=True)):
        timings = sum((t for _, t in trained[k] + forecast[k]), Timings())
        # Compiled before any call ran: the groups of one program count it once.
        timings += compiled[key] if keys.index(key) == k else Timings()
        # Every repeat is one lane of the forecast calls: a repeat's share of the group's time
        # is run_s / lanes, as before twins trained once (benchmarks/vary_speed.py).
        provenance = Provenance(*made, timings, lanes=len(forecast[k]) * key[2],
                                call=uuid.uuid4().hex, code=code_version())  # fmt: skip
        weights, _, losses = engine.lanes_first(per_lane[k])
        scaled = engine.lanes_first(_joined(forecast[k]))
        offsets = np.cumsum([0] + [len(tasks[i].repeats) for i in group.members])
        for slot, i in enumerate(group.members):
            part = slice(offsets[slot], offsets[slot + 1])
            results[i] = _results(tasks[i], seed, jax.tree.map(lambda a, p=part: a[p], weights),
                                  losses[part], scaled[part], provenance)  # fmt: skip
    return results


def _in_calls(run: Callable, sizes: Sequence[int], keys: Sequence[tuple], cores: int) -> list:
    """``run(k, start)`` for each call of each group k (``sizes[k]`` lanes, in calls of
    ``keys[k]``'s lane count), side by side on the cores: for each group, its calls' outputs."""
    calls = [(k, start) for k, (key, size) in enumerate(zip(keys, sizes, strict=True))
             for start in range(0, size, key[2])]  # fmt: skip
    done = _run_side_by_side(run, calls, cores)
    return [[out for out, (group, _) in zip(done, calls, strict=True) if group == k]
            for k in range(len(keys))]  # fmt: skip


def _at(tree, lanes: np.ndarray):
    """The given lanes of a tree (lane axis last), in NumPy; the tree itself when they are
    all of its lanes in order (no twins: no copy)."""
    if np.array_equal(lanes, np.arange(jax.tree.leaves(tree)[0].shape[-1])):
        return tree
    return jax.tree.map(lambda a: np.take(np.asarray(a), lanes, axis=-1), tree)


def _joined(parts: list):
    """A group's calls' outputs (each with its timings) joined along the lane axis."""
    return jax.tree.map(lambda *a: np.concatenate(a, axis=-1), *(out for out, _ in parts))


def _group_lanes(tasks: Sequence[Task], group: CallGroup, seed: int, initial_weights):
    """The lanes of a group's tasks, side by side (lane axis last)."""
    members = [tasks[i] for i in group.members]
    # A group whose calls run FEW_LANES lanes (calls.padded_lanes) draws as many at a time:
    # its call is a program of its own anyway, and a larger block would cost more than it.
    block = FEW_LANES if group.per_call == FEW_LANES else None
    drawn = draw(seed, [t.spec for t in members], [t.repeats for t in members], block)
    offsets = np.cumsum([0] + [len(t.repeats) for t in members])
    lanes = [
        _lanes(t.spec, t.dataset, seed, t.repeats, initial_weights, compiled_rows(t),
               jax.tree.map(lambda a, k=k, o=offsets: a[o[k] : o[k + 1]], drawn))
        for k, t in enumerate(members)
    ]  # fmt: skip
    return jax.tree.map(lambda *parts: np.concatenate(parts, axis=-1), *lanes)


def _run_side_by_side(run: Callable, calls: Sequence[tuple], cores: int) -> list:
    """``run(*call)`` for every call, as many at a time as there are cores (one compiled call
    runs on one core: XLA's CPU loop is sequential); the results in the calls' order. One
    call runs in this thread."""
    if len(calls) == 1:
        return [run(*calls[0])]
    pool = ThreadPoolExecutor(max(1, min(len(calls), cores)))
    try:
        futures = [pool.submit(run, *call) for call in calls]
        done = [finished.result() for finished in futures]
    except BaseException:  # Ctrl-C or a failed call: start nothing more, wait for nothing
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return done


def check_unique(tasks: Sequence[Task], *, by_settings: bool = False) -> None:
    """Each experiment at most once per series, as :func:`run_experiments` keys its results;
    ``by_settings``: at most once per series and settings, as the store keys them (a study
    over several set-ups runs each experiment once at each)."""
    seen = set()
    for one in tasks:
        key = (one.name, one.series, one.spec if by_settings else None)
        if key in seen:
            raise StatelabError(
                f"two experiments are both named {one.name!r} on series {one.series!r}"
                f"{' with the same settings' if by_settings else ''}: "
                "give each a name of its own"
            )
        seen.add(key)


def _results(task: Task, seed, weights, losses, scaled, provenance) -> Results:
    dataset = task.dataset
    scaled = scaled[:, : len(dataset.test_x)]  # the lane's own test rows, not the padding
    forecasts = dataset.to_raw(scaled.astype(float))
    persistence = persistence_rmse(dataset)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a failure below
        errors = rmse(dataset.test_actual, forecasts)
        scaled_errors = mase(dataset.test_actual, forecasts, dataset.naive_mae)
        relative = errors / persistence
    return Results(
        name=task.name,
        spec=task.spec,
        series=task.series,
        data_hash=task.data_hash,
        seed=seed,
        repeats=task.repeats,
        rmse=errors,
        relative_rmse=relative,
        mase=scaled_errors,
        forecasts=forecasts,
        forecasts_scaled=scaled,
        final_loss=losses[:, -1],
        failures=failure_reasons(losses, scaled, forecasts, errors),
        dataset=dataset,
        persistence_rmse=persistence,
        provenance=provenance,
        losses=losses,
        loss_epochs=np.arange(1, losses.shape[1] + 1),
        weights=weights,
    )


def run_experiments(
    experiments: Sequence[Experiment],
    series: pd.Series,
    *,
    repeats: int | Sequence[int] = 10,
    seed: int = 1,
    initial_weights: Mapping[str, object] | None = None,
    progress: ProgressCallback | None = None,
    segments: int = 1,
) -> dict[str, Results]:
    """Run every experiment's repeats on one series; experiments with the same shapes share
    one compiled call. ``repeats`` (or an experiment's own) is a count (repeats 0..N-1) or
    the repeat indices themselves."""
    tasks = [
        task(e.name, e.spec, series, repeats if e.repeats is None else e.repeats)
        for e in experiments
    ]
    check_unique(tasks)
    ran = run_tasks(
        tasks, seed=seed, initial_weights=initial_weights, progress=progress, segments=segments
    )
    return {result.name: result for result in ran}
