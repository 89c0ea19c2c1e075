"""A generalisation -> its files: per-series and across-series tables, the ranks, the four
figures, and generalise.json (settings, versions, the answer in words).

The pipeline hands the writer a fresh folder and makes what it wrote the output folder's live
set in one rename (statelab.execution.fileset): a failure or a kill leaves the previous set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from statelab import layout, records
from statelab.execution.plan import Plan
from statelab.files import write_atomic, write_text
from statelab.outputs.tables import write_table
from statelab.studies.generalise import Generalisation

TABLES = (layout.PER_SERIES, layout.EXPERIMENTS, layout.ACROSS, layout.RANKS, layout.NEMENYI,
          layout.REFERENCE, layout.SKIPPED)  # fmt: skip
FIGURES = (layout.LOG_RATIOS_PLOT, layout.FOREST_PLOT, layout.CD_DIAGRAM,
           layout.RELATIVE_RMSE_PLOT)  # fmt: skip


def record(result: Generalisation) -> dict:
    """generalise.json: what produced the generalisation (settings, seeds, versions, series,
    skips) and the answer in words."""
    collection = result.collection
    ranks = result.ranking.ranks
    return {
        "kind": "generalise",
        "data": collection.name,
        "seed": result.seed,
        "repeats": result.repeats,
        "margin": collection.margin,
        "margin_meaning": "a share of each series' persistence RMSE (the equivalence margin)",
        "reference": collection.reference,
        "horizon_note": result.horizon_note,
        "series": len(result.per_series["series"].unique()) if len(result.per_series) else 0,
        "selected": len(collection.members),
        "skipped": [{"series": s.series, "reason": s.reason} for s in result.skipped],
        "experiments_on_first_series": {n: dict(s) for n, s in result.specs.items()},
        "friedman": None
        if ranks is None
        else {
            "statistic": ranks.friedman_stat,
            "p": ranks.friedman_p,
            "critical_difference": ranks.critical_difference,
            "series": ranks.series,
        },  # fmt: skip
        "answer": result.answer,
        "versions": [dict(v) for v in result.provenance.versions],
        "devices": list(result.provenance.devices),
        "code": list(result.provenance.code),
    }


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


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_generalisation` may write."""
    return [*TABLES, *FIGURES, layout.GENERALISE_JSON]


def write_generalisation(result: Generalisation, out: Path) -> list[Path]:
    """Write the tables, figures and generalise.json of ``result`` into ``out``."""
    from statelab.outputs import plots
    from statelab.stats import EXPECTATIONS

    skipped = pd.DataFrame(result.skipped, columns=["series", "reason"])
    reference = result.reference if result.reference is not None else pd.DataFrame()
    tables = [
        (layout.PER_SERIES_TABLE, result.per_series),
        (layout.EXPERIMENTS_TABLE, result.experiments),
        (layout.ACROSS_TABLE, result.across),
        (layout.RANKS_TABLE, result.ranking.table),
        (layout.SKIPPED_TABLE, skipped),
    ]
    ratios = {e.key: result.per_series.loc[result.per_series["expectation"] == e.key,
                                           "log_ratio"].to_numpy() for e in EXPECTATIONS}  # fmt: skip
    marks = None if result.reference is None else result.reference["log_ratio"].to_dict()
    experiments = result.experiments
    relative = experiments[experiments["series"].isin(result.collection.members)]
    figures = [
        (layout.LOG_RATIOS_PLOT, lambda: plots.log_ratio_plot(
            ratios, {e.key: e.claim for e in EXPECTATIONS}, marks)),
        (layout.FOREST_PLOT, lambda: plots.forest_plot(forest_rows(result.across))),
        (layout.RELATIVE_RMSE_PLOT, lambda: plots.relative_rmse_plot(
            {n: g["mean_relative_rmse"].to_numpy()
             for n, g in relative.groupby("experiment", sort=False)})),
    ]  # fmt: skip
    if result.ranking.ranks is not None:  # else no diagram: the new set has none
        figures.append((layout.CD_DIAGRAM, lambda: plots.cd_diagram(
            result.ranking.ranks, "Mean ranks of the eleven experiments (Nemenyi)")))  # fmt: skip
    made = json.loads(json.dumps(record(result), default=json_value))  # NumPy -> JSON
    text = json.dumps(records.check(records.GeneraliseRecord, made), indent=2) + "\n"

    files = [write_table(out, table, frame) for table, frame in tables]
    # The pairwise Nemenyi p-values (experiments by experiments) and the Shampoo verdicts,
    # which are empty tables when there are no ranks or no reference: written as they are.
    files.append(write_atomic(out / layout.NEMENYI, lambda p: result.ranking.nemenyi.to_csv(p)))
    if result.reference is not None:
        files.append(write_table(out, layout.REFERENCE_TABLE, reference))
    else:
        files.append(write_atomic(out / layout.REFERENCE, lambda p: reference.to_csv(p)))
    for name, draw in figures:
        files.append(plots.save(draw(), out / name))
    files.append(write_text(out / layout.GENERALISE_JSON, text))
    return files


def json_value(value):
    """A NumPy scalar as JSON takes it (json.dumps' ``default``)."""
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
