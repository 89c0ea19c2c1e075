"""Walk-forward scoring: RMSE in the series' units and the persistence baseline."""

from __future__ import annotations

import numpy as np

from statelab.dataset import Dataset


def rmse(actual: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """(T,), (..., T) -> (...,): root mean squared error over the last axis."""
    return np.sqrt(np.mean((np.asarray(forecasts) - np.asarray(actual)) ** 2, axis=-1))


def persistence_rmse(dataset: Dataset) -> float:
    """The naive forecast, next month = this month, scored on the same test rows."""
    return float(rmse(dataset.test_actual, dataset.test_previous))
