"""The pooled verdict and its words (statelab.stats.verdict, statelab.stats.equivalence), and
the across-series table and answer built on them (statelab.studies.generalise), against cases
worked by hand.

The pooled TOST is the two one-sided z-tests of the pooled log ratio against log(1 - margin)
and log(1 + margin), with the standard error the 95% CI was built from; it rejects at alpha
exactly when the 90% interval lies within the bounds. The test of a difference is the 95% CI
excluding 0. The normal quantiles here are the standard library's (statistics.NormalDist),
not SciPy's, which the code uses.
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from statelab import stats
from statelab.stats import Meta
from statelab.studies import generalise

NORMAL = NormalDist()
Z95 = NORMAL.inv_cdf(0.975)  # 1.95996
E1, E3 = stats.EXPECTATIONS[0], stats.EXPECTATIONS[2]  # a claim of "better", and of "same"
NAN = float("nan")


def z_tost_p(pooled: float, se: float, margin: float) -> float:
    """The larger of the two one-sided z-tests' p-values: H0 pooled <= log(1 - margin), and
    H0 pooled >= log(1 + margin)."""
    low, high = math.log(1 - margin), math.log(1 + margin)
    return max(1 - NORMAL.cdf((pooled - low) / se), NORMAL.cdf((pooled - high) / se))


def meta(pooled: float, se: float) -> Meta:
    """A meta-analysis with this pooled log ratio and the normal 95% CI of this SE (df
    infinite: z-tests; keywords: fields added later with defaults leave it as it is)."""
    return Meta(k=5, pooled=pooled, se=se, df=math.inf, ci_low=pooled - Z95 * se,
                ci_high=pooled + Z95 * se, pi_low=NAN, pi_high=NAN, tau2=0.0, i2=0.0, q=NAN,
                q_p=NAN)  # fmt: skip


def equivalent(pooled: float, se: float, margin: float, alpha: float = 0.05) -> bool:
    m = meta(pooled, se)
    return stats.pooled_equivalent(m.pooled, m.se, m.df, margin, alpha)


# --- The pooled TOST -------------------------------------------------------------------------


def test_pooled_tost_is_the_z_tost_worked_by_hand():
    # margin 0.05: bounds log 0.95 = -0.051293, log 1.05 = 0.048790.
    # pooled 0.02, SE 0.017: z = (0.02 - 0.048790) / 0.017 = -1.69354, p = Phi(-1.69354) =
    # 0.04518; the lower test's z = (0.02 + 0.051293) / 0.017 = 4.194, p = 1.4e-5: both
    # below 0.05, equivalent.
    assert z_tost_p(0.02, 0.017, 0.05) == pytest.approx(0.04518, abs=1e-5)
    assert equivalent(0.02, 0.017, 0.05)
    # SE 0.018: z = -0.028790 / 0.018 = -1.59945, p = 0.05486: not shown equivalent.
    assert z_tost_p(0.02, 0.018, 0.05) == pytest.approx(0.05486, abs=1e-5)
    assert not equivalent(0.02, 0.018, 0.05)
    # The mirror image on the lower side: pooled -0.02 is 0.031293 from log 0.95, so SE 0.0185
    # gives z = 1.69152, p = 0.04537 (equivalent), and SE 0.0195 gives z = 1.60478, p = 0.0543.
    assert z_tost_p(-0.02, 0.0185, 0.05) == pytest.approx(0.04537, abs=1e-5)
    assert equivalent(-0.02, 0.0185, 0.05) and not equivalent(-0.02, 0.0195, 0.05)


@pytest.mark.parametrize("alpha", [0.05, 0.01])
@pytest.mark.parametrize("margin", [0.01, 0.05, 0.2])
def test_pooled_tost_agrees_with_the_z_tost_everywhere(margin, alpha):
    answers = set()
    for pooled in np.linspace(-0.25, 0.25, 101):
        for se in (0.001, 0.003, 0.01, 0.017, 0.03, 0.1):
            p = z_tost_p(pooled, se, margin)
            if abs(p - alpha) < 1e-9:
                continue  # on the boundary, where rounding decides
            assert equivalent(pooled, se, margin, alpha) == (p < alpha), (pooled, se)
            answers.add(p < alpha)
    assert answers == {True, False}


def test_the_90_and_95_percent_intervals_give_different_answers():
    # pooled 0.02, SE 0.017, margin 0.05: the 90% interval 0.02 -+ 1.64485 x 0.017 =
    # (-0.00796, 0.04796) lies within (-0.051293, 0.048790); the 95% interval 0.02 -+
    # 1.95996 x 0.017 = (-0.01332, 0.05332) does not. The TOST at 0.05 takes the 90%
    # interval: equivalent. The 95% CI includes 0, so no difference is detected; the verdict
    # is "practically equivalent", where a TOST on the 95% CI would leave it undetected.
    assert equivalent(0.02, 0.017, 0.05)
    assert stats.pooled_verdict(E1, meta(0.02, 0.017), False, 0.05) == "practically equivalent"
    # pooled 0.03, SE 0.0165: the 90% interval (0.00286, 0.05714) excludes 0 but the 95% CI
    # (-0.00234, 0.06234) does not: the test of a difference takes the 95% CI, no difference
    # detected (a 90% one would say "contradicted"); and 0.05714 > 0.048790, not equivalent.
    assert stats.pooled_verdict(E1, meta(0.03, 0.0165), False, 0.05) == "no detectable difference"
    # Its mirror, -0.03: the 90% interval excludes 0 below, where a 90% rule says "supported".
    assert stats.pooled_verdict(E1, meta(-0.03, 0.0165), False, 0.05) == "no detectable difference"


def test_with_few_series_the_tost_takes_students_t_as_the_interval_does():
    # Two degrees of freedom (three series): t_{0.95, 2} = 2.919986 (a table value), against
    # z_{0.95} = 1.644854. Margin 0.05, bounds (-0.051293, 0.048790). Pooled 0.02, SE 0.01:
    # z: 0.02 -+ 0.016449 = (0.00355, 0.03645), within; t: 0.02 -+ 0.029200 =
    # (-0.00920, 0.04920), past 0.048790: not shown equivalent with three series.
    assert stats.pooled_equivalent(0.02, 0.01, math.inf, 0.05)
    assert not stats.pooled_equivalent(0.02, 0.01, 2, 0.05)
    # SE 0.009: 0.02 + 2.919986 x 0.009 = 0.04628 < 0.048790: equivalent on t as well.
    assert stats.pooled_equivalent(0.02, 0.009, 2, 0.05)


def test_the_bounds_log_one_minus_and_plus_the_margin_are_not_symmetric():
    low, high = stats.log_margins(0.2)
    assert low == pytest.approx(math.log(0.8), rel=1e-15)  # -0.223144
    assert high == pytest.approx(math.log(1.2), rel=1e-15)  # 0.182322
    # A pooled log ratio of -0.2 (ratio 0.819, within 1 - 0.2) with SE 0.005 has the 90%
    # interval (-0.20822, -0.19178): inside (-0.223144, 0.182322), though past -0.182322.
    assert equivalent(-0.2, 0.005, 0.2)
    assert stats.pooled_verdict(E1, meta(-0.2, 0.005), False, 0.2) == "practically equivalent"
    # Its mirror, +0.2 (ratio 1.221, beyond 1 + 0.2), has (0.19178, 0.20822): outside 0.182322,
    # though within 0.223144. B is 22% worse: a difference that matters.
    assert not equivalent(0.2, 0.005, 0.2)
    assert stats.pooled_verdict(E1, meta(0.2, 0.005), False, 0.2) == "contradicted"


# --- The words of the answer ---------------------------------------------------------------


# What each pooled verdict says of a claim that one is better, and of a claim of "same" (which
# is never "supported": any detected difference contradicts it).
WORDS = {
    (False, "supported"): ("HOLDS", "on the whole"),
    (False, "contradicted"): ("REVERSED", "opposite"),
    (False, "practically equivalent"): ("DOES NOT MATTER", "within the margin"),
    (False, "identical"): ("DOES NOT MATTER", "identical"),
    (False, "no detectable difference"): ("UNSETTLED", "no detectable"),
    (True, "identical"): ("HOLDS", "identical"),
    (True, "practically equivalent"): ("HOLDS", "equivalent"),
    (True, "contradicted"): ("DOES NOT HOLD", "differ"),
    (True, "no detectable difference"): ("UNSETTLED", "not shown equivalent"),
}
KEYWORD = re.compile(r"(HOLDS|REVERSED|DOES NOT MATTER|DOES NOT HOLD|UNSETTLED)\b")


def says(text: str, same: bool, verdict: str) -> bool:
    keyword, reason = WORDS[same, verdict]
    found = KEYWORD.match(text)
    return found is not None and found.group(1) == keyword and reason in text


@pytest.mark.parametrize(("same", "verdict"), list(WORDS))
def test_answer_words_each_verdict(same, verdict):
    assert says(stats.answer(E3 if same else E1, verdict), same, verdict)


# Six series (training lengths 50-100, two to each third); for each expectation one of these,
# a log ratio and SE per series. Worked by hand, with margin 0.01 (bounds -0.010050, 0.009950):
# - "lower", all -0.1 with SE 0.02: Q = 0, so tau^2 = 0 and the pooled estimate is the fixed
#   effect -0.1 with SE 0.02 / sqrt 6 = 0.008165; the 95% CI -0.1 -+ 0.016003 lies below 0
#   (A, the side claimed better, is lower) and far outside the margin: "supported" (for a
#   claim of "same", "contradicted"). "higher" (+0.1) is its mirror: "contradicted".
# - "tiny", all 0.001 with SE 0.002: pooled 0.001, SE 0.000816; the 95% CI (-0.0006, 0.0026)
#   includes 0, the 90% one (-0.000343, 0.002343) lies within the margin: "practically
#   equivalent".
# - "identical": every series identical (log ratio 0, SE 0): "identical".
# - "mixed", -0.1 on the three shortest series and +0.1 on the three longest, SE 0.02 (so the
#   shortest third is "supported", the longest "contradicted"): pooled 0 by symmetry, PM's tau^2
#   = the sample variance less the sampling one = 0.012 - 0.0004 = 0.0116, SE sqrt(0.012 / 6)
#   = 0.0447, 95% CI -+0.0877 around 0: "no detectable difference", and not equivalent.
SCENARIOS = {
    "lower": ([-0.1] * 6, [0.02] * 6, ("supported", "contradicted")),
    "higher": ([0.1] * 6, [0.02] * 6, ("contradicted", "contradicted")),
    "tiny": ([0.001] * 6, [0.002] * 6, ("practically equivalent",) * 2),
    "identical": ([0.0] * 6, [0.0] * 6, ("identical",) * 2),
    "mixed": ([-0.1] * 3 + [0.1] * 3, [0.02] * 6, ("no detectable difference",) * 2),
}


def per_series_verdict(value: float, se: float, same: bool) -> str:
    """The verdict a series of these would have had (only counted, never re-derived)."""
    if se == 0:
        return "identical"
    if abs(value) < 0.01:
        return "practically equivalent"
    return "contradicted" if value > 0 or same else "supported"


def across_table(scenario: dict[str, str]) -> pd.DataFrame:
    """A per-series table as per_series makes it, expectation E_i following scenario[E_i]."""
    rows = []
    for expectation in stats.EXPECTATIONS:
        values, ses, _ = SCENARIOS[scenario[expectation.key]]
        for i, (value, se) in enumerate(zip(values, ses, strict=True)):
            rows.append({"series": f"s{i}", "domain": "", "train_length": 50 + 10 * i,
                         "expectation": expectation.key, "identical": se == 0,
                         "log_ratio": value, "log_ratio_se": se,
                         "verdict": per_series_verdict(value, se, expectation.same)})  # fmt: skip
    return pd.DataFrame(rows)


def generalisation(table: pd.DataFrame, margin: float) -> generalise.Generalisation:
    """The analysed study with this per-series table, and nothing else that the answer reads."""
    series = tuple(dict.fromkeys(table["series"]))
    collection = generalise.Collection(
        name="made", members=series, domain=dict.fromkeys(series, ""),
        train_length=dict.fromkeys(series, 100), margin=margin, reference=None,
    )  # fmt: skip
    return generalise.Generalisation(
        collection=collection, per_series=table, experiments=pd.DataFrame(),
        across=generalise.across_series(table, margin),
        ranking=generalise.Ranking(pd.DataFrame(), pd.DataFrame(), None), reference=None,
        repeats=10, seed=1, skipped=(), specs={}, horizon_note="",
        provenance=generalise.Provenance((), (), ()),
    )  # fmt: skip


ASSIGNMENTS = [  # every reachable verdict of the claim of "same" (E3) and of the others
    ("lower", "higher", "tiny", "identical", "mixed", "tiny"),
    ("tiny", "mixed", "higher", "lower", "identical", "higher"),
    ("mixed", "identical", "identical", "higher", "lower", "identical"),
    ("identical", "lower", "mixed", "tiny", "higher", "mixed"),
]


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: "-".join(a))
def test_the_answer_says_each_pooled_verdict_in_its_words(assignment):
    scenario = dict(zip((e.key for e in stats.EXPECTATIONS), assignment, strict=True))
    result = generalisation(across_table(scenario), margin=0.01)
    overall = result.across[result.across["group"] == "all"].set_index("expectation")
    lines = result.answer
    assert lines[0] == "On 6 series of made (10 repeats of each experiment per series):"
    for expectation, line in zip(stats.EXPECTATIONS, lines[1:], strict=True):
        pooled = SCENARIOS[scenario[expectation.key]][2][expectation.same]
        assert overall.loc[expectation.key, "verdict"] == pooled
        head = f"- {expectation.key} {expectation.claim}: "
        assert line.startswith(head)
        assert says(line[len(head) :], expectation.same, pooled), line


def test_the_answer_gives_the_pooled_ratio_the_counts_and_the_thirds_that_differ():
    # "lower" on E1: ratio exp(-0.1) = 0.905. Six equal effects: Q = 0, so the truncated HKSJ
    # scale is 1 and the SE 0.02 / sqrt 6; the CI takes t_{0.975, 5} = 2.570582 (a table
    # value): exp(-0.1 -+ 2.570582 x 0.02 / sqrt 6) = 0.886-0.924.
    scenario = dict.fromkeys((e.key for e in stats.EXPECTATIONS), "identical")
    lines = generalisation(across_table(scenario | {"E1": "lower", "E2": "mixed"}), 0.01).answer
    half = 2.570582 * 0.02 / math.sqrt(6)
    low, high = math.exp(-0.1 - half), math.exp(-0.1 + half)
    assert f"RMSE ratio stateful/stateless 0.905 (95% CI {low:.3f}-{high:.3f}" in lines[1]
    assert (f"{low:.3f}", f"{high:.3f}") == ("0.886", "0.924")
    # Each third holds two series: t_{0.975, 1} = 12.706205, so -0.1 -+ 12.706 x 0.02 / sqrt 2
    # = (-0.280, 0.080) includes 0: no difference detected in a third, though the six together
    # show one; each third's verdict differs from the collection's, so it is shown.
    assert ("Per series: 6 supported. By training length: short 0.905 (no detectable "
            "difference), medium 0.905 (no detectable difference), long 0.905 (no detectable "
            "difference).") in lines[1]  # fmt: skip
    # "mixed" on E2: the thirds pool exp(-0.1), exp(0) and exp(0.1), each with two series and
    # so, like E1's, no detectable difference: the collection's verdict, not shown again.
    assert lines[2].startswith("- E2 stateless without shuffling beats stateless with "
                               "shuffling: UNSETTLED")  # fmt: skip
    assert lines[2].endswith("Per series: 3 supported, 3 contradicted. By training length: "
                             "short 0.905, medium 1.000, long 1.105.")  # fmt: skip


# --- The count of untested series ----------------------------------------------------------


def test_untested_counts_the_series_with_no_log_ratio_se_that_are_not_identical():
    """E1 on seven series: four tested (three supported, one without a detected difference),
    one identical (SE 0), and two untested: one finished pair (a log ratio, no SE) and none
    (neither). Untested: 2; the identical one is no more untested than the tested ones."""
    cases = [(-0.1, 0.02, False, "supported")] * 3 + [
        (0.01, 0.02, False, "no detectable difference"),
        (0.0, 0.0, True, "identical"),
        (0.05, NAN, False, "no detectable difference"),
        (NAN, NAN, False, "no detectable difference"),
    ]
    rows = []
    for i, (value, se, identical, verdict) in enumerate(cases):
        for expectation in stats.EXPECTATIONS:
            mine = expectation.key == "E1"
            rows.append({"series": f"s{i}", "domain": "", "train_length": 50 + 10 * i,
                         "expectation": expectation.key, "identical": identical or not mine,
                         "log_ratio": value if mine else 0.0,
                         "log_ratio_se": se if mine else 0.0,
                         "verdict": verdict if mine else "identical"})  # fmt: skip
    across = generalise.across_series(pd.DataFrame(rows), margin=0.01)
    overall = across[across["group"] == "all"].set_index("expectation")
    assert overall.loc["E1", "n_untested"] == 2
    assert (overall.loc["E1", "series"], overall.loc["E1", "meta_k"]) == (7, 4)
    assert overall.loc["E1", "meta_zero_se"] == 1
    assert (overall.drop(index="E1")["n_untested"] == 0).all()  # all identical
    # Thirds by length: qcut's edges at ranks 3 and 5 of 1-7 make s0-s2, s3-s4, s5-s6; the
    # untested pair is in the longest third.
    thirds = across[(across["group"] == "length") & (across["expectation"] == "E1")]
    assert list(thirds["n_untested"]) == [0, 0, 2]
