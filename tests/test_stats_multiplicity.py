"""Benjamini-Hochberg per expectation across series (statelab.stats.benjamini_hochberg_by, and
its use in statelab.studies.generalise.per_series), against adjusted p-values worked by hand.

BH by hand: the k-th smallest of m p-values times m / k, made non-increasing from the top
(each value the smallest of itself and every one above it), capped at 1; NaN is no hypothesis
and is not counted in m. The p-values are chosen so that the families matter: adjusting every
p-value together, or each series' expectations together, gives other verdicts at 0.05 than
adjusting each expectation across the series, which is the rule.
"""

from __future__ import annotations

import numpy as np
import pytest

import statelab
from statelab import stats
from statelab.data.dataset import prepare
from statelab.execution.results import Provenance, Results, versions
from statelab.spec import Spec
from statelab.studies import generalise

# Three series, two expectations, in the order per_series makes its rows (series by series).
SERIES = ("s1", "s1", "s2", "s2", "s3", "s3")
FAMILY = ("E1", "E2", "E1", "E2", "E1", "E2")
# Exact two-sided Wilcoxon p-values of 10 pairs with no ties and no zeros: 2 P(W <= w) =
# 2 c(w) / 2^10, where c(w) counts the subsets of the ranks 1..10 summing to w or less (the
# distinct partitions of 0..10: 1 1 1 2 2 3 4 5 6 8 10, cumulated 1 2 3 5 7 10 14 19 25 33 43).
# So w = 3, 7, 8, 10 give 10, 38, 50, 86 / 1024, and w = 27 (of 55) gives 2 * 512 / 1024 = 1.
P = np.array([10, 86, 38, np.nan, 50, 1024]) / 1024  # s2's E2 was not tested

# E1 (m = 3): sorted 10 38 50, times 3/1 3/2 3/3 = 30 57 50; from the top 50, min(57, 50) =
# 50, 30. The step up matters: 57 / 1024 = 0.056 alone would not be below 0.05.
# E2 (m = 2, the NaN left out): 86 1024, times 2/1 2/2 = 172 1024.
PER_EXPECTATION = np.array([30, 172, 50, np.nan, 50, 1024]) / 1024
# Every p-value together (m = 5): sorted 10 38 50 86 1024, times 5/k = 50 95 83.3 107.5 1024;
# from the top 1024 107.5 83.3 83.3 50. Only s1's E1 stays below 0.05.
ALL_TOGETHER = np.array([50, 107.5, 250 / 3, np.nan, 250 / 3, 1024]) / 1024
# Each series' expectations together: s1 (m = 2) 10 86 -> 20 86; s2 (m = 1) 38;
# s3 (m = 2) 50 1024 -> 100 1024. s3's E1 is no longer below 0.05.
BY_SERIES = np.array([20, 86, 38, np.nan, 100, 1024]) / 1024


def test_the_three_families_give_different_answers_at_0_05():
    """The data can tell the rules apart: the hand-worked sets of E1 discoveries differ."""
    found = [set(np.flatnonzero(adjusted < 0.05)) for adjusted in
             (PER_EXPECTATION, ALL_TOGETHER, BY_SERIES)]  # fmt: skip
    assert found == [{0, 2, 4}, {0}, {0, 2}]


def test_benjamini_hochberg_by_expectation_hand_worked():
    adjusted = stats.benjamini_hochberg_by(P, FAMILY)
    np.testing.assert_allclose(adjusted, PER_EXPECTATION, rtol=1e-12)


def test_the_other_families_hand_worked():
    # The same rule over the other families, so the oracles above are BH's too.
    np.testing.assert_allclose(stats.benjamini_hochberg(P), ALL_TOGETHER, rtol=1e-12)
    np.testing.assert_allclose(stats.benjamini_hochberg_by(P, SERIES), BY_SERIES, rtol=1e-12)


def test_benjamini_hochberg_by_follows_the_labels_not_the_order():
    order = np.array([4, 1, 0, 5, 3, 2])
    adjusted = stats.benjamini_hochberg_by(P[order], np.array(FAMILY)[order])
    np.testing.assert_allclose(adjusted, PER_EXPECTATION[order], rtol=1e-12)
    assert np.isnan(stats.benjamini_hochberg_by([np.nan, 0.5], ["E1", "E2"])).tolist() == [
        True, False
    ]  # fmt: skip
    with pytest.raises(ValueError, match="2 p-values|family labels"):
        stats.benjamini_hochberg_by([0.1, 0.2], ["E1"])


# --- Through per_series --------------------------------------------------------------------


PAIRS = 10
SPEC = Spec(epochs=1)
DATASET = prepare(statelab.shampoo(), SPEC)


def repeats(name: str, series: str, rmse: np.ndarray) -> Results:
    """An experiment's repeats on a series, with the RMSEs given (per_series reads only the
    RMSEs and the persistence RMSE; the rest is filled to match)."""
    n = len(rmse)
    return Results(
        name=name, spec=SPEC, series=series, data_hash="made", seed=1, repeats=np.arange(n),
        rmse=rmse, relative_rmse=rmse, mase=rmse, forecasts=np.zeros((n, 12)),
        forecasts_scaled=np.zeros((n, 12)), final_loss=np.zeros(n),
        failures=np.full(n, "", dtype=object), dataset=DATASET, persistence_rmse=1.0,
        provenance=Provenance(versions=(versions(),), devices=("cpu",)),
    )  # fmt: skip


def differences(positive_ranks: tuple[int, ...]) -> np.ndarray:
    """Paired differences 0.1, 0.2, ..., 1.0 (ranks 1-10, no ties), negative but for the
    ranks named: Wilcoxon's W is their sum."""
    ranks = np.arange(1, PAIRS + 1)
    return 0.1 * ranks * np.where(np.isin(ranks, positive_ranks), 1.0, -1.0)


def test_per_series_adjusts_each_expectation_across_the_series():
    """E1 (stateful - stateless) and E2 (stateless - stateless_shuffle) with the differences
    that give P above (W = 3, 10 on s1; 7 and none on s2; 8, 27 on s3); every other pair is
    identical, so untested. Each E1 is a mean difference below 0 and its adjusted p is below
    0.05 only per expectation: the verdicts are "supported" on all three series."""
    base = 100.0 + np.arange(PAIRS)  # stateless
    made = {"s1": ((3,), (1, 2, 3, 4)), "s2": ((3, 4), None), "s3": ((1, 2, 5), (8, 9, 10))}
    by_series = {}
    for series, (e1, e2) in made.items():
        stateful = base + differences(e1)
        shuffle = base if e2 is None else base - differences(e2)  # E2's a - b is differences
        rmse = {"stateful": stateful, "stateless": base, "stateless_shuffle": shuffle,
                "stateful_batch12": base, "stateless_batch12": base, "stateful_noreset":
                stateful, "stateful_seed_train": stateful, "stateful_reset_test": stateful}  # fmt: skip
        by_series[series] = {name: repeats(name, series, r) for name, r in rmse.items()}
    collection = generalise.Collection(
        name="made", members=tuple(made), domain=dict.fromkeys(made, ""),
        train_length=dict.fromkeys(made, 100), margin=0.01, reference=None,
    )  # fmt: skip
    table = generalise.per_series(generalise.Runs(by_series, PAIRS), collection, seed=1)
    tested = table[table["expectation"].isin(["E1", "E2"])]
    np.testing.assert_allclose(tested["primary_p"], P, rtol=1e-12)  # the Wilcoxon oracle
    np.testing.assert_allclose(tested["bh_p"], PER_EXPECTATION, rtol=1e-12)
    assert list(tested["verdict"]) == [
        "supported", "no detectable difference", "supported", "identical",
        "supported", "no detectable difference",
    ]  # fmt: skip
    rest = table[~table["expectation"].isin(["E1", "E2"])]
    assert rest["bh_p"].isna().all() and (rest["verdict"] == "identical").all()
