"""Statistics for comparing experiments: tests, effect sizes, verdicts, SE and power.

SciPy and statsmodels do the tests; what is written here is only what they lack
(Cliff's delta from the U statistic, the verdict rule, the SE-vs-repeats curve, and BCa's
acceleration for a difference of means in closed form, which SciPy gets by an O(n^2) jackknife).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import ndtr, ndtri
from statsmodels.stats.power import TTestIndPower

ALPHA = 0.05


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


class PairTest(NamedTuple):
    """Experiment a against b on RMSE (lower is better); differences are a - b."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    mean_difference: float
    ci_low: float  # bootstrap 95% confidence interval of the mean difference
    ci_high: float
    welch_p: float
    mann_whitney_p: float
    wilcoxon_p: float  # paired by repeat index (NaN when the repeats do not pair up)
    cohens_d: float
    cliffs_delta: float  # P(a > b) - P(a < b)
    identical: bool


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / pooled standard deviation."""
    n_a, n_b = len(a), len(b)
    pooled = ((n_a - 1) * np.var(a, ddof=1) + (n_b - 1) * np.var(b, ddof=1)) / (n_a + n_b - 2)
    return float((np.mean(a) - np.mean(b)) / np.sqrt(pooled)) if pooled > 0 else 0.0


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) - P(a < b), from Mann-Whitney's U for a: delta = 2 U / (n_a n_b) - 1."""
    u = sps.mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(2 * u / (len(a) * len(b)) - 1)


# Resampled values drawn at once per sample (scipy's ``batch``): the bootstrap holds a few
# arrays of this many float64s (32 MiB each), whatever the sample size. Paired, the blocks
# change nothing: NumPy draws the same index stream in blocks as in one call. Unpaired, SciPy
# draws a's block then b's block in turn, so once resamples x rows exceeds this (over 1048 rows
# at 4000 resamples) the interval is another, equally valid, Monte Carlo draw than unblocked.
BOOTSTRAP_BLOCK_VALUES = 2**22


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def bca_acceleration(a: np.ndarray, b: np.ndarray, paired: bool) -> float:
    """BCa's acceleration for mean(a) - mean(b), in closed form (Efron & Tibshirani 1993, 14.15).

    Hand-written because SciPy's jackknife evaluates the statistic on every leave-one-out
    sample: n samples of n - 1 rows, O(n^2) (10^10 values at 100,000 rows). For a mean the
    leave-one-out value is (sum - x_i) / (n - 1), so SciPy's U_i = (n - 1) (jackknife mean -
    leave-one-out value) is exactly x_i - mean(x), and -(y_i - mean(y)) for the subtracted
    sample; paired, the pair is left out together, so U_i = d_i - mean(d) with d = a - b.
    a_hat = sum_j sum_i U_ji^3 / n_j^3 / (6 (sum_j sum_i U_ji^2 / n_j^2)^(3/2)), as SciPy sums it.
    """
    samples = [(a - b, 1.0)] if paired else [(a, 1.0), (b, -1.0)]
    cubes = sum(sign * np.sum((x - x.mean()) ** 3) / len(x) ** 3 for x, sign in samples)
    squares = sum(np.sum((x - x.mean()) ** 2) / len(x) ** 2 for x, _ in samples)
    return float(cubes / squares**1.5 / 6)


def bca_interval(
    distribution: np.ndarray, estimate: float, acceleration: float, confidence: float = 0.95
) -> tuple[float, float]:
    """The BCa interval from a bootstrap distribution, as ``scipy.stats.bootstrap`` computes it:
    bias correction z0 from the share of resamples below the estimate (ties count half),
    then the two adjusted quantiles of the distribution (NaN when they are undefined)."""
    below = np.count_nonzero(distribution < estimate) + np.count_nonzero(distribution <= estimate)
    z0 = ndtri(below / (2 * len(distribution)))
    z = ndtri((1 - confidence) / 2)
    levels = [ndtr(z0 + (z0 + q) / (1 - acceleration * (z0 + q))) for q in (z, -z)]
    low, high = sps.quantile(distribution, np.array(levels))
    return float(low), float(high)


def bootstrap_ci(a, b, paired: bool, seed: int = 0, resamples: int = 4000) -> tuple[float, float]:
    """95% BCa bootstrap interval of mean(a) - mean(b); paired resamples repeats together.

    SciPy draws the resamples (in blocks of ``BOOTSTRAP_BLOCK_VALUES``) and the interval is
    SciPy's BCa on them, with the acceleration in closed form: bounded memory, time linear in
    the sample size, and (to rounding) ``scipy.stats.bootstrap(..., method="BCa")``'s interval
    for the same seed wherever the draws are the same (see ``BOOTSTRAP_BLOCK_VALUES``)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired and len(a) != len(b):
        raise ValueError(f"paired samples must have the same length, not {len(a)} and {len(b)}")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"each sample needs two or more values, not {len(a)} and {len(b)}")
    estimate = float(_mean_difference(a, b))
    spread = np.ptp(a - b) if paired else max(np.ptp(a), np.ptp(b))
    if spread == 0:  # every resample gives the estimate: nothing to interval
        return estimate, estimate
    distribution = sps.bootstrap(
        (a, b), _mean_difference, paired=paired, vectorized=True, n_resamples=resamples,
        batch=max(1, BOOTSTRAP_BLOCK_VALUES // max(len(a), len(b))), method="percentile",
        rng=np.random.default_rng(seed),
    ).bootstrap_distribution  # fmt: skip
    return bca_interval(distribution, estimate, bca_acceleration(a, b, paired))


def compare_pair(
    a: Sequence[float], b: Sequence[float], paired: bool = True, seed: int = 0
) -> PairTest:
    """Every statistic for two RMSE samples. ``paired``: repeat k of a and of b started
    from the same initial weights (common random numbers), so Wilcoxon's signed-rank applies."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    # Identical: equal repeat by repeat, with at least one repeat that finished (two samples
    # of failures alone are untested, not identical).
    identical = (len(a) == len(b) and np.array_equal(a, b, equal_nan=True)
                 and bool(np.any(~np.isnan(a))))  # fmt: skip
    paired = paired and len(a) == len(b)
    # NaN marks a repeat that diverged: drop it (with its partner, when paired).
    if paired:
        keep = ~np.isnan(a) & ~np.isnan(b)
        a, b = a[keep], b[keep]
    else:
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    nan = float("nan")
    if identical:
        mean = float(a.mean()) if len(a) else nan
        return PairTest(len(a), len(b), mean, mean, 0.0, 0.0, 0.0, nan, nan, nan, 0.0, 0.0, True)
    if min(len(a), len(b)) < 2:  # too few finished repeats to test anything
        means = (float(a.mean()) if len(a) else nan, float(b.mean()) if len(b) else nan)
        return PairTest(len(a), len(b), *means, means[0] - means[1], nan, nan, nan, nan, nan,
                        nan, nan, False)  # fmt: skip
    low, high = bootstrap_ci(a, b, paired, seed)
    wilcoxon_p = float(sps.wilcoxon(a, b).pvalue) if paired and np.any(a != b) else nan
    return PairTest(
        n_a=len(a),
        n_b=len(b),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(a.mean() - b.mean()),
        ci_low=low,
        ci_high=high,
        welch_p=float(sps.ttest_ind(a, b, equal_var=False).pvalue),
        mann_whitney_p=float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue),
        wilcoxon_p=wilcoxon_p,
        cohens_d=cohens_d(a, b),
        cliffs_delta=cliffs_delta(a, b),
        identical=False,
    )


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


def primary_p(test: PairTest) -> float:
    """The test a verdict rests on: paired Wilcoxon where repeats pair, else Welch."""
    return test.wilcoxon_p if not np.isnan(test.wilcoxon_p) else test.welch_p


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
        f"Holm-adjusted p = {adjusted_p:.3g}{within}"
    )


class Tested(NamedTuple):
    """One expectation tested on one series, before any adjustment across tests."""

    expectation: Expectation
    test: PairTest
    log_ratio: float  # log(mean a / mean b) over the finished pairs (statelab.across)
    log_ratio_se: float
    margin: float  # the equivalence margin in RMSE units (NaN: no equivalence test)
    equivalence_p: float  # paired TOST of |mean a - mean b| < margin (NaN: not run)


def expectation_tests(
    rmse: dict[str, np.ndarray], *, margin: float = float("nan"), seed: int = 0
) -> list[Tested]:
    """E1-E6 on one series' paired repeats: every statistic, the log ratio of mean RMSEs,
    and the equivalence test against ``margin`` (RMSE units; NaN runs none)."""
    from statelab.across import equivalence_p, log_ratio  # matplotlib: only when testing

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
