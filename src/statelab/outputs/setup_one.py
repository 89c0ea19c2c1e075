"""The study on one series at several set-ups -> its files: each level's verdicts (as
`reproduce` writes verdicts.csv, a row per level first), the table across levels, the trend
tests, the experiments' mean RMSEs and places and every repeat's RMSE at each level, the
levels skipped, a heat map of the verdicts, and vary_study.json (settings, levels, the
answer in words).

Written as one set, as every command's files are (statelab.execution.fileset)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from statelab import layout, records
from statelab.execution.plan import Plan
from statelab.files import write_text
from statelab.outputs.generalise import json_value
from statelab.outputs.setup import design
from statelab.outputs.tables import write_table
from statelab.studies.setup_one import StudyVariation

TABLES = (layout.VARY_STUDY_VERDICTS, layout.VARY_STUDY_LEVELS, layout.VARY_STUDY_TRENDS,
          layout.VARY_STUDY_RANKS, layout.VARY_STUDY_RMSE, layout.VARY_STUDY_SKIPPED)  # fmt: skip


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_study_variation` writes."""
    return [*TABLES, layout.VARY_STUDY_VERDICTS_PLOT, layout.VARY_STUDY_JSON]


def record(result: StudyVariation) -> dict:
    """vary_study.json: what produced the variation and the answer in words."""
    base = result.settings.base
    first = result.at_level[0]
    results = [r for one in result.at_level for r in one.results.values()]
    return {
        "kind": "vary_study",
        "data": result.series,
        "seed": base.seed,
        "repeats": base.repeats,
        "margin": base.margin,
        **design(result.settings, result.levels),
        "skipped": [{"level": level, "reason": skip.reason} for level, skip in result.skipped],
        "persistence_rmse": first.persistence_rmse,
        "notes": list(result.notes),
        "answer": result.answer,
        "devices": sorted({d for r in results for d in r.provenance.devices}),
        "code": sorted({r.provenance.code for r in results}),
    }


def verdicts_by_level(result: StudyVariation) -> pd.DataFrame:
    """Every level's verdicts table stacked, its level first."""
    frames = [one.verdicts.reset_index().assign(factor=level.factor, level=level.label)
              for level, one in zip(result.levels, result.at_level, strict=True)]  # fmt: skip
    stacked = pd.concat(frames, ignore_index=True)
    return stacked[["factor", "level", *[c for c in stacked if c not in ("factor", "level")]]]


def rmse_by_level(result: StudyVariation) -> pd.DataFrame:
    """Every repeat's RMSE of every experiment at every level (NaN where it diverged)."""
    rows = [
        {"factor": level.factor, "level": level.label, "experiment": name,
         "repeat": int(repeat), "rmse": float(error), "failure": failure}
        for level, one in zip(result.levels, result.at_level, strict=True)
        for name, r in one.results.items()
        for repeat, error, failure in zip(r.repeats, r.rmse, r.failures, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def write_study_variation(result: StudyVariation, out: Path) -> list[Path]:
    """Write the tables, the heat map of the verdicts and vary_study.json into ``out``."""
    from statelab.outputs import plots

    skipped = pd.DataFrame([(level, s.series, s.reason) for level, s in result.skipped],
                           columns=["level", "series", "reason"])  # fmt: skip
    tables = [
        (layout.VARY_STUDY_VERDICTS_TABLE, verdicts_by_level(result)),
        (layout.VARY_STUDY_LEVELS_TABLE, result.levels_table),
        (layout.VARY_STUDY_TRENDS_TABLE, result.trends),
        (layout.VARY_STUDY_RANKS_TABLE, result.ranks),
        (layout.VARY_STUDY_RMSE_TABLE, rmse_by_level(result)),
        (layout.VARY_STUDY_SKIPPED_TABLE, skipped),
    ]
    files = [write_table(out, table, frame) for table, frame in tables]
    title = f"The study's verdict at each level on {result.series}"
    files.append(plots.save(plots.verdict_map(result.levels_table, title),
                            out / layout.VARY_STUDY_VERDICTS_PLOT))  # fmt: skip
    made = json.loads(json.dumps(record(result), default=json_value))  # NumPy -> JSON
    text = json.dumps(records.check(records.VaryRecord, made), indent=2) + "\n"
    files.append(write_text(out / layout.VARY_STUDY_JSON, text))
    return files
