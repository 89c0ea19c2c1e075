"""Equivalence tests (TOST): is a difference within a stated margin?

The margin is one number, a share (0.01: 1%), read on two scales:
- on one series, a share of the persistence RMSE (:func:`series_margin`), so that "too
  small to matter" is judged against the simplest forecast of that series;
- pooled over series, a share of B's RMSE, on the log ratio (:func:`log_margins`): the
  ratio of mean RMSEs within 1 -+ margin, as a ratio pools where RMSE units do not. The
  bounds log(1 - margin) and log(1 + margin) are not symmetric about 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.weightstats import ttost_paired

from statelab.defaults import ALPHA
from statelab.stats.pairs import _finished_pairs


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


def series_margin(margin: float, persistence_rmse: float) -> float:
    """The equivalence margin on one series, in RMSE units: ``margin`` x its persistence
    RMSE."""
    return margin * persistence_rmse


def log_margins(margin: float) -> tuple[float, float]:
    """The pooled equivalence bounds on a log ratio of mean RMSEs: (log(1 - margin),
    log(1 + margin))."""
    return float(np.log1p(-margin)), float(np.log1p(margin))


def pooled_equivalent(
    pooled: float, se: float, df: float, margin: float, alpha: float = ALPHA
) -> bool:
    """The pooled TOST at ``alpha``: both one-sided t-tests (``df`` degrees of freedom; inf:
    z-tests) reject, that is the (1 - 2 alpha) interval pooled -+ t_{df, 1 - alpha} se lies
    within :func:`log_margins`. ``se`` and ``df`` are those the meta-analysis built its
    confidence interval from (statelab.stats.Meta), so the TOST and the CI agree."""
    from scipy.stats import t as student

    half = student.ppf(1 - alpha, df) * se
    low, high = log_margins(margin)
    return bool(low < pooled - half and pooled + half < high)
