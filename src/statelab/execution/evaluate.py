"""Walk-forward scoring: RMSE in the series' units and the persistence baseline."""

from __future__ import annotations

import numpy as np

from statelab.data.dataset import Dataset


def rmse(actual: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """(T,), (..., T) -> (...,): root mean squared error over the last axis (inf where it
    overflows float64: the caller counts such a repeat as failed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.mean((np.asarray(forecasts) - np.asarray(actual)) ** 2, axis=-1))


def mase(actual: np.ndarray, forecasts: np.ndarray, naive_mae: float) -> np.ndarray:
    """(T,), (..., T) -> (...,): mean absolute error over the in-sample one-step naive MAE
    (Hyndman and Koehler, 2006)."""
    return np.mean(np.abs(np.asarray(forecasts) - np.asarray(actual)), axis=-1) / naive_mae


def persistence_rmse(dataset: Dataset) -> float:
    """The naive forecast, next month = this month, scored on the same test rows."""
    return float(rmse(dataset.test_actual, dataset.test_previous))
