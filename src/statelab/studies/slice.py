"""`statelab run` on several series (a slice of a collection, or a list): one experiment on
every series through the store, per-series results and scale-free measures, the series
left out and why."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import layout
from statelab.data.catalog import Selection
from statelab.execution import plan as plan_module
from statelab.execution.plan import Plan
from statelab.execution.results import Results
from statelab.files import write_atomic
from statelab.spec import Spec

# A chunk holds about this many lanes when --chunk is not given: few enough that a chunk
# finishes in seconds and memory stays small, many enough to fill the compiled calls.
LANES_PER_CHUNK = 4096
SKIPS_SHOWN = 10  # skipped series printed; skipped.csv has them all
COLUMNS = ["experiment", "series", "seed", "repeat", "rmse", "relative_rmse", "mase", "failure"]


def plan(name: str, spec: Spec, selection: Selection, repeats: int, seed: int) -> Plan:
    """``spec`` (named ``name``) on every series of ``selection``, each with its own test
    size; series the split cannot use are left out, with why."""
    return plan_module.plan([(name, spec, repeats)], selection.series, selection.test_size, seed)


def default_chunk(plan: Plan) -> int:
    """Repeat indices per chunk when none is given: about LANES_PER_CHUNK lanes a chunk,
    at most the default 100."""
    return max(1, min(100, LANES_PER_CHUNK // max(1, len(plan.tasks))))


class RunOutputs(NamedTuple):
    results: pd.DataFrame  # a row per series and repeat (COLUMNS)
    by_series: pd.DataFrame  # a row per series: means over its finished repeats, failures
    skipped: pd.DataFrame  # series, reason
    files: list[Path]


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


class RunFiles:
    """The files of a run over several series, for :func:`statelab.execution.pipeline.execute`."""

    @staticmethod
    def names(plan: Plan) -> list[str]:
        return [layout.RUN_RESULTS, layout.SKIPPED]

    @staticmethod
    def write(plan: Plan, results: list[Results], out: Path) -> RunOutputs:
        frame = results_frame(results)
        skipped = pd.DataFrame(plan.skipped, columns=["series", "reason"])
        files = [
            write_atomic(out / layout.RUN_RESULTS, lambda p: frame.to_csv(p, index=False)),
            write_atomic(out / layout.SKIPPED, lambda p: skipped.to_csv(p, index=False)),
        ]
        return RunOutputs(frame, by_series(frame), skipped, files)


def summary_lines(outputs: RunOutputs, shown: int = 20) -> list[str]:
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
