"""`statelab run`: one experiment on one series in memory, or on several through the store.
The CLI parses its arguments, calls :func:`run`, prints. (`reproduce` and `generalise` call
:mod:`statelab.api` directly.)"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from statelab.data import catalog
from statelab.errors import StatelabError
from statelab.execution import cache
from statelab.execution.pipeline import Execution, Finish, Outcome, Progress, execute
from statelab.execution.plan import Plan, repeats_per_chunk
from statelab.execution.results import Results
from statelab.studies.slice import SliceRun, analyse_slice, slice_plan


class OneSeries(NamedTuple):
    results: Results
    written: Path | None  # the results CSV, if asked for


class ManySeries(NamedTuple):
    plan: Plan
    outcome: Outcome[SliceRun]


def run(
    preset: str | None,
    settings: Mapping[str, object],
    data: str | None,
    value_column: str | None,
    test_size: int | None,
    repeats: int,
    seed: int,
    out: Path | None,
    execution: Execution,
    progress: Progress | None = None,
) -> OneSeries | ManySeries:
    """One experiment: on one series in memory (``out`` a results CSV in the study's
    format); on several, every series through the store in the folder ``out``."""
    import statelab
    from statelab.files import resolve_target, write_atomic
    from statelab.outputs import slice as files

    selection = catalog.select(data, value_column, test_size)
    chosen = statelab.experiment(preset, **settings)
    if len(selection.series) > 1:
        plan = slice_plan(chosen.name, chosen.spec, selection, repeats, seed)
        if execution.chunk is None:
            execution = execution._replace(chunk=repeats_per_chunk(plan))
        finish = Finish(analyse_slice, files.write_slice, files.names)
        return ManySeries(plan, execute(plan, out or Path("results"), finish, execution,
                                        progress))  # fmt: skip
    given = [f"--{name}" for name, value in execution._asdict().items() if value is not None]
    if given:
        raise StatelabError(
            f"{', '.join(given)} apply to a run over several series (through the store); "
            "one series runs in memory: leave them out"
        )
    if out is not None:
        resolve_target(out)  # a bad --out fails now, not after the training
    cache.enable()
    results = statelab.run(
        preset, data=selection.series[0], repeats=repeats, seed=seed,
        **{"test_rows": selection.test_size[0], **settings},
    )  # fmt: skip
    if out is None:
        return OneSeries(results, None)
    return OneSeries(
        results, write_atomic(out, lambda path: results.study_csv().to_csv(path, index=False))
    )
