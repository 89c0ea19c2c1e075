"""Walk-forward scoring: RMSE in the series' units and the persistence baseline."""

from __future__ import annotations

import functools

import numpy as np

from statelab.data.dataset import Dataset


def rmse(actual: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """(T,), (..., T) -> (...,): root mean squared error over the last axis (inf where it
    overflows float64: the caller counts such a repeat as failed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(_mean((np.asarray(forecasts) - np.asarray(actual)) ** 2))


def mase(actual: np.ndarray, forecasts: np.ndarray, naive_mae: float) -> np.ndarray:
    """(T,), (..., T) -> (...,): mean absolute error over the in-sample one-step naive MAE
    (Hyndman and Koehler, 2006)."""
    return _mean(np.abs(np.asarray(forecasts) - np.asarray(actual))) / naive_mae


def _mean(values: np.ndarray) -> np.ndarray:
    """The mean over the last axis, its terms added in index order. Hand-written because
    numpy's reductions add in an order that depends on the array's layout (pairwise along a
    contiguous axis, one by one across a strided one): a repeat scored alone (a chunk of one
    repeat) differed in the last bit from the same repeat scored beside others."""
    values = np.asarray(values)
    start = np.zeros(values.shape[:-1], values.dtype)  # 0 + a term is the term: same bits
    with np.errstate(invalid="ignore"):  # no terms: NaN, as numpy's mean gives
        return functools.reduce(np.add, np.moveaxis(values, -1, 0), start) / values.shape[-1]


def persistence_rmse(dataset: Dataset) -> float:
    """The naive forecast, next month = this month, scored on the same test rows."""
    return float(rmse(dataset.test_actual, dataset.test_previous))
