"""Pooling one effect per series: a sign test and a random-effects meta-analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from statelab.defaults import ALPHA
from statelab.stats.metaregression import meta_regression, usable


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
    """A random-effects meta-analysis of one effect per series. Other intervals and tests of
    the pooled estimate (a TOST) come from (pooled, se, df): pooled -+ t_{df} se."""

    k: int  # series in the meta-analysis
    pooled: float  # random-effects mean
    se: float  # its standard error, Hartung-Knapp-Sidik-Jonkman (truncated), as in the CI
    df: float  # t degrees of freedom of the CI, k - 1 (inf: normal, for a single series)
    ci_low: float  # 95% confidence interval of the mean: pooled -+ t_{df, 0.975} se
    ci_high: float
    pi_low: float  # 95% prediction interval for a new series' effect (NaN when k < 3)
    pi_high: float
    tau2: float  # between-series variance (REML)
    i2: float  # share of the variation due to heterogeneity, (Q - df) / Q truncated at 0
    q: float  # Cochran's Q (fixed-effect weights)
    q_p: float  # its chi-square (k - 1) p-value
    zero_se: int = 0  # series left out because their SE is 0 (see ``metaregression.usable``)


def prediction_interval(
    pooled: float, se_pooled: float, tau2: float, k: int, alpha: float = ALPHA
) -> tuple[float, float]:
    """Higgins, Thompson & Spiegelhalter (2009): pooled +- t_{k-2, 1-alpha/2} sqrt(tau2 +
    se_pooled^2), with the model's SE of the pooled mean, 1 / sqrt(sum w). Hand-written:
    neither statsmodels' meta-analysis nor its WLS has prediction intervals of this kind."""
    if k < 3:
        return float("nan"), float("nan")
    half = sps.t.ppf(1 - alpha / 2, k - 2) * np.sqrt(tau2 + se_pooled**2)
    return float(pooled - half), float(pooled + half)


def meta_analysis(estimates: Sequence[float], standard_errors: Sequence[float]) -> Meta:
    """Random-effects meta-analysis: the intercept-only ``meta_regression`` (REML tau2; see
    there why REML), with Cochran's Q, a truncated I^2 and the prediction interval.

    The CI is Hartung-Knapp-Sidik-Jonkman's, pooled -+ t_{k-1} sqrt(q* / sum w), in the
    truncated form q* = max(1, q): with few series the normal interval, pooled -+ z / sqrt(sum
    w), is too narrow whenever tau2 is underestimated, and tau2 = 0 is common with 3 to 5
    series (benchmarks/meta_coverage.py); the untruncated form has q < 1 exactly then, and
    narrows the interval below even the fixed-effect one.

    Series with SE 0 are left out and counted in ``zero_se``, non-finite ones dropped (see
    ``metaregression.usable``). One series: its own estimate and normal interval (df inf), no
    heterogeneity (NaN); none: NaN."""
    y = np.asarray(estimates, float)
    se = np.asarray(standard_errors, float)
    rows = usable(y, se)
    y, se = y[rows.keep], se[rows.keep]
    k = len(y)
    nan = float("nan")
    if k == 0:
        return Meta(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, rows.zero_se)
    if k == 1:
        z = sps.norm.ppf(1 - ALPHA / 2)
        return Meta(1, float(y[0]), float(se[0]), float("inf"), float(y[0] - z * se[0]),
                    float(y[0] + z * se[0]), nan, nan, nan, nan, 0.0, nan, rows.zero_se)  # fmt: skip
    fit = meta_regression(y, se)
    row = fit.coefficients.loc["intercept"]
    model_se = row["se"] / np.sqrt(max(1.0, fit.hk_q))  # 1 / sqrt(sum w)
    pi_low, pi_high = prediction_interval(row["estimate"], model_se, fit.tau2, k)
    return Meta(
        k=k,
        pooled=float(row["estimate"]),
        se=float(row["se"]),
        df=float(fit.df),
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        pi_low=pi_low,
        pi_high=pi_high,
        tau2=fit.tau2,
        i2=fit.i2,
        q=fit.qe,
        q_p=fit.qe_p,
        zero_se=rows.zero_se,
    )
