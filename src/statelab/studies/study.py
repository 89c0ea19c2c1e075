"""The Shampoo study as data: the eleven presets, the study's four comparisons, its plan
(statelab.execution.plan), and the study read back from the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.data import catalog
from statelab.data.series import validate
from statelab.defaults import MARGIN, POOL, STUDY_REPEATS
from statelab.errors import StatelabError
from statelab.execution.plan import Plan, check_margin, check_paired_repeats, make_plan
from statelab.execution.results import Results, describe_with_failures
from statelab.execution.runner import MAX_REPEATS
from statelab.spec import PRESETS, Setup


class Comparison(NamedTuple):
    key: str
    title: str
    experiments: tuple[str, ...]


COMPARISONS = (
    Comparison("a_vs_a", "A vs A: two independent runs of stateful", ("stateful", "stateful2")),
    Comparison(
        "stateful_vs_stateless",
        "Stateful vs stateless (batch 1)",
        ("stateful", "stateless", "stateless_shuffle"),
    ),
    Comparison(
        "batch12",
        "Stateful vs stateless at batch size 12",
        ("stateful_batch12", "stateless_batch12"),
    ),
    Comparison(
        "resets",
        "When the state is reset and seeded",
        (
            "stateful",
            "stateful_reset_test",
            "stateful_noreset",
            "stateful_seed_train",
            "stateful_seed_train_resets",
            "stateful_seed_train_no_resets",
        ),
    ),
)


# The A-vs-A pool: repeats of `stateful` behind the standard-error curve.
POOL_EXPERIMENT = "stateful"
POWER_DIFFERENCES = (1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True)
class StudySettings:
    """What the study runs; how it runs (chunks, workers) is an
    :class:`statelab.execution.pipeline.Execution` and changes no result."""

    data: str | pd.Series | None = None  # as --data names one series, or a Series (None: Shampoo)
    value_column: str | None = None  # a CSV's column to forecast (None: the first numeric)
    test_size: int | None = None  # test rows (None: the collection's horizon; 12)
    repeats: int = STUDY_REPEATS  # per experiment
    pool: int = POOL  # repeats of POOL_EXPERIMENT behind the standard-error curve
    seed: int = 1  # the master seed: repeat k draws from (seed, k)
    margin: float = MARGIN  # the equivalence margin, a share of the persistence RMSE
    setup: Setup = Setup()  # epochs, neurons, lags, learning rate, profile of every preset


class Chosen(NamedTuple):
    """The one series a study runs on and its test size, checked with the settings that do
    not depend on the set-up, before any set-up is planned."""

    series: pd.Series
    test_size: int


def choose_series(settings: StudySettings) -> Chosen:
    """The one series ``settings.data`` names, its test size, and the margin, repeats and
    pool checked."""
    check_margin(settings.margin)
    if isinstance(settings.data, pd.Series):
        series = [validate(settings.data, str(settings.data.name or "series"))]
        sizes = [catalog.CSV_TEST_SIZE if settings.test_size is None else settings.test_size]
    else:
        selection = catalog.select(settings.data, settings.value_column, settings.test_size)
        if len(selection.series) > 1:
            raise StatelabError(
                f"--data {settings.data} holds {len(selection.series)} series; the study runs "
                "on one (`statelab run PRESET --data ...` runs a preset on many)"
            )
        series, sizes = selection.series, selection.test_size
    check_paired_repeats(settings.repeats)
    pool = settings.pool
    if isinstance(pool, bool) or not isinstance(pool, int) or not 0 <= pool <= MAX_REPEATS:
        raise StatelabError(f"--pool must be a whole number from 0 to {MAX_REPEATS:,}, got {pool}")
    return Chosen(series[0], sizes[0])


def plan_at(chosen: Chosen, settings: StudySettings, setup: Setup) -> Plan:
    """The eleven presets at ``setup`` on the chosen series, each with the repeats the study
    needs: ``repeats`` each, and ``pool`` for the pool experiment. A series too short for
    the set-up (its lags, say) is an error naming why."""
    count = check_paired_repeats(settings.repeats)
    experiments = [
        (name, setup.apply(preset.spec),
         max(count, settings.pool) if name == POOL_EXPERIMENT else count)
        for name, preset in PRESETS.items()
    ]  # fmt: skip
    return make_plan(experiments, [chosen.series], [chosen.test_size], settings.seed)


def study_plan(settings: StudySettings) -> Plan:
    """The eleven presets on the one series ``settings.data`` names (``settings.setup``
    overrides every preset), each with the repeats the study needs: ``repeats`` each, and
    ``pool`` for the pool experiment."""
    return plan_at(choose_series(settings), settings, settings.setup)


def label(name: str, comparison: Comparison) -> str:
    """An experiment's column label: the study's noseed_1..3 and seed_1..3 in the resets
    comparison, its own name elsewhere."""
    return PRESETS[name].label if comparison.key == "resets" else name


def describe(columns: dict[str, Sequence[float]]) -> pd.DataFrame:
    """pandas describe() of RMSE columns side by side, as the study's script prints it, plus
    a ``failed`` row: repeats that diverged (NaN) are counted there, never averaged in."""
    return pd.DataFrame(
        {
            name: describe_with_failures(pd.Series(values, dtype=float))
            for name, values in columns.items()
        }
    )


@dataclass(frozen=True)
class Reproduction:
    """The study on one series, analysed: every experiment's results (the first
    ``repeats``), the pool, the describe table of each comparison, the verdicts on E1-E6,
    the standard-error curve and the power table."""

    settings: StudySettings
    series: pd.Series
    results: Mapping[str, Results]  # the eleven experiments, ``repeats`` each
    pool: np.ndarray  # (P,) RMSEs of POOL_EXPERIMENT over repeats 0..P-1
    tables: Mapping[str, pd.DataFrame]  # comparison key -> describe table (labels as columns)
    verdicts: pd.DataFrame  # E1-E6 (statelab.stats.expectation_table)
    se_curve: pd.DataFrame
    power: pd.DataFrame

    @property
    def persistence_rmse(self) -> float:
        return next(iter(self.results.values())).persistence_rmse


def analyse_study(plan: Plan, loaded: Sequence[Results], settings: StudySettings) -> Reproduction:
    """The study from its tasks' results: the first ``plan.repeats`` of every experiment,
    and the pool experiment's whole pool (:func:`analyse`)."""
    by_name = {result.name: result for result in loaded}
    pool = by_name[POOL_EXPERIMENT].rmse
    results = {name: r.subset(r.repeats < plan.repeats) for name, r in by_name.items()}
    return analyse(next(iter(plan.series.values())), results, pool, settings)


def analyse(
    series: pd.Series, results: Mapping[str, Results], pool: np.ndarray, settings: StudySettings
) -> Reproduction:
    """Every table and statistic of the study on ``series``: the describe table of each
    comparison, the verdicts on E1-E6, the standard-error curve and power from ``pool``."""
    from statelab import stats  # SciPy, statsmodels: only when analysing

    tables = {
        c.key: describe({label(n, c): results[n].rmse for n in c.experiments}) for c in COMPARISONS
    }
    first = next(iter(results.values()))
    verdicts = study_verdicts(results, settings.margin)
    se_curve = stats.standard_error_curve(pool, seed=first.seed)
    power = stats.power_from_pool(pool, POWER_DIFFERENCES)
    return Reproduction(settings, series, dict(results), pool, tables, verdicts, se_curve, power)


def study_verdicts(results: Mapping[str, Results], margin: float) -> pd.DataFrame:
    """The verdicts on E1-E6 from the experiments' results on one series: the study's paired
    tests, Holm across the six, the margin a share of the series' persistence RMSE."""
    from statelab import stats

    first = next(iter(results.values()))
    return stats.expectation_table({n: r.rmse for n, r in results.items()}, seed=first.seed,
                                   margin=stats.series_margin(margin, first.persistence_rmse))  # fmt: skip
