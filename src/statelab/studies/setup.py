"""Does the answer depend on the set-up? The study across a collection
(statelab.studies.generalise) at several levels of its set-up: epochs, neurons, lags,
learning rate, the Keras profile; one factor at a time around the base set-up, or a grid.

Every level is the generalisation at that set-up, planned as `generalise` plans it and run
in one plan through the one pipeline and store: a level equal to a plain `generalise` run's
set-up finds that run's rows in the store, and its per-series results are that run's, bit
for bit. Across levels, each expectation's effect is followed level by level (the pooled
ratio, its CI and PI, the verdict, the ranks of the eleven experiments) and tested for a
trend with the series as the unit (statelab.stats.trend), Holm-adjusted across factors and
expectations.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.engine.profile import PROFILES
from statelab.errors import StatelabError
from statelab.execution.plan import Plan, Skip, merge
from statelab.execution.results import Results
from statelab.spec import Setup, Spec
from statelab.studies.generalise import (
    Collection,
    Generalisation,
    GeneraliseSettings,
    analyse_generalisation,
    plan_at,
    select_series,
)
from statelab.studies.study import StudySettings


class Factor(NamedTuple):
    """A setting a set-up may vary."""

    kind: type  # int, float or str (categorical)
    log: bool  # tested against log2 of the level (a slope per doubling)
    same_weights: bool  # repeat k keeps its initial weights at every level (common random numbers)


FACTORS = {
    "epochs": Factor(int, log=True, same_weights=True),
    "neurons": Factor(int, log=True, same_weights=False),  # the weights' shapes change
    "lags": Factor(int, log=False, same_weights=False),
    "learning_rate": Factor(float, log=True, same_weights=True),
    "profile": Factor(str, log=False, same_weights=True),
}
# The most set-ups one command plans (each is a generalisation): a typo in a grid is refused.
MAX_LEVELS = 64


def _option(factor: str, levels: Sequence[object] | None = None) -> str:
    shown = "" if levels is None else "=" + ",".join(map(str, levels))
    return f"--vary {factor}{shown}"


def parse_vary(text: str) -> tuple[str, tuple[object, ...]]:
    """``FACTOR=LEVELS`` as the command line gives it (``epochs=100,300``,
    ``learning-rate=0.01,0.001``) -> (factor, levels), each level of the factor's kind;
    checked further by :func:`check_factors`."""
    name, equals, listed = text.partition("=")
    if not equals:
        raise StatelabError(f"--vary {text}: give FACTOR=LEVELS, such as epochs=100,300,1000")
    factor = _factor_name(name)
    parts = [part.strip() for part in listed.split(",")] if listed.strip() else []
    if not parts or "" in parts:
        raise StatelabError(f"--vary {text}: an empty level; list the levels, such as "
                            f"{factor}={_example(factor)}")  # fmt: skip
    kind = FACTORS[factor].kind
    try:
        return factor, tuple(kind(part) for part in parts)
    except ValueError:
        what = {int: "whole numbers", float: "numbers", str: "names"}[kind]
        raise StatelabError(f"--vary {text}: the levels of {factor} are {what}") from None


def factors_from_options(texts: Sequence[str]) -> dict[str, tuple[object, ...]]:
    """Every ``--vary FACTOR=LEVELS`` of a command line, a factor once."""
    factors: dict[str, tuple[object, ...]] = {}
    for text in texts:
        factor, levels = parse_vary(text)
        if factor in factors:
            raise StatelabError(_twice(factor))
        factors[factor] = levels
    return factors


def _twice(factor: str) -> str:
    return f"--vary {factor} is given twice: list its levels once"


def _example(factor: str) -> str:
    return {"epochs": "100,300,1000", "neurons": "1,2,4", "lags": "1,2,4",
            "learning_rate": "0.01,0.001", "profile": "keras3,keras2017"}[factor]  # fmt: skip


def _factor_name(name: str) -> str:
    factor = name.strip().lower().replace("-", "_")
    if factor in FACTORS:
        return factor
    if factor in {f.name for f in dataclasses.fields(Spec)}:
        raise StatelabError(
            f"--vary {name}: {factor.replace('_', '-')} changes what an experiment is (the "
            f"eleven experiments are defined by it); vary one of {', '.join(FACTORS)}"
        )
    raise StatelabError(f"--vary {name}: unknown factor; vary one of {', '.join(FACTORS)}")


@dataclass(frozen=True)
class VarySettings:
    """The study across a collection (``base`` a :class:`GeneraliseSettings`: `generalise
    --vary`) or on one series (a :class:`StudySettings`: `reproduce --vary`,
    statelab.studies.setup_one) at several set-ups: each factor of ``factors`` (epochs,
    neurons, lags, learning_rate, profile) at each of its levels, the others at the base
    set-up's values; or, with ``grid``, every combination of them."""

    base: GeneraliseSettings | StudySettings = GeneraliseSettings()
    factors: Mapping[str, Sequence[object]] = field(default_factory=dict)
    grid: bool = False


def check_factors(settings: VarySettings) -> dict[str, tuple[object, ...]]:
    """The factors and their levels, each checked: a factor a set-up may vary, not already
    set by the base set-up, two or more distinct levels, each a valid setting."""
    if not settings.factors:
        raise StatelabError("give a factor to vary, such as --vary epochs=100,300,1000")
    checked = {}
    for name, levels in settings.factors.items():
        factor = _factor_name(str(name))
        if factor in checked:
            raise StatelabError(_twice(factor))
        if getattr(settings.base.setup, factor) is not None:
            raise StatelabError(f"--{factor.replace('_', '-')} and --vary {factor} both set "
                                f"{factor}: give one")  # fmt: skip
        levels = tuple(levels) if not isinstance(levels, str) else (levels,)
        option = _option(factor, levels)
        if not levels:
            raise StatelabError(f"{option}: no levels; list them, such as "
                                f"{factor}={_example(factor)}")  # fmt: skip
        for level in levels:
            _check_level(factor, level, option)
        repeated = [level for level, count in _counts(levels).items() if count > 1]
        if repeated:
            raise StatelabError(f"{option}: the level {repeated[0]} is given twice")
        if len(levels) < 2:
            raise StatelabError(f"{option}: one level; give two or more to compare (or "
                                f"--{factor.replace('_', '-')} {levels[0]} to run at one)")  # fmt: skip
        checked[factor] = levels
    if settings.grid and len(checked) < 2:
        raise StatelabError("--grid crosses two or more factors: give --vary twice or more")
    count = int(np.prod([len(v) for v in checked.values()])) if settings.grid else sum(
        len(v) for v in checked.values())  # fmt: skip
    if count > MAX_LEVELS:
        raise StatelabError(f"{count} set-ups; one command runs at most {MAX_LEVELS}: give "
                            "fewer levels" + (" or leave out --grid" if settings.grid else ""))  # fmt: skip
    return checked


def _counts(levels: Sequence[object]) -> dict[object, int]:
    counts: dict[object, int] = {}
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return counts


def _check_level(factor: str, level: object, option: str) -> None:
    kind = FACTORS[factor].kind
    numeric = isinstance(level, int | float) and not isinstance(level, bool)
    if (kind is int and not (numeric and float(level).is_integer())) or (
        kind is float and not numeric) or (kind is str and not isinstance(level, str)):  # fmt: skip
        what = {int: "whole numbers", float: "numbers", str: "names"}[kind]
        raise StatelabError(f"{option}: the levels of {factor} are {what}, not {level!r}")
    try:
        Spec().replace(**{factor: kind(level)})  # the spec's own limits
    except StatelabError as error:
        raise StatelabError(f"{option}: {error}") from None


class Level(NamedTuple):
    """One set-up of the study: the factor (or, in a grid, the factors) varied and their
    values here, and the whole set-up."""

    factor: str  # "epochs"; in a grid, the factors crossed ("epochs x neurons")
    values: tuple[tuple[str, object], ...]  # (factor, value) at this level
    setup: Setup

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.values)


def levels_of(settings: VarySettings) -> tuple[Level, ...]:
    """Every set-up, in the order given: each factor's levels in turn, or the grid's cells
    (the last factor varying fastest)."""
    checked = check_factors(settings)
    base = settings.base.setup

    def level(factor: str, values: tuple[tuple[str, object], ...]) -> Level:
        changes = {name: FACTORS[name].kind(value) for name, value in values}
        return Level(factor, values, dataclasses.replace(base, **changes))

    if settings.grid:
        crossed = " x ".join(checked)
        return tuple(level(crossed, tuple(zip(checked, cell, strict=True)))
                     for cell in itertools.product(*checked.values()))  # fmt: skip
    return tuple(level(f, ((f, value),)) for f, values in checked.items() for value in values)


class LevelPlan(NamedTuple):
    """A level's own plan (as `generalise` plans it at that set-up), the collection, and the
    positions of its tasks in the plan of every level."""

    plan: Plan
    collection: Collection
    positions: tuple[int, ...]


class Design(NamedTuple):
    """What the analysis needs beyond the plan: the settings, the levels and their plans."""

    settings: VarySettings
    levels: tuple[Level, ...]
    parts: tuple[LevelPlan, ...]  # one per level


def setup_plan(settings: VarySettings) -> tuple[Plan, Design]:
    """One plan for every level: each planned as `generalise` plans it (the same series,
    seed and repeats), then merged, so an experiment at the same settings on the same series
    runs once and every level's repeats share compiled calls where their shapes agree. A
    series a level cannot use (too short for its lags, say) is skipped at that level, with
    why; a level that leaves fewer than two series is refused, naming the level."""
    if not isinstance(settings.base, GeneraliseSettings):
        raise StatelabError("the study across a collection at several set-ups takes "
                            "GeneraliseSettings as its base (a StudySettings base: statelab.reproduce_vary)")  # fmt: skip
    levels = levels_of(settings)
    selected = select_series(settings.base)
    planned = []
    for level in levels:
        try:
            planned.append(plan_at(selected, settings.base, level.setup))
        except StatelabError as error:
            raise StatelabError(f"--vary {level.label}: {error}") from None
    plan, positions = merge([p for p, _ in planned], [level.label for level in levels])
    parts = tuple(LevelPlan(p, collection, tuple(mine))
                  for (p, collection), mine in zip(planned, positions, strict=True))  # fmt: skip
    return plan, Design(settings, levels, parts)


def skipped(design: Design) -> list[tuple[str, Skip]]:
    """(level label, skip) for every series a level left out."""
    return [(level.label, skip) for level, part in zip(design.levels, design.parts, strict=True)
            for skip in part.plan.skipped]  # fmt: skip


def weights_note(factor: str) -> str:
    """Whether repeat k starts from the same initial weights at every level of ``factor``."""
    if all(FACTORS[f].same_weights for f in factor.split(" x ")):
        return (f"{factor}: repeat k starts from the same initial weights at every level "
                "(common random numbers).")  # fmt: skip
    return (f"{factor}: the weights' shapes change with the level, so repeat k's initial "
            "weights differ between levels (independent draws).")  # fmt: skip


# --- Across levels ---------------------------------------------------------------------------


def coded(level: Level) -> dict[str, float]:
    """A level as the trend test sees it: log2 of epochs, neurons and the learning rate (a
    slope per doubling), lags as they are, the profile as an indicator per profile after the
    study's (keras3 = 0); in a grid, every pairwise product too (the interactions)."""
    columns: dict[str, float] = {}
    for name, value in level.values:
        if FACTORS[name].kind is str:
            for other in tuple(PROFILES)[1:]:  # the study's profile is the first
                columns[f"{name}={other}"] = float(value == other)
        else:
            columns[name] = float(np.log2(value)) if FACTORS[name].log else float(value)
    main = list(columns)
    for i, first in enumerate(main):
        for second in main[i + 1 :]:
            if first.split("=")[0] != second.split("=")[0]:
                columns[f"{first}:{second}"] = columns[first] * columns[second]
    return columns


def _groups(levels: Sequence[Level]) -> dict[str, list[int]]:
    """The levels of each factor (or grid), by position."""
    made: dict[str, list[int]] = {}
    for i, level in enumerate(levels):
        made.setdefault(level.factor, []).append(i)
    return made


def previous_levels(levels: Sequence[Level]) -> list[int | None]:
    """For each level, the one before it along its (last) factor with every other factor the
    same: where a change of verdict is read from (None: the first)."""
    last: dict[tuple, int] = {}
    previous: list[int | None] = []
    for i, level in enumerate(levels):
        key = (level.factor, level.values[:-1])
        previous.append(last.get(key))
        last[key] = i
    return previous


def levels_table(levels: Sequence[Level], at_level: Sequence[Generalisation]) -> pd.DataFrame:
    """A row per level and expectation: the pooled ratio over all series with its CI and PI
    (as ratios), tau2, the per-series verdict counts, the collection's verdict and whether it
    differs from the verdict at the level before, and the experiment of best mean rank."""
    from statelab import stats
    from statelab.studies.generalise import count_column

    rows = []
    previous = previous_levels(levels)
    for i, (level, result) in enumerate(zip(levels, at_level, strict=True)):
        overall = result.across[result.across["group"] == "all"].set_index("expectation")
        before = None
        if previous[i] is not None:
            other = at_level[previous[i]].across
            before = other[other["group"] == "all"].set_index("expectation")["verdict"]
        best = result.ranking.table.index[0] if result.ranking.ranks is not None else ""
        for expectation in stats.EXPECTATIONS:
            row = overall.loc[expectation.key]
            rows.append({
                "factor": level.factor, "level": level.label,
                "value": ", ".join(str(v) for _, v in level.values),
                "expectation": expectation.key, "series": int(row["series"]),
                **{count_column(v): int(row[count_column(v)]) for v in stats.VERDICTS},
                "meta_k": int(row["meta_k"]), "pooled_ratio": np.exp(row["meta_pooled"]),
                **{f"ratio_{end}": np.exp(row[f"meta_{end}"])
                   for end in ("ci_low", "ci_high", "pi_low", "pi_high")},
                "meta_tau2": row["meta_tau2"], "verdict": row["verdict"],
                "verdict_changed": before is not None and before[expectation.key] != row["verdict"],
                "best_experiment": best,
            })  # fmt: skip
    return pd.DataFrame(rows)


def trend_table(levels: Sequence[Level], tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """A row per factor (or grid term) and expectation: does the effect change with the
    level? ``tables``: each level's log ratios (a row per series and expectation:
    ``series``, ``expectation``, ``log_ratio``, ``log_ratio_se``). Each series' weighted
    slope of its log ratio on the coded level (:func:`coded`), pooled across series by the
    random-effects estimator (statelab.stats.trend, where why two stages and not a multilevel
    model; on one series, that series' slope and its Wald test); Holm-adjusted across every
    row."""
    from statelab import stats

    rows = []
    for factor, members in _groups(levels).items():
        design = pd.DataFrame([coded(levels[i]) for i in members])
        series = list(dict.fromkeys(s for i in members for s in tables[i]["series"]))
        for expectation in stats.EXPECTATIONS:
            y, se = (np.full((len(series), len(members)), np.nan) for _ in range(2))
            for column, i in enumerate(members):
                table = tables[i]
                mine = table[table["expectation"] == expectation.key].set_index("series")
                where = [series.index(s) for s in mine.index]
                y[where, column] = mine["log_ratio"].to_numpy(float)
                se[where, column] = mine["log_ratio_se"].to_numpy(float)
            slopes = stats.series_slopes(design.to_numpy(), y, se)
            for j, term in enumerate(design.columns):
                trend = stats.pooled_slope(slopes.estimate[:, j], slopes.se[:, j])
                meta = trend.meta
                rows.append({
                    "factor": factor, "term": term, "scale": _scale(term),
                    "expectation": expectation.key, "series": meta.k, "slope": meta.pooled,
                    "slope_se": meta.se, "df": meta.df, "ci_low": meta.ci_low,
                    "ci_high": meta.ci_high, "pi_low": meta.pi_low, "pi_high": meta.pi_high,
                    "tau2": meta.tau2, "p": trend.p,
                })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["holm_p"] = stats.holm(frame["p"])
    return frame


def _scale(term: str) -> str:
    """How a term's level is coded, in words."""
    if ":" in term:
        return "interaction"
    if "=" in term:
        return "indicator"
    return "log2" if FACTORS[term].log else "linear"


def rank_table(levels: Sequence[Level], at_level: Sequence[Generalisation]) -> pd.DataFrame:
    """A row per level and experiment: its mean rank among the eleven (Friedman) and its
    place (1: the best; NaN where fewer than two series could be ranked)."""
    rows = []
    for level, result in zip(levels, at_level, strict=True):
        table = result.ranking.table
        places = table["mean_rank"].rank(method="min")
        for experiment in table.index:
            rows.append({"factor": level.factor, "level": level.label, "experiment": experiment,
                         "mean_rank": table.loc[experiment, "mean_rank"],
                         "place": places[experiment]})  # fmt: skip
    return pd.DataFrame(rows)


class Variation(NamedTuple):
    """The study across a collection at several set-ups, analysed."""

    settings: VarySettings
    levels: tuple[Level, ...]
    at_level: tuple[Generalisation, ...]  # each level's generalisation, as `generalise` gives it
    levels_table: pd.DataFrame  # a row per level and expectation (levels_table)
    trends: pd.DataFrame  # a row per factor term and expectation (trend_table)
    ranks: pd.DataFrame  # a row per level and experiment (rank_table)
    skipped: tuple[tuple[str, Skip], ...]  # (level, series left out there and why)
    notes: tuple[str, ...]  # per factor: common random numbers, or not

    @property
    def answer(self) -> list[str]:
        """The answer in plain words (:func:`answer_lines`)."""
        return answer_lines(self)


def analyse_setups(plan: Plan, loaded: Sequence[Results], design: Design) -> Variation:
    """Each level's generalisation from its part of the results (as `generalise` analyses
    it), then the effects followed and tested across levels."""
    at_level = tuple(
        analyse_generalisation(part.plan, [loaded[i] for i in part.positions], part.collection)
        for part in design.parts
    )
    levels = design.levels
    factors = dict.fromkeys(level.factor for level in levels)
    return Variation(
        design.settings, levels, at_level, levels_table(levels, at_level),
        trend_table(levels, [one.per_series for one in at_level]), rank_table(levels, at_level),
        tuple(skipped(design)),
        tuple(weights_note(f) for f in factors),
    )  # fmt: skip


def answer_lines(result: Variation) -> list[str]:
    """For each factor and expectation: the collection's verdict and pooled ratio at each
    level, where the verdict changes, and the trend test; then the best experiment at each
    level (:func:`level_lines`)."""
    return [*level_lines(result.levels_table, result.trends, "pooled_ratio", "Best mean rank"),
            *result.notes]  # fmt: skip


def level_lines(table: pd.DataFrame, trends: pd.DataFrame, ratio: str, best: str) -> list[str]:
    """For each factor of a levels table and each expectation: the verdict and ratio (the
    column ``ratio``) at each level, where the verdict changes, and the trend test; then the
    best experiment at each level (its line titled ``best``)."""
    from statelab import stats

    lines = []
    for factor in dict.fromkeys(table["factor"]):
        lines.append(f"{factor}:")
        for expectation in stats.EXPECTATIONS:
            mine = table[(table["factor"] == factor) & (table["expectation"] == expectation.key)]
            shown = "; ".join(
                f"{row['level']} {row['verdict']}"
                + (f" ({row[ratio]:.3f})" if np.isfinite(row[ratio]) else "")
                for _, row in mine.iterrows()
            )
            changed = list(mine.loc[mine["verdict_changed"], "level"])
            flips = f" The verdict changes at {', '.join(changed)}." if changed else ""
            tested = trends[(trends["factor"] == factor)
                            & (trends["expectation"] == expectation.key)]  # fmt: skip
            trend = "; ".join(
                f"{row.term} ({row.scale}) slope {row.slope:+.3f} (95% CI {row.ci_low:+.3f} to "
                f"{row.ci_high:+.3f}, Holm {stats.p_text(row.holm_p, 2, ' = ')})"
                for row in tested.itertuples() if np.isfinite(row.slope)
            )  # fmt: skip
            trend = f" Trend of the log ratio: {trend}." if trend else ""
            lines.append(f"- {expectation.key} {expectation.claim}: {shown}.{flips}{trend}")
        shown = table[table["factor"] == factor].drop_duplicates("level")
        lines.append(f"- {best}: " + "; ".join(
            f"{row.level} {row.best_experiment or 'not ranked'}" for row in shown.itertuples()) + ".")  # fmt: skip
    return lines
