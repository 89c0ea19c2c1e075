"""Are the repeats of a generalisation enough for the question across series? Reads a folder
`statelab generalise` wrote (per_series.csv, across.csv) and prints, per expectation: the
median per-series standard error of the log ratio at the run's repeats, the between-series
SD (tau, REML, from across.csv), the share of the spread of the observed log ratios that is
sampling error (se^2 / (tau^2 + se^2), medians), and what three times the repeats would
change: the SE of the pooled log ratio, which is about sqrt((tau^2 + se^2) / k) for k series,
shrinks by the factor sqrt((tau^2 + se^2 / 3) / (tau^2 + se^2)). Then the smallest
standardised moderator coefficient (change in log ratio per SD of a feature) that the k series
detect with 80% power at alpha 0.05 / the features (Holm's strictest step), taking the
moderator's own variance as 1: d = (z_{1-a/2} + z_{0.8}) sqrt((tau^2 + se^2) / k).

    python benchmarks/repeats_enough.py FOLDER [--features 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--features", type=int, default=4)
    args = parser.parse_args()
    per = pd.read_csv(args.folder / "per_series.csv")
    across = pd.read_csv(args.folder / "across.csv")
    overall = across[across["group"] == "all"].set_index("expectation")
    repeats = int(per["n_a"].median())
    z = sps.norm.ppf(1 - 0.05 / args.features / 2) + sps.norm.ppf(0.8)
    print(f"{args.folder}: {per['series'].nunique():,} series, {repeats} repeats per experiment")
    head = (f"{'':4}{'k':>6}{'median se':>11}{'tau':>8}{'sampling share':>16}"
            f"{'pooled SE x3 repeats':>22}{'detectable coef':>17}")  # fmt: skip
    print(head)
    for key, rows in per.groupby("expectation"):
        tested = rows[np.isfinite(rows["log_ratio_se"]) & (rows["log_ratio_se"] > 0)]
        if tested.empty:
            print(f"{key:<4}{'identical on every series: nothing to estimate':>40}")
            continue
        se2 = tested["log_ratio_se"].to_numpy() ** 2
        tau2 = float(overall.loc[key, "meta_tau2"])
        k = len(tested)
        share = float(np.median(se2 / (tau2 + se2)))
        shrink = np.sqrt((tau2 + np.median(se2) / 3) / (tau2 + np.median(se2)))
        detectable = z * np.sqrt((tau2 + np.median(se2)) / k)
        print(f"{key:<4}{k:>6,}{np.sqrt(np.median(se2)):>11.4f}{np.sqrt(tau2):>8.4f}"
              f"{share:>16.1%}{shrink:>21.3f}x{detectable:>17.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
