"""Out-of-sample coverage and error of the moderators' meta-regression, by simulation: how
often the 95% prediction intervals of statelab.studies.moderators cover the held-out log
ratios, and how often the features beat the pooled mean, with and without a real moderator.

Each draw is a collection of n monthly series with uniform features (length 48-126, trend
and seasonal strength 0-1, persistence error 0.2-1.4) and, per expectation, log ratios y_i =
-effect z_i + u_i + e_i: z_i the series' standardised seasonal strength, u_i ~ N(0, 0.05^2),
e_i ~ N(0, se_i^2), se_i uniform on 0.02-0.08. Only E6 carries the effect; E1 has none.
Seeded: the same table every run.

    python benchmarks/moderator_coverage.py [--draws 30] [--series 400] [--seed 18]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from statelab.stats import EXPECTATIONS
from statelab.studies.moderators import regress

EFFECTS = (0.0, 0.05, 0.1)  # per SD of seasonal strength; the between-series SD is 0.05


def collection(n: int, effect: float, rng: np.random.Generator):
    names = pd.Index([f"s{i}" for i in range(n)], name="series")
    features = pd.DataFrame({
        "frequency": pd.array([12] * n, dtype="Int64"),
        "length": rng.integers(48, 127, n).astype(float), "trend_strength": rng.uniform(0, 1, n),
        "seasonal_strength": rng.uniform(0, 1, n), "persistence_error": rng.uniform(0.2, 1.4, n),
    }, index=names)  # fmt: skip
    seasonal = features["seasonal_strength"]
    z = ((seasonal - seasonal.mean()) / seasonal.std()).to_numpy()
    frames = []
    for expectation in EXPECTATIONS:
        se = rng.uniform(0.02, 0.08, n)
        mean = -effect * z if expectation.key == "E6" else 0.0
        y = mean + rng.normal(0, 0.05, n) + rng.normal(0, se)
        frames.append(pd.DataFrame({"series": names, "expectation": expectation.key,
                                    "log_ratio": y, "log_ratio_se": se}))  # fmt: skip
    return pd.concat(frames, ignore_index=True), features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    held_out = args.series - args.series // 2
    print(
        f"{args.draws} collections of {args.series} series per row, {held_out} held out "
        f"(binomial SE of one coverage at 95%: {np.sqrt(0.95 * 0.05 / held_out):.3f})"
    )
    print(f"{'effect':>6} {'key':>3} | {'coverage':>8} {'min':>6} | {'pooled mean':>11} | "
          f"{'RMSE ratio':>10} | {'features win':>12} | {'Holm finds it':>13}")  # fmt: skip
    started = time.perf_counter()
    for effect in EFFECTS:
        rows = {"E1": [], "E6": []}
        for draw in range(args.draws):
            found = regress(*collection(args.series, effect, rng), seed=draw)
            for model in found.models:
                if model.expectation.key in rows:
                    rows[model.expectation.key].append(model)
        for key, models in rows.items():
            checks = [m.out_of_sample for m in models]
            coverage = np.array([c.coverage for c in checks])
            ratio = np.median([c.rmse / c.baseline_rmse for c in checks])
            wins = np.mean([c.beats_baseline for c in checks])
            found_it = np.mean([m.coefficients.loc["seasonal_strength", "holm_p"] < 0.05
                                for m in models])  # fmt: skip
            print(f"{effect:>6.2f} {key:>3} | {coverage.mean():>8.3f} {coverage.min():>6.3f} | "
                  f"{np.mean([c.baseline_coverage for c in checks]):>11.3f} | {ratio:>10.3f} | "
                  f"{wins:>12.0%} | {found_it:>13.0%}")  # fmt: skip
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
