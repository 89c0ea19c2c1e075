"""Ranks of experiments across series: Friedman's test, Nemenyi's all-pairs test and its
critical difference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps

from statelab.defaults import ALPHA


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
