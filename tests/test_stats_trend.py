"""The trend of an effect across set-ups (statelab.stats.trend): the per-series weighted
slope against a case worked by hand and statsmodels' WLS; a known slope and a known
between-series variance recovered within their standard errors; and, with no slope, a test
that keeps its size over a seeded simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.regression.linear_model import WLS

from statelab import stats

LEVELS = np.log2([100, 300, 1000, 3000])  # epochs on the log scale, as the set-up study tests them


def test_one_series_slope_worked_by_hand():
    """y = 0, 1, 2 at x = 0, 1, 2, every SE 1: slope 1; SE = 1 / sqrt(sum (x - mean)^2) =
    1 / sqrt(2). Only the slope comes back (the intercept is a nuisance)."""
    fit = stats.series_slopes(np.array([0.0, 1.0, 2.0]), [[0.0, 1.0, 2.0]], [[1.0, 1.0, 1.0]])
    assert fit.estimate.shape == (1, 1)
    assert fit.estimate[0, 0] == pytest.approx(1.0)
    assert fit.se[0, 0] == pytest.approx(1 / np.sqrt(2))


def test_slopes_are_statsmodels_wls_at_the_known_variances_and_unusable_levels_drop_out():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 0.1, (3, 4))
    se = rng.uniform(0.01, 0.1, (3, 4))
    se[1, 2] = 0.0  # an identical pair at one level: left out of that series' fit
    y[2, [0, 1, 3]] = np.nan  # one usable level: no slope
    fit = stats.series_slopes(LEVELS, y, se)
    for i, keep in ((0, [0, 1, 2, 3]), (1, [0, 1, 3])):
        x = np.column_stack([np.ones(len(keep)), LEVELS[keep]])
        wls = WLS(y[i, keep], x, weights=1 / se[i, keep] ** 2).fit(
            cov_type="fixed scale", cov_kwds={"scale": 1.0}
        )
        assert fit.estimate[i, 0] == pytest.approx(wls.params[1], rel=1e-10)
        assert fit.se[i, 0] == pytest.approx(wls.bse[1], rel=1e-10)
    assert np.isnan(fit.estimate[2, 0]) and np.isnan(fit.se[2, 0])


def test_a_grid_design_gives_each_term_its_own_slope():
    """Two factors and their product, an exact plane: every coefficient recovered."""
    a, b = np.meshgrid([0.0, 1.0, 2.0], [0.0, 1.0], indexing="ij")
    design = np.column_stack([a.ravel(), b.ravel(), (a * b).ravel()])
    y = 0.3 + 0.1 * design[:, 0] - 0.2 * design[:, 1] + 0.05 * design[:, 2]
    fit = stats.series_slopes(design, [y], [np.full(6, 0.01)])
    np.testing.assert_allclose(fit.estimate[0], [0.1, -0.2, 0.05], atol=1e-12)


def simulate(rng, series: int, slope: float, tau: float):
    """Per-series log ratios at LEVELS: intercepts of their own, slopes drawn around
    ``slope`` with between-series SD ``tau``, and sampling noise of a known SE per level."""
    intercepts = rng.normal(0.0, 0.1, series)
    slopes = rng.normal(slope, tau, series)
    se = rng.uniform(0.02, 0.08, (series, len(LEVELS)))
    y = intercepts[:, None] + slopes[:, None] * LEVELS + rng.normal(0.0, se)
    return slopes, y, se


def test_a_known_slope_and_between_series_variance_are_recovered_within_their_errors():
    rng = np.random.default_rng(20)
    slope, tau = 0.05, 0.03
    true, y, se = simulate(rng, 400, slope, tau)
    fit = stats.series_slopes(LEVELS, y, se)
    estimate, error = fit.estimate[:, 0], fit.se[:, 0]
    # Each series' SE is right: (estimate - its true slope) / SE is standard normal, so the
    # sum of squares is chi-square on 400 degrees of freedom.
    z2 = float(np.sum(((estimate - true) / error) ** 2))
    assert sps.chi2.ppf(0.001, 400) < z2 < sps.chi2.ppf(0.999, 400)
    trend = stats.pooled_slope(estimate, error)
    assert trend.meta.k == 400
    assert abs(trend.meta.pooled - slope) < 3 * trend.meta.se
    # tau2's standard error from the likelihood's information, 2 / sum w^2, w = 1 / (v + tau2)
    # (Viechtbauer 2005), at the true tau2.
    tau2_se = np.sqrt(2 / np.sum(1 / (error**2 + tau**2) ** 2))
    assert abs(trend.meta.tau2 - tau**2) < 3 * tau2_se
    assert trend.p < 1e-10  # a slope of 0.05 per doubling over 400 series is no accident


def test_with_no_slope_the_test_keeps_its_size():
    """400 draws of 8 series whose slopes vary (tau 0.02) around 0: the test at 5% rejects
    about 5% of the time, within a 99.9% binomial bound. A fixed-effect pooling, blind to
    the slopes' own spread, rejects far more often."""
    rng = np.random.default_rng(7)
    draws = 400
    rejected = 0
    for _ in range(draws):
        _, y, se = simulate(rng, 8, 0.0, 0.02)
        fit = stats.series_slopes(LEVELS, y, se)
        rejected += stats.pooled_slope(fit.estimate[:, 0], fit.se[:, 0]).p < stats.ALPHA
    assert rejected <= sps.binom.ppf(0.999, draws, stats.ALPHA)
    assert rejected >= sps.binom.ppf(0.001, draws, stats.ALPHA) / 2  # a test, not a p of 1


def test_nothing_to_pool_gives_no_p_value():
    fit = stats.series_slopes(LEVELS, np.full((2, 4), np.nan), np.full((2, 4), 0.1))
    trend = stats.pooled_slope(fit.estimate[:, 0], fit.se[:, 0])
    assert trend.meta.k == 0 and np.isnan(trend.p)
