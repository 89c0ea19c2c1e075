"""The random-effects estimator (REML), the Knapp-Hartung intervals and the meta-regression,
against R's metafor on its own documented example (the BCG vaccine trials, computed here from
the published 2x2 counts), an independent maximisation of the restricted likelihood, and cases
worked by hand."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.optimize import minimize_scalar

from statelab import stats
from statelab.errors import StatelabError

# Colditz et al. (1994), metafor's dat.bcg: per trial, TB cases and non-cases among the
# vaccinated (tpos, tneg) and the controls (cpos, cneg), and the absolute latitude.
BCG = pd.DataFrame(
    [[4, 119, 11, 128, 44], [6, 300, 29, 274, 55], [3, 228, 11, 209, 42],
     [62, 13536, 248, 12619, 52], [33, 5036, 47, 5761, 13], [180, 1361, 372, 1079, 44],
     [8, 2537, 10, 619, 19], [505, 87886, 499, 87892, 13], [29, 7470, 45, 7232, 27],
     [17, 1699, 65, 1600, 42], [186, 50448, 141, 27197, 18], [5, 2493, 3, 2338, 33],
     [27, 16886, 29, 17825, 33]],
    columns=["tpos", "tneg", "cpos", "cneg", "ablat"],
)  # fmt: skip


def log_risk_ratios(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """metafor's escalc(measure="RR"): log(a / n1) - log(c / n2), variance 1/a - 1/n1 + 1/c -
    1/n2 (no zero cells here, so no continuity correction)."""
    n1, n2 = t["tpos"] + t["tneg"], t["cpos"] + t["cneg"]
    yi = np.log(t["tpos"] / n1) - np.log(t["cpos"] / n2)
    vi = 1 / t["tpos"] - 1 / n1 + 1 / t["cpos"] - 1 / n2
    return yi.to_numpy(), vi.to_numpy()


YI, VI = log_risk_ratios(BCG)

# metafor's README (github.com/wviechtb/metafor), printed to 4 decimals. metafor's Fisher
# scoring stops at a step in tau2 below 1e-5, a little short of the root this code finds to
# rounding, so its tau2 is 0.07635 where the root is 0.07635 - 7e-6; with the rounding, 1e-4
# covers both and still tells REML from Paule-Mandel or DerSimonian-Laird, and Knapp-Hartung
# from normal intervals (whose SEs here are 0.25 and 0.0072, not 0.28 and 0.0082).
METAFOR = 1e-4


def test_bcg_latitude_meta_regression_against_metafor():
    """rma(yi, vi, mods = ~ ablat, data=dat, test="knha"): tau^2 0.0764, R^2 75.62%,
    QE(df = 11) = 30.7331 (p 0.0012), F(1, 11) = 12.5905 (p 0.0046), and
    intrcpt 0.2515 (se 0.2839, t 0.8857, p 0.3948, CI -0.3735 to 0.8764),
    ablat -0.0291 (se 0.0082, t -3.5483, p 0.0046, CI -0.0472 to -0.0111)."""
    fit = stats.meta_regression(YI, np.sqrt(VI), BCG["ablat"])
    assert (fit.k, fit.df, fit.zero_se) == (13, 11, 0)
    assert fit.tau2 == pytest.approx(0.0764, abs=METAFOR)
    assert fit.r2 == pytest.approx(0.7562, abs=METAFOR)
    assert fit.qe == pytest.approx(30.7331, abs=METAFOR)
    assert fit.qe_p == pytest.approx(0.0012, abs=METAFOR)
    assert fit.f == pytest.approx(12.5905, rel=METAFOR)
    assert fit.f_p == pytest.approx(0.0046, abs=METAFOR)
    # metafor's I^2 here is tau2 / (tau2 + typical variance), 68.39%; this one is Q's.
    assert fit.i2 == pytest.approx((30.7331 - 11) / 30.7331, rel=1e-5)
    expected = pd.DataFrame(
        {"estimate": [0.2515, -0.0291], "se": [0.2839, 0.0082], "t": [0.8857, -3.5483],
         "p": [0.3948, 0.0046], "ci_low": [-0.3735, -0.0472], "ci_high": [0.8764, -0.0111]},
        index=pd.Index(["intercept", "ablat"], name="term"),
    )  # fmt: skip
    pd.testing.assert_frame_equal(fit.coefficients, expected, check_exact=False, atol=METAFOR)
    # metafor's test="knha" is untruncated; here q > 1, so the truncation at 1 changes nothing.
    assert fit.hk_q > 1.2


def test_bcg_intercept_only_against_metafor():
    """rma(yi, vi, data=dat, test="knha"): tau^2 0.3132, Q(df = 12) = 152.2330, estimate
    -0.7145 (se 0.1808, t -3.9522, p 0.0019, CI -1.1084 to -0.3206)."""
    fit = stats.meta_regression(YI, np.sqrt(VI))
    assert (fit.k, fit.df) == (13, 12)
    assert fit.tau2 == pytest.approx(0.3132, abs=METAFOR)
    assert fit.qe == pytest.approx(152.2330, abs=METAFOR)
    assert math.isnan(fit.r2) and math.isnan(fit.f)
    row = fit.coefficients.loc["intercept"]
    assert list(row) == pytest.approx([-0.7145, 0.1808, -3.9522, 0.0019, -1.1084, -0.3206],
                                      abs=METAFOR)  # fmt: skip


def test_bcg_meta_analysis_against_metafor():
    """The same fit through meta_analysis: its CI is metafor's test="knha" interval (q = 1.011
    here, so truncating it at 1 changes nothing), se and df those of that interval."""
    meta = stats.meta_analysis(YI, np.sqrt(VI))
    assert (meta.k, meta.df) == (13, 12)
    assert [meta.pooled, meta.se, meta.ci_low, meta.ci_high, meta.tau2] == pytest.approx(
        [-0.7145, 0.1808, -1.1084, -0.3206, 0.3132], abs=METAFOR
    )
    assert meta.q == pytest.approx(152.2330, abs=METAFOR)
    # Higgins et al.'s prediction interval, with the model's SE 1 / sqrt(sum w) (not metafor's
    # predict(), which takes the Knapp-Hartung SE and t on 12 df).
    w = 1 / (VI + meta.tau2)
    half = sps.t.ppf(0.975, 11) * math.sqrt(meta.tau2 + 1 / w.sum())
    assert (meta.pi_low, meta.pi_high) == pytest.approx(
        (meta.pooled - half, meta.pooled + half), rel=1e-12
    )


def test_intercept_only_meta_regression_is_the_meta_analysis():
    fit = stats.meta_regression(YI, np.sqrt(VI))
    meta = stats.meta_analysis(YI, np.sqrt(VI))
    row = fit.coefficients.loc["intercept"]
    assert (meta.pooled, meta.se, meta.ci_low, meta.ci_high) == tuple(
        row[["estimate", "se", "ci_low", "ci_high"]]
    )
    assert (meta.df, meta.tau2, meta.q, meta.q_p, meta.i2) == (
        fit.df, fit.tau2, fit.qe, fit.qe_p, fit.i2
    )  # fmt: skip


def normal_interval(y: np.ndarray, v: np.ndarray, tau2: float) -> tuple[float, float]:
    """The random-effects mean -+ z / sqrt(sum w), w = 1 / (v + tau2): the interval before
    HKSJ, written out here."""
    w = 1 / (v + tau2)
    mean, half = w @ y / w.sum(), NormalDist().inv_cdf(0.975) / math.sqrt(w.sum())
    return mean - half, mean + half


def test_truncated_hksj_interval_is_never_narrower_than_the_normal_one():
    """300 seeded meta-analyses of 3 series, a third of them with tau2 = 0 estimated: the
    truncated HKSJ interval contains the normal one around the same mean; and the t-TOST
    from (pooled, se, df) is the CI's own arithmetic, pooled -+ t_{df} se."""
    rng = np.random.default_rng(5)
    zero = 0
    for _ in range(300):
        v = (0.1 * 4 ** rng.uniform(size=3)) ** 2
        y = rng.normal(0, np.sqrt(v))
        meta = stats.meta_analysis(y, np.sqrt(v))
        low, high = normal_interval(y, v, meta.tau2)
        assert meta.ci_low < low and high < meta.ci_high
        half = sps.t.ppf(0.975, meta.df) * meta.se
        assert (meta.ci_low, meta.ci_high) == pytest.approx(
            (meta.pooled - half, meta.pooled + half), rel=1e-12, abs=1e-15
        )
        zero += meta.tau2 == 0
    assert zero > 100


def coverage(k: int, tau2: float, draws: int, seed: int) -> tuple[float, float]:
    """The share of seeded meta-analyses of k series with true mean 0 (SEs 0.1 to 0.4) whose
    95% CI covers 0: the truncated HKSJ CI (meta_analysis) and the normal one."""
    rng = np.random.default_rng(seed)
    hksj = normal = 0
    for _ in range(draws):
        v = (0.1 * 4 ** rng.uniform(size=k)) ** 2
        y = rng.normal(0, math.sqrt(tau2), k) + rng.normal(0, np.sqrt(v))
        meta = stats.meta_analysis(y, np.sqrt(v))
        low, high = normal_interval(y, v, meta.tau2)
        hksj += meta.ci_low <= 0 <= meta.ci_high
        normal += low <= 0 <= high
    return hksj / draws, normal / draws


def test_truncated_hksj_covers_where_the_normal_interval_does_not():
    """3 series with tau2 = 0.05, the mean within-series variance (in 4000 draws of
    benchmarks/meta_coverage.py the normal interval covers 0.873, the truncated HKSJ one
    0.995; REML puts tau2 at 0 in 37%). Over 400 draws a 95% interval's coverage has a
    binomial SE of 0.011, so 0.92, three SEs below 0.95, is a bound a correct interval passes
    and the normal one fails (at 0.873 its SE is 0.017: 0.92 lies 2.8 of them above). With
    tau2 = 0 both pass (the truncated interval conservatively: 1.000 in the benchmark)."""
    hksj, normal = coverage(3, 0.05, 400, seed=3)
    assert hksj >= 0.92 and normal < 0.92
    hksj, normal = coverage(3, 0.0, 400, seed=4)
    assert hksj >= 0.92 and normal >= 0.92


def restricted_log_likelihood(tau2: float, y: np.ndarray, v: np.ndarray, x: np.ndarray) -> float:
    """-1/2 [sum log(v + tau2) + log det X'WX + e'We] up to a constant (Harville 1977)."""
    w = 1 / (v + tau2)
    xtwx = x.T @ (w[:, None] * x)
    beta = np.linalg.solve(xtwx, x.T @ (w * y))
    e = y - x @ beta
    return -0.5 * (np.sum(np.log(v + tau2)) + np.linalg.slogdet(xtwx)[1] + np.sum(w * e**2))


@pytest.mark.parametrize("moderators", [0, 2])
def test_reml_maximises_the_restricted_likelihood_at_collection_scale(moderators):
    """3000 series (the M3 collection's scale), with and without two moderators: tau2 is where
    SciPy's bounded Brent search finds the restricted likelihood's maximum, written here from
    its definition rather than its score."""
    rng = np.random.default_rng(22)
    x = rng.normal(size=(3000, moderators))
    v = rng.uniform(0.1, 1, 3000) ** 2
    y = x @ np.arange(1.0, moderators + 1) + rng.normal(0, 1, 3000) + rng.normal(0, np.sqrt(v))
    design = np.column_stack([np.ones(3000), x])
    best = minimize_scalar(lambda t: -restricted_log_likelihood(t, y, v, design),
                           bounds=(0, 10), method="bounded", options={"xatol": 1e-10})  # fmt: skip
    fit = stats.meta_regression(y, np.sqrt(v), x if moderators else None)
    assert best.x > 0.5 and fit.tau2 == pytest.approx(best.x, rel=1e-6)
    assert restricted_log_likelihood(fit.tau2, y, v, design) >= -best.fun


def test_meta_regression_names_drops_and_counts_rows():
    """A DataFrame's columns name the terms; a non-finite moderator drops its row as a
    non-finite estimate does, and an SE of 0 is counted as in the meta-analysis."""
    moderators = pd.DataFrame({"ablat": BCG["ablat"], "trial": np.arange(13.0)})
    fit = stats.meta_regression(YI, np.sqrt(VI), moderators)
    assert list(fit.coefficients.index) == ["intercept", "ablat", "trial"]
    assert list(fit.coefficients.columns) == ["estimate", "se", "t", "p", "ci_low", "ci_high"]
    longer = pd.concat([moderators, pd.DataFrame({"ablat": [np.nan, 1.0, 2.0],
                                                  "trial": [1.0, 2.0, 3.0]})])  # fmt: skip
    more = stats.meta_regression(np.append(YI, [0.1, 0.2, 0.3]),
                                 np.append(np.sqrt(VI), [0.1, 0.0, np.inf]), longer)  # fmt: skip
    assert (more.k, more.zero_se) == (13, 1)
    pd.testing.assert_frame_equal(more.coefficients, fit.coefficients)


def test_meta_regression_bad_input_says_what_to_fix():
    with pytest.raises(StatelabError, match="13 estimates but 12 standard errors"):
        stats.meta_regression(YI, np.sqrt(VI[:12]))
    with pytest.raises(StatelabError, match="12 rows of moderators for 13 estimates"):
        stats.meta_regression(YI, np.sqrt(VI), BCG["ablat"][:12])
    with pytest.raises(StatelabError, match="needs 3 or more usable series, not 2"):
        stats.meta_regression(YI[:2], np.sqrt(VI[:2]), BCG["ablat"][:2])
    with pytest.raises(StatelabError, match="ablat, twice are collinear"):
        stats.meta_regression(YI, np.sqrt(VI), pd.DataFrame({"ablat": BCG["ablat"],
                                                             "twice": 2 * BCG["ablat"]}))  # fmt: skip


def test_reml_takes_the_higher_of_two_maxima():
    """3 series with SE 0.002 and effects near 0 among 6 with SE 0.02 and effects -+0.1 (as in
    a collection where some pairs of experiments barely differ): the restricted likelihood
    falls from tau2 = 0, then rises to a higher maximum near 0.007. The estimate is the best
    point of a fine grid over [0, 1] (refined there by SciPy), and not the boundary."""
    y = np.array([-0.1, -0.1, -0.1, 0.001, -0.001, 0.0005, 0.1, 0.1, 0.1])
    v = np.where(np.abs(y) > 0.01, 0.02, 0.002) ** 2
    x = np.ones((9, 1))
    grid = np.concatenate([[0.0], np.geomspace(1e-9, 1, 4000)])
    likelihood = np.array([restricted_log_likelihood(t, y, v, x) for t in grid])
    best = int(np.argmax(likelihood))
    assert likelihood[0] > likelihood[1]  # falling from 0: a maximum on the boundary too
    refined = minimize_scalar(lambda t: -restricted_log_likelihood(t, y, v, x),
                              bounds=(grid[best - 1], grid[best + 1]), method="bounded",
                              options={"xatol": 1e-12})  # fmt: skip
    fit = stats.meta_regression(y, np.sqrt(v))
    assert 0.005 < refined.x < 0.01 and fit.tau2 == pytest.approx(refined.x, rel=1e-6)
    assert stats.meta_analysis(y, np.sqrt(v)).tau2 == fit.tau2
