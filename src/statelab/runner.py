"""Experiments -> engine lanes -> results.

Lanes whose shapes agree (and whose epoch counts agree) run in one compiled,
vectorised call, whatever experiment they belong to; the loop here is over such
groups and over chunks of epochs (for progress), never over repeats or steps.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from statelab import engine
from statelab.dataset import Dataset, prepare
from statelab.errors import StatelabError
from statelab.evaluate import persistence_rmse, rmse
from statelab.results import Results, versions
from statelab.spec import Spec, check_seed

EPSILON = {"keras3": 1e-7, "keras2017": 1e-8}
WEIGHT_NAMES = engine.LSTMWeights._fields
# Lanes run in whole blocks. XLA's CPU code handles the elements of a vector in SIMD
# registers and a ragged remainder one by one, and its tanh and exp differ in the last
# bit between the two paths; padding keeps every lane on the SIMD path, so a repeat's
# result does not depend on how many ran beside it.
LANE_BLOCK = 8

# on_chunk(epochs_done, epochs_total, lanes) after every chunk of epochs.
ProgressCallback = Callable[[int, int, int], None]


class Experiment(NamedTuple):
    name: str
    spec: Spec
    repeats: int | Sequence[int] | None = None  # this experiment's own repeats, if not the run's


class _Group(NamedTuple):
    shape: engine.Shape
    epochs: int
    members: list[int]  # indices into the experiment list


def shape_of(spec: Spec, dataset: Dataset, trace: bool = False) -> engine.Shape:
    keras2017 = spec.profile == "keras2017"
    return engine.Shape(
        lags=spec.lags,
        neurons=spec.neurons,
        batch_size=spec.batch_size,
        train_rows=len(dataset.train_y),
        test_rows=spec.test_rows,
        forecast_batch=spec.forecast_batch,
        hard_sigmoid=keras2017,
        keras2_moments=keras2017,
        trace=trace,
    )


def as_weights(given: Mapping[str, object], spec: Spec, count: int) -> engine.LSTMWeights:
    """Keras-layout weights, one set for every repeat or one per repeat -> (count, ...) arrays."""
    missing = set(WEIGHT_NAMES) - set(given)
    if missing:
        raise StatelabError(f"initial weights lack {', '.join(sorted(missing))}")
    n, lags = spec.neurons, spec.lags
    shapes = {
        "kernel": (lags, 4 * n),
        "recurrent_kernel": (n, 4 * n),
        "bias": (4 * n,),
        "dense_kernel": (n, 1),
        "dense_bias": (1,),
    }
    arrays = {}
    for name, expected in shapes.items():
        array = np.asarray(given[name], dtype=np.float32)
        if array.shape == expected:
            array = np.broadcast_to(array, (count, *expected))
        elif array.shape != (count, *expected):
            raise StatelabError(
                f"initial weight {name} has shape {array.shape}; expected {expected} "
                f"or {(count, *expected)} for {lags} lag(s) and {n} unit(s)"
            )
        arrays[name] = array
    return engine.LSTMWeights(**arrays)


def _lanes(spec: Spec, dataset: Dataset, seed: int, repeats: np.ndarray, weights):
    count = len(repeats)
    keys = engine.repeat_keys(seed, spec.seed_stream, repeats)
    drawn, shuffle_keys = engine.initial_weights(keys, spec.lags, spec.neurons)
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

    def tile(array: np.ndarray) -> jax.Array:
        return np.broadcast_to(np.asarray(array, np.float32)[..., None], (*array.shape, count))

    return engine.Lane(
        weights=weights,
        shuffle_key=np.asarray(shuffle_keys).T,
        regime=regime,
        learning_rate=np.full(count, spec.learning_rate, np.float32),
        epsilon=np.full(count, EPSILON[spec.profile], np.float32),
        train_x=tile(dataset.train_x),
        train_y=tile(dataset.train_y),
        test_x=tile(dataset.test_x),
    )


def pad_lanes(lanes: engine.Lane, block: int) -> engine.Lane:
    """Pad the lane axis to a multiple of ``block`` with copies of the last lane."""
    count = lanes.learning_rate.shape[0]
    extra = -count % block
    if extra == 0:
        return lanes
    return jax.tree.map(
        lambda a: np.concatenate([a, np.repeat(a[..., -1:], extra, axis=-1)], axis=-1), lanes
    )


def chunk_length(epochs: int, chunks: int) -> int:
    """The largest divisor of ``epochs`` giving at least ``chunks`` chunks (one compiled
    length for every chunk)."""
    length = max(1, epochs // max(1, chunks))
    while epochs % length:
        length -= 1
    return length


class Timings(NamedTuple):
    compile_s: float
    run_s: float


@functools.lru_cache(maxsize=64)
def _executables(shape: engine.Shape, length: int, lanes: int):
    """Ahead-of-time compiled start, train chunk and forecast for ``lanes`` lanes, and the
    seconds compiling took (so callers can report compile time apart from run time)."""
    started = time.perf_counter()
    start, train, forecast = engine.compiled(shape, length)
    example = jax.eval_shape(lambda: _example_lanes(shape, lanes))
    carry = jax.eval_shape(start, example)
    executables = (
        start.lower(example).compile(),
        train.lower(example, carry).compile(),
        forecast.lower(example, carry).compile(),
    )
    return executables, time.perf_counter() - started


def _example_lanes(shape: engine.Shape, lanes: int) -> engine.Lane:
    """Zeros of the lane layout, for tracing shapes only."""
    n, lags = shape.neurons, shape.lags
    zeros = lambda *dims: jnp.zeros((*dims, lanes))  # noqa: E731
    flag = jnp.zeros(lanes, bool)
    return engine.Lane(
        weights=engine.LSTMWeights(
            zeros(lags, 4 * n), zeros(n, 4 * n), zeros(4 * n), zeros(n, 1), zeros(1)
        ),
        shuffle_key=jnp.zeros((2, lanes), jnp.uint32),
        regime=engine.Regime(flag, flag, flag, flag, flag),
        learning_rate=jnp.zeros(lanes),
        epsilon=jnp.zeros(lanes),
        train_x=zeros(shape.train_rows, lags),
        train_y=zeros(shape.train_rows),
        test_x=zeros(shape.test_rows, lags),
    )


def run_lanes(
    shape: engine.Shape,
    epochs: int,
    lanes: engine.Lane,
    progress: ProgressCallback | None = None,
    chunks: int = 1,
):
    """Train and forecast every lane: returns the final carry, (E, N) losses, the forecast,
    with ``shape.trace`` the training trace (else None), and the :class:`Timings`."""
    length = chunk_length(epochs, chunks)
    lane_count = lanes.learning_rate.shape[0]
    cached = _executables.cache_info().hits
    (start, train, forecast), compile_s = _executables(shape, length, lane_count)
    compile_s = 0.0 if _executables.cache_info().hits > cached else compile_s
    started = time.perf_counter()
    carry = start(lanes)
    losses, traces = [], []
    for done in range(length, epochs + 1, length):
        carry, chunk_losses, trace = train(lanes, carry)
        losses.append(chunk_losses)
        traces.append(trace)
        if progress is not None:
            jax.block_until_ready(chunk_losses)
            progress(done, epochs, lane_count)
    losses = np.concatenate(jax.device_get(losses), axis=0)
    if shape.trace:
        traces = jax.device_get(traces)
        trace = jax.tree.map(lambda *parts: np.concatenate(parts, axis=0), *traces)
    else:
        trace = None
    predicted = jax.block_until_ready(forecast(lanes, carry))
    return carry, losses, predicted, trace, Timings(compile_s, time.perf_counter() - started)


def trace_experiment(
    experiment: Experiment, series: pd.Series, *, repeats: int = 1, seed: int = 1
) -> tuple[engine.TrainTrace, engine.Forecast]:
    """Run with the state recorded: the state entering every training batch, (N, E, B, b, n),
    and every prediction batch, (N, P, f, n) (the seeding rows first, then the test rows)."""
    dataset = prepare(series, experiment.spec)
    shape = shape_of(experiment.spec, dataset, trace=True)
    lanes = pad_lanes(_lanes(experiment.spec, dataset, seed, np.arange(repeats), None), LANE_BLOCK)
    _, _, forecast, trace, _ = run_lanes(shape, experiment.spec.epochs, lanes)
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
        if repeats < 1:
            raise StatelabError(f"repeats must be a whole number >= 1, got {repeats}")
        return np.arange(int(repeats))
    indices = np.asarray(repeats, dtype=np.int64)
    if indices.ndim != 1 or len(indices) == 0 or (indices < 0).any():
        raise StatelabError("repeat indices must be a non-empty list of whole numbers >= 0")
    return indices


def run_experiments(
    experiments: Sequence[Experiment],
    series: pd.Series,
    *,
    repeats: int | Sequence[int] = 10,
    seed: int = 1,
    initial_weights: Mapping[str, object] | None = None,
    progress: ProgressCallback | None = None,
    chunks: int = 1,
) -> dict[str, Results]:
    """Run every experiment's repeats; experiments with the same shapes share one compiled
    call. ``repeats`` (or an experiment's own) is a count (repeats 0..N-1) or the repeat
    indices themselves."""
    check_seed(seed)
    indices = [repeat_indices(repeats if e.repeats is None else e.repeats) for e in experiments]
    datasets = [prepare(series, experiment.spec) for experiment in experiments]

    groups: dict[tuple, _Group] = {}
    for position, (experiment, dataset) in enumerate(zip(experiments, datasets, strict=True)):
        shape = shape_of(experiment.spec, dataset)
        group = groups.setdefault(
            (shape, experiment.spec.epochs), _Group(shape, experiment.spec.epochs, [])
        )
        group.members.append(position)

    provenance = {"versions": versions(), "device": str(jax.devices()[0])}
    results: dict[str, Results] = {}
    for group_index, group in enumerate(groups.values()):
        lanes = [
            _lanes(experiments[i].spec, datasets[i], seed, indices[i], initial_weights)
            for i in group.members
        ]
        stacked = jax.tree.map(lambda *parts: np.concatenate(parts, axis=-1), *lanes)
        stacked = pad_lanes(stacked, LANE_BLOCK)
        carry, losses, forecast, _, timings = run_lanes(
            group.shape, group.epochs, stacked, progress, chunks
        )
        host = jax.device_get(
            engine.lanes_first((carry.weights, losses, forecast.forecasts_scaled))
        )
        offsets = np.cumsum([0] + [len(indices[i]) for i in group.members])
        for slot, i in enumerate(group.members):
            part = slice(offsets[slot], offsets[slot + 1])
            weights, lane_losses, scaled = jax.tree.map(
                lambda a, part=part: np.asarray(a[part]), host
            )
            dataset, name = datasets[i], experiments[i].name
            forecasts = dataset.to_raw(scaled.astype(float))
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is a failure below
                errors = rmse(dataset.test_actual, forecasts)
            results[name] = Results(
                name=name,
                spec=experiments[i].spec,
                seed=seed,
                repeats=indices[i],
                rmse=errors,
                failures=failure_reasons(lane_losses, scaled, forecasts, errors),
                forecasts=forecasts,
                forecasts_scaled=scaled,
                losses=lane_losses,
                weights=weights,
                dataset=dataset,
                persistence_rmse=persistence_rmse(dataset),
                provenance=provenance
                | {
                    "timings": timings._asdict(),
                    "compiled_group": group_index,
                    "lanes_in_call": stacked.learning_rate.shape[0],
                }
                | {
                    "settings": experiments[i].spec.to_dict(),
                    "settings_hash": experiments[i].spec.digest(),
                },
            )
    return {experiment.name: results[experiment.name] for experiment in experiments}
