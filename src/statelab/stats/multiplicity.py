"""Multiple-testing corrections: Holm across a family of tests, Benjamini-Hochberg across
series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: the k-th smallest of m p-values times (m - k + 1), made
    non-decreasing, capped at 1. Written out (tested against statsmodels' multipletests)
    because statsmodels runs a full garbage collection on every call, 0.15 s once JAX's
    objects are loaded: a tenth of the study's output time, for four lines of arithmetic."""
    order = np.argsort(p, kind="stable")
    steps = p[order] * np.arange(len(p), 0, -1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (NaN stays NaN)."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    present = ~np.isnan(p)
    if present.any():
        adjusted[present] = _holm(p[present])
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg FDR-adjusted p-values (SciPy's ``false_discovery_control``). NaN (a
    series with nothing tested) stays NaN and is not counted among the hypotheses."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    present = ~np.isnan(p)
    if present.any():
        adjusted[present] = sps.false_discovery_control(p[present], method="bh")
    return adjusted


def benjamini_hochberg_by(p_values: Sequence[float], families: Sequence[object]) -> np.ndarray:
    """Benjamini-Hochberg within each family: the p-values that share a label in
    ``families`` (for example, one expectation across every series) are adjusted together,
    apart from the others. NaN stays NaN, as in :func:`benjamini_hochberg`."""
    p = np.asarray(p_values, float)
    labels = np.asarray(families, dtype=object)
    if p.shape != labels.shape:
        raise ValueError(f"{p.shape} p-values but {labels.shape} family labels")
    adjusted = np.full_like(p, np.nan)
    for family in dict.fromkeys(labels.tolist()):
        mine = labels == family
        adjusted[mine] = benjamini_hochberg(p[mine])
    return adjusted
