"""Equivalence tests (TOST): is a difference within a stated margin?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.weightstats import ttost_paired

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
