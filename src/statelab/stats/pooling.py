"""Pooling one effect per series: a sign test and a random-effects meta-analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects

from statelab.defaults import ALPHA


class SignTest(NamedTuple):
    positive: int
    negative: int
    zero: int  # left out of the test
    p: float  # two-sided exact binomial test of positive vs negative at 1/2 (NaN when none)


def sign_test(values: Sequence[float]) -> SignTest:
    """Two-sided exact sign test (SciPy's ``binomtest``) on the signs of ``values`` (for example
    one log ratio per series); zeros are counted but left out of the test, NaN is dropped."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    positive, negative = int(np.sum(v > 0)), int(np.sum(v < 0))
    zero = len(v) - positive - negative
    n = positive + negative
    p = float(sps.binomtest(positive, n, 0.5).pvalue) if n else float("nan")
    return SignTest(positive, negative, zero, p)


class Meta(NamedTuple):
    """A random-effects meta-analysis of one effect per series."""

    k: int  # series in the meta-analysis
    pooled: float  # random-effects mean
    ci_low: float  # 95% confidence interval of the mean (normal)
    ci_high: float
    pi_low: float  # 95% prediction interval for a new series' effect (NaN when k < 3)
    pi_high: float
    tau2: float  # between-series variance
    i2: float  # share of the variation due to heterogeneity, (Q - df) / Q truncated at 0
    q: float  # Cochran's Q (fixed-effect weights)
    q_p: float  # its chi-square (k - 1) p-value
    zero_se: int = 0  # series left out because their SE is 0 (see ``meta_analysis``)


def prediction_interval(
    pooled: float, se_pooled: float, tau2: float, k: int, alpha: float = ALPHA
) -> tuple[float, float]:
    """Higgins, Thompson & Spiegelhalter (2009): pooled +- t_{k-2, 1-alpha/2} sqrt(tau2 +
    se_pooled^2). Hand-written: statsmodels' ``CombineResults`` has confidence intervals only."""
    if k < 3:
        return float("nan"), float("nan")
    half = sps.t.ppf(1 - alpha / 2, k - 2) * np.sqrt(tau2 + se_pooled**2)
    return float(pooled - half), float(pooled + half)


def _paule_mandel(y: np.ndarray, variances: np.ndarray):
    """statsmodels' ``combine_effects(method_re="pm")``, guarded against its reset.

    Its iteration (Newton steps on Q(tau^2) = k - 1 from tau^2 = 0) sets tau^2 to 0 whenever
    the estimating equation comes out below 0, meant for the first step but taken at any step:
    once Newton's quadratic convergence lands the equation within rounding of 0 it can come out
    negative, and the answer silently becomes 0 (at its default atol of 1e-5, 1 in 60 random
    3000-series cases). The tolerance is therefore relative to Q's scale, 1e-7 (k - 1), where
    no reset occurred in thousands of cases from 3 to 3000 series and tau^2 agrees with the
    exact root to about 1e-6; should a reset still happen (tau^2 = 0 although Q - (k - 1) is
    above the tolerance, impossible for the true estimate) looser tolerances are tried, each
    stopping further from rounding. combine_effects does not report non-convergence: the
    iteration cap is 1000 (convergence takes a handful)."""
    df = len(y) - 1
    for relative in (1e-7, 1e-5, 1e-3):
        atol = relative * df
        result = combine_effects(
            y, variances, method_re="pm", alpha=ALPHA, use_t=False, atol=atol, maxiter=1000
        )
        if not (result.tau2 == 0 and result.q - df > atol):
            return result
    raise RuntimeError(f"statsmodels' Paule-Mandel iteration reset tau2 to 0 (Q = {result.q})")


def meta_analysis(
    estimates: Sequence[float], standard_errors: Sequence[float], method: str = "pm"
) -> Meta:
    """Random-effects meta-analysis by statsmodels' ``combine_effects``, with the prediction
    interval and a truncated I^2 added.

    ``method="pm"`` (Paule-Mandel, the default) rather than DerSimonian-Laird: PM is the
    estimator of tau^2 recommended over DL (Veroniki et al. 2016, Langan et al. 2019), which
    underestimates tau^2 when the heterogeneity is large and the within-series variances differ
    widely, as here, where each series' SE comes from a handful of repeats. statsmodels' PM is
    tested against R's metafor, but see ``_paule_mandel`` for a flaw worked around.
    ``method="dl"`` gives DerSimonian-Laird, which statsmodels does not truncate at 0 (Q < k - 1
    gives a negative tau^2): a negative tau^2 is taken as 0 here, the fixed-effect model.

    Series with SE 0 are left out and counted in ``zero_se``: an identical pair (a == b repeat
    by repeat) has no sampling variance, so its inverse-variance weight would be infinite and
    swamp every other series. Their effects are exactly 0 (or constant), which the sign test and
    the per-series verdicts report. Non-finite estimates or SEs (a series with too few finished
    repeats) are dropped and not counted. Fewer than two series: no heterogeneity (NaN)."""
    if method not in ("pm", "dl"):
        raise ValueError(f'method must be "pm" or "dl", not {method!r}')
    y = np.asarray(estimates, float)
    se = np.asarray(standard_errors, float)
    if y.shape != se.shape:
        raise ValueError(f"{y.shape} estimates but {se.shape} standard errors")
    finite = np.isfinite(y) & np.isfinite(se)
    zero_se = int(np.sum(finite & (se == 0)))
    keep = finite & (se > 0)
    y, se = y[keep], se[keep]
    k = len(y)
    nan = float("nan")
    if k == 0:
        return Meta(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, zero_se)
    if k == 1:
        z = sps.norm.ppf(1 - ALPHA / 2)
        return Meta(1, float(y[0]), float(y[0] - z * se[0]), float(y[0] + z * se[0]),
                    nan, nan, nan, nan, 0.0, nan, zero_se)  # fmt: skip
    # combine_effects takes variances, not standard errors, as plain arrays (it does arithmetic
    # on them directly); its conf_int returns (fixed, random, fixed HKSJ, random HKSJ).
    if method == "pm":
        result = _paule_mandel(y, se**2)
    else:
        result = combine_effects(y, se**2, method_re=method, alpha=ALPHA, use_t=False)
    if result.tau2 > 0:
        tau2, pooled, se_pooled = float(result.tau2), result.mean_effect_re, result.sd_eff_w_re
        ci = result.conf_int(alpha=ALPHA, use_t=False)[1]
    else:  # no heterogeneity beyond sampling: random effects = fixed effect
        tau2, pooled, se_pooled = 0.0, result.mean_effect_fe, result.sd_eff_w_fe
        ci = result.conf_int(alpha=ALPHA, use_t=False)[0]
    pi_low, pi_high = prediction_interval(pooled, se_pooled, tau2, k)
    homogeneity = result.test_homogeneity()
    return Meta(
        k=k,
        pooled=float(pooled),
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        pi_low=pi_low,
        pi_high=pi_high,
        tau2=tau2,
        i2=float(max(result.i2, 0.0)),  # statsmodels leaves (Q - df) / Q negative when Q < df
        q=float(homogeneity.statistic),
        q_p=float(homogeneity.pvalue),
        zero_se=zero_se,
    )
