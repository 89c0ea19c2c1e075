"""Does an effect change with a setting? Per series, the weighted least-squares slope of its
log ratios on the setting's levels, with the standard error the per-level standard errors
give; across series, a random-effects pooling of those slopes.

Two stages, not a multilevel model of every (series, level) log ratio: each log ratio comes
with a known sampling variance (from its repeats), which statsmodels' MixedLM cannot take,
and the second stage is then the package's one random-effects estimator (REML with truncated
Hartung-Knapp-Sidik-Jonkman intervals, :func:`statelab.stats.meta_analysis`). The series is
the unit: each contributes one slope, so a series measured at every level is counted once,
and the between-series variance of the slopes (tau2) is the random slope of a multilevel
model. A series' log ratios at different levels share its data and, where the shapes allow,
its initial weights (common random numbers), so they are positively correlated; the
per-series SE treats them as independent and is then, if anything, too large (the variance
of a difference shrinks with a positive covariance): the test errs on the cautious side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from statelab.stats.pooling import Meta, meta_analysis


class Slopes(NamedTuple):
    """Per series, the coefficients of the log ratio on the level (every term but the
    intercept) and their standard errors; NaN where a series has too few usable levels."""

    estimate: np.ndarray  # (series, terms)
    se: np.ndarray  # (series, terms)


def series_slopes(
    design: np.ndarray, log_ratios: np.ndarray, standard_errors: np.ndarray
) -> Slopes:
    """Per series (a row of ``log_ratios`` and ``standard_errors``, one column per level), the
    weighted least-squares fit of its log ratios on ``design`` (levels x terms, without the
    intercept, which is added), weights 1 / se^2, at the known variances: beta = (X'WX)^-1
    X'Wy with covariance (X'WX)^-1, no residual scale (the SEs are the repeats' own).

    A level with a non-finite log ratio or SE, or an SE of 0 (an identical pair, whose weight
    would be infinite), is left out of that series' fit; a series left with fewer usable
    levels than coefficients, or with levels that cannot separate the terms, gets NaN.

    Hand-written: statsmodels' WLS at a fixed scale of 1 gives the same numbers (the tests
    check it), but one fit per series, expectation and factor costs a millisecond each, a
    minute on a collection of a thousand series; here every series is one small solve."""
    x = np.column_stack([np.ones(len(design)), np.asarray(design, float).reshape(len(design), -1)])
    y = np.atleast_2d(np.asarray(log_ratios, float))
    se = np.atleast_2d(np.asarray(standard_errors, float))
    if y.shape != se.shape or y.shape[1] != len(x):
        raise ValueError(f"log ratios {y.shape}, SEs {se.shape} and {len(x)} levels disagree")
    terms = x.shape[1] - 1
    estimate = np.full((len(y), terms), np.nan)
    error = np.full((len(y), terms), np.nan)
    for i in range(len(y)):
        keep = np.isfinite(y[i]) & np.isfinite(se[i]) & (se[i] > 0)
        mine = x[keep]
        if len(mine) <= terms or np.linalg.matrix_rank(mine) < terms + 1:
            continue
        w = 1 / se[i, keep] ** 2
        covariance = np.linalg.inv(mine.T @ (w[:, None] * mine))
        beta = covariance @ (mine.T @ (w * y[i, keep]))
        estimate[i], error[i] = beta[1:], np.sqrt(np.diag(covariance)[1:])
    return Slopes(estimate, error)


class Trend(NamedTuple):
    """The slopes of the series pooled: the random-effects mean slope with its CI, PI and
    tau2 (``meta``), and the two-sided p-value of "the mean slope is 0"."""

    meta: Meta
    p: float  # t on meta.df from meta.pooled / meta.se (normal with one series; NaN: none)


def pooled_slope(slopes: Sequence[float], standard_errors: Sequence[float]) -> Trend:
    """The random-effects pooling of one slope per series (:func:`meta_analysis`), and the
    test that their mean is 0 on the same t distribution as the pooled CI."""
    meta = meta_analysis(slopes, standard_errors)
    if meta.k == 0 or not meta.se > 0:
        return Trend(meta, float("nan"))
    statistic = abs(meta.pooled) / meta.se
    return Trend(meta, float(2 * sps.t.sf(statistic, meta.df)))
