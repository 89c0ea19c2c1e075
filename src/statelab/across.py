"""Statistics across series: does an expectation "A beats B" hold over a collection's series?

Per series there are R paired repeats of A and B (repeat k of each starts from the same initial
weights), as arrays of RMSEs in which NaN marks a failed repeat (its pair is dropped). From them:
the log ratio of mean RMSEs with its delta-method standard error, a paired equivalence test
(TOST), false-discovery-rate control across series; across series a sign test, a random-effects
meta-analysis of the log ratios, and ranks of the experiments (Friedman, Nemenyi, a
critical-difference diagram).

SciPy, statsmodels and scikit-posthocs do the tests. Written here is only what none of them
has: the log ratio's delta-method SE, the 95% prediction interval of a random-effects model, the
Nemenyi critical difference as a number. The verdict rule is statelab.stats.decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.weightstats import ttost_paired

from statelab.plots import PLAIN_TEXT

ALPHA = 0.05


def _finished_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """a and b as float arrays with every pair in which either repeat failed (NaN) dropped."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"paired repeats must be two 1-d arrays of one length, not {a.shape} and {b.shape}"
        )
    keep = ~np.isnan(a) & ~np.isnan(b)
    return a[keep], b[keep]


# --- One series ------------------------------------------------------------------------------


class LogRatio(NamedTuple):
    """log(mean a / mean b) over the finished pairs: below 0 when A has the lower mean RMSE."""

    estimate: float
    se: float  # delta-method standard error from the paired repeats (0 when a == b exactly)
    n: int  # finished pairs


def log_ratio(a: Sequence[float], b: Sequence[float]) -> LogRatio:
    """The log of the ratio of mean RMSEs and its standard error by the delta method.

    Hand-written: no library gives this for paired samples. With m = mean and s = the sample
    (ddof=1) variances and covariance over the n finished pairs,
    var = s_aa/(n m_a^2) + s_bb/(n m_b^2) - 2 s_ab/(n m_a m_b). The pairing (common initial
    weights) enters through the covariance, which is what makes the SE small when A and B move
    together. An identical pair (a == b repeat by repeat) has SE 0 exactly, not a rounding
    residue; fewer than two pairs give a NaN SE (no variance to estimate)."""
    a, b = _finished_pairs(a, b)
    n = len(a)
    if n == 0:
        return LogRatio(float("nan"), float("nan"), 0)
    mean_a, mean_b = a.mean(), b.mean()
    estimate = float(np.log(mean_a / mean_b))
    if np.array_equal(a, b):
        return LogRatio(estimate, 0.0, n)
    if n < 2:
        return LogRatio(estimate, float("nan"), n)
    (s_aa, s_ab), (_, s_bb) = np.cov(a, b, ddof=1)
    variance = (s_aa / mean_a**2 + s_bb / mean_b**2 - 2 * s_ab / (mean_a * mean_b)) / n
    return LogRatio(estimate, float(np.sqrt(max(variance, 0.0))), n)  # max: rounding below 0


def equivalence_p(a: Sequence[float], b: Sequence[float], margin: float) -> float:
    """Paired TOST (statsmodels' ``ttost_paired``) of |mean(a - b)| < margin, in the units of a
    and b; below alpha means the difference is within the margin. NaN pairs are dropped; fewer
    than two finished pairs give NaN. Differences that are all the same number have no spread,
    so the t statistics are infinite: the answer is then 0 inside the margin and 1 outside it,
    given here directly rather than through statsmodels' division by zero."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, not {margin}")
    a, b = _finished_pairs(a, b)
    if len(a) < 2:
        return float("nan")
    difference = a - b
    if np.ptp(difference) == 0:
        return 0.0 if abs(difference[0]) < margin else 1.0
    return float(ttost_paired(a, b, -margin, margin)[0])


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg FDR-adjusted p-values (SciPy's ``false_discovery_control``). NaN (a
    series with nothing tested) stays NaN and is not counted among the hypotheses."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    present = ~np.isnan(p)
    if present.any():
        adjusted[present] = sps.false_discovery_control(p[present], method="bh")
    return adjusted


# --- Across series ---------------------------------------------------------------------------


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


# --- Ranks of the experiments ----------------------------------------------------------------


class Ranks(NamedTuple):
    mean_ranks: pd.Series  # per experiment, rank 1 = lowest RMSE in a series
    friedman_stat: float
    friedman_p: float
    nemenyi: pd.DataFrame  # pairwise p-values, experiments by experiments
    critical_difference: float  # Nemenyi: mean ranks further apart than this differ at 0.05
    series: int = 0  # complete rows (series) ranked


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference (Demsar 2006): q_alpha sqrt(k (k + 1) / (6 n)), q_alpha the
    studentized range quantile for k groups and infinite df over sqrt(2). Hand-written:
    scikit-posthocs computes the p-values but returns no critical difference."""
    q_alpha = sps.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q_alpha * np.sqrt(k * (k + 1) / (6 * n)))


def rank_experiments(table: pd.DataFrame) -> Ranks:
    """Rank experiments (columns) within each series (rows; values: mean RMSE, lower is better,
    ties share the average rank). Friedman's test (SciPy) and Nemenyi's all-pairs test
    (scikit-posthocs) need complete blocks, so a series with any NaN is left out. Needs three or
    more experiments (Friedman) and two or more series."""
    import scikit_posthocs  # imports pyplot and seaborn: only when ranks are asked for

    complete = table.dropna(axis=0, how="any").astype(float)
    n, k = complete.shape
    if k < 3 or n < 2:
        raise ValueError(f"ranking needs 3+ experiments and 2+ complete series, not {k} and {n}")
    mean_ranks = complete.rank(axis=1, method="average").mean(axis=0)
    friedman = sps.friedmanchisquare(*(complete[c].to_numpy() for c in complete.columns))
    return Ranks(
        mean_ranks=mean_ranks,
        friedman_stat=float(friedman.statistic),
        friedman_p=float(friedman.pvalue),
        nemenyi=scikit_posthocs.posthoc_nemenyi_friedman(complete),
        critical_difference=critical_difference(k, n),
        series=n,
    )


def cd_diagram(ranks: Ranks, title: str) -> Figure:
    """The critical-difference diagram (scikit-posthocs): mean ranks on a line, experiments whose
    Nemenyi p is not below 0.05 joined by a bar, and a bar as long as the critical difference
    above the rank axis (drawn here: scikit-posthocs' own ``cd=`` bar sits on the axis' tick
    labels). A plain Figure on the Agg canvas (no pyplot state); names are plain text, not
    $math$."""
    import scikit_posthocs

    with matplotlib.rc_context(PLAIN_TEXT):
        height = 1.5 + 0.3 * len(ranks.mean_ranks)  # inches: 1 above the axis for the title
        figure = Figure(figsize=(11, height), dpi=110)  # room for long names each side
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        scikit_posthocs.critical_difference_diagram(
            ranks.mean_ranks, ranks.nemenyi, ax=axes,
            label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        )  # fmt: skip
        start, cd = ranks.mean_ranks.min(), ranks.critical_difference
        above = offset_copy(axes.transData, fig=figure, y=24, units="points")
        axes.plot([start, start + cd], [0, 0], color="k", linewidth=2, transform=above, clip_on=False)  # fmt: skip
        axes.text(start + cd / 2, 0, f"CD = {cd:.2f}", transform=offset_copy(above, fig=figure, y=3, units="points"), ha="center", va="bottom")  # fmt: skip
        axes.set_title(title, pad=44)
        figure.subplots_adjust(left=0.3, right=0.7, top=1 - 1.0 / height, bottom=0.1 / height)
    return figure
