"""`statelab compare` on results files of 100,000 rows: pairwise_table in bounded memory.

tracemalloc sees every NumPy array (NumPy reports its allocations to it) and every Python
object. The process must stay within 1 GiB; the interpreter with NumPy, SciPy, pandas and
statsmodels loaded holds about 400 MiB that tracemalloc does not see, so the traced peak of
one comparison gets 512 MiB. SciPy's BCa in one block drew 4000 x 100,000 indices at once
(3.2 GB per array) and its jackknife took O(n^2) time.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from statelab import stats

ROWS = 100_000
TRACED_BUDGET = 512 * 2**20


def traced_peak(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("paired", [False, True])
def test_pairwise_table_on_100k_rows_in_bounded_memory(paired):
    rng = np.random.default_rng(0)
    x = rng.normal(100, 10, ROWS)
    y = x + 0.1 + rng.normal(0, 1, ROWS)  # y higher by 0.1 on average, repeat by repeat
    x[5] = np.nan  # a failed repeat
    table, peak = traced_peak(lambda: stats.pairwise_table({"x": x, "y": y}, paired=paired))
    assert peak < TRACED_BUDGET, f"traced peak {peak / 2**20:.0f} MiB"
    row = table.iloc[0]
    assert (row["n_a"], row["n_b"]) == ((ROWS - 1, ROWS - 1) if paired else (ROWS - 1, ROWS))
    assert row["ci_low"] < row["mean_difference"] < row["ci_high"] < 0
    assert row["verdict"] == "x lower"
    if paired:  # the pairing removes the spread of x: the interval is about 2 * 1.96 / 316 wide
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.96 / np.sqrt(ROWS), rel=0.1)


def test_bca_acceleration_is_linear_in_the_rows():
    # the closed form on 100,000 rows of a skewed sample: the third standardised moment / 6 / sqrt n
    rng = np.random.default_rng(1)
    a = rng.exponential(1.0, ROWS)
    acceleration, peak = traced_peak(lambda: stats.bca_acceleration(a, np.zeros(ROWS), True))
    skewness = np.mean((a - a.mean()) ** 3) / np.std(a) ** 3
    assert acceleration == pytest.approx(skewness / 6 / np.sqrt(ROWS), rel=1e-9)
    assert peak < 16 * ROWS * 8
