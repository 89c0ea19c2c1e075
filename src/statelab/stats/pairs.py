"""Experiment A against B on paired repeats: tests, effect sizes, a BCa bootstrap interval and
the log ratio of mean RMSEs.

SciPy does the tests and draws the bootstrap's resamples; written here is only what it lacks:
Cliff's delta from the U statistic, BCa's acceleration for a difference of means in closed
form (SciPy gets it by an O(n^2) jackknife), the log ratio's delta-method standard error, and
the resampling loop itself (SciPy's draws, without the checks SciPy's function makes on every
call; see :func:`_bootstrap_distribution`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, ndtri


class PairTest(NamedTuple):
    """Experiment a against b on RMSE (lower is better); differences are a - b."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    mean_difference: float
    ci_low: float  # bootstrap 95% confidence interval of the mean difference
    ci_high: float
    welch_p: float
    mann_whitney_p: float
    wilcoxon_p: float  # paired by repeat index (NaN when the repeats do not pair up)
    cohens_d: float
    cliffs_delta: float  # P(a > b) - P(a < b)
    identical: bool


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / pooled standard deviation."""
    n_a, n_b = len(a), len(b)
    pooled = ((n_a - 1) * np.var(a, ddof=1) + (n_b - 1) * np.var(b, ddof=1)) / (n_a + n_b - 2)
    return float((np.mean(a) - np.mean(b)) / np.sqrt(pooled)) if pooled > 0 else 0.0


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) - P(a < b), from Mann-Whitney's U for a."""
    return _delta_from_u(sps.mannwhitneyu(a, b, alternative="two-sided").statistic, a, b)


def _delta_from_u(u: float, a: np.ndarray, b: np.ndarray) -> float:
    """Cliff's delta from Mann-Whitney's U for a: 2 U / (n_a n_b) - 1."""
    return float(2 * u / (len(a) * len(b)) - 1)


# Resampled values drawn at once per sample (scipy's ``batch``): the bootstrap holds a few
# arrays of this many float64s (32 MiB each), whatever the sample size. Paired, the blocks
# change nothing: NumPy draws the same index stream in blocks as in one call. Unpaired, SciPy
# draws a's block then b's block in turn, so once resamples x rows exceeds this (over 1048 rows
# at 4000 resamples) the interval is another, equally valid, Monte Carlo draw than unblocked.
BOOTSTRAP_BLOCK_VALUES = 2**22


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def bca_acceleration(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """BCa's acceleration for mean(a) - mean(b), in closed form (Efron & Tibshirani 1993, 14.15).

    Hand-written because SciPy's jackknife evaluates the statistic on every leave-one-out
    sample: n samples of n - 1 rows, O(n^2) (10^10 values at 100,000 rows). For a mean the
    leave-one-out value is (sum - x_i) / (n - 1), so SciPy's U_i = (n - 1) (jackknife mean -
    leave-one-out value) is exactly x_i - mean(x), and -(y_i - mean(y)) for the subtracted
    sample; paired, the pair is left out together, so U_i = d_i - mean(d) with d = a - b.
    a_hat = sum_j sum_i U_ji^3 / n_j^3 / (6 (sum_j sum_i U_ji^2 / n_j^2)^(3/2)), as SciPy sums it.
    """
    samples = [(a - b, 1.0)] if paired else [(a, 1.0), (b, -1.0)]
    cubes = sum(sign * np.sum((x - x.mean()) ** 3) / len(x) ** 3 for x, sign in samples)
    squares = sum(np.sum((x - x.mean()) ** 2) / len(x) ** 2 for x, _ in samples)
    return float(cubes / squares**1.5 / 6)


def bca_interval(
    distribution: np.ndarray, estimate: float, acceleration: float, confidence: float = 0.95
) -> tuple[float, float]:
    """The BCa interval from a bootstrap distribution, as ``scipy.stats.bootstrap`` computes it:
    bias correction z0 from the share of resamples below the estimate (ties count half),
    then the two adjusted quantiles of the distribution (NaN when they are undefined)."""
    below = np.count_nonzero(distribution < estimate) + np.count_nonzero(distribution <= estimate)
    z0 = ndtri(below / (2 * len(distribution)))
    z = ndtri((1 - confidence) / 2)
    levels = [ndtr(z0 + (z0 + q) / (1 - acceleration * (z0 + q))) for q in (z, -z)]
    low, high = sps.quantile(distribution, np.array(levels))
    return float(low), float(high)


def _bootstrap_distribution(
    a: np.ndarray, b: np.ndarray, paired: bool, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """mean(a) - mean(b) on each of ``resamples`` bootstrap resamples, drawn as
    ``scipy.stats.bootstrap`` draws them (its ``bootstrap_distribution``, bit for bit, with
    ``vectorized=True``, ``batch`` blocks of BOOTSTRAP_BLOCK_VALUES values and the same
    ``rng``): block by block, the indices of a whole resample at once, one set for a pair,
    else a's then b's.

    Hand-written because SciPy's function checks its arguments and wraps the statistic on
    every call, which on the study's 30 repeats took a third more than the resampling itself,
    and computes an interval that is not used (BCa is computed here). A test compares the
    two, paired and not, in one block and in several, so a SciPy that draws otherwise fails it.
    """
    block = max(1, BOOTSTRAP_BLOCK_VALUES // max(len(a), len(b)))
    parts = []
    for start in range(0, resamples, block):
        count = min(block, resamples - start)
        if paired:
            rows = rng.integers(0, len(a), (count, len(a)))
            parts.append(_mean_difference(a[rows], b[rows]))
        else:
            rows_a = rng.integers(0, len(a), (count, len(a)))
            rows_b = rng.integers(0, len(b), (count, len(b)))
            parts.append(_mean_difference(a[rows_a], b[rows_b]))
    return np.concatenate(parts)


def bootstrap_ci(a, b, paired: bool, seed: int = 0, resamples: int = 4000) -> tuple[float, float]:
    """95% BCa bootstrap interval of mean(a) - mean(b); paired resamples repeats together.

    The resamples are SciPy's (:func:`_bootstrap_distribution`, in blocks of
    ``BOOTSTRAP_BLOCK_VALUES``) and the interval is SciPy's BCa on them, with the acceleration
    in closed form: bounded memory, time linear in the sample size, and (to rounding)
    ``scipy.stats.bootstrap(..., method="BCa")``'s interval for the same seed wherever the draws
    are the same (see ``BOOTSTRAP_BLOCK_VALUES``)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired and len(a) != len(b):
        raise ValueError(f"paired samples must have the same length, not {len(a)} and {len(b)}")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"each sample needs two or more values, not {len(a)} and {len(b)}")
    estimate = float(_mean_difference(a, b))
    spread = np.ptp(a - b) if paired else max(np.ptp(a), np.ptp(b))
    if spread == 0:  # every resample gives the estimate: nothing to interval
        return estimate, estimate
    distribution = _bootstrap_distribution(a, b, paired, np.random.default_rng(seed), resamples)
    return bca_interval(distribution, estimate, bca_acceleration(a, b, paired))


def compare_pair(
    a: Sequence[float], b: Sequence[float], paired: bool = True, seed: int = 0
) -> PairTest:
    """Every statistic for two RMSE samples. ``paired``: repeat k of a and of b started
    from the same initial weights (common random numbers), so Wilcoxon's signed-rank applies."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    # Identical: equal repeat by repeat, with at least one repeat that finished (two samples
    # of failures alone are untested, not identical).
    identical = (len(a) == len(b) and np.array_equal(a, b, equal_nan=True)
                 and bool(np.any(~np.isnan(a))))  # fmt: skip
    paired = paired and len(a) == len(b)
    # NaN marks a repeat that diverged: drop it (with its partner, when paired).
    if paired:
        keep = ~np.isnan(a) & ~np.isnan(b)
        a, b = a[keep], b[keep]
    else:
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    nan = float("nan")
    if identical:
        mean = float(a.mean()) if len(a) else nan
        return PairTest(len(a), len(b), mean, mean, 0.0, 0.0, 0.0, nan, nan, nan, 0.0, 0.0, True)
    if min(len(a), len(b)) < 2:  # too few finished repeats to test anything
        means = (float(a.mean()) if len(a) else nan, float(b.mean()) if len(b) else nan)
        return PairTest(len(a), len(b), *means, means[0] - means[1], nan, nan, nan, nan, nan,
                        nan, nan, False)  # fmt: skip
    low, high = bootstrap_ci(a, b, paired, seed)
    wilcoxon_p = float(sps.wilcoxon(a, b).pvalue) if paired and np.any(a != b) else nan
    mann_whitney = sps.mannwhitneyu(a, b, alternative="two-sided")
    return PairTest(
        n_a=len(a),
        n_b=len(b),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(a.mean() - b.mean()),
        ci_low=low,
        ci_high=high,
        welch_p=float(sps.ttest_ind(a, b, equal_var=False).pvalue),
        mann_whitney_p=float(mann_whitney.pvalue),
        wilcoxon_p=wilcoxon_p,
        cohens_d=cohens_d(a, b),
        cliffs_delta=_delta_from_u(mann_whitney.statistic, a, b),
        identical=False,
    )


def primary_p(test: PairTest) -> float:
    """The test a verdict rests on: paired Wilcoxon where repeats pair, else Welch."""
    return test.wilcoxon_p if not np.isnan(test.wilcoxon_p) else test.welch_p


def _finished_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """a and b as float arrays with every pair in which either repeat failed (NaN) dropped."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"paired repeats must be two 1-d arrays of one length, not {a.shape} and {b.shape}"
        )
    keep = ~np.isnan(a) & ~np.isnan(b)
    return a[keep], b[keep]


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
