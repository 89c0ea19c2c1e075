"""Walk-forward scoring (statelab.execution.evaluate): RMSE worked by hand, and the persistence
baseline, 136.761 on Shampoo, computed independently from the raw values in docs/design.md
section 1."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import statelab
from statelab.data.dataset import prepare
from statelab.execution.evaluate import mase, persistence_rmse, rmse
from statelab.spec import Spec

# docs/design.md section 1.
SHAMPOO = [
    266.0, 145.9, 183.1, 119.3, 180.3, 168.5, 231.8, 224.5, 192.8, 122.9, 336.5, 185.9,
    194.3, 149.5, 210.1, 273.3, 191.4, 287.0, 226.0, 303.6, 289.9, 421.6, 264.5, 342.3,
    339.7, 440.4, 315.9, 439.3, 401.3, 437.4, 575.5, 407.6, 682.0, 475.3, 581.3, 646.9,
]  # fmt: skip


def test_rmse_worked_by_hand():
    # errors 1, 0, -2, 3: squares 1 + 0 + 4 + 9 = 14 over 4 -> sqrt(3.5)
    assert rmse([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 1.0, 7.0]) == math.sqrt(3.5)
    assert rmse([5.0, 5.0], [5.0, 5.0]) == 0.0
    assert rmse([0.0], [-3.0]) == 3.0


def test_rmse_reduces_the_last_axis_only():
    actual = np.array([1.0, 2.0, 3.0])
    forecasts = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [1.0, 2.0, 9.0]])
    np.testing.assert_allclose(rmse(actual, forecasts), [0.0, 1.0, math.sqrt(12.0)], rtol=1e-15)
    assert rmse(actual, forecasts).shape == (3,)
    assert rmse(actual, forecasts[None]).shape == (1, 3)


def test_a_repeats_score_is_the_same_alone_or_beside_others_in_any_layout():
    """18 test rows (M3's horizon): numpy's own mean adds a contiguous row pairwise but a
    strided one term by term, so a repeat scored alone (a chunk of one repeat) and beside
    others (lanes last, moved to the front) differed in the last bit. Each score must be the
    squares (absolute errors) added in index order, as plain Python floats add them."""
    rng = np.random.default_rng(3)
    actual = rng.normal(1000.0, 300.0, 18)
    forecasts = actual + rng.normal(0.0, 77.7, (18, 40)).T  # (40, 18), repeats not contiguous
    assert not forecasts.flags.c_contiguous
    alone = np.array([rmse(actual, forecasts[k : k + 1])[0] for k in range(40)])
    together, copied = rmse(actual, forecasts), rmse(actual, np.ascontiguousarray(forecasts))
    by_hand = []
    for row in forecasts:
        total = 0.0
        for a, f in zip(actual.tolist(), row.tolist(), strict=True):
            total += (f - a) ** 2
        by_hand.append(math.sqrt(total / 18))
    for scores in (alone, together, copied):
        assert scores.tolist() == by_hand
    naive = 55.5
    assert [mase(actual, forecasts[k : k + 1], naive)[0] for k in range(40)] == [
        sum(abs(f - a) for a, f in zip(actual.tolist(), row.tolist(), strict=True)) / 18 / naive
        for row in forecasts
    ]
    # numpy's pairwise sum gives another last bit for some of these: the test can fail.
    assert (np.sqrt(np.mean((forecasts - actual) ** 2, axis=-1)) != together).any() or (
        np.sqrt(np.mean(np.ascontiguousarray(forecasts - actual) ** 2, axis=-1)) != together
    ).any()


def test_no_test_rows_score_nan_as_numpys_mean_does():
    assert np.isnan(rmse(np.empty(0), np.empty((3, 0)))).all()
    assert np.isnan(mase(np.empty(0), np.empty(0), 1.0))


def persistence_by_hand() -> float:
    """Next month = this month, over the 12 months of 1903."""
    errors = [SHAMPOO[t] - SHAMPOO[t - 1] for t in range(24, 36)]
    return math.sqrt(sum(e * e for e in errors) / 12)


def test_the_design_states_the_persistence_rmse_worked_by_hand(design):
    assert f"RMSE **{persistence_by_hand():.3f}**" in design[1]


def test_persistence_on_shampoo_is_136_761_computed_independently():
    by_hand = persistence_by_hand()
    assert round(by_hand, 3) == 136.761
    found = persistence_rmse(prepare(statelab.shampoo(), Spec()))
    assert isinstance(found, float)
    assert math.isclose(found, by_hand, rel_tol=1e-12)


def test_persistence_depends_only_on_the_test_rows():
    # A training window or more lags changes the training rows, never the persistence score.
    series = statelab.shampoo()
    base = persistence_rmse(prepare(series, Spec()))
    assert persistence_rmse(prepare(series, Spec(train_window=12))) == base
    assert persistence_rmse(prepare(series, Spec(lags=3))) == base
    # Four test rows of a series built by hand: previous 10, 13, 11, 11 -> actual 13, 11, 11, 15.
    values = [1.0, 4.0, 6.0, 10.0, 13.0, 11.0, 11.0, 15.0]
    short = pd.Series(values, index=pd.RangeIndex(8), name="v")
    assert persistence_rmse(prepare(short, Spec(test_rows=4))) == math.sqrt((9 + 4 + 0 + 16) / 4)


def test_mase_worked_by_hand():
    # absolute errors 1, 0, 2, 3 -> MAE 1.5; over a naive MAE of 0.5 -> 3
    assert mase([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 1.0, 7.0], 0.5) == 3.0
    scores = mase([1.0, 2.0], np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]]), 2.0)
    np.testing.assert_array_equal(scores, [0.0, 0.75, 0.75])


def test_mase_of_the_persistence_forecast_on_shampoo_by_hand():
    # The naive forecast's MASE on the test year: its test MAE over the in-sample naive MAE.
    dataset = prepare(statelab.shampoo(), Spec())
    test_mae = sum(abs(SHAMPOO[t] - SHAMPOO[t - 1]) for t in range(24, 36)) / 12
    in_sample = sum(abs(SHAMPOO[t] - SHAMPOO[t - 1]) for t in range(1, 24)) / 23
    found = mase(dataset.test_actual, dataset.test_previous, dataset.naive_mae)
    assert math.isclose(found, test_mae / in_sample, rel_tol=1e-12)
