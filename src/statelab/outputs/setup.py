"""A variation of the set-up -> its files: each level's per-series and across-series tables
(a row per level first), the table across levels, the trend tests, the ranks at each level,
the series each level skipped, and vary.json (settings, levels, the answer in words).

Written as one set, as every command's files are (statelab.execution.fileset)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from statelab import layout, records
from statelab.execution.plan import Plan
from statelab.files import write_text
from statelab.outputs.generalise import json_value
from statelab.outputs.tables import write_table
from statelab.studies.setup import Level, Variation, VarySettings

TABLES = (layout.VARY_PER_SERIES, layout.VARY_ACROSS, layout.VARY_LEVELS, layout.VARY_TRENDS,
          layout.VARY_RANKS, layout.VARY_SKIPPED)  # fmt: skip


def names(plan: Plan, factors: Sequence[str]) -> list[str]:
    """Every file :func:`write_variation` may write, ``factors`` varied (one name for a
    grid's)."""
    figures = [layout.vary_levels_plot(f) for f in factors]
    return [*TABLES, *figures, layout.VARY_VERDICTS_PLOT, layout.VARY_JSON]


def by_level(result: Variation, part: str) -> pd.DataFrame:
    """Every level's ``part`` table (per_series, across) stacked, its level first."""
    frames = [
        getattr(one, part).assign(factor=level.factor, level=level.label)
        for level, one in zip(result.levels, result.at_level, strict=True)
    ]
    stacked = pd.concat(frames, ignore_index=True)
    return stacked[["factor", "level", *[c for c in stacked if c not in ("factor", "level")]]]


def design(settings: VarySettings, levels: Sequence[Level]) -> dict:
    """The set-ups a variation ran (its JSON's grid, base_setup, factors and levels), for
    vary.json and vary_study.json alike."""
    base = settings.base.setup
    return {
        "grid": settings.grid,
        "base_setup": {k: v for k, v in dataclasses.asdict(base).items() if v is not None},
        "factors": {f: list(v) for f, v in settings.factors.items()},
        "levels": [
            {"factor": lv.factor, "level": lv.label, "setup": lv.setup.changes()} for lv in levels
        ],  # fmt: skip
    }


def record(result: Variation) -> dict:
    """vary.json: what produced the variation and the answer in words."""
    first = result.at_level[0]
    devices = sorted({d for one in result.at_level for d in one.provenance.devices})
    return {
        "kind": "vary",
        "data": first.collection.name,
        "seed": first.seed,
        "repeats": first.repeats,
        "margin": first.collection.margin,
        **design(result.settings, result.levels),
        "notes": list(result.notes),
        "answer": result.answer,
        "devices": devices,
        "code": sorted({c for one in result.at_level for c in one.provenance.code}),
    }


def write_variation(result: Variation, out: Path) -> list[Path]:
    """Write the tables and vary.json of ``result`` into ``out``."""
    skipped = pd.DataFrame([(level, s.series, s.reason) for level, s in result.skipped],
                           columns=["level", "series", "reason"])  # fmt: skip
    tables = [
        (layout.VARY_PER_SERIES_TABLE, by_level(result, "per_series")),
        (layout.VARY_ACROSS_TABLE, by_level(result, "across")),
        (layout.VARY_LEVELS_TABLE, result.levels_table),
        (layout.VARY_TRENDS_TABLE, result.trends),
        (layout.VARY_RANKS_TABLE, result.ranks),
        (layout.VARY_SKIPPED_TABLE, skipped),
    ]
    files = [write_table(out, table, frame) for table, frame in tables]
    files.extend(write_figures(result, out))
    made = json.loads(json.dumps(record(result), default=json_value))  # NumPy -> JSON
    text = json.dumps(records.check(records.VaryRecord, made), indent=2) + "\n"
    files.append(write_text(out / layout.VARY_JSON, text))
    return files


def write_figures(result: Variation, out: Path) -> list[Path]:
    """Per factor, the pooled ratio against the level (one panel per expectation, with
    Shampoo's ratio where it ran); and the verdicts at every level."""
    from statelab.outputs import plots
    from statelab.stats import EXPECTATIONS

    titles = {e.key: e.claim for e in EXPECTATIONS}
    shampoo = {(level.label, key): float(np.exp(ratio))
               for level, one in zip(result.levels, result.at_level, strict=True)
               if one.reference is not None
               for key, ratio in one.reference["log_ratio"].items()}  # fmt: skip
    table = result.levels_table
    files = [
        plots.save(plots.level_plot(table[table["factor"] == f], titles, f, shampoo),
                   out / layout.vary_levels_plot(f))
        for f in dict.fromkeys(table["factor"])
    ]  # fmt: skip
    files.append(plots.save(plots.verdict_map(table), out / layout.VARY_VERDICTS_PLOT))
    return files
