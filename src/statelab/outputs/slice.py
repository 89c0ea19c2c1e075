"""A run of one experiment over several series -> its files: every repeat of every series
(results.csv) and the series left out, with why (skipped.csv)."""

from __future__ import annotations

from pathlib import Path

from statelab import layout
from statelab.execution.plan import Plan
from statelab.files import write_atomic
from statelab.studies.slice import SliceRun


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_slice` writes."""
    return [layout.RUN_RESULTS, layout.SKIPPED]


def write_slice(result: SliceRun, out: Path) -> list[Path]:
    return [
        write_atomic(out / layout.RUN_RESULTS, lambda p: result.results.to_csv(p, index=False)),
        write_atomic(out / layout.SKIPPED, lambda p: result.skipped.to_csv(p, index=False)),
    ]
