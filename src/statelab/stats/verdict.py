"""The expectations E1-E6 and the one verdict rule every verdict follows, on one series or
pooled over many.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from statelab.defaults import ALPHA
from statelab.stats.pairs import PairTest


class Expectation(NamedTuple):
    key: str
    claim: str
    better: str  # the experiment expected to have the lower RMSE (or, for "same", one side)
    worse: str
    same: bool = False  # the claim is that both give the same results


EXPECTATIONS = (
    Expectation("E1", "stateful beats stateless", "stateful", "stateless"),
    Expectation("E2", "stateless without shuffling beats stateless with shuffling", "stateless", "stateless_shuffle"),
    Expectation("E3", "stateful and stateless give the same results at batch size 12", "stateful_batch12", "stateless_batch12", same=True),
    Expectation("E4", "resetting after every training epoch beats never resetting", "stateful", "stateful_noreset"),
    Expectation("E5", "seeding the state on the training rows helps", "stateful_seed_train", "stateful"),
    Expectation("E6", "carrying state between test predictions beats resetting it", "stateful", "stateful_reset_test"),
)  # fmt: skip


def finding(test: PairTest, adjusted_p: float, alpha: float = ALPHA) -> str:
    """The one rule every verdict follows: "identical" (equal repeat by repeat, so nothing is
    tested), "no detectable difference" (the adjusted p is not below alpha, or is NaN), else the
    side with the lower mean RMSE, "a lower" or "b lower"."""
    if test.identical:
        return "identical"
    if not adjusted_p < alpha:
        return "no detectable difference"
    return "a lower" if test.mean_difference < 0 else "b lower"


VERDICTS = (
    "identical",
    "supported",
    "contradicted",
    "practically equivalent",
    "no detectable difference",
)


def decide(expectation: Expectation, found: str, equivalent: bool) -> str:
    """The one rule every verdict on an expectation follows, on one series or pooled over
    many; ``found`` is :func:`finding`'s answer and ``equivalent`` whether an equivalence test
    put the difference within the margin. One of ``VERDICTS``:

    - "identical": equal repeat by repeat, nothing tested;
    - "practically equivalent": within the margin, too small to matter, even where a
      difference is also detected (for a claim of "same", this is the claim holding);
    - "no detectable difference";
    - "supported" / "contradicted": a detected difference in / against the claimed direction
      (any detected difference contradicts a claim of "same")."""
    if found == "identical":
        return found
    if equivalent:
        return "practically equivalent"
    if found == "no detectable difference":
        return found
    # a = expectation.better
    return "supported" if found == "a lower" and not expectation.same else "contradicted"


def verdict(
    expectation: Expectation,
    test: PairTest,
    adjusted_p: float,
    equivalence_p: float = float("nan"),
    alpha: float = ALPHA,
) -> str:
    """One of ``VERDICTS`` for one series, from the adjusted p-values of the test of a
    difference and of the equivalence test (NaN: not run)."""
    return decide(expectation, finding(test, adjusted_p, alpha), equivalence_p < alpha)


# Below this a p-value has underflowed or nearly so: it is shown as "< 1e-300", never as 0.
P_FLOOR = 1e-300


def p_shown(p: float, digits: int = 2) -> str:
    """A p-value to ``digits`` significant digits, or "< 1e-300" for one below P_FLOOR (one
    that underflowed to 0 in floating point: no test gives exactly 0)."""
    return "< 1e-300" if p < P_FLOOR else f"{p:.{digits}g}"


def p_text(p: float, digits: int = 2, equals: str = "=") -> str:
    """A p-value in a sentence: "p=0.012" (``equals`` between), or "p < 1e-300"."""
    shown = p_shown(p, digits)
    return f"p {shown}" if shown.startswith("<") else f"p{equals}{shown}"


def explain(
    expectation: Expectation,
    test: PairTest,
    outcome: str,
    adjusted_p: float,
    margin: float = float("nan"),
) -> str:
    if np.isnan(test.ci_low) and not test.identical:
        return (
            f"too few finished repeats to test ({test.n_a} of {expectation.better}, "
            f"{test.n_b} of {expectation.worse})"
        )
    if outcome == "identical":
        return (
            f"{expectation.better} and {expectation.worse} gave identical RMSEs repeat by repeat "
            "(same initial weights, and the settings make the state irrelevant), so no test is run"
        )
    direction = "lower" if test.mean_difference < 0 else "higher"
    within = (
        f", within the equivalence margin of +-{margin:.3g}"
        if outcome == "practically equivalent" else ""
    )  # fmt: skip
    return (
        f"{expectation.better} mean RMSE {test.mean_a:.2f} vs {expectation.worse} {test.mean_b:.2f}: "
        f"{abs(test.mean_difference):.2f} {direction} (95% CI {test.ci_low:.2f} to {test.ci_high:.2f}), "
        f"Holm-adjusted {p_text(adjusted_p, 3, ' = ')}{within}"
    )


def pooled_verdict(
    expectation: Expectation, meta, identical: bool, margin: float, alpha: float = ALPHA
) -> str:
    """The collection's verdict by the same rule (:func:`decide`), from a random-effects
    meta-analysis (:class:`statelab.stats.Meta`) of the log ratios: a difference when the
    pooled 95% CI excludes 0; practically equivalent by the pooled TOST
    (:func:`statelab.stats.equivalence.pooled_equivalent`); identical when every series gave
    identical RMSEs."""
    from statelab.stats.equivalence import pooled_equivalent

    if identical:
        found = "identical"
    elif meta.ci_high < 0:
        found = "a lower"
    elif meta.ci_low > 0:
        found = "b lower"
    else:
        found = "no detectable difference"
    equivalent = pooled_equivalent(meta.pooled, meta.se, meta.df, margin, alpha)
    return decide(expectation, found, equivalent)


def answer(expectation: Expectation, verdict: str) -> str:
    """A collection's verdict in the words of the answer: HOLDS, REVERSED, DOES NOT MATTER,
    DOES NOT HOLD (a claim of "same" that fails) or UNSETTLED, with what it means."""
    if expectation.same:
        return {
            "identical": "HOLDS: identical on every series",
            "practically equivalent": "HOLDS: equivalent on the whole (pooled within the margin)",
            "contradicted": "DOES NOT HOLD: the two differ on the whole",
        }.get(verdict, "UNSETTLED: no detectable pooled difference, but not shown equivalent")
    return {
        "supported": "HOLDS on the whole",
        "contradicted": "REVERSED: the opposite holds on the whole",
        "practically equivalent": "DOES NOT MATTER: the pooled difference is within the margin",
        "identical": "DOES NOT MATTER: identical on every series",
    }.get(verdict, "UNSETTLED: no detectable pooled difference")
