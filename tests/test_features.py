"""Series features (statelab.data.features) against independent values: Hyndman's strength
definitions on a series whose decomposition is known, R's documented ``poly``, values worked
by hand, the statistics of white noise, and catch22's published reference output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.seasonal import STL

from statelab.data import catalog
from statelab.data.features import (
    Features,
    _poly_coefficients,
    _spikiness,
    collection_features,
    features,
)
from statelab.errors import StatelabError

MONTHS = np.arange(240.0)
TREND = 0.02 * MONTHS
PATTERN = np.tile([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8.0], 20)
PATTERN -= PATTERN.mean()
# The "noise": a sine of period 2.7 months. From one season to the next (12 months) it turns
# 12 / 2.7 = 4.44 cycles, so each cycle-subseries alternates close to its own Nyquist
# frequency and STL's seasonal smoother leaves it alone, as its trend smoother (23 months)
# does: STL puts it in the remainder, and the strengths follow from the known components.
WIGGLE = np.sin(2 * np.pi * MONTHS / 2.7)
# catch22's reference series and its published output (DynamicsAndNeuralSystems/catch22,
# testData/basic/test2.txt and test2_output.txt: CO_f1ecac, 32.50260547693646).
CATCH22_SERIES = np.loadtxt(Path(__file__).parent / "data" / "catch22_test2.txt")
CATCH22_F1ECAC = 32.50260547693646


def hyndman(component: np.ndarray, remainder: np.ndarray) -> float:
    return max(0.0, 1.0 - np.var(remainder) / np.var(component + remainder))


def monthly(values: np.ndarray, test_size: int = 0) -> Features:
    return features(pd.Series(values), test_size, 12)


# --- the strengths ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0.5, 1.0, 2.0])
def test_strengths_are_hyndmans_on_a_series_of_known_components(size):
    noise = size * WIGGLE
    got = monthly(TREND + PATTERN + noise)
    assert got.trend_strength == pytest.approx(hyndman(TREND, noise), abs=0.015)
    assert got.seasonal_strength == pytest.approx(hyndman(PATTERN, noise), abs=0.015)


def test_a_pure_trend_has_no_seasonal_strength_and_a_pure_season_no_trend_strength():
    trend_only, season_only = monthly(TREND + WIGGLE), monthly(PATTERN + WIGGLE)
    assert trend_only.seasonal_strength < 0.01 < 0.5 < trend_only.trend_strength
    assert season_only.trend_strength < 0.01 < 0.5 < season_only.seasonal_strength


def test_strengths_are_the_formula_on_stls_own_components():
    # STL is linear in the series, so its components of the raw values are those of the
    # standardised ones, rescaled: the ratios are the same.
    values = TREND + PATTERN + np.random.default_rng(7).normal(0.0, 1.5, MONTHS.size)
    fit = STL(values, period=12).fit()
    got = monthly(values)
    assert got.trend_strength == pytest.approx(hyndman(fit.trend, fit.resid), rel=1e-9)
    assert got.seasonal_strength == pytest.approx(hyndman(fit.seasonal, fit.resid), rel=1e-9)
    assert 0.1 < got.trend_strength < 0.99 and 0.1 < got.seasonal_strength < 0.99


def test_a_straight_line_is_all_trend_with_linearity_sqrt_n_minus_1():
    # Standardised, t = 0..n-1 is (t - mean) / sd, and R's poly column is (t - mean) / |t -
    # mean|, so the coefficient is |t - mean| / sd = sqrt(n - 1). Differences are constant
    # and a line has neither season nor remainder: those are undefined, not 0.
    for frequency in (12, None):
        got = features(pd.Series(5.0 + 0.3 * MONTHS[:60]), 0, frequency)
        assert got.linearity == pytest.approx(np.sqrt(59), rel=1e-9)
        assert got.curvature == pytest.approx(0.0, abs=1e-9)
        assert got.trend_strength == pytest.approx(1.0, abs=1e-9)
        # The persistence forecast misses by 0.3 each month; sd(0..59) = sqrt(60 * 61 / 12).
        assert got.persistence_error == pytest.approx(1 / np.sqrt(305), rel=1e-9)
        assert np.isnan([got.seasonal_strength, got.diff_acf1, got.diff_acf_seasonal]).all()


# --- linearity, curvature, spikiness -----------------------------------------------------


def test_linearity_and_curvature_use_rs_orthonormal_poly():
    # R: poly(1:5, 2) has columns (-2, -1, 0, 1, 2) / sqrt(10) and (2, -1, -2, -1, 2) / sqrt(14)
    # (R's documented example; the second column's sign makes a U-shape positive).
    assert _poly_coefficients(np.array([1.0, 2, 3, 4, 5])) == pytest.approx((np.sqrt(10), 0.0))
    assert _poly_coefficients(np.array([4.0, 1, 0, 1, 4])) == pytest.approx((0.0, np.sqrt(14)))
    assert _poly_coefficients(-np.array([4.0, 1, 0, 1, 4])) == pytest.approx((0.0, -np.sqrt(14)))
    # Longer: a U-shape's curvature is the length of t^2's part orthogonal to 1 and t (the
    # residual of a least-squares fit), positive; LAPACK signs this column the other way.
    time = MONTHS[:60] - 29.5  # centred, so the U is symmetric: no linear part
    powers = np.stack([np.ones_like(time), time], axis=1)
    residual = time**2 - powers @ np.linalg.lstsq(powers, time**2, rcond=None)[0]
    expected = (0.0, np.linalg.norm(residual))
    assert _poly_coefficients(time**2) == pytest.approx(expected, abs=1e-6)


def test_spikiness_is_the_variance_of_leave_one_out_variances():
    # By hand, tsfeatures' rule (each variance about the whole remainder's mean, 0.8):
    # d = (x - 0.8)^2 = 0.64 (x4), 10.24; leave-one-out variances (12.8 - d) / 3 = 4.0533
    # (x4), 0.8533; their variance (4 * 0.64^2 + 2.56^2) / 4 = 2.048. A remainder without its
    # spike has none.
    assert _spikiness(np.array([0.0, 0, 0, 0, 4])) == pytest.approx(2.048)
    assert _spikiness(np.array([1.0, -1, 1, -1, 1, -1])) == pytest.approx(0.0, abs=1e-15)


# --- autocorrelation, persistence, variation -----------------------------------------------


def test_an_alternating_series_worked_by_hand():
    # 0, 1, 0, ..., 0 (21 values, 11 zeros): differences +1, -1, ... (20, mean 0), so the
    # lag-1 autocorrelation is -19/20; the persistence forecast misses by 1 every time and
    # the values' variance is (10 - 21 (10/21)^2) / 20 = 11/42.
    got = features(pd.Series(np.arange(21) % 2, dtype=float), 0, None)
    assert got.diff_acf1 == pytest.approx(-19 / 20)
    assert got.persistence_error == pytest.approx(1 / np.sqrt(11 / 42))
    assert got.variation == pytest.approx(np.sqrt(11 / 42) / (10 / 21))
    assert got.length == 21


def test_autocorrelation_of_the_differences_of_ar_processes():
    # A series whose differences are AR(1) with phi 0.6, then one whose differences are a
    # seasonal AR with phi 0.5 at lag 12: the population autocorrelations are 0.6 and
    # (0, 0.5); 2,400 values put the estimates within 0.06 (3 standard errors).
    rng = np.random.default_rng(11)
    steps, seasonal = np.zeros(2400), np.zeros(2400)
    shocks = rng.normal(size=(2, 2400))
    for t in range(1, 2400):
        steps[t] = 0.6 * steps[t - 1] + shocks[0, t]
        seasonal[t] = (0.5 * seasonal[t - 12] if t >= 12 else 0.0) + shocks[1, t]
    assert monthly(np.cumsum(steps)).diff_acf1 == pytest.approx(0.6, abs=0.06)
    got = monthly(np.cumsum(seasonal))
    assert got.diff_acf1 == pytest.approx(0.0, abs=0.06)
    assert got.diff_acf_seasonal == pytest.approx(0.5, abs=0.06)


# --- spectral entropy, catch22 ------------------------------------------------------------


def test_spectral_entropy_of_white_noise_two_sines_and_one():
    # White noise: periodogram ordinates ~ Exp, so H ~ (ln K - (1 - Euler's gamma)) / ln K
    # over K = n/2 frequencies. Two sines of equal amplitude at Fourier frequencies: two equal
    # ordinates, H = ln 2 / ln K. One: all power in one ordinate, H = 0.
    noise = np.random.default_rng(5).normal(size=1024)
    k = 512
    expected = (np.log(k) - (1 - np.euler_gamma)) / np.log(k)
    assert features(pd.Series(noise), 0, None).spectral_entropy == pytest.approx(expected, abs=0.02)
    two = np.sin(2 * np.pi * 20 * MONTHS / 240) + np.sin(2 * np.pi * 50 * MONTHS / 240)
    assert monthly(two).spectral_entropy == pytest.approx(np.log(2) / np.log(120), abs=1e-9)
    one = np.sin(2 * np.pi * 20 * MONTHS / 240)
    assert monthly(one).spectral_entropy == pytest.approx(0.0, abs=1e-9)


def test_acf_timescale_is_catch22s_published_reference_output():
    got = features(pd.Series(CATCH22_SERIES), 0, None).acf_timescale
    assert got == pytest.approx(CATCH22_F1ECAC, rel=1e-12)


# --- training part only ---------------------------------------------------------------


def test_the_test_values_change_no_feature():
    series = catalog.select("m3:N1402").series[0]  # monthly: 50 training values, 18 test
    before = features(series, 18, 12)
    changed = series.copy()
    changed.iloc[-18:] = np.random.default_rng(1).normal(1e6, 1e5, 18)
    np.testing.assert_equal(features(changed, 18, 12), before)
    changed.iloc[-18:] = np.nan  # never read, so not even refused
    np.testing.assert_equal(features(changed, 18, 12), before)
    changed.iloc[-19] += series.std()  # the last training value is read
    moved = features(changed, 18, 12)
    assert all(moved[i] != before[i] for i in range(3, len(Features._fields)))


def test_the_training_part_is_what_test_size_leaves():
    reference = pd.Series(np.concatenate([CATCH22_SERIES, [9.0, -9.0, 99.0]]))
    got = features(reference, 3, None)
    assert got.length == CATCH22_SERIES.size
    assert got.acf_timescale == pytest.approx(CATCH22_F1ECAC, rel=1e-12)


# --- missing, not made up ---------------------------------------------------------------


SEASONAL = ("seasonal_strength", "diff_acf_seasonal")


@pytest.mark.parametrize("frequency", [1, None])
def test_yearly_or_unknown_frequency_leaves_the_seasonal_features_missing(frequency):
    series = catalog.select("m3:N0001").series[0]  # yearly, 14 training values
    got = features(series, 6, frequency)._asdict()
    assert np.isnan([got[name] for name in SEASONAL]).all()
    others = [v for name, v in got.items() if name not in (*SEASONAL, "frequency", "domain")]
    assert np.isfinite(others).all()


def test_two_seasons_are_too_few_for_the_seasonal_features_and_more_are_enough():
    # With exactly two seasons each cycle-subseries has two points and STL's seasonal
    # smoother would absorb everything (both strengths 1): forecast::mstl's rule, n > 2m.
    values = TREND[:25] + PATTERN[:25] + WIGGLE[:25]
    short = monthly(values[:24])
    assert np.isnan([short.seasonal_strength, short.diff_acf_seasonal]).all()
    assert np.isfinite(short.trend_strength)
    enough = monthly(values)
    assert np.isfinite([enough.seasonal_strength, enough.diff_acf_seasonal]).all()


def test_features_are_scale_free_up_to_the_largest_floats():
    values = TREND + PATTERN + WIGGLE
    base = monthly(values)
    for factor in (1e-300, 1e6, 1e300):
        got = monthly(values * factor)
        np.testing.assert_allclose(got[3:], base[3:], rtol=1e-9, atol=1e-12)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "test_size", "frequency", "words"),
    [
        ([4.0] * 30 + [1.0, 2.0], 2, 12, "constant"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 3, None, "too few"),
        ([1.0, 2.0, 3.0], 0, None, "too few"),
        ([1.0, np.nan, 3.0, 1.0, 2.0, 3.0], 0, None, "non-finite value (nan) at position 2"),
        ([1.0, np.inf, 3.0, 1.0, 2.0, 3.0], 0, None, "non-finite"),
        (["1", "x", "3", "4", "5"], 0, None, "not numbers"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], -1, None, "too few"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 1.5, None, "whole number"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 0, 0, "frequency"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 0, True, "frequency"),
    ],
)
def test_bad_input_is_one_line(values, test_size, frequency, words):
    with pytest.raises(StatelabError) as error:
        features(pd.Series(values, name="s"), test_size, frequency)
    assert words in str(error.value) and "\n" not in str(error.value)


# --- a collection ------------------------------------------------------------------------


def test_collection_features_of_m3_monthly_and_yearly_series():
    names = ["m3:N1402", "m3:N1403", "m3:N2000", "m3:N0001"]  # three monthly, one yearly
    selection = catalog.select(",".join(names))
    table = collection_features(selection)
    assert list(table.index) == names and list(table.columns) == list(Features._fields)
    # M3's documented split: N1402..N2829 monthly (12), N0001..N0645 yearly (1), training
    # lengths n = all values less the horizon (18 monthly, 6 yearly).
    assert table["frequency"].tolist() == [12, 12, 12, 1]
    assert table["length"].tolist() == [len(s) - h for s, h in zip(*selection[1:3], strict=True)]
    assert table["domain"].tolist() == list(selection.domain)
    assert table.loc[names[:3], list(SEASONAL)].notna().all().all()
    assert table.loc["m3:N0001", list(SEASONAL)].isna().all()
    for name, series, test_size, domain in zip(names, *selection[1:], strict=True):
        row = features(series, test_size, catalog.frequency(name), domain)
        assert [None if pd.isna(v) else v for v in table.loc[name]] == [
            None if pd.isna(v) else v for v in row
        ]


def test_shampoo_has_two_seasons_of_training_only():
    table = collection_features(catalog.select("shampoo"))
    assert table.loc["shampoo", "length"] == 24 and table.loc["shampoo", "frequency"] == 12
    assert table.loc["shampoo", list(SEASONAL)].isna().all()


@pytest.mark.parametrize(
    ("name", "frequency"),
    [
        ("m3:N1402", 12),  # M3's documented periods: monthly
        ("m3:N0646", 4),  # quarterly
        ("m3:N0645", 1),  # yearly
        ("m3:N2830", 1),  # "other": no seasonal period
        ("shampoo", 12),
        ("m3:N9999", None),  # no such series
        ("sales.csv", None),  # a CSV records none
    ],
)
def test_catalog_frequency(name, frequency):
    assert catalog.frequency(name) == frequency
