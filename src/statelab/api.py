"""The public entry points: validate and convert at the boundary, then run.

`run` trains one experiment in memory. `reproduce` and `generalise` run a whole study
through the pipeline and its store and return the study's typed result; the command line
calls the same functions. Without ``out`` the store lives in a temporary folder and no file
is written: writing files is one consumer of a result."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import pandas as pd

from statelab.data import series as data_module
from statelab.errors import Interrupted, StatelabError
from statelab.execution import plan as plan_module
from statelab.execution.pipeline import Execution, Finish, Outcome, Progress, execute
from statelab.execution.plan import Estimate, check_chunk, series_per_chunk
from statelab.execution.results import Results
from statelab.execution.runner import Experiment, ProgressCallback, run_experiments
from statelab.spec import Spec, check_seed, preset
from statelab.studies.advice import Advice, AdviseSettings
from statelab.studies.generalise import (
    Generalisation,
    GeneraliseSettings,
    analyse_generalisation,
    generalise_plan,
)
from statelab.studies.moderators import Moderated, analyse_moderated, selection_features
from statelab.studies.setup import Variation, VarySettings, analyse_setups, setup_plan
from statelab.studies.setup_one import StudyVariation, analyse_study_setups, study_setup_plan
from statelab.studies.study import Reproduction, StudySettings, analyse_study, study_plan


def load_series(data: pd.Series | str | Path | None, value_column: str | None = None) -> pd.Series:
    """A series as given, a built-in one by name (``shampoo``, ``m3:N1402``), or a CSV file
    by path (validated)."""
    return _one_series(data, value_column)[0]


def _one_series(data, value_column) -> tuple[pd.Series, int | None]:
    """The series and its own test size (a collection's horizon; None for a Series)."""
    from statelab.data import catalog

    if isinstance(data, pd.Series):
        return data_module.validate(data, str(data.name or "series")), None
    if isinstance(data, Path) or (isinstance(data, str) and catalog.is_csv_path(data)):
        return data_module.load(data, value_column), None  # named by its value column
    selection = catalog.select(data, value_column)
    if len(selection.series) != 1:
        raise StatelabError(
            f"{data} holds {len(selection.series)} series; give one (such as m3:N1402), or use "
            "`statelab run PRESET --data SLICE` for many"
        )
    return selection.series[0], selection.test_size[0]


def experiment(name: str | None = None, **settings: object) -> Experiment:
    """A preset (or the default spec) with ``settings`` overriding its fields."""
    if name is None:
        return Experiment("custom", Spec().replace(**settings))
    chosen = preset(name)
    return Experiment(chosen.name, chosen.spec.replace(**settings))


def run(
    preset: str | None = None,
    *,
    data: pd.Series | str | Path | None = None,
    repeats: int | Sequence[int] = 10,
    seed: int = 1,
    initial_weights: Mapping[str, object] | None = None,
    value_column: str | None = None,
    progress: ProgressCallback | None = None,
    **settings: object,
) -> Results:
    """Run one experiment, all repeats in one compiled program.

    ``preset`` names one of the study's experiments (``statelab.PRESETS``); ``settings``
    override any :class:`Spec` field. ``initial_weights`` maps the Keras layout names
    (``kernel`` (L, 4n), ``recurrent_kernel`` (n, 4n), ``bias`` (4n,), ``dense_kernel``
    (n, 1), ``dense_bias`` (1,)) to arrays, optionally with a leading repeats axis.
    """
    check_seed(seed)
    series, test_size = _one_series(data, value_column)
    if test_size is not None and "test_rows" not in settings:
        settings = {**settings, "test_rows": test_size}  # the collection's own horizon
    chosen = experiment(preset, **settings)
    return run_experiments(
        [chosen],
        series,
        repeats=repeats,
        seed=seed,
        initial_weights=initial_weights,
        progress=progress,
    )[chosen.name]


def _run(plan, finish: Finish, out, execution, progress) -> Outcome:
    """Run ``plan`` through the pipeline into the store in ``out``, writing its files there;
    without ``out``, into a temporary folder removed afterwards, writing nothing."""
    if out is not None:
        return execute(plan, Path(out), finish, execution, progress)
    with tempfile.TemporaryDirectory(prefix="statelab-") as temporary:
        try:
            return execute(plan, Path(temporary), finish._replace(write=None), execution,
                           progress)  # fmt: skip
        except Interrupted:  # its store goes with the folder: there is nothing to resume
            raise KeyboardInterrupt from None


def reproduce(
    settings: StudySettings | None = None,
    *,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[Reproduction]:
    """The study on one series (Shampoo Sales unless ``settings.data`` names another): the
    eleven experiments run into the store in ``out`` (resuming whatever an earlier run left),
    analysed, and, with ``out``, written there as the study's files. ``.result`` is the
    :class:`Reproduction`: results, describe tables, verdicts, standard-error curve, power."""
    from statelab.outputs import study as files

    settings = settings or StudySettings()
    _import_in_background("statelab.stats", "statelab.outputs.plots")
    plan = study_plan(settings)
    finish = Finish(partial(analyse_study, settings=settings), files.write_study, files.names)
    return _run(plan, finish, out, execution, progress)


def generalise(
    settings: GeneraliseSettings | None = None,
    *,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[Generalisation]:
    """The study on every selected series of a collection (and on Shampoo Sales, the
    reference), run into the store in ``out``, tested on each series and across them, and,
    with ``out``, written there as tables, figures and generalise.json. A chunk holds every
    repeat of every experiment on a block of series (``execution.series`` of them, or about
    4,096 lanes). ``.result`` is the :class:`Generalisation`; ``.result.answer`` says it in
    words."""
    from statelab.outputs import generalise as files

    settings = settings or GeneraliseSettings()
    _import_in_background("statelab.stats", "statelab.outputs.plots")
    execution = execution or Execution()
    plan, collection = generalise_plan(settings)
    execution = _chunked_by_series(plan, execution)
    finish = Finish(partial(analyse_generalisation, collection=collection),
                    files.write_generalisation, files.names)  # fmt: skip
    return _run(plan, finish, out, execution, progress)


def moderators(
    settings: GeneraliseSettings | None = None,
    *,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[Moderated]:
    """:func:`generalise`, and which series its effects favour: per expectation (and
    frequency), the meta-regression of the per-series log ratios on the series' features,
    with an out-of-sample check against the pooled mean; with ``out``, the generalisation's
    files and moderators.csv and moderators.json. ``.result`` is the :class:`Moderated`;
    ``.result.moderators.answer`` says it in words."""
    settings = settings or GeneraliseSettings()
    features = selection_features(settings)  # before the run: a series without them fails fast
    return _moderated(settings, features, out, execution, progress)


def _moderated(settings, features: pd.DataFrame, out, execution, progress) -> Outcome[Moderated]:
    from statelab.outputs import moderators as files

    _import_in_background("statelab.stats", "statelab.outputs.plots")
    execution = execution or Execution()
    plan, collection = generalise_plan(settings)
    execution = _chunked_by_series(plan, execution)
    finish = Finish(partial(analyse_moderated, collection=collection, features=features),
                    files.write_moderated, files.names)  # fmt: skip
    return _run(plan, finish, out, execution, progress)


def vary(
    settings: VarySettings,
    *,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[Variation]:
    """Does the answer depend on the set-up? The study across a collection
    (``settings.base``, as :func:`generalise` runs it) at every level of each factor of
    ``settings.factors`` (or, with ``settings.grid``, every combination), in one plan through
    the pipeline and the store in ``out`` and, with ``out``, written there as tables and
    vary.json. ``.result`` is the :class:`Variation`: each level's :class:`Generalisation`,
    and the effects followed and tested across levels; ``.result.answer`` says it in words."""
    from statelab.outputs import setup as files

    _import_in_background("statelab.stats", "statelab.outputs.plots")
    execution = execution or Execution()
    plan, design = setup_plan(settings)
    execution = _chunked_by_series(plan, execution)
    factors = list(dict.fromkeys(level.factor for level in design.levels))
    finish = Finish(partial(analyse_setups, design=design), files.write_variation,
                    partial(files.names, factors=factors))  # fmt: skip
    return _run(plan, finish, out, execution, progress)


def advice_model(
    settings: GeneraliseSettings,
    model: str | Path,
    *,
    command: str,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[Moderated]:
    """:func:`moderators`, then the advice model of its result (every expectation's
    meta-regression per frequency, fitted on all the series, with what made it) written to
    ``model`` for `statelab advise`; ``command`` is the command line that remakes it, kept in
    the file. The model's path is checked before anything runs."""
    from statelab.files import resolve_target
    from statelab.studies import advice
    from statelab.studies.generalise import select_series

    resolve_target(model)
    features = selection_features(settings)
    outcome = _moderated(settings, features, out, execution, progress)
    record = advice.model_record(outcome.result, features, select_series(settings), command)
    advice.write_model(record, model)
    return outcome


def advise(
    settings: AdviseSettings | None = None,
    *,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Advice:
    """What to expect on one series (``settings.data``): its features, then for each of E1-E6
    the ratio of mean RMSEs the advice model (the one shipped, or ``settings.model``) predicts
    for it with a 95% prediction interval, and warnings where the advice extrapolates or is in
    sample. With ``settings.run``, the study also runs on the series itself (at the model's
    set-up, in a temporary store) and each expectation shows what it measured."""
    from statelab.studies import advice

    settings = settings or AdviseSettings()
    model = advice.load_model(settings.model)
    chosen = advice.choose(settings)
    plan = advice.run_plan(settings, model, chosen) if settings.run else None  # checked first
    result = advice.advise_on(model, chosen)
    if plan is None:
        return result
    outcome = _run(plan, Finish(advice.analyse_run), None, execution or Execution(), progress)
    return advice.measured(result, outcome.result)


def reproduce_vary(
    settings: VarySettings,
    *,
    out: str | Path | None = None,
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[StudyVariation]:
    """Does the answer depend on the set-up, on one series? The study (``settings.base``, a
    :class:`StudySettings`, as :func:`reproduce` runs it without the pool) at every level of
    each factor of ``settings.factors`` (or, with ``settings.grid``, every combination), in
    one plan through the pipeline and the store in ``out``, written there, with ``out``, as
    tables, a heat map and vary_study.json. ``.result`` is the :class:`StudyVariation`:
    each level's :class:`Reproduction`, and the effects followed and tested across levels;
    ``.result.answer`` says it in words."""
    from statelab.outputs import setup_one as files

    _import_in_background("statelab.stats", "statelab.outputs.plots")
    plan, design = study_setup_plan(settings)
    finish = Finish(partial(analyse_study_setups, design=design), files.write_study_variation,
                    files.names)  # fmt: skip
    return _run(plan, finish, out, execution, progress)


def estimate(
    settings: StudySettings | GeneraliseSettings | VarySettings,
    execution: Execution | None = None,
) -> Estimate:
    """What :func:`reproduce`, :func:`generalise` (or :func:`moderators`),
    :func:`reproduce_vary` or :func:`vary` would train for ``settings``, and a rough time for
    it on this machine, cut into chunks as that call cuts them; nothing runs."""
    execution = execution or Execution()
    if isinstance(settings, StudySettings):
        plan = study_plan(settings)
    elif isinstance(settings, VarySettings) and isinstance(settings.base, StudySettings):
        plan = study_setup_plan(settings)[0]
    else:  # a collection: a chunk holds a block of series
        collection = isinstance(settings, GeneraliseSettings)
        plan = (generalise_plan if collection else setup_plan)(settings)[0]
        execution = _chunked_by_series(plan, execution)
    return plan_module.estimate(plan, execution.chunk, execution.series)


def _chunked_by_series(plan, execution: Execution) -> Execution:
    """A chunk holds every repeat of every experiment on a block of series: ``execution.series``
    of them, or about 4,096 lanes."""
    if execution.series is not None:
        check_chunk(execution.series, "--chunk-series")
    return execution._replace(
        chunk=int(max(t.repeats.max() for t in plan.tasks)) + 1,
        series=execution.series or series_per_chunk(plan),
    )


def _import_in_background(*modules: str) -> None:
    """Import what the analysis and the files will need (SciPy, statsmodels, matplotlib:
    about a second) in a thread, while this one plans and trains: XLA compiles and the engine
    runs without holding the GIL, so the imports mostly overlap them. A later import of the
    same module waits for this one (Python's import lock)."""
    import importlib
    import threading

    def run() -> None:
        for name in modules:
            importlib.import_module(name)

    threading.Thread(target=run, name="statelab-imports", daemon=True).start()
