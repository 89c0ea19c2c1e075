"""Coverage of the pooled estimate's 95% CI, by simulation: normal (statelab before issue 15),
Hartung-Knapp-Sidik-Jonkman untruncated, and HKSJ truncated (q* = max(1, q), statelab's
meta_analysis), side by side, all around the same REML fit of each simulated meta-analysis.

Each draw is a meta-analysis of k series with true mean 0: y_i = u_i + e_i, u_i ~ N(0, tau2),
e_i ~ N(0, se_i^2), the within-series SEs differing (se_i = 0.1 x 4^U, U uniform: 0.1 to 0.4,
variances 0.01 to 0.16, mean about 0.05). tau2 is given against that mean within-series
variance. Seeded: the same table every run.

    python benchmarks/meta_coverage.py [--draws 4000] [--seed 15]
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from statelab.defaults import ALPHA
from statelab.stats import meta_analysis, meta_regression

SERIES = (3, 5, 10)
TAU2 = (0.0, 0.0125, 0.05, 0.2)  # 0, a quarter, once and four times the mean within variance
METHODS = ("normal", "HKSJ", "HKSJ truncated")


def intervals(y: np.ndarray, se: np.ndarray) -> tuple[dict[str, tuple[float, float]], float]:
    """The three 95% CIs of the pooled mean from one REML fit (the model's SE 1 / sqrt(sum w)
    with a normal quantile, and scaled by sqrt(q) or sqrt(max(1, q)) with t_{k-1}), and tau2."""
    fit = meta_regression(y, se)
    row = fit.coefficients.loc["intercept"]
    model_se = row["se"] / np.sqrt(max(1.0, fit.hk_q))
    z, t = sps.norm.ppf(1 - ALPHA / 2), sps.t.ppf(1 - ALPHA / 2, fit.df)
    half = {"normal": z * model_se, "HKSJ": t * model_se * np.sqrt(fit.hk_q),
            "HKSJ truncated": t * model_se * np.sqrt(max(1.0, fit.hk_q))}  # fmt: skip
    return {m: (row["estimate"] - h, row["estimate"] + h) for m, h in half.items()}, fit.tau2


class Row(NamedTuple):
    covered: dict[str, np.ndarray]  # per method, whether each draw's CI covers the true mean
    width: dict[str, np.ndarray]  # per method, each draw's CI width
    zero: np.ndarray  # whether REML put tau2 at 0


def simulate(k: int, tau2: float, draws: int, rng: np.random.Generator) -> Row:
    row = Row({m: np.zeros(draws, bool) for m in METHODS}, {m: np.zeros(draws) for m in METHODS},
              np.zeros(draws, bool))  # fmt: skip
    for d in range(draws):
        se = 0.1 * 4 ** rng.uniform(size=k)
        y = rng.normal(0, np.sqrt(tau2), k) + rng.normal(0, se)
        cis, fitted_tau2 = intervals(y, se)
        row.zero[d] = fitted_tau2 == 0
        for m, (low, high) in cis.items():
            row.covered[m][d], row.width[m][d] = low <= 0 <= high, high - low
    meta = meta_analysis(y, se)  # the truncated interval is the library's own CI
    assert np.allclose(cis["HKSJ truncated"], (meta.ci_low, meta.ci_high), rtol=1e-12)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    binomial_se = np.sqrt(0.95 * 0.05 / args.draws)
    print(f"95% CI coverage of the true mean, {args.draws} draws per row (binomial SE at 95%: "
          f"{binomial_se:.4f}); width relative to the normal CI's, median")  # fmt: skip
    print(f"{'k':>3} {'tau2':>7} {'tau2=0':>7} | " + " | ".join(f"{m:>15}" for m in METHODS)
          + " | " + " ".join(f"{m + ' width':>21}" for m in METHODS[1:]))  # fmt: skip
    started = time.perf_counter()
    for k in SERIES:
        for tau2 in TAU2:
            r = simulate(k, tau2, args.draws, rng)
            coverage = " | ".join(f"{r.covered[m].mean():>15.3f}" for m in METHODS)
            widths = " ".join(f"{np.median(r.width[m] / r.width['normal']):>21.2f}"
                              for m in METHODS[1:])  # fmt: skip
            print(f"{k:>3} {tau2:>7.4f} {r.zero.mean():>7.0%} | {coverage} | {widths}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
