"""Does the study generalise? The eleven presets on every series of a collection, and the
study's six expectations tested on each series and across them.

The plan is data (statelab.execution.plan); the statistics are pure functions of the results read back
from the store: per series the study's paired tests, the log ratio of mean RMSEs and an
equivalence test, with Benjamini-Hochberg control across series; across series verdict
counts, a sign test and a random-effects meta-analysis (overall, by length and by domain);
and the ranks of the eleven experiments. statelab.outputs.generalise writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from statelab.data import catalog
from statelab.defaults import GENERALISE_DATA, GENERALISE_REPEATS, MARGIN
from statelab.errors import StatelabError
from statelab.execution import processes
from statelab.execution.plan import Plan, Skip, check_margin, check_paired_repeats, make_plan
from statelab.execution.results import Results
from statelab.spec import PRESETS, Setup, Spec
from statelab.studies.study import study_verdicts

if TYPE_CHECKING:  # SciPy and scikit-posthocs load only when the ranks are computed
    from statelab.stats import Ranks

# The batch-12 pair assumes the study's 12 test rows (a batch of the last 12 training rows,
# one batched forecast of the 12 test rows). On a collection the study's idea carries over:
# batch size = training window = the series' test horizon (18 for M3 monthly, 12 on Shampoo).
HORIZON_PAIR = ("stateful_batch12", "stateless_batch12")
REFERENCE = catalog.SHAMPOO  # the study's own series, run beside the collection and marked
LENGTH_GROUPS = ("short", "medium", "long")  # thirds of the series by training length


def at_horizon(name: str, spec: Spec, test_size: int) -> Spec:
    """An experiment's spec on a series of ``test_size`` test rows: the batch-12 pair runs at
    batch size = training window = the horizon; the others as they are."""
    if name in HORIZON_PAIR:
        return spec.replace(batch_size=test_size, train_window=test_size, test_rows=test_size)
    return spec.replace(test_rows=test_size)


class Collection(NamedTuple):
    """What the statistics need to know of the selected series beyond the plan."""

    name: str  # as --data named it (with the sample, if drawn)
    members: tuple[str, ...]  # the selected series, in order (some may be skipped)
    domain: dict[str, str]  # series -> its competition category ("" if none)
    train_length: dict[str, int]  # series -> values before its test (the competition's n)
    margin: float  # the equivalence margin, a share of each series' persistence RMSE
    reference: str | None  # the Shampoo series run beside them (None: it was not run)


@dataclass(frozen=True)
class GeneraliseSettings:
    """What the study across a collection runs; how it runs (chunks, workers) is an
    :class:`statelab.execution.pipeline.Execution` and changes no result."""

    data: str | None = None  # as --data names the series (None: GENERALISE_DATA)
    value_column: str | None = None  # for CSV files in a list
    sample: int | None = None  # run on this many series drawn at random from ``data``
    sample_seed: int | None = None  # the draw's seed (None: 1)
    repeats: int = GENERALISE_REPEATS  # per experiment and series
    seed: int = 1  # the master seed: repeat k draws from (seed, k)
    margin: float = MARGIN  # the equivalence margin, a share of each series' persistence RMSE
    setup: Setup = Setup()  # epochs, neurons, lags, learning rate, profile of every preset


class Selected(NamedTuple):
    """The series a generalisation runs on, checked, before any set-up is planned."""

    name: str  # as --data named them (with the sample, if drawn)
    names: tuple[str, ...]  # the selected series, in order
    series: tuple[pd.Series, ...]  # them, then Shampoo Sales (the reference) if not among them
    test_sizes: tuple[int, ...]  # each one's horizon
    domain: dict[str, str]
    train_length: dict[str, int]
    margin: float


def select_series(settings: GeneraliseSettings) -> Selected:
    """The selected series (and Shampoo beside them), with the settings that do not depend
    on the set-up checked."""
    if settings.sample_seed is not None and settings.sample is None:
        raise StatelabError("--sample-seed applies to a sample: give --sample N too")
    data = GENERALISE_DATA if settings.data is None else settings.data
    selection = catalog.select(data, settings.value_column)
    if settings.sample is not None:
        seed = 1 if settings.sample_seed is None else settings.sample_seed
        selection = catalog.sample(selection, settings.sample, seed)
    margin = check_margin(settings.margin)
    check_paired_repeats(settings.repeats)
    names = tuple(str(s.name) for s in selection.series)
    if len(names) < 2:
        raise StatelabError(
            f"--data {selection.name} holds one series; generalise compares across series "
            "(`statelab reproduce --data ...` runs the study on one)"
        )
    series, sizes = list(selection.series), list(selection.test_size)
    if REFERENCE not in names:
        shampoo = catalog.select(REFERENCE)
        series.append(shampoo.series[0])
        sizes.append(shampoo.test_size[0])
    return Selected(
        selection.name, names, tuple(series), tuple(sizes),
        dict(zip(names, selection.domain, strict=True)),
        {name: len(s) - h for name, s, h in zip(names, selection.series, selection.test_size,
                                                strict=True)},
        margin,
    )  # fmt: skip


def plan_at(
    selected: Selected, settings: GeneraliseSettings, setup: Setup
) -> tuple[Plan, Collection]:
    """The eleven presets at ``setup`` on the selected series and Shampoo, ``repeats``
    each; repeat k of every preset on a series starts from the same initial weights."""
    experiments = [(name, setup.apply(p.spec), settings.repeats) for name, p in PRESETS.items()]
    made = make_plan(experiments, selected.series, selected.test_sizes, settings.seed,
                     adapt=at_horizon)  # fmt: skip
    usable = set(selected.names) & set(made.series)
    if len(usable) < 2:
        reason = made.skipped[0].reason if made.skipped else ""
        raise StatelabError(
            f"{len(usable)} of the {len(selected.names)} series of {selected.name} can be used "
            f"(the first left out: {made.skipped[0].series}: {reason}); generalise compares "
            "two or more"
        )
    collection = Collection(
        selected.name, selected.names, selected.domain, selected.train_length, selected.margin,
        REFERENCE if REFERENCE in made.series else None,
    )  # fmt: skip
    return made, collection


def generalise_plan(settings: GeneraliseSettings) -> tuple[Plan, Collection]:
    """The eleven presets (``settings.setup`` overrides every one) on every selected series
    and on Shampoo Sales (the reference), ``repeats`` each; repeat k of every preset on a
    series starts from the same initial weights."""
    return plan_at(select_series(settings), settings, settings.setup)


def horizons(plan: Plan, members: Sequence[str]) -> list[int]:
    """The distinct test horizons of the planned series among ``members`` (the batch-12
    pair's batch sizes there)."""
    return sorted({t.spec.test_rows for t in plan.tasks
                   if t.name == HORIZON_PAIR[0] and t.series in members})  # fmt: skip


# --- Read back ---------------------------------------------------------------------------


class Runs(NamedTuple):
    """The results by series, then by experiment, each trimmed to the plan's repeats."""

    by_series: dict[str, dict[str, Results]]
    repeats: int

    @classmethod
    def of(cls, plan: Plan, loaded: Sequence[Results]) -> Runs:
        by_series: dict[str, dict[str, Results]] = {}
        for result in loaded:
            trimmed = result.subset(result.repeats < plan.repeats)
            by_series.setdefault(result.series, {})[result.name] = trimmed
        return cls(by_series, plan.repeats)


def experiment_table(runs: Runs, reference: str | None) -> pd.DataFrame:
    """A row per series and experiment: mean RMSE, mean relative RMSE (over the persistence
    RMSE) and mean MASE over the finished repeats, how many finished and failed; the
    reference series (Shampoo, run beside the collection) is marked."""
    rows = []
    for series, results in runs.by_series.items():
        for name, r in results.items():
            finished = int(np.sum(~r.failed))
            with np.errstate(invalid="ignore"):
                rows.append({
                    "series": series, "reference": series == reference, "experiment": name,
                    "mean_rmse": np.nanmean(r.rmse) if finished else np.nan,
                    "mean_relative_rmse": np.nanmean(r.relative_rmse) if finished else np.nan,
                    "mean_mase": np.nanmean(r.mase) if finished else np.nan,
                    "persistence_rmse": r.persistence_rmse,
                    "finished": finished, "failed": len(r.repeats) - finished,
                })  # fmt: skip
    return pd.DataFrame(rows)


# --- Per series ----------------------------------------------------------------------------


# A series' six pair tests take about 27 ms on one core (most of it SciPy's checks of each
# call): 100 series, about 2.7 s, pay for a worker's start (processes.workers_for). On 2
# cores a collection of 200 series or more is tested in 2 worker processes.
SERIES_PER_WORKER = 100


def _test_call(results: dict[str, Results], margin: float, seed: int) -> dict[str, object]:
    """The arguments of ``stats.expectation_tests`` on one series: its RMSEs and margin."""
    from statelab import stats

    persistence = next(iter(results.values())).persistence_rmse
    return {"rmse": {name: r.rmse for name, r in results.items()},
            "margin": stats.series_margin(margin, persistence), "seed": seed}  # fmt: skip


def per_series(runs: Runs, collection: Collection, seed: int) -> pd.DataFrame:
    """A row per series of the collection and expectation: the study's statistics, the log
    ratio of mean RMSEs with its SE, the equivalence test, both Benjamini-Hochberg adjusted
    across the series (each expectation its own family) and the verdict."""
    from statelab import stats

    members = [s for s in collection.members if s in runs.by_series]  # less those skipped
    calls = [_test_call(runs.by_series[s], collection.margin, seed) for s in members]
    by_series = processes.spread(stats.expectation_tests, calls, SERIES_PER_WORKER)
    rows, tested = [], []
    for series, made in zip(members, by_series, strict=True):
        for one in made:
            tested.append(one)
            rows.append({
                "series": series, "domain": collection.domain.get(series, ""),
                "train_length": collection.train_length[series], "expectation": one.expectation.key,
                **one.test._asdict(), "primary_p": stats.primary_p(one.test),
                "log_ratio": one.log_ratio, "log_ratio_se": one.log_ratio_se,
                "margin_rmse": one.margin, "equivalence_p": one.equivalence_p,
            })  # fmt: skip
    frame = pd.DataFrame(rows)
    family = frame["expectation"]
    frame["bh_p"] = stats.benjamini_hochberg_by(frame["primary_p"], family)
    frame["bh_equivalence_p"] = stats.benjamini_hochberg_by(frame["equivalence_p"], family)
    frame["verdict"] = [
        stats.verdict(one.expectation, one.test, p, q)
        for one, p, q in zip(tested, frame["bh_p"], frame["bh_equivalence_p"], strict=True)
    ]
    return frame


def reference_table(runs: Runs, collection: Collection) -> pd.DataFrame | None:
    """The study's verdicts on Shampoo Sales from the same run (Holm across the six, as
    `statelab reproduce` gives them at these repeats)."""
    if collection.reference is None:
        return None
    return study_verdicts(runs.by_series[collection.reference], collection.margin)


# --- Across series -------------------------------------------------------------------------


def groups(table: pd.DataFrame) -> list[tuple[str, str, pd.Index]]:
    """(kind, label, rows of ``table``) for every group pooled: all series; thirds by
    training length; each domain, among the series whose collection records one; and each
    frequency, where the series have several (periods or collections: `--data m3,m1,tourism`)."""
    by_series = table.drop_duplicates("series").set_index("series")
    made = [("all", "all series", table.index)]
    lengths = by_series["train_length"]
    if len(lengths) >= len(LENGTH_GROUPS):
        # Thirds by rank, so ties at a boundary never leave a third empty.
        thirds = pd.qcut(lengths.rank(method="first"), len(LENGTH_GROUPS), labels=LENGTH_GROUPS)
        for label in LENGTH_GROUPS:
            members = thirds.index[thirds == label]
            low, high = lengths[members].min(), lengths[members].max()
            made.append(("length", f"{label} ({low}-{high} training values)",
                         table.index[table["series"].isin(members)]))  # fmt: skip
    domains = by_series["domain"]
    named = domains[domains != ""]  # Tourism records none: its series join no domain group
    if named.nunique() > 1:
        for domain in sorted(named.unique()):
            made.append(("domain", domain, table.index[table["domain"] == domain]))
    frequency = pd.Series({name: catalog.frequency(str(name)) for name in by_series.index},
                          dtype=object)  # fmt: skip
    if frequency.notna().all() and frequency.nunique() > 1:
        for value in sorted(frequency.unique(), reverse=True):
            members = frequency.index[frequency == value]
            made.append(("frequency", FREQUENCIES.get(value, f"frequency {value}"),
                         table.index[table["series"].isin(members)]))  # fmt: skip
    return made


FREQUENCIES = {12: "monthly", 4: "quarterly", 1: "yearly or other"}  # M3's "other" is 1 too


def count_column(verdict: str) -> str:
    """The column of the across-series table counting the series with ``verdict``."""
    return "n_" + verdict.replace(" ", "_")


def across_series(table: pd.DataFrame, margin: float) -> pd.DataFrame:
    """A row per expectation and group: the series in each verdict, a sign test and a
    random-effects meta-analysis of the log ratios, and the group's verdict."""
    from statelab import stats

    rows = []
    for kind, label, members in groups(table):
        part = table.loc[members]
        for expectation in stats.EXPECTATIONS:
            mine = part[part["expectation"] == expectation.key]
            counts = mine["verdict"].value_counts()
            sign = stats.sign_test(mine["log_ratio"])
            meta = stats.meta_analysis(mine["log_ratio"], mine["log_ratio_se"])
            identical = bool(len(mine)) and bool(mine["identical"].all())
            untested = int((~mine["identical"].astype(bool) & mine["log_ratio_se"].isna()).sum())
            rows.append({
                "expectation": expectation.key, "claim": expectation.claim, "group": kind,
                "label": label, "series": len(mine),
                **{count_column(v): int(counts.get(v, 0)) for v in stats.VERDICTS},
                "n_untested": untested, "sign_lower": sign.negative, "sign_higher": sign.positive,
                "sign_zero": sign.zero, "sign_p": sign.p,
                **{f"meta_{field}": value for field, value in meta._asdict().items()},
                "pooled_ratio": np.exp(meta.pooled),
                "verdict": stats.pooled_verdict(expectation, meta, identical, margin),
            })  # fmt: skip
    return pd.DataFrame(rows)


class Ranking(NamedTuple):
    table: pd.DataFrame  # per experiment: mean rank, median relative RMSE, beats persistence
    nemenyi: pd.DataFrame  # pairwise Nemenyi p-values
    ranks: Ranks | None  # None: fewer than 2 complete series


def ranking(experiments: pd.DataFrame, members: Sequence[str]) -> Ranking:
    """Which regime wins: mean ranks of the experiments by mean RMSE within each series
    (Friedman, Nemenyi), each experiment's median relative RMSE across series, and the share
    of series on which its mean relative RMSE is below 1 (it beats persistence)."""
    from statelab import stats

    mine = experiments[experiments["series"].isin(members)]
    wide = mine.pivot(index="series", columns="experiment", values="mean_rmse")
    relative = mine.pivot(index="series", columns="experiment", values="mean_relative_rmse")
    order = [name for name in PRESETS if name in wide.columns]
    wide, relative = wide[order], relative[order]
    table = pd.DataFrame({
        "median_relative_rmse": relative.median(),
        "beats_persistence": (relative < 1).sum() / relative.notna().sum(),
    })  # fmt: skip
    table.index.name = "experiment"
    if len(wide.dropna()) < 2:
        table["mean_rank"] = np.nan
        return Ranking(table, pd.DataFrame(), None)
    ranks = stats.rank_experiments(wide)
    table.insert(0, "mean_rank", ranks.mean_ranks)
    return Ranking(table.sort_values("mean_rank"), ranks.nemenyi, ranks)


class Generalisation(NamedTuple):
    """The study across a collection, analysed."""

    collection: Collection
    per_series: pd.DataFrame  # a row per series and expectation (per_series)
    experiments: pd.DataFrame  # a row per series and experiment (experiment_table)
    across: pd.DataFrame  # a row per expectation and group (across_series)
    ranking: Ranking
    reference: pd.DataFrame | None  # the study's verdicts on Shampoo from this run
    repeats: int
    seed: int
    skipped: tuple[Skip, ...]  # the selected series left out, and why
    specs: Mapping[str, Mapping[str, object]]  # each preset's settings, on the first series
    horizon_note: str  # the batch-12 pair's batch sizes, in words
    provenance: Provenance  # the versions, devices and code that computed the results

    @property
    def answer(self) -> list[str]:
        """The answer in plain words (:func:`answer_lines`)."""
        return answer_lines(self)


class Provenance(NamedTuple):
    versions: tuple[Mapping[str, str], ...]  # each distinct set of package versions
    devices: tuple[str, ...]
    code: tuple[str, ...]  # statelab's version and engine revision, as stored


def provenance(loaded: Sequence[Results]) -> Provenance:
    """Every distinct set of versions, device and code among the results."""
    import json

    versions, devices, codes = set(), set(), set()
    for r in loaded:
        versions.update(json.dumps(dict(v), sort_keys=True) for v in r.provenance.versions)
        devices.update(r.provenance.devices)
        codes.add(r.provenance.code)
    return Provenance(tuple(json.loads(v) for v in sorted(versions)), tuple(sorted(devices)),
                      tuple(sorted(codes)))  # fmt: skip


def horizon_note(plan: Plan, collection: Collection) -> str:
    sizes = horizons(plan, collection.members)
    return (
        f"The batch-12 pair ({', '.join(HORIZON_PAIR)}) runs at batch size = training window "
        f"= the series' test horizon ({', '.join(map(str, sizes))} here; 12 on Shampoo, as in "
        "the study)."
    )


def analyse_generalisation(
    plan: Plan, loaded: Sequence[Results], collection: Collection
) -> Generalisation:
    """Every statistic of the generalisation, from the plan's results."""
    runs = Runs.of(plan, loaded)
    table = per_series(runs, collection, plan.seed)
    experiments = experiment_table(runs, collection.reference)
    members = [s for s in collection.members if s in runs.by_series]
    specs: dict[str, Mapping[str, object]] = {}
    for one in plan.tasks:  # every preset's settings, as on the first series
        specs.setdefault(one.name, one.spec.to_dict())
    return Generalisation(
        collection, table, experiments, across_series(table, collection.margin),
        ranking(experiments, members), reference_table(runs, collection),
        runs.repeats, plan.seed, plan.skipped,
        {name: specs[name] for name in PRESETS if name in specs},
        horizon_note(plan, collection), provenance(loaded),
    )  # fmt: skip


# --- In words --------------------------------------------------------------------------------


def _ratio(value: float) -> str:
    return f"{np.exp(value):.3f}"


def answer_lines(result: Generalisation) -> list[str]:
    """The answer in plain words: for each expectation, whether it holds on the collection
    and how strongly, then which regime wins."""
    from statelab import stats

    overall = result.across[result.across["group"] == "all"].set_index("expectation")
    series = int(overall["series"].iloc[0]) if len(overall) else 0
    lines = [f"On {series:,} series of {result.collection.name} ({result.repeats} repeats of "
             f"each experiment per series):"]  # fmt: skip
    for expectation in stats.EXPECTATIONS:
        row = overall.loc[expectation.key]
        counted = ", ".join(
            f"{int(row[count_column(v)]):,} {v}" for v in stats.VERDICTS if row[count_column(v)]
        )
        left_out = (f", {int(row['meta_zero_se']):,} identical series left out"
                    if row["meta_zero_se"] else "")  # fmt: skip
        if np.isfinite(row["meta_pooled"]):
            pooled = (
                f"over {int(row['meta_k']):,} series{left_out}: RMSE ratio {expectation.better}/"
                f"{expectation.worse} {_ratio(row['meta_pooled'])} (95% CI "
                f"{_ratio(row['meta_ci_low'])}-{_ratio(row['meta_ci_high'])}"
            )
            if np.isfinite(row["meta_pi_low"]):
                pooled += (f"; on a new series {_ratio(row['meta_pi_low'])}-"
                           f"{_ratio(row['meta_pi_high'])}")  # fmt: skip
            if np.isfinite(row["meta_i2"]):
                pooled += f", I2 {row['meta_i2']:.0%}"
            pooled += ")"
        else:
            pooled = f"nothing to pool{left_out}"
        lines.append(f"- {expectation.key} {expectation.claim}: {stats.answer(expectation, row['verdict'])}. "
                     f"Pooled {pooled}. Per series: {counted}.{_by_group(result, expectation)}")  # fmt: skip
    ranking = result.ranking
    if ranking.ranks is not None:
        best = ranking.table.index[0]
        lines.append(
            f"- Best mean rank: {best} ({ranking.table['mean_rank'].iloc[0]:.2f} of "
            f"{len(ranking.table)}; Friedman {stats.p_text(ranking.ranks.friedman_p, 2, ' = ')}, Nemenyi "
            f"critical difference {ranking.ranks.critical_difference:.2f}); it beats "
            f"persistence on {ranking.table['beats_persistence'].iloc[0]:.0%} of the series."
        )
    return lines


def _by_group(result: Generalisation, expectation) -> str:
    """The pooled ratio in each length third and domain, with each group's verdict where it
    differs from the collection's: when the expectation holds, and when it does not."""
    rows = result.across[(result.across["expectation"] == expectation.key)]
    overall = rows[rows["group"] == "all"]["verdict"].iloc[0]
    parts = []
    for kind, title in (("length", "By training length"), ("domain", "by domain"),
                        ("frequency", "by frequency")):  # fmt: skip
        mine = rows[(rows["group"] == kind) & np.isfinite(rows["meta_pooled"])]
        if len(mine):
            shown = ", ".join(
                f"{label.split(' (')[0]} {_ratio(pooled)}"
                + (f" ({verdict})" if verdict != overall else "")
                for label, pooled, verdict in zip(mine["label"], mine["meta_pooled"],
                                                  mine["verdict"], strict=True)
            )  # fmt: skip
            parts.append(f"{title}: {shown}")
    return f" {'; '.join(parts)}." if parts else ""
