"""E1-E6 tested on one series' repeats, and every pair of named samples (`statelab compare`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.stats.equivalence import equivalence_p
from statelab.stats.multiplicity import holm
from statelab.stats.pairs import PairTest, compare_pair, log_ratio, primary_p
from statelab.stats.verdict import EXPECTATIONS, Expectation, explain, finding, verdict


class Tested(NamedTuple):
    """One expectation tested on one series, before any adjustment across tests."""

    expectation: Expectation
    test: PairTest
    log_ratio: float  # log(mean a / mean b) over the finished pairs (stats.pairs.log_ratio)
    log_ratio_se: float
    margin: float  # the equivalence margin in RMSE units (NaN: no equivalence test)
    equivalence_p: float  # paired TOST of |mean a - mean b| < margin (NaN: not run)


def expectation_tests(
    rmse: dict[str, np.ndarray], *, margin: float = float("nan"), seed: int = 0
) -> list[Tested]:
    """E1-E6 on one series' paired repeats: every statistic, the log ratio of mean RMSEs,
    and the equivalence test against ``margin`` (RMSE units; NaN runs none)."""
    made = []
    for expectation in EXPECTATIONS:
        a, b = rmse[expectation.better], rmse[expectation.worse]
        nan = float("nan")
        paired = len(a) == len(b)  # the log ratio's SE and TOST pair the repeats
        ratio = log_ratio(a, b) if paired else None
        equivalent = equivalence_p(a, b, margin) if paired and margin > 0 else nan
        made.append(Tested(expectation, compare_pair(a, b, seed=seed),
                           ratio.estimate if ratio else nan, ratio.se if ratio else nan,
                           margin, equivalent))  # fmt: skip
    return made


def expectation_table(
    rmse: dict[str, np.ndarray], *, seed: int = 0, margin: float = float("nan")
) -> pd.DataFrame:
    """E1-E6 on one series: one row each with every statistic, the equivalence test against
    ``margin`` (RMSE units), Holm's correction across the six (of the tests of a difference,
    and of the equivalence tests) and a verdict."""
    tested = expectation_tests(rmse, margin=margin, seed=seed)
    adjusted = holm([primary_p(t.test) for t in tested])
    adjusted_equivalence = holm([t.equivalence_p for t in tested])
    rows = []
    for one, p, q in zip(tested, adjusted, adjusted_equivalence, strict=True):
        expectation, test = one.expectation, one.test
        outcome = verdict(expectation, test, p, q)
        rows.append(
            {"expectation": expectation.key, "claim": expectation.claim, "a": expectation.better,
             "b": expectation.worse, **test._asdict(), "primary_p": primary_p(test),
             "holm_p": p, "log_ratio": one.log_ratio, "log_ratio_se": one.log_ratio_se,
             "margin_rmse": one.margin, "equivalence_p": one.equivalence_p,
             "holm_equivalence_p": q, "verdict": outcome,
             "explanation": explain(expectation, test, outcome, p, one.margin)}
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("expectation")


def pairwise_table(
    rmse: dict[str, np.ndarray], paired: bool = False, seed: int = 0
) -> pd.DataFrame:
    """Every pair of named samples, Holm-corrected across the pairs (for `statelab compare`)."""
    names = list(rmse)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    tests = [compare_pair(rmse[a], rmse[b], paired=paired, seed=seed) for a, b in pairs]
    adjusted = holm([primary_p(t) for t in tests])
    rows = []
    for (a, b), test, p in zip(pairs, tests, adjusted, strict=True):
        found = finding(test, p)
        outcome = {"a lower": f"{a} lower", "b lower": f"{b} lower"}.get(found, found)
        rows.append({"a": a, "b": b, **test._asdict(), "holm_p": p, "verdict": outcome})
    return pd.DataFrame(rows)
