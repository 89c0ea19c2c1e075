"""A run of one experiment over several series -> its files: every repeat of every series
(results.csv) and the series left out, with why (skipped.csv)."""

from __future__ import annotations

from pathlib import Path

from statelab import layout
from statelab.execution.plan import Plan
from statelab.outputs.tables import write_table
from statelab.studies.slice import SliceRun


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_slice` writes."""
    return [layout.RUN_RESULTS, layout.SKIPPED]


def write_slice(result: SliceRun, out: Path) -> list[Path]:
    return [
        write_table(out, layout.RUN_RESULTS_TABLE, result.results),
        write_table(out, layout.SKIPPED_TABLE, result.skipped),
    ]
