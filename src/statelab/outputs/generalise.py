"""A generalisation -> its files: per-series and across-series tables, the ranks, the four
figures, and generalise.json (settings, versions, the answer in words).

Everything is computed first and written after, each file atomically, so a failure leaves
the folder as it was and an interruption never leaves half a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import layout
from statelab.execution.plan import Plan
from statelab.execution.results import Results
from statelab.files import write_atomic, write_text
from statelab.spec import PRESETS
from statelab.studies.generalise import (
    HORIZON_PAIR,
    Collection,
    Generalisation,
    answer_lines,
    generalise,
    horizons,
)

TABLES = (layout.PER_SERIES, layout.EXPERIMENTS, layout.ACROSS, layout.RANKS, layout.NEMENYI,
          layout.REFERENCE, layout.SKIPPED)  # fmt: skip
FIGURES = (layout.LOG_RATIOS_PLOT, layout.FOREST_PLOT, layout.CD_DIAGRAM,
           layout.RELATIVE_RMSE_PLOT)  # fmt: skip


class Written(NamedTuple):
    result: Generalisation
    answer: list[str]  # the answer in plain words
    horizon_note: str
    files: list[Path]


def horizon_note(plan: Plan, collection: Collection) -> str:
    sizes = horizons(plan, collection.members)
    return (
        f"The batch-12 pair ({', '.join(HORIZON_PAIR)}) runs at batch size = training window "
        f"= the series' test horizon ({', '.join(map(str, sizes))} here; 12 on Shampoo, as in "
        "the study)."
    )


def settings(plan: Plan, result: Generalisation, note: str, answer: list[str]) -> dict:
    """What produced the generalisation: settings, seeds, versions, series, skips, answer."""
    by_name = {}
    for one in plan.tasks:  # every preset's settings, as on the first series
        by_name.setdefault(one.name, one.spec.to_dict())
    collection = result.collection
    ranks = result.ranking.ranks
    return {
        "kind": "generalise",
        "data": collection.name,
        "seed": plan.seed,
        "repeats": plan.repeats,
        "margin": collection.margin,
        "margin_meaning": "a share of each series' persistence RMSE (the equivalence margin)",
        "reference": collection.reference,
        "horizon_note": note,
        "series": len(result.per_series["series"].unique()) if len(result.per_series) else 0,
        "selected": len(collection.members),
        "skipped": [{"series": s.series, "reason": s.reason} for s in plan.skipped],
        "experiments_on_first_series": {n: by_name[n] for n in PRESETS if n in by_name},
        "friedman": None
        if ranks is None
        else {
            "statistic": ranks.friedman_stat,
            "p": ranks.friedman_p,
            "critical_difference": ranks.critical_difference,
            "series": ranks.series,
        },  # fmt: skip
        "answer": answer,
    }


def _provenance(loaded: Sequence[Results]) -> dict:
    versions, devices, codes = set(), set(), set()
    for r in loaded:
        versions.update(json.dumps(dict(v), sort_keys=True) for v in r.provenance.versions)
        devices.update(r.provenance.devices)
        codes.add(r.provenance.code)
    return {"versions": [json.loads(v) for v in sorted(versions)], "devices": sorted(devices),
            "code": sorted(codes)}  # fmt: skip


def forest_rows(across: pd.DataFrame) -> pd.DataFrame:
    """The forest plot's rows: per expectation its all-series row, then its groups."""
    rows = []
    for key, part in across.groupby("expectation", sort=True):
        for _, row in part.iterrows():
            overall = row["group"] == "all"
            label = f"{key} {row['claim']}" if overall else f"    {row['label']}"
            rows.append({"label": label, "overall": overall, "pooled": row["meta_pooled"],
                         "ci_low": row["meta_ci_low"], "ci_high": row["meta_ci_high"],
                         "pi_low": row["meta_pi_low"], "pi_high": row["meta_pi_high"]})  # fmt: skip
    return pd.DataFrame(rows)


def write_outputs(plan: Plan, loaded: Sequence[Results], collection: Collection,
                  out: Path) -> Written:  # fmt: skip
    """Compute every statistic, then write the tables, figures and generalise.json."""
    from statelab.outputs import plots
    from statelab.stats import EXPECTATIONS

    result = generalise(plan, loaded, collection)
    note = horizon_note(plan, collection)
    answer = answer_lines(result)
    record = settings(plan, result, note, answer) | _provenance(loaded)
    skipped = pd.DataFrame(plan.skipped, columns=["series", "reason"])
    reference = result.reference if result.reference is not None else pd.DataFrame()
    tables = {
        layout.PER_SERIES: (result.per_series, False),
        layout.EXPERIMENTS: (result.experiments, False),
        layout.ACROSS: (result.across, False),
        layout.RANKS: (result.ranking.table, True),
        layout.NEMENYI: (result.ranking.nemenyi, True),
        layout.REFERENCE: (reference, True),
        layout.SKIPPED: (skipped, False),
    }
    ratios = {e.key: result.per_series.loc[result.per_series["expectation"] == e.key,
                                           "log_ratio"].to_numpy() for e in EXPECTATIONS}  # fmt: skip
    marks = None if result.reference is None else result.reference["log_ratio"].to_dict()
    relative = result.experiments[result.experiments["series"].isin(collection.members)]
    figures = [
        (layout.LOG_RATIOS_PLOT, lambda: plots.log_ratio_plot(
            ratios, {e.key: e.claim for e in EXPECTATIONS}, marks)),
        (layout.FOREST_PLOT, lambda: plots.forest_plot(forest_rows(result.across))),
        (layout.RELATIVE_RMSE_PLOT, lambda: plots.relative_rmse_plot(
            {n: g["mean_relative_rmse"].to_numpy()
             for n, g in relative.groupby("experiment", sort=False)})),
    ]  # fmt: skip
    if result.ranking.ranks is not None:
        figures.append((layout.CD_DIAGRAM, lambda: plots.cd_diagram(
            result.ranking.ranks, "Mean ranks of the eleven experiments (Nemenyi)")))  # fmt: skip
    text = json.dumps(record, indent=2, default=_json_value) + "\n"

    files = []
    for name, (frame, index) in tables.items():
        files.append(write_atomic(out / name, lambda p, f=frame, i=index: f.to_csv(p, index=i)))
    for name, draw in figures:
        files.append(plots.save(draw(), out / name))
    files.append(write_text(out / layout.GENERALISE_JSON, text))
    if result.ranking.ranks is None:  # fewer than two complete series: no diagram, and
        (out / layout.CD_DIAGRAM).unlink(missing_ok=True)  # none left by an earlier run
    return Written(result, answer, note, files)


def _json_value(value):
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


class GeneraliseFiles:
    """The generalisation's files, for :func:`statelab.execution.pipeline.execute`."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    @staticmethod
    def names(plan: Plan) -> list[str]:
        return [*TABLES, *FIGURES, layout.GENERALISE_JSON]

    def write(self, plan: Plan, results: list[Results], out: Path) -> Written:
        return write_outputs(plan, results, self.collection, out)
