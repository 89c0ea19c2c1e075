"""Series -> framed, split and scaled dataset, the study's harness steps 1-4."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.data import transforms
from statelab.errors import StatelabError
from statelab.spec import Spec


class Dataset(NamedTuple):
    """One experiment's arrays. R training rows, T test rows, L lags.

    ``train_x`` (R, L), ``train_y`` (R,), ``test_x`` (T, L) are scaled to [-1, 1];
    ``test_actual`` (T,) and ``test_previous`` (T,) are raw values (the month forecast, the month
    before it); ``scaler`` inverts the target column (the last one).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    scaler: transforms.MinMaxScaler
    test_actual: np.ndarray
    test_previous: np.ndarray
    test_index: pd.Index
    naive_mae: float  # in-sample one-step naive MAE: mean |y_t - y_t-1| before the test (MASE)

    def to_raw(self, forecasts_scaled: np.ndarray) -> np.ndarray:
        """(..., T) scaled differences -> (..., T) forecasts in the series' units."""
        differences = transforms.unscale_column(self.scaler, -1, forecasts_scaled)
        return transforms.inverse_difference(self.test_previous, differences)


def rows_needed(spec: Spec) -> int:
    """The shortest series the split can use: lags + 1 lost to framing, the test, and the
    training rows (at least 2: one row is constant, with nothing to learn)."""
    return 1 + spec.lags + spec.test_rows + (spec.train_window or 2)


def prepare(series: pd.Series, spec: Spec) -> Dataset:
    values = series.to_numpy(dtype=float)  # np.asarray probes a Series for 10 us
    needed = rows_needed(spec)
    if len(values) < needed:
        raise StatelabError(
            f"the series has {len(values)} values; the split needs at least {needed} "
            f"(1 lost to differencing, {spec.lags} to the lags, {spec.test_rows} test rows, "
            f"{spec.train_window or 2} training)"
        )
    differences = transforms.difference(values)
    if not np.isfinite(differences).all():
        raise StatelabError(
            "the series' values are too large to difference in float64: rescale them"
        )
    inputs, targets = transforms.frame_supervised(differences, spec.lags)
    table = np.column_stack([inputs, targets])
    train, test = table[: -spec.test_rows], table[-spec.test_rows :]
    if spec.train_window is not None:
        train = train[-spec.train_window :]
    spec.check_rows(len(train))
    if np.ptp(train[:, -1]) == 0:
        raise StatelabError(
            f"the {len(train)} training rows are constant (every change is {train[0, -1]:g}): "
            "nothing to learn, and the scaler would divide by zero"
        )
    scaler = transforms.fit_scaler(train)
    train, test = transforms.scale(scaler, train), transforms.scale(scaler, test)
    return Dataset(
        train_x=train[:, :-1],
        train_y=train[:, -1],
        test_x=test[:, :-1],
        scaler=scaler,
        test_actual=values[-spec.test_rows :],
        test_previous=values[-spec.test_rows - 1 : -1],
        test_index=series.index[-spec.test_rows :],
        naive_mae=float(np.mean(np.abs(differences[: -spec.test_rows]))),
    )
