"""Does the answer depend on the set-up, on one series? The study on one series
(statelab.studies.study, Shampoo Sales unless the settings name another) at several levels
of its set-up (statelab.studies.setup: the same factors, levels, checks and coding).

Every level is the study at that set-up, planned as `reproduce` plans it without its pool
(each experiment ``repeats`` repeats, the A-vs-A pool too), and run in one plan through the
one pipeline and store: a level equal to a plain `reproduce --pool 0` run's set-up finds
that run's rows in the store, and its results and verdicts are that run's, bit for bit. A
level the series is too short for (lags 12 leave Shampoo's batch-12 pair too few training
rows) is skipped, with why.

Across levels, for each expectation and factor, the test of a change with the level is the
series' own: the weighted least-squares slope of the log ratio of mean RMSEs on the coded
level (log2 of epochs, neurons and learning rate), weights 1 / SE^2 from each level's paired
repeats, and its Wald test on the normal distribution, Holm-adjusted across factors and
expectations (statelab.studies.setup.trend_table, which on a collection pools these slopes;
one series is the case k = 1). Why this test: the log ratio is the scale-free effect every
verdict is about, its SE is the sampling error of the level's repeats (the only error there
is on one series), and the slope is the collection's per-series statistic, so one series
and a collection answer the same question. The repeats of different levels share initial
weights where the shapes allow (epochs, learning rate, profile); the positive correlation
this leaves between levels makes the independent-levels SE too large, if anything: the test
errs on the cautious side. With few repeats the SEs are themselves noisy, and the normal
distribution then makes the test somewhat liberal; the verdicts at each level use the
study's own paired tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.errors import StatelabError
from statelab.execution.plan import Plan, Skip, merge
from statelab.execution.results import Results
from statelab.studies.generalise import Runs, experiment_table
from statelab.studies.setup import (
    Level,
    VarySettings,
    level_lines,
    levels_of,
    previous_levels,
    trend_table,
    weights_note,
)
from statelab.studies.study import (
    Reproduction,
    StudySettings,
    analyse_study,
    choose_series,
    plan_at,
)


class StudyDesign(NamedTuple):
    """What the analysis needs beyond the plan: the settings, the levels that run, each
    one's own plan and the positions of its tasks in the plan of every level, and the levels
    the series cannot run."""

    settings: VarySettings
    series: str
    levels: tuple[Level, ...]
    plans: tuple[Plan, ...]  # one per level that runs
    positions: tuple[tuple[int, ...], ...]
    skipped: tuple[tuple[str, Skip], ...]  # (level, the series and why it cannot run there)


def study_setup_plan(settings: VarySettings) -> tuple[Plan, StudyDesign]:
    """One plan for every level of the study on one series (``settings.base`` a
    :class:`StudySettings`), each planned as `reproduce --pool 0` plans it, merged so an
    experiment at the same settings runs once. A level the series cannot run is skipped with
    why; none that can is refused in one line."""
    base = settings.base
    if not isinstance(base, StudySettings):
        raise StatelabError("the study on one series at several set-ups takes StudySettings as "
                            "its base (a collection's is statelab.vary)")  # fmt: skip
    levels = levels_of(settings)
    chosen = choose_series(base)
    name = str(chosen.series.name)
    study = dataclasses.replace(base, pool=0)  # every experiment ``repeats``: no pool
    running, plans, skipped = [], [], []
    for level in levels:
        try:
            plans.append(plan_at(chosen, study, level.setup))
        except StatelabError as error:
            skipped.append((level.label, Skip(name, str(error))))
            continue
        running.append(level)
    if not plans:
        label, first = skipped[0]
        raise StatelabError(f"no level can run on {name}: --vary {label}: {first.reason}")
    plan, positions = merge(plans, [level.label for level in running])
    design = StudyDesign(settings, name, tuple(running), tuple(plans),
                         tuple(tuple(p) for p in positions), tuple(skipped))  # fmt: skip
    return plan, design


def levels_table(levels: Sequence[Level], at_level: Sequence[Reproduction]) -> pd.DataFrame:
    """A row per level and expectation: the ratio of mean RMSEs (better / worse), its log
    and SE, the Holm-adjusted p of the study's test, the verdict and whether it differs from
    the verdict at the level before, and the experiment of lowest mean RMSE there."""
    from statelab import stats

    rows = []
    previous = previous_levels(levels)
    for i, (level, result) in enumerate(zip(levels, at_level, strict=True)):
        verdicts = result.verdicts
        before = None if previous[i] is None else at_level[previous[i]].verdicts["verdict"]
        ranked = _ranked(result)
        best = ranked.index[0] if ranked["place"].notna().any() else ""
        for expectation in stats.EXPECTATIONS:
            row = verdicts.loc[expectation.key]
            rows.append({
                "factor": level.factor, "level": level.label,
                "value": ", ".join(str(v) for _, v in level.values),
                "expectation": expectation.key, "ratio": np.exp(row["log_ratio"]),
                "log_ratio": row["log_ratio"], "log_ratio_se": row["log_ratio_se"],
                "holm_p": row["holm_p"], "verdict": row["verdict"],
                "verdict_changed": before is not None and before[expectation.key] != row["verdict"],
                "best_experiment": best,
            })  # fmt: skip
    return pd.DataFrame(rows)


def _ranked(result: Reproduction) -> pd.DataFrame:
    """The experiments at a level, by mean RMSE over their finished repeats (the
    collection's per-series table, on one series), with their place (1: the lowest; NaN
    where every repeat failed)."""
    name = str(result.series.name)
    table = experiment_table(Runs({name: dict(result.results)}, result.settings.repeats), None)
    table = table.drop(columns=["series", "reference"]).set_index("experiment")
    table["place"] = table["mean_rmse"].rank(method="min")
    return table.sort_values("place", kind="stable")


def rank_table(levels: Sequence[Level], at_level: Sequence[Reproduction]) -> pd.DataFrame:
    """A row per level and experiment: its mean RMSE, mean relative RMSE and MASE, repeats
    finished and failed, and its place among the eleven."""
    frames = [_ranked(result).reset_index().assign(factor=level.factor, level=level.label)
              for level, result in zip(levels, at_level, strict=True)]  # fmt: skip
    ranks = pd.concat(frames, ignore_index=True)
    return ranks[["factor", "level", *[c for c in ranks if c not in ("factor", "level")]]]


def log_ratios(name: str, result: Reproduction) -> pd.DataFrame:
    """A level's log ratios as the trend test reads them: a row per expectation."""
    verdicts = result.verdicts.reset_index()
    return verdicts.assign(series=name)[["series", "expectation", "log_ratio", "log_ratio_se"]]


class StudyVariation(NamedTuple):
    """The study on one series at several set-ups, analysed."""

    settings: VarySettings
    series: str
    levels: tuple[Level, ...]  # the levels that ran
    at_level: tuple[Reproduction, ...]  # each level's study, as `reproduce --pool 0` gives it
    levels_table: pd.DataFrame  # a row per level and expectation (levels_table)
    trends: pd.DataFrame  # a row per factor term and expectation (trend_table, one series)
    ranks: pd.DataFrame  # a row per level and experiment (rank_table)
    skipped: tuple[tuple[str, Skip], ...]  # (level, the series and why it cannot run there)
    notes: tuple[str, ...]  # per factor: common random numbers, or not

    @property
    def answer(self) -> list[str]:
        """The answer in plain words: for each factor and expectation, the verdict and ratio
        at each level, where the verdict changes, and the trend test; then the experiment of
        lowest mean RMSE at each level."""
        lines = level_lines(self.levels_table, self.trends, "ratio", "Lowest mean RMSE")
        return [*lines, *self.notes]


def analyse_study_setups(
    plan: Plan, loaded: Sequence[Results], design: StudyDesign
) -> StudyVariation:
    """Each level's study from its part of the results (as `reproduce` analyses it), then
    the effects followed and tested across levels."""
    base = dataclasses.replace(design.settings.base, pool=0)
    at_level = tuple(
        analyse_study(own, [loaded[i] for i in positions],
                      dataclasses.replace(base, setup=level.setup))
        for level, own, positions in zip(design.levels, design.plans, design.positions,
                                         strict=True)
    )  # fmt: skip
    levels = design.levels
    factors = dict.fromkeys(level.factor for level in levels)
    trends = trend_table(levels, [log_ratios(design.series, one) for one in at_level])
    return StudyVariation(
        design.settings, design.series, levels, at_level, levels_table(levels, at_level),
        trends, rank_table(levels, at_level), design.skipped,
        tuple(weights_note(f) for f in factors),
    )  # fmt: skip
