"""Differencing, supervised framing and min-max scaling, each with its exact inverse.

Pure NumPy functions on float64 arrays; the engine sees only their float32 output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def difference(values: np.ndarray, lag: int = 1) -> np.ndarray:
    """(T,) -> (T - lag,): ``values[t] - values[t - lag]``."""
    values = np.asarray(values, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # callers check for non-finite results
        return values[lag:] - values[:-lag]


def inverse_difference(previous: np.ndarray, differences: np.ndarray) -> np.ndarray:
    """Undo one step of differencing: ``previous + differences`` (both (N,))."""
    return np.asarray(previous, dtype=float) + np.asarray(differences, dtype=float)


def undifference(first: float, differences: np.ndarray) -> np.ndarray:
    """Rebuild a whole series (T,) from its first value and its (T - 1,) lag-1 differences."""
    return np.concatenate([[first], first + np.cumsum(differences)])


def frame_supervised(values: np.ndarray, lags: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(T,) -> inputs (T - lags, lags), targets (T - lags,).

    Row t holds the ``lags`` previous values, most recent first (the study's
    ``shift(1), shift(2), ...`` columns), and targets the value at t. The first
    ``lags`` rows have no complete input and are dropped, as the study drops its first row.
    """
    values = np.asarray(values, dtype=float)
    rows = len(values) - lags
    inputs = np.stack([values[lags - k : lags - k + rows] for k in range(1, lags + 1)], axis=1)
    return inputs, values[lags:]


def unframe_supervised(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Inverse of :func:`frame_supervised`: (R, lags), (R,) -> the (R + lags,) series."""
    first = inputs[0, ::-1]
    return np.concatenate([first, targets])


class MinMaxScaler(NamedTuple):
    """Per-column affine map onto [-1, 1], in scikit-learn's form: ``x * scale + offset``.

    Fields are (columns,) arrays. A constant column gets a range of 1, as in scikit-learn.
    """

    scale: np.ndarray
    offset: np.ndarray


def fit_scaler(table: np.ndarray, low: float = -1.0, high: float = 1.0) -> MinMaxScaler:
    """Fit on (rows, columns), the training rows only."""
    table = np.asarray(table, dtype=float)
    data_min, data_max = table.min(axis=0), table.max(axis=0)
    data_range = data_max - data_min
    # scikit-learn's rule: a range under 10 machine epsilons counts as a constant column.
    data_range = np.where(data_range < 10 * np.finfo(float).eps, 1.0, data_range)
    scale = (high - low) / data_range
    return MinMaxScaler(scale=scale, offset=low - data_min * scale)


def scale(scaler: MinMaxScaler, table: np.ndarray) -> np.ndarray:
    """(rows, columns) -> the same, scaled."""
    return np.asarray(table, dtype=float) * scaler.scale + scaler.offset


def unscale(scaler: MinMaxScaler, table: np.ndarray) -> np.ndarray:
    """Inverse of :func:`scale`."""
    return (np.asarray(table, dtype=float) - scaler.offset) / scaler.scale


def unscale_column(scaler: MinMaxScaler, column: int, values: np.ndarray) -> np.ndarray:
    """Invert the scaling of one column only, e.g. the target column's forecasts."""
    return (np.asarray(values, dtype=float) - scaler.offset[column]) / scaler.scale[column]
