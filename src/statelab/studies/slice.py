"""`statelab run` on several series (a slice of a collection, or a list): one experiment on
every series through the store, per-series results and scale-free measures, the series
left out and why."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.data.catalog import Selection
from statelab.execution.plan import Plan, make_plan
from statelab.execution.results import Results
from statelab.spec import Spec

SKIPS_SHOWN = 10  # skipped series printed; skipped.csv has them all
COLUMNS = ["experiment", "series", "seed", "repeat", "rmse", "relative_rmse", "mase", "failure"]


def slice_plan(name: str, spec: Spec, selection: Selection, repeats: int, seed: int) -> Plan:
    """``spec`` (named ``name``) on every series of ``selection``, each with its own test
    size; series the split cannot use are left out, with why."""
    return make_plan([(name, spec, repeats)], selection.series, selection.test_size, seed)


class SliceRun(NamedTuple):
    """One experiment on many series, analysed."""

    results: pd.DataFrame  # a row per series and repeat (COLUMNS)
    by_series: pd.DataFrame  # a row per series: means over its finished repeats, failures
    skipped: pd.DataFrame  # series, reason


def results_frame(results: list[Results]) -> pd.DataFrame:
    """A row per series and repeat."""
    frames = [
        pd.DataFrame({
            "experiment": r.name, "series": r.series, "seed": r.seed, "repeat": r.repeats,
            "rmse": r.rmse, "relative_rmse": r.relative_rmse, "mase": r.mase,
            "failure": r.failures,
        })
        for r in results
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def by_series(frame: pd.DataFrame) -> pd.DataFrame:
    """Per series: mean RMSE, relative RMSE and MASE over the finished repeats, and how many
    repeats failed."""
    grouped = frame.groupby("series", sort=False)
    summary = grouped[["rmse", "relative_rmse", "mase"]].mean()
    summary["failed"] = grouped["failure"].apply(lambda f: int((f != "").sum()))
    return summary


def analyse_slice(plan: Plan, loaded: list[Results]) -> SliceRun:
    """Every repeat of every series, the per-series means, and the series left out."""
    frame = results_frame(loaded)
    skipped = pd.DataFrame(plan.skipped, columns=["series", "reason"])
    return SliceRun(frame, by_series(frame), skipped)


def summary_lines(outputs: SliceRun, shown: int = 20) -> list[str]:
    """What `statelab run` prints for several series: the per-series means (the first and
    last ``shown`` // 2 when there are more), then across series."""
    table = outputs.by_series
    if len(table) > shown:
        half = shown // 2
        head = table.head(half).to_string(float_format=lambda v: f"{v:.4g}")
        tail = table.tail(half).to_string(float_format=lambda v: f"{v:.4g}", header=False)
        text = f"{head}\n... ({len(table) - shown} more series)\n{tail}"
    else:
        text = table.to_string(float_format=lambda v: f"{v:.4g}")
    relative = table["relative_rmse"].to_numpy(dtype=float)
    finished = relative[np.isfinite(relative)]
    lines = [text, ""]
    if len(finished):
        lines.append(
            f"{len(finished)} series: median relative RMSE {np.median(finished):.3f} (RMSE over "
            f"the persistence RMSE), median MASE {np.nanmedian(table['mase']):.3f}; better "
            f"than persistence on {np.mean(finished < 1):.0%} of them"
        )
    failed = int(table["failed"].sum())
    if failed:
        lines.append(
            f"{failed} repeat(s) diverged (stored as failed, left out of the means); "
            f"{len(table) - len(finished)} series had no repeat that finished"
        )
    skipped = list(outputs.skipped.itertuples(index=False))
    for series, reason in skipped[:SKIPS_SHOWN]:
        lines.append(f"skipped {series}: {reason}")
    if len(skipped) > SKIPS_SHOWN:
        lines.append(f"... and {len(skipped) - SKIPS_SHOWN} more skipped (see skipped.csv)")
    return lines
