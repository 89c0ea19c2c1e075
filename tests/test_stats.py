"""Each statistic against an independent value (SciPy's documented examples, textbook figures,
small cases worked by hand), and the verdict rule on data built so that only the right rule
passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from statelab import stats
from statelab.stats import EXPECTATIONS, PairTest, pairs

# Paired differences a - b with known exact two-sided Wilcoxon p-values (15 pairs).
SHIFT_DOWN = -np.arange(1.0, 16.0)  # every repeat of a lower: p = 2 / 2^15
ALTERNATING = np.arange(1.0, 16.0) * (-1.0) ** np.arange(15)  # +1 -2 +3 ... +15: p = 0.8469
# Fisher's cross- minus self-fertilised corn heights (scipy.stats.wilcoxon's example): p = 0.04126
CORN = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], float)
CORN_P = 0.041259765625
SHIFT_DOWN_P = 2 / 2**15


def study(**differences: np.ndarray) -> dict[str, np.ndarray]:
    """The eight experiments of E1-E6, built so that expectation E's pair has exactly the paired
    differences a - b given as E=... (unlisted: zero, an identical pair). Every experiment
    spreads over thousands of RMSE units between repeats, so Welch's test, blind to the
    pairing, sees nothing in differences of a few units."""
    d = {e.key: np.asarray(differences.get(e.key, np.zeros(15)), float) for e in EXPECTATIONS}
    base = 1000.0 * np.random.default_rng(7).permutation(15) + 5000  # integers: exact sums
    rmse = {"stateful": base, "stateful_batch12": base[::-1].copy()}
    rmse["stateless"] = rmse["stateful"] - d["E1"]
    rmse["stateless_shuffle"] = rmse["stateless"] - d["E2"]
    rmse["stateless_batch12"] = rmse["stateful_batch12"] - d["E3"]
    rmse["stateful_noreset"] = rmse["stateful"] - d["E4"]
    rmse["stateful_seed_train"] = rmse["stateful"] + d["E5"]
    rmse["stateful_reset_test"] = rmse["stateful"] - d["E6"]
    for e in EXPECTATIONS:
        np.testing.assert_array_equal(rmse[e.better] - rmse[e.worse], d[e.key])
    return rmse


# --- each statistic against an independent value ------------------------------------------


def test_welch_matches_the_formula_worked_by_hand():
    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 6, 8, 10])
    # means 3 and 6, variances 2.5 and 10: t = -3 / sqrt(0.5 + 2) = -1.8974, df by Welch-Satterthwaite
    t = -3 / np.sqrt(2.5 / 5 + 10 / 5)
    df = (0.5 + 2) ** 2 / (0.5**2 / 4 + 2**2 / 4)
    assert df == pytest.approx(5.882, abs=1e-3)
    expected = 2 * sps.t.sf(abs(t), df)
    assert stats.compare_pair(a, b, paired=False).welch_p == pytest.approx(expected, rel=1e-9)
    # Student's t (pooled variance, df 8) gives the same t here but another p: the test can tell
    assert 2 * sps.t.sf(abs(t), 8) == pytest.approx(0.0944, abs=1e-4)
    assert expected == pytest.approx(0.1075, abs=1e-4)


def test_mann_whitney_exact_case():
    # a entirely below b: U = 0, and 2 of the C(6, 3) = 20 orderings are this extreme
    test = stats.compare_pair([1.0, 2, 3], [4.0, 5, 6], paired=False)
    assert test.mann_whitney_p == pytest.approx(2 / 20)


def test_mann_whitney_scipy_documented_example():
    # scipy.stats.mannwhitneyu's example (diabetes diagnosis ages): U = 17, exact p = 0.1111,
    # and 17 of the 20 (male, female) pairs have the male older, 3 younger: delta = 14 / 20
    males, females = [19.0, 22, 16, 29, 24], [20.0, 11, 17, 12]
    test = stats.compare_pair(males, females, paired=False)
    assert test.mann_whitney_p == pytest.approx(0.1111111111111111, rel=1e-12)
    assert test.cliffs_delta == pytest.approx(0.7)
    assert np.isnan(test.wilcoxon_p)  # unequal lengths never pair


def test_wilcoxon_exact_case():
    # five positive paired differences: 2 of 2^5 sign patterns are as extreme
    a, b = np.array([2.0, 4, 6, 8, 10]), np.array([1.0, 2, 3, 4, 5])
    assert stats.compare_pair(a, b).wilcoxon_p == pytest.approx(2 / 32)


def test_wilcoxon_scipy_documented_example():
    # scipy.stats.wilcoxon's example, Fisher's corn: exact two-sided p = 0.041259765625
    b = 1000.0 * np.arange(15)
    test = stats.compare_pair(b + CORN, b)
    assert test.wilcoxon_p == pytest.approx(CORN_P, rel=1e-12)
    assert np.isnan(stats.compare_pair(b + CORN, b, paired=False).wilcoxon_p)


def test_cohens_d_by_hand():
    assert stats.cohens_d(np.array([1.0, 2, 3]), np.array([3.0, 4, 5])) == pytest.approx(-2.0)
    # unequal sizes and spreads: variances 2.5 (n 5) and 2 (n 2), pooled (4 * 2.5 + 1 * 2) / 5 =
    # 2.4; the mean of the variances (2.25) or population variances would give another d
    d = stats.cohens_d(np.array([1.0, 2, 3, 4, 5]), np.array([6.0, 8]))
    assert d == pytest.approx(-4 / np.sqrt(2.4), rel=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "delta"),
    [
        ([1, 2, 3], [4, 5, 6], -1.0),
        ([4, 5, 6], [1, 2, 3], 1.0),
        ([1, 3], [2], 0.0),
        ([1, 2], [2], -0.5),
        # 12 pairs: a > b in 2 (3 > 2 twice), a < b in 7, ties in 3
        ([1, 2, 3, 3], [2, 3, 5], (2 - 7) / 12),
    ],
)
def test_cliffs_delta_by_hand(a, b, delta):
    assert stats.cliffs_delta(np.array(a, float), np.array(b, float)) == pytest.approx(delta)


def test_cliffs_delta_counts_every_pair():
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 10, 37).astype(float), rng.integers(2, 12, 23).astype(float)  # ties
    counted = np.mean(np.sign(a[:, None] - b[None, :]))
    assert stats.cliffs_delta(a, b) == pytest.approx(counted, rel=1e-12)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, max(0.04, 0.06) = 0.06, in the original order
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    # four: 0.01 * 4 = 0.04, 0.03 * 3 = 0.09, 0.04 * 2 = 0.08 -> 0.09 (never below the one
    # before), 0.5 * 1 = 0.5. Bonferroni would give 0.16 and 0.12, Hochberg 0.08 and 0.08.
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(stats.holm([0.6, 0.7]), [1.0, 1.0])  # 1.2 and 0.7 -> capped at 1
    adjusted = stats.holm([0.01, np.nan])
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1])
    # NaN (a pair not tested) is not one of the hypotheses: m = 2, not 3
    np.testing.assert_allclose(stats.holm([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])


# --- the bootstrap interval ---------------------------------------------------------------


def scipy_bca(a, b, paired, seed):
    """The former implementation: SciPy's BCa in one block, jackknife included."""

    def difference(x, y, axis=-1):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    result = sps.bootstrap(
        (a, b), difference, paired=paired, vectorized=True, n_resamples=4000,
        confidence_level=0.95, method="BCa", rng=np.random.default_rng(seed),
    )  # fmt: skip
    return result.confidence_interval.low, result.confidence_interval.high


@pytest.mark.parametrize(
    ("n_a", "n_b", "paired"),
    [(10, 10, True), (10, 10, False), (12, 7, False), (300, 300, True), (300, 250, False),
     (1200, 1200, True)],  # 1200 paired rows: drawn in two blocks, the same index stream
)  # fmt: skip
def test_bootstrap_interval_is_scipys_bca(n_a, n_b, paired):
    rng = np.random.default_rng(n_a + n_b)
    a = rng.gamma(2.0, 10.0, n_a)  # skewed, so the acceleration matters
    b = a + rng.exponential(3.0, n_a) - 2.5 if paired else rng.gamma(2.5, 9.0, n_b)
    expected = scipy_bca(a, b, paired, seed=3)
    np.testing.assert_allclose(stats.bootstrap_ci(a, b, paired, seed=3), expected, atol=1e-9)
    assert stats.bca_acceleration(a, b, paired) != pytest.approx(0, abs=1e-4)


@pytest.mark.parametrize(
    ("n_a", "n_b", "paired"),
    [(30, 30, True), (30, 27, False), (1200, 1200, True), (2000, 1900, False)],  # fmt: skip
)  # the last two in blocks: 3,495 and 2,097 resamples a block, a's then b's unpaired
def test_bootstrap_resamples_are_scipys_bit_for_bit(n_a, n_b, paired):
    rng = np.random.default_rng(n_a)
    a, b = rng.gamma(2.0, 10.0, n_a), rng.gamma(2.5, 9.0, n_b)
    block = stats.BOOTSTRAP_BLOCK_VALUES // max(n_a, n_b)
    expected = sps.bootstrap(
        (a, b), lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        paired=paired, vectorized=True, n_resamples=4000, batch=block, method="percentile",
        rng=np.random.default_rng(5),
    ).bootstrap_distribution  # fmt: skip
    drawn = pairs._bootstrap_distribution(a, b, paired, np.random.default_rng(5), 4000)
    assert drawn.tobytes() == expected.tobytes()


@pytest.mark.parametrize("paired", [True, False])
def test_bootstrap_interval_is_scipys_bca_with_ties(paired):
    # values 0-3: 7% of the resampled differences equal the estimate, and BCa's bias
    # correction counts each of those as half below it
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 4, 12).astype(float), rng.integers(0, 4, 12).astype(float)
    expected = scipy_bca(a, b, paired, seed=3)
    np.testing.assert_allclose(stats.bootstrap_ci(a, b, paired, seed=3), expected, atol=1e-9)


def test_bootstrap_interval_covers_the_difference():
    rng = np.random.default_rng(0)
    b = rng.normal(100, 5, 400)
    a = b - 2 + rng.normal(0, 1, 400)
    low, high = stats.bootstrap_ci(a, b, paired=True, seed=1)
    assert low < -2 < high and high - low < 0.5  # paired: only the 1-sd noise matters
    low_u, high_u = stats.bootstrap_ci(a, b, paired=False, seed=1)
    assert high_u - low_u > 3 * (high - low)  # unpaired ignores the pairing, much wider


def test_bootstrap_interval_without_spread_is_the_point():
    a = np.array([3.0, 5.0, 9.0])
    assert stats.bootstrap_ci(a, a + 2, paired=True) == (-2.0, -2.0)  # a constant shift
    assert stats.bootstrap_ci(np.full(4, 3.0), np.full(6, 1.0), paired=False) == (2.0, 2.0)


def test_bootstrap_interval_rejects_what_it_cannot_resample():
    with pytest.raises(ValueError, match="paired samples must have the same length, not 3 and 4"):
        stats.bootstrap_ci([1.0, 2, 3], [1.0, 2, 3, 4], paired=True)
    with pytest.raises(ValueError, match="each sample needs two or more values, not 1 and 3"):
        stats.bootstrap_ci([1.0], [1.0, 2, 3], paired=False)


# --- standard error and power --------------------------------------------------------------


def test_standard_error_curve_by_hand():
    pool = np.array([1.0, 2, 3, 4, 5, np.nan])  # the NaN (a diverged repeat) is dropped
    curve = stats.standard_error_curve(pool, sizes=[1, 4], resamples=40_000).set_index("repeats")
    # formula: s / sqrt(n) with s = sqrt(2.5), the whole pool's sample standard deviation
    np.testing.assert_allclose(curve["formula_se"], np.sqrt(2.5) / np.sqrt([1, 4]), rtol=1e-12)
    # bootstrap: means of n draws with replacement spread by sqrt(2) / sqrt(n) (population sd
    # of the pool); without replacement n = 4 of 5 would give 0.35, the formula column 0.79
    np.testing.assert_allclose(curve["bootstrap_se"], np.sqrt(2) / np.sqrt([1, 4]), rtol=0.02)
    np.testing.assert_allclose(curve["ci95_half_width"], 1.96 * curve["bootstrap_se"])


def test_standard_error_curve_follows_sigma_over_root_n():
    pool = np.random.default_rng(3).normal(100, 10, 2000)
    curve = stats.standard_error_curve(pool, sizes=[25, 100, 400], seed=0).set_index("repeats")
    for n in (25, 100, 400):
        assert curve.loc[n, "bootstrap_se"] == pytest.approx(10 / np.sqrt(n), rel=0.1)


def test_standard_error_curve_default_sizes_and_too_small_pool():
    curve = stats.standard_error_curve(np.arange(37.0))
    assert list(curve["repeats"]) == [5, 10, 20, 30, 37]
    empty = stats.standard_error_curve(np.array([1.0, np.nan]))
    assert empty.empty
    assert list(empty.columns) == ["repeats", "bootstrap_se", "formula_se", "ci95_half_width"]


@pytest.mark.parametrize(
    ("d", "needed"),
    # two-sided two-sample t-test, 80% power, alpha 0.05 (Cohen 1988; G*Power): 393.41, 63.77
    # and 25.52 per group, rounded up (rounding to nearest would give 393 for d = 0.2)
    [(0.2, 394), (0.5, 64), (0.8, 26)],
)
def test_power_textbook_value(d, needed):
    table = stats.repeats_for_power(sd=10.0, differences=[10.0 * d])
    assert table.loc[0, "effect_size_d"] == pytest.approx(d)
    assert table.loc[0, "repeats_needed"] == needed


def test_power_edges():
    assert stats.repeats_for_power(sd=1.0, differences=[100.0]).loc[0, "repeats_needed"] == 2
    for sd in (0.0, float("nan")):
        empty = stats.repeats_for_power(sd=sd, differences=[1.0])
        assert empty.empty
        assert list(empty.columns) == ["rmse_difference", "effect_size_d", "repeats_needed"]


# --- the verdict rule ----------------------------------------------------------------------


def make_test(mean_difference: float, identical: bool = False) -> PairTest:
    return PairTest(10, 10, 0.0, 0.0, mean_difference, 0, 0, 0.01, 0.01, 0.01, 0, 0, identical)


@pytest.mark.parametrize(
    ("expectation", "difference", "p", "identical", "expected"),
    [
        (EXPECTATIONS[0], -3.0, 0.001, False, "supported"),
        (EXPECTATIONS[0], 3.0, 0.001, False, "contradicted"),
        (EXPECTATIONS[0], -3.0, 0.2, False, "no detectable difference"),
        (EXPECTATIONS[0], -3.0, 0.05, False, "no detectable difference"),  # p must be below alpha
        (EXPECTATIONS[0], -3.0, float("nan"), False, "no detectable difference"),
        (EXPECTATIONS[0], -3.0, 0.001, True, "identical"),
        (EXPECTATIONS[2], 0.0, float("nan"), True, "identical"),
        (EXPECTATIONS[2], 1.0, 0.001, False, "contradicted"),
        (EXPECTATIONS[2], -1.0, 0.001, False, "contradicted"),  # "same": either direction
        (EXPECTATIONS[2], 1.0, 0.5, False, "no detectable difference"),
    ],
)
def test_verdict_rule(expectation, difference, p, identical, expected):
    assert stats.verdict(expectation, make_test(difference, identical), p) == expected


@pytest.mark.parametrize(
    ("difference", "p", "identical", "expected"),
    [
        (-3.0, 0.001, False, "a lower"),
        (3.0, 0.001, False, "b lower"),
        (-3.0, 0.05, False, "no detectable difference"),
        (-3.0, 0.001, True, "identical"),
    ],
)
def test_finding_is_the_one_rule(difference, p, identical, expected):
    assert stats.finding(make_test(difference, identical), p) == expected
    assert stats.finding(make_test(difference, identical), p, alpha=0.0001) in (
        "identical",
        "no detectable difference",
    )


@pytest.mark.parametrize(
    ("expectation", "difference", "p", "equivalence_p", "identical", "expected"),
    [
        (EXPECTATIONS[0], -3.0, 0.001, 0.001, True, "identical"),  # identical overrides all
        # within the margin: too small to matter, even where a difference is detected
        (EXPECTATIONS[0], -1.0, 0.001, 0.01, False, "practically equivalent"),
        (EXPECTATIONS[0], -1.0, 0.6, 0.01, False, "practically equivalent"),
        (EXPECTATIONS[0], -1.0, 0.001, 0.05, False, "supported"),  # must be below alpha
        (EXPECTATIONS[0], 1.0, 0.001, 0.3, False, "contradicted"),
        (EXPECTATIONS[0], 1.0, 0.001, float("nan"), False, "contradicted"),
        (EXPECTATIONS[2], 1.0, 0.001, 0.01, False, "practically equivalent"),  # "same" holds
        (EXPECTATIONS[2], 1.0, 0.001, 0.3, False, "contradicted"),
        (EXPECTATIONS[0], -1.0, 0.3, 0.3, False, "no detectable difference"),
    ],
)
def test_verdict_rule_with_equivalence(expectation, difference, p, equivalence_p, identical,
                                       expected):  # fmt: skip
    test = make_test(difference, identical)
    assert stats.verdict(expectation, test, p, equivalence_p) == expected


def test_verdict_from_series_built_for_each_branch():
    """One series per verdict, from repeats through the functions the study uses: paired
    Wilcoxon for the test, TOST (margin 0.5) for equivalence, the mean difference for the
    direction; each case is built so that only its verdict is right."""
    base = np.random.default_rng(1).uniform(20, 40, 15)
    spread = np.random.default_rng(2).normal(0, 0.05, 15)
    wide = np.random.default_rng(3).normal(0, 5.0, 15)
    cases = {
        "identical": base.copy(),
        "practically equivalent": base - 0.1 + spread,  # consistent, but well within 0.5
        "supported": base - 3.0 + spread,  # a lower by far more than the margin
        "contradicted": base + 3.0 + spread,
        "no detectable difference": base + wide,  # noisy both ways
    }
    for expected, a in cases.items():
        rmse = {"stateful": a, "stateless": base}
        tested = [t for t in stats.expectation_tests({**rmse, **{
            n: base for n in ("stateless_shuffle", "stateful_batch12", "stateless_batch12",
                              "stateful_noreset", "stateful_seed_train", "stateful_reset_test")
        }}, margin=0.5) if t.expectation.key == "E1"][0]  # fmt: skip
        found = stats.verdict(EXPECTATIONS[0], tested.test, stats.primary_p(tested.test),
                              tested.equivalence_p)  # fmt: skip
        assert found == expected, expected
    assert set(cases) == set(stats.VERDICTS)


def test_expectation_table_reports_a_tiny_consistent_difference_as_equivalent():
    """E2 on Shampoo, as the issue found it: a 0.07 difference on RMSEs near 95 is detected
    by the paired test at 500 repeats, yet is far inside 1% of the persistence RMSE (136.8)."""
    rng = np.random.default_rng(5)
    base = rng.normal(95, 9.3, 500)
    rmse = {name: base + rng.normal(0, 1.0, 500) for name in (
        "stateful", "stateless", "stateful_batch12", "stateful_noreset", "stateful_seed_train",
        "stateful_reset_test")}  # fmt: skip
    rmse["stateless_batch12"] = rmse["stateful_batch12"]
    rmse["stateless_shuffle"] = rmse["stateless"] + 0.07 + rng.normal(0, 0.02, 500)
    table = stats.expectation_table(rmse, margin=0.01 * 136.8)
    row = table.loc["E2"]
    assert row["holm_p"] < 0.05  # a difference is detected...
    assert row["holm_equivalence_p"] < 0.05  # ...and shown to be within the margin
    assert row["verdict"] == "practically equivalent"
    assert "within the equivalence margin" in row["explanation"]
    without = stats.expectation_table(rmse)  # no margin: no equivalence test
    assert without.loc["E2", "verdict"] == "supported"
    assert np.isnan(without.loc["E2", "equivalence_p"])
    assert row["log_ratio"] == pytest.approx(
        np.log(rmse["stateless"].mean() / rmse["stateless_shuffle"].mean()), rel=1e-12
    )


def test_verdicts_rest_on_the_paired_test_not_welch():
    table = stats.expectation_table(
        study(E1=SHIFT_DOWN, E2=-SHIFT_DOWN, E4=ALTERNATING, E5=SHIFT_DOWN, E6=-SHIFT_DOWN)
    )
    assert table["verdict"].to_dict() == {
        "E1": "supported",  # stateful lower in every repeat
        "E2": "contradicted",  # the expected direction reversed
        "E3": "identical",
        "E4": "no detectable difference",
        "E5": "supported",
        "E6": "contradicted",
    }
    tested = ["E1", "E2", "E5", "E6"]
    assert (table.loc[tested, "welch_p"] > 0.9).all()  # blind to a shift of 1-15 among 1000s
    np.testing.assert_allclose(table.loc[tested, "wilcoxon_p"], SHIFT_DOWN_P, rtol=1e-12)
    np.testing.assert_allclose(table.loc[tested, "primary_p"], SHIFT_DOWN_P, rtol=1e-12)
    # Holm over the five tested pairs (E3's NaN is no hypothesis): four at 5p, E4 at its own p
    np.testing.assert_allclose(table.loc[tested, "holm_p"], 5 * SHIFT_DOWN_P, rtol=1e-12)
    assert table.loc["E4", "holm_p"] == pytest.approx(0.846923828125)
    assert np.isnan(table.loc["E3", "holm_p"])
    e1 = table.loc["E1"]
    assert e1["mean_difference"] == pytest.approx(-8.0) and e1["ci_high"] < 0
    assert "stateful mean RMSE" in e1["explanation"] and "8.00 lower" in e1["explanation"]
    assert "Holm-adjusted p = 0.000305" in e1["explanation"]


def test_a_detected_difference_contradicts_a_claim_of_sameness():
    table = stats.expectation_table(study(E3=SHIFT_DOWN))
    assert table.loc["E3", "verdict"] == "contradicted"
    assert stats.expectation_table(study(E3=-SHIFT_DOWN)).loc["E3", "verdict"] == "contradicted"


def test_identical_samples_are_reported_not_tested():
    table = stats.expectation_table(study(E1=ALTERNATING, E2=ALTERNATING))
    row = table.loc["E3"]
    assert row["verdict"] == "identical" and bool(row["identical"])
    assert np.isnan(row["wilcoxon_p"]) and np.isnan(row["welch_p"]) and np.isnan(row["holm_p"])
    assert row["mean_difference"] == 0.0 and row["ci_low"] == row["ci_high"] == 0.0
    assert "identical" in row["explanation"] and "no test" in row["explanation"]


def test_the_same_values_in_another_order_are_not_identical():
    rmse = study(E1=ALTERNATING)
    rmse["stateless_batch12"] = rmse["stateful_batch12"][::-1].copy()  # same set, other repeats
    row = stats.expectation_table(rmse).loc["E3"]
    assert not row["identical"] and row["verdict"] == "no detectable difference"
    assert row["mean_difference"] == 0.0 and row["wilcoxon_p"] == pytest.approx(1.0)


def test_a_failed_repeat_drops_its_pair():
    rmse = study(E1=SHIFT_DOWN, E2=ALTERNATING, E3=ALTERNATING, E4=ALTERNATING)
    stateless = rmse["stateless"].copy()
    rmse["stateful"] = rmse["stateful"].copy()
    rmse["stateful"][3] = np.nan  # repeat 3 of stateful diverged
    table = stats.expectation_table(rmse)
    e1 = table.loc["E1"]
    assert e1["verdict"] == "supported"
    assert e1["n_a"] == e1["n_b"] == 14  # stateless's repeat 3 goes with its partner
    assert e1["mean_b"] == pytest.approx(np.delete(stateless, 3).mean(), rel=1e-12)
    assert e1["wilcoxon_p"] == pytest.approx(2 / 2**14, rel=1e-12)  # 14 pairs, all lower
    assert (table.loc[["E4", "E5", "E6"], "n_a"] == 14).all()  # every pair with stateful
    assert table.loc["E2", "n_a"] == 15  # the others keep all 15


def test_holm_corrects_across_the_six():
    # E2 alone: Fisher's corn, p = 0.041 < 0.05 in the expected direction. Beside five other
    # tested pairs, Holm multiplies the smallest p by 6: 0.25, no detectable difference.
    table = stats.expectation_table(
        study(E1=ALTERNATING, E2=-CORN, E3=ALTERNATING, E4=ALTERNATING, E5=ALTERNATING,
              E6=ALTERNATING)
    )  # fmt: skip
    e2 = table.loc["E2"]
    assert e2["primary_p"] == pytest.approx(CORN_P, rel=1e-12) and e2["mean_difference"] < 0
    assert e2["holm_p"] == pytest.approx(6 * CORN_P, rel=1e-12)
    assert e2["verdict"] == "no detectable difference"


def test_holm_steps_down_where_bonferroni_would_not():
    # two tested pairs (E3-E6 identical): Holm compares the larger p, 0.041, with 0.05 itself
    # (Bonferroni would double it to 0.083 and find nothing)
    table = stats.expectation_table(study(E1=SHIFT_DOWN, E2=-CORN))
    assert table.loc["E2", "holm_p"] == pytest.approx(CORN_P, rel=1e-12)
    assert table.loc["E1", "holm_p"] == pytest.approx(2 * SHIFT_DOWN_P, rel=1e-12)
    assert table.loc[["E1", "E2"], "verdict"].tolist() == ["supported", "supported"]


def test_too_few_finished_repeats_are_explained():
    rmse = study(E1=SHIFT_DOWN)
    rmse["stateful"] = np.where(np.arange(15) == 0, rmse["stateful"], np.nan)
    row = stats.expectation_table(rmse).loc["E1"]
    assert row["verdict"] == "no detectable difference"
    assert row["explanation"] == "too few finished repeats to test (1 of stateful, 1 of stateless)"
    assert np.isnan(row["ci_low"]) and np.isnan(row["wilcoxon_p"])


# --- pairwise_table (statelab compare) -----------------------------------------------------


def test_pairwise_paired_uses_wilcoxon_unpaired_welch():
    rmse = study(E1=SHIFT_DOWN)
    samples = {"x": rmse["stateful"], "y": rmse["stateless"]}  # x lower by 1-15 every repeat
    paired = stats.pairwise_table(samples, paired=True).iloc[0]
    assert paired["verdict"] == "x lower"
    assert paired["holm_p"] == pytest.approx(SHIFT_DOWN_P, rel=1e-12)  # one pair: Holm = p
    unpaired = stats.pairwise_table(samples, paired=False).iloc[0]
    assert np.isnan(unpaired["wilcoxon_p"])
    assert unpaired["holm_p"] == pytest.approx(unpaired["welch_p"], rel=1e-12)
    assert unpaired["verdict"] == "no detectable difference"
    # named by the side that is lower, whichever column it sits in
    reversed_ = stats.pairwise_table({"y": samples["y"], "x": samples["x"]}, paired=True)
    assert reversed_.iloc[0]["verdict"] == "x lower"


def test_pairwise_holm_across_the_pairs():
    rmse = study(E1=SHIFT_DOWN, E2=-CORN)
    samples = {"x": rmse["stateful"], "y": rmse["stateless"], "z": rmse["stateless_shuffle"]}
    table = stats.pairwise_table(samples, paired=True)
    assert list(zip(table["a"], table["b"], strict=True)) == [("x", "y"), ("x", "z"), ("y", "z")]
    # by hand: step down over the three Wilcoxon p-values, smallest times 3, then 2, then 1
    p = table["wilcoxon_p"].to_numpy()
    order = np.argsort(p)
    expected = np.empty(3)
    expected[order] = np.minimum(1, np.maximum.accumulate(p[order] * [3, 2, 1]))
    np.testing.assert_allclose(table["holm_p"], expected, rtol=1e-12)
    assert table.loc[2, "wilcoxon_p"] == pytest.approx(CORN_P, rel=1e-12)  # y - z is -CORN
    assert table["verdict"].tolist()[0] == "x lower"


def test_pairwise_with_a_failed_repeat():
    rmse = study(E1=SHIFT_DOWN)
    x = rmse["stateful"].copy()
    x[3] = np.nan
    samples = {"x": x, "y": rmse["stateless"]}
    paired = stats.pairwise_table(samples, paired=True).iloc[0]
    assert (paired["n_a"], paired["n_b"]) == (14, 14)
    assert paired["wilcoxon_p"] == pytest.approx(2 / 2**14, rel=1e-12)
    assert paired["verdict"] == "x lower"
    unpaired = stats.pairwise_table(samples, paired=False).iloc[0]
    assert (unpaired["n_a"], unpaired["n_b"]) == (14, 15)  # unpaired: y keeps its repeat 3
    assert np.isfinite(unpaired[["ci_low", "ci_high", "welch_p"]].to_numpy(float)).all()


def test_pairwise_identical_samples():
    a = np.array([1.0, np.nan, 3.0, 4.0])
    table = stats.pairwise_table({"x": a, "y": a.copy()}, paired=True)
    assert table.loc[0, "verdict"] == "identical" and np.isnan(table.loc[0, "holm_p"])
    assert isinstance(table, pd.DataFrame)


@pytest.mark.parametrize("seed", range(5))
def test_holm_agrees_with_statsmodels_on_random_p_values_with_ties(seed):
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 0.2, size=12), 2)  # rounded: ties among them
    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1], rtol=1e-12)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "p < 1e-300"),
        (0.012345, "p=0.012"),
        (1.0, "p=1"),
        (5e-324, "p < 1e-300"),
        (2e-300, "p=2e-300"),
    ],
)
def test_p_text_says_an_underflowed_p_is_below_1e_300(p, text):
    assert stats.p_text(p) == text


def test_explain_never_says_p_is_zero():
    tested = stats.compare_pair(np.arange(20.0), np.arange(20.0) + 5, paired=True)
    line = stats.explain(stats.EXPECTATIONS[0], tested, "contradicted", 0.0)
    assert line.endswith("Holm-adjusted p < 1e-300") and "p = 0" not in line
