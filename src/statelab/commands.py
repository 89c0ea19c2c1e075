"""The library function behind each command that runs work: resolve the data, plan, run,
return what to print. The CLI parses arguments, calls one of these, prints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from statelab.data import catalog
from statelab.defaults import GENERALISE_DATA, MARGIN
from statelab.errors import StatelabError
from statelab.execution import cache
from statelab.execution.pipeline import Execution, Outcome, Progress, execute
from statelab.execution.plan import Plan, check_chunk, check_margin
from statelab.execution.results import Results


def reproduce(
    data: str | None,
    value_column: str | None,
    test_size: int | None,
    repeats: int,
    pool: int,
    settings: Mapping[str, object],
    seed: int,
    out: Path,
    execution: Execution,
    progress: Progress | None = None,
    margin: float = MARGIN,
) -> tuple[Plan, Outcome]:
    """The study on one series: its plan, run through the pipeline into ``out``; ``margin``
    is the verdicts' equivalence margin (a share of the persistence RMSE)."""
    from statelab.outputs import study as outputs
    from statelab.studies import study

    margin = check_margin(margin)
    _import_in_background("statelab.stats", "statelab.outputs.plots")
    selection = catalog.select(data, value_column, test_size)
    if len(selection.series) > 1:
        raise StatelabError(
            f"--data {data} holds {len(selection.series)} series; the study runs on one "
            "(`statelab run PRESET --data ...` runs a preset on many)"
        )
    plan = study.plan(selection.series[0], repeats, pool, settings, seed, selection.test_size[0])
    return plan, execute(plan, out, outputs.StudyFiles(margin), execution, progress)


# A chunk of `generalise` holds every repeat of every experiment on a block of series, about
# this many lanes: a chunk finishes in seconds, a finished chunk is finished series (progress
# counts them), and the compiled calls stay full.
GENERALISE_LANES_PER_CHUNK = 4096


class Generalised(NamedTuple):
    plan: Plan
    outcome: Outcome


def generalise(
    data: str | None,
    value_column: str | None,
    sample: int | None,
    sample_seed: int | None,
    repeats: int,
    settings: Mapping[str, object],
    seed: int,
    margin: float,
    out: Path,
    execution: Execution,
    progress: Progress | None = None,
) -> Generalised:
    """The eleven presets on every selected series (and on Shampoo Sales, the reference),
    through the pipeline into ``out``; then the statistics and files of
    statelab.outputs.generalise."""
    from statelab.outputs import generalise as generalise_outputs
    from statelab.studies import generalise as generalise_module

    _import_in_background("statelab.stats", "statelab.outputs.plots")
    if sample_seed is not None and sample is None:
        raise StatelabError("--sample-seed applies to a sample: give --sample N too")
    selection = catalog.select(GENERALISE_DATA if data is None else data, value_column)
    if sample is not None:
        selection = catalog.sample(selection, sample, 1 if sample_seed is None else sample_seed)
    if execution.series is not None:
        check_chunk(execution.series)
    plan, collection = generalise_module.plan(selection, repeats, dict(settings), seed, margin)
    lanes = sum(len(t.repeats) for t in plan.tasks) // len(plan.series)  # a series' lanes
    execution = execution._replace(
        chunk=int(max(t.repeats.max() for t in plan.tasks)) + 1,  # every repeat in a chunk
        series=execution.series or max(1, GENERALISE_LANES_PER_CHUNK // lanes),
    )
    writer = generalise_outputs.GeneraliseFiles(collection)
    return Generalised(plan, execute(plan, out, writer, execution, progress))


def _import_in_background(*modules: str) -> None:
    """Import what the outputs will need (SciPy, statsmodels, matplotlib: about a second)
    in a thread, while this one plans and trains: XLA compiles and the engine runs without
    holding the GIL, so the imports mostly overlap them. A later import of the same module
    waits for this one (Python's import lock)."""
    import importlib
    import threading

    def run() -> None:
        for name in modules:
            importlib.import_module(name)

    threading.Thread(target=run, name="statelab-imports", daemon=True).start()


class OneSeries(NamedTuple):
    results: Results
    written: Path | None  # the results CSV, if asked for


class ManySeries(NamedTuple):
    plan: Plan
    outcome: Outcome


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
    from statelab.studies import slice as runs

    selection = catalog.select(data, value_column, test_size)
    chosen = statelab.experiment(preset, **settings)
    if len(selection.series) > 1:
        plan = runs.plan(chosen.name, chosen.spec, selection, repeats, seed)
        if execution.chunk is None:
            execution = execution._replace(chunk=runs.default_chunk(plan))
        return ManySeries(plan, execute(plan, out or Path("results"), runs.RunFiles(),
                                        execution, progress))  # fmt: skip
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
