"""Each statistic against a known value: small cases worked by hand, textbook figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from statelab import stats
from statelab.stats import EXPECTATIONS, PairTest


def test_welch_matches_the_formula_worked_by_hand():
    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 6, 8, 10])
    # means 3 and 6, variances 2.5 and 10: t = -3 / sqrt(0.5 + 2) = -1.8974, df by Welch-Satterthwaite
    t = -3 / np.sqrt(2.5 / 5 + 10 / 5)
    df = (0.5 + 2) ** 2 / (0.5**2 / 4 + 2**2 / 4)
    assert df == pytest.approx(5.882, abs=1e-3)
    expected = 2 * sps.t.sf(abs(t), df)
    assert stats.compare_pair(a, b, paired=False).welch_p == pytest.approx(expected, rel=1e-9)


def test_mann_whitney_exact_case():
    # a entirely below b: U = 0, and 2 of the C(6, 3) = 20 orderings are this extreme
    test = stats.compare_pair([1.0, 2, 3], [4.0, 5, 6], paired=False)
    assert test.mann_whitney_p == pytest.approx(2 / 20)


def test_wilcoxon_exact_case():
    # five positive paired differences: 2 of 2^5 sign patterns are as extreme
    a, b = np.array([2.0, 4, 6, 8, 10]), np.array([1.0, 2, 3, 4, 5])
    assert stats.compare_pair(a, b).wilcoxon_p == pytest.approx(2 / 32)


def test_cohens_d_by_hand():
    assert stats.cohens_d(np.array([1.0, 2, 3]), np.array([3.0, 4, 5])) == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("a", "b", "delta"),
    [
        ([1, 2, 3], [4, 5, 6], -1.0),
        ([4, 5, 6], [1, 2, 3], 1.0),
        ([1, 3], [2], 0.0),
        ([1, 2], [2], -0.5),
    ],
)
def test_cliffs_delta_by_hand(a, b, delta):
    assert stats.cliffs_delta(np.array(a, float), np.array(b, float)) == pytest.approx(delta)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, max(0.04, 0.06) = 0.06, in the original order
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    adjusted = stats.holm([0.01, np.nan])
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1])


def test_bootstrap_interval_covers_the_difference():
    rng = np.random.default_rng(0)
    b = rng.normal(100, 5, 400)
    a = b - 2 + rng.normal(0, 1, 400)
    low, high = stats.bootstrap_ci(a, b, paired=True, seed=1)
    assert low < -2 < high and high - low < 0.5  # paired: only the 1-sd noise matters
    low_u, high_u = stats.bootstrap_ci(a, b, paired=False, seed=1)
    assert high_u - low_u > 3 * (high - low)  # unpaired ignores the pairing, much wider


def test_power_textbook_value():
    # d = 0.5, 80% power, alpha 0.05 two-sided: 64 per group (Cohen 1988)
    table = stats.repeats_for_power(sd=10.0, differences=[5.0])
    assert table.loc[0, "repeats_needed"] == 64


def test_standard_error_curve_follows_sigma_over_root_n():
    pool = np.random.default_rng(3).normal(100, 10, 2000)
    curve = stats.standard_error_curve(pool, sizes=[25, 100, 400], seed=0).set_index("repeats")
    for n in (25, 100, 400):
        assert curve.loc[n, "bootstrap_se"] == pytest.approx(10 / np.sqrt(n), rel=0.1)


def make_test(mean_difference: float, identical: bool = False) -> PairTest:
    return PairTest(10, 10, 0.0, 0.0, mean_difference, 0, 0, 0.01, 0.01, 0.01, 0, 0, identical)


@pytest.mark.parametrize(
    ("expectation", "difference", "p", "identical", "expected"),
    [
        (EXPECTATIONS[0], -3.0, 0.001, False, "supported"),
        (EXPECTATIONS[0], 3.0, 0.001, False, "contradicted"),
        (EXPECTATIONS[0], -3.0, 0.2, False, "no detectable difference"),
        (EXPECTATIONS[2], 0.0, float("nan"), True, "identical"),
        (EXPECTATIONS[2], 1.0, 0.001, False, "contradicted"),
        (EXPECTATIONS[2], 1.0, 0.5, False, "no detectable difference"),
    ],
)
def test_verdict_rule(expectation, difference, p, identical, expected):
    assert stats.verdict(expectation, make_test(difference, identical), p) == expected


def test_identical_samples_are_reported_not_tested():
    a = np.array([1.0, 2.0, 3.0])
    table = stats.expectation_table(
        {
            e: a + i
            for i, e in enumerate(
                [
                    "stateful",
                    "stateless",
                    "stateless_shuffle",
                    "stateful_noreset",
                    "stateful_seed_train",
                    "stateful_reset_test",
                ]
            )
        }  # fmt: skip
        | {"stateful_batch12": a, "stateless_batch12": a.copy()}
    )
    row = table.loc["E3"]
    assert row["verdict"] == "identical" and np.isnan(row["wilcoxon_p"])
    assert "identical" in row["explanation"] and "no test" in row["explanation"]
