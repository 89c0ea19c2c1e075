"""The public entry points: validate and convert at the boundary, then call the runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from statelab.data import series as data_module
from statelab.errors import StatelabError
from statelab.execution.results import Results
from statelab.execution.runner import Experiment, ProgressCallback, run_experiments
from statelab.spec import Spec, check_seed, preset


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
