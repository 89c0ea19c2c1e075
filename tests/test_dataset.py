"""The study's harness steps 1-4 (statelab.data.dataset.prepare), checked by hand on Shampoo Sales:
differencing, framing, the 22/12 split, a scaler fitted on the training rows only, the
training window, and the exact inverse back to sales units. The oracle is plain Python on the
36 values printed in docs/design.md section 1, not statelab's own transforms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.data.dataset import prepare, rows_needed
from statelab.spec import Spec

# docs/design.md section 1, the 36 months as printed there.
SHAMPOO = [
    266.0, 145.9, 183.1, 119.3, 180.3, 168.5, 231.8, 224.5, 192.8, 122.9, 336.5, 185.9,
    194.3, 149.5, 210.1, 273.3, 191.4, 287.0, 226.0, 303.6, 289.9, 421.6, 264.5, 342.3,
    339.7, 440.4, 315.9, 439.3, 401.3, 437.4, 575.5, 407.6, 682.0, 475.3, 581.3, 646.9,
]  # fmt: skip

# Step 1: 35 differences; step 2: row r has input d[r] and target d[r + 1], 34 rows.
DIFFS = [b - a for a, b in zip(SHAMPOO, SHAMPOO[1:], strict=False)]
ROWS = [(DIFFS[r], DIFFS[r + 1]) for r in range(len(DIFFS) - 1)]


def by_hand(rows: list[tuple[float, float]], fitted_on: list[tuple[float, float]]):
    """Min-max to [-1, 1], per column, with the min and max of ``fitted_on`` only."""
    out = []
    for row in rows:
        scaled = []
        for column, value in enumerate(row):
            low = min(r[column] for r in fitted_on)
            high = max(r[column] for r in fitted_on)
            scaled.append(2 * (value - low) / (high - low) - 1)
        out.append(scaled)
    return np.array(out)


def test_the_series_is_the_one_in_the_design():
    series = statelab.shampoo()
    assert series.to_list() == SHAMPOO
    assert str(series.index[0]) == "1901-01" and str(series.index[-1]) == "1903-12"


def test_the_design_prints_these_36_months(design):
    study = design[1]
    printed = study.split("```")[1]  # section 1's first code block: the series
    assert [float(value) for value in printed.split()] == SHAMPOO
    assert "1901-01 .. 1903-12" in study


def test_shampoo_frames_into_22_training_and_12_test_rows():
    dataset = prepare(statelab.shampoo(), Spec())
    assert len(DIFFS) == 35 and len(ROWS) == 34
    assert dataset.train_x.shape == (22, 1) and dataset.train_y.shape == (22,)
    assert dataset.test_x.shape == (12, 1)
    assert dataset.test_actual.shape == dataset.test_previous.shape == (12,)
    assert [str(x) for x in dataset.test_index] == [f"1903-{m:02d}" for m in range(1, 13)]


def test_the_scaler_is_fitted_on_the_training_rows_only():
    dataset = prepare(statelab.shampoo(), Spec())
    train, test = ROWS[:22], ROWS[22:]
    expected_train = by_hand(train, fitted_on=train)
    expected_test = by_hand(test, fitted_on=train)
    np.testing.assert_allclose(dataset.train_x[:, 0], expected_train[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dataset.train_y, expected_train[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dataset.test_x[:, 0], expected_test[:, 0], rtol=0, atol=1e-12)
    # -1 and 1 at the training rows' extremes, per column, and nothing outside. (The affine
    # form x * scale + offset, scikit-learn's, lands within an ulp of the ends: 1 - 2.2e-16.)
    for column, hand in ((dataset.train_x[:, 0], [r[0] for r in train]),
                         (dataset.train_y, [r[1] for r in train])):  # fmt: skip
        assert np.argmin(column) == np.argmin(hand) and np.argmax(column) == np.argmax(hand)
        assert abs(column.min() + 1.0) <= 4e-16 and abs(column.max() - 1.0) <= 4e-16
        assert np.all((column >= -1.0) & (column <= 1.0))
    # Fitted on the training rows only: the test year's larger swings fall outside [-1, 1]
    # (a scaler fitted on all 34 rows would keep them inside).
    assert dataset.test_x.max() > 1.0


def test_test_rows_are_the_raw_months_and_the_months_before_them():
    dataset = prepare(statelab.shampoo(), Spec())
    assert dataset.test_actual.tolist() == SHAMPOO[-12:]
    assert dataset.test_previous.tolist() == SHAMPOO[-13:-1]


def test_a_training_window_takes_the_last_rows_and_fits_the_scaler_on_them():
    dataset = prepare(statelab.shampoo(), Spec(train_window=12))
    window = ROWS[10:22]  # the 12 rows just before the test
    expected = by_hand(window, fitted_on=window)
    assert dataset.train_x.shape == (12, 1)
    np.testing.assert_allclose(dataset.train_x[:, 0], expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dataset.train_y, expected[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        dataset.test_x[:, 0], by_hand(ROWS[22:], fitted_on=window)[:, 0], rtol=0, atol=1e-12
    )
    # the test split is the same as without a window
    assert dataset.test_actual.tolist() == SHAMPOO[-12:]


def test_to_raw_inverts_the_scaling_and_the_differencing():
    dataset = prepare(statelab.shampoo(), Spec())
    test_targets_scaled = by_hand(ROWS[22:], fitted_on=ROWS[:22])[:, 1]
    # A perfect scaled forecast comes back as the actual months.
    np.testing.assert_allclose(
        dataset.to_raw(test_targets_scaled), SHAMPOO[-12:], rtol=1e-12, atol=1e-9
    )
    # (N, T): each row inverted alike; scaled 0 is the middle of the training target range.
    low, high = min(r[1] for r in ROWS[:22]), max(r[1] for r in ROWS[:22])
    stacked = np.stack([test_targets_scaled, np.zeros(12)])
    raw = dataset.to_raw(stacked)
    assert raw.shape == (2, 12)
    np.testing.assert_allclose(raw[0], SHAMPOO[-12:], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        raw[1], np.array(SHAMPOO[-13:-1]) + (low + high) / 2, rtol=1e-12, atol=1e-9
    )


def test_two_lags_frame_most_recent_first():
    values = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0, 22.0, 29.0])  # differences 1, 2, ..., 7
    series = pd.Series(values, index=pd.RangeIndex(8), name="v")
    dataset = prepare(series, Spec(lags=2, test_rows=2))
    # rows: inputs (d[t-1], d[t-2]) -> target d[t], for d[t] = 3..7; the last 2 are the test.
    train = [(2, 1, 3), (3, 2, 4), (4, 3, 5)]
    expected = by_hand(train, fitted_on=train)
    np.testing.assert_allclose(dataset.train_x, expected[:, :2], atol=1e-12)
    np.testing.assert_allclose(dataset.train_y, expected[:, 2], atol=1e-12)
    np.testing.assert_allclose(
        dataset.test_x, by_hand([(5, 4, 6), (6, 5, 7)], fitted_on=train)[:, :2], atol=1e-12
    )
    assert dataset.test_actual.tolist() == [22.0, 29.0]
    assert dataset.test_previous.tolist() == [16.0, 22.0]
    # to_raw inverts the target column's scaling (3..5 -> -1..1), not an input column's:
    # targets 6 and 7 scale to 2 and 3 and come back as 16 + 6 and 22 + 7.
    np.testing.assert_allclose(dataset.to_raw(np.array([2.0, 3.0])), [22.0, 29.0], atol=1e-12)


CASES = [({}, 16), ({"lags": 3}, 18), ({"train_window": 12}, 26), ({"test_rows": 4}, 8)]


def distinct_changes(count: int) -> pd.Series:
    """``count`` values whose successive changes all differ (1, 2.8, 5.2, ...)."""
    values = np.cumsum(np.arange(1.0, count + 1) ** 1.5)
    return pd.Series(values, index=pd.RangeIndex(count), name="v")


@pytest.mark.parametrize(("settings", "needed"), CASES)
def test_rows_needed_counts_differencing_lags_test_and_training(settings, needed):
    spec = Spec(**settings)
    assert rows_needed(spec) == needed
    with pytest.raises(statelab.StatelabError) as raised:
        prepare(distinct_changes(needed - 1), spec)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert f"the series has {needed - 1} values; the split needs at least {needed}" in message


@pytest.mark.parametrize(("settings", "needed"), CASES)
def test_a_series_of_exactly_rows_needed_values_can_be_prepared(settings, needed):
    # "The shortest series the split can use": that many values must work.
    spec = Spec(**settings)
    dataset = prepare(distinct_changes(needed), spec)
    assert len(dataset.train_y) == (spec.train_window or 2)
    assert len(dataset.test_actual) == spec.test_rows


def test_sixteen_values_give_two_training_rows():
    # 16 values -> 15 changes -> 14 framed rows -> 12 test, 2 training
    dataset = prepare(distinct_changes(16), Spec())
    assert dataset.train_x.shape == (2, 1)
    # the two rows are the extremes: -1 and 1, within an ulp or two (x * scale + offset)
    np.testing.assert_allclose(sorted(dataset.train_y), [-1.0, 1.0], rtol=0, atol=1e-15)


def test_constant_training_rows_are_refused_in_one_line():
    # changes of 5 every month before the test: nothing to learn
    values = np.concatenate([np.arange(0.0, 120.0, 5.0), [130.0, 120.0, 140.0, 150.0]])
    series = pd.Series(values, index=pd.RangeIndex(len(values)), name="v")
    with pytest.raises(statelab.StatelabError, match="training rows are constant") as raised:
        prepare(series, Spec(test_rows=4))
    assert len(str(raised.value).splitlines()) == 1


def test_the_too_short_message_names_each_part():
    series = pd.Series(np.arange(15.0) ** 2, index=pd.RangeIndex(15), name="v")
    with pytest.raises(statelab.StatelabError) as raised:
        prepare(series, Spec())
    assert str(raised.value) == (
        "the series has 15 values; the split needs at least 16 (1 lost to differencing, "
        "1 to the lags, 12 test rows, 2 training)"
    )


def test_naive_mae_is_the_mean_absolute_change_before_the_test():
    # in-sample one-step naive errors: the 23 month-to-month changes up to 1902-12
    changes = [abs(SHAMPOO[t] - SHAMPOO[t - 1]) for t in range(1, 24)]
    dataset = prepare(statelab.shampoo(), Spec())
    assert abs(dataset.naive_mae - sum(changes) / 23) < 1e-12


def test_differences_too_large_for_float64_are_a_clean_error():
    values = np.array([1e308, -1e308] * 10)
    series = pd.Series(values, index=pd.RangeIndex(20), name="v")
    with pytest.raises(statelab.StatelabError, match="too large to difference"):
        prepare(series, Spec())


def test_a_stateful_batch_that_does_not_divide_the_training_rows_is_refused():
    with pytest.raises(statelab.StatelabError, match="22 training rows to divide by the batch"):
        prepare(statelab.shampoo(), Spec(batch_size=4, forecast="batched"))
