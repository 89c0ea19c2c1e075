"""How many repeats: the standard error of the mean against the number of repeats, and the
repeats a t-test needs for a given power.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.power import TTestIndPower

from statelab.defaults import ALPHA


def standard_error_curve(
    pool: np.ndarray, sizes: Sequence[int] | None = None, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Bootstrap standard error of the mean RMSE against the number of repeats, from a pool.

    For each n, draw n repeats with replacement ``resamples`` times; the standard deviation
    of their means is the SE at n. ``formula`` is s / sqrt(n) from the whole pool."""
    pool = np.asarray(pool, float)
    pool = pool[np.isfinite(pool)]  # a diverged repeat has no RMSE
    if len(pool) < 2:
        return pd.DataFrame(columns=["repeats", "bootstrap_se", "formula_se", "ci95_half_width"])
    if sizes is None:
        standard = (5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)
        sizes = sorted({n for n in standard if n <= len(pool)} | {len(pool)})
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        means = pool[rng.integers(0, len(pool), size=(resamples, n))].mean(axis=1)
        rows.append({"repeats": n, "bootstrap_se": means.std(ddof=1),
                     "formula_se": pool.std(ddof=1) / np.sqrt(n),
                     "ci95_half_width": 1.96 * means.std(ddof=1)})  # fmt: skip
    return pd.DataFrame(rows)


def repeats_for_power(
    sd: float, differences: Sequence[float], power: float = 0.8, alpha: float = ALPHA
) -> pd.DataFrame:
    """Repeats per experiment to detect each RMSE difference with a two-sided two-sample t-test
    (statsmodels), for samples of standard deviation ``sd``."""
    analysis = TTestIndPower()
    rows = []
    if not (np.isfinite(sd) and sd > 0):
        return pd.DataFrame(columns=["rmse_difference", "effect_size_d", "repeats_needed"])
    for difference in differences:
        effect = difference / sd
        smallest = analysis.power(effect_size=effect, nobs1=2, alpha=alpha)
        if not smallest < power:  # NaN: statsmodels overflows on effects this large
            needed = 2  # the smallest sample a t-test takes already suffices
        else:
            n = analysis.solve_power(effect_size=effect, power=power, alpha=alpha)
            needed = int(np.ceil(n)) if np.isfinite(n) else pd.NA
        rows.append({"rmse_difference": difference, "effect_size_d": effect,
                     "repeats_needed": needed})  # fmt: skip
    return pd.DataFrame(rows)


def power_from_pool(pool: Sequence[float], differences: Sequence[float]) -> pd.DataFrame:
    """:func:`repeats_for_power` at the standard deviation of a pool of repeats (failed
    repeats, NaN, left out; fewer than two finished give an empty table)."""
    pool = np.asarray(pool, float)
    finished = pool[np.isfinite(pool)]
    spread = float(np.std(finished, ddof=1)) if len(finished) >= 2 else float("nan")
    return repeats_for_power(spread, differences)
