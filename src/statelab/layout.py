"""The output folder's layout: every file's name, and each table's schema, declared once.

The writers (statelab.outputs) check every table against its schema before writing it, and
the report (statelab.report) reads it back through the same declaration, so a writer and its
reader cannot disagree. A schema lists the columns a reader relies on and their kinds; the
check coerces a copy (pandera) and never changes what is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

STORE = "statelab.sqlite"
STUDY_JSON = "study.json"
VERDICTS = "verdicts.csv"
SE_CURVE = "se_curve.csv"
SE_CURVE_PLOT = "se_curve.png"
POWER = "power.csv"
SERIES_PLOT = "series.png"
FORECASTS_PLOT = "forecasts.png"
REPORT = "report.html"
# The live set of a command's files: a link to the hidden folder that holds them, and each
# file's name above is a link through it (statelab.execution.fileset).
OUTPUTS = ".outputs"


def experiment_csv(name: str) -> str:
    """An experiment's results file, in the study's own format and name."""
    return f"experiment_{name}.csv"


def experiment_name(file_name: str) -> str:
    """The experiment a results file holds: its stem without the ``experiment_`` prefix."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    return stem.removeprefix("experiment_") or stem


def table_csv(key: str) -> str:
    return f"table_{key}.csv"


def table_txt(key: str) -> str:
    return f"table_{key}.txt"


def box_plot(key: str) -> str:
    return f"box_{key}.png"


# `statelab run` on several series: per-series results, and the series left out.
RUN_RESULTS = "results.csv"
SKIPPED = "skipped.csv"

# `statelab generalise`: per-series and across-series statistics, ranks, figures.
GENERALISE_JSON = "generalise.json"
PER_SERIES = "per_series.csv"
EXPERIMENTS = "experiments.csv"
ACROSS = "across.csv"
RANKS = "ranks.csv"
NEMENYI = "nemenyi.csv"
REFERENCE = "reference.csv"
LOG_RATIOS_PLOT = "log_ratios.png"
FOREST_PLOT = "forest.png"
CD_DIAGRAM = "cd_diagram.png"
RELATIVE_RMSE_PLOT = "relative_rmse.png"

# `statelab generalise --moderators`: which series does state help (the meta-regressions).
MODERATORS = "moderators.csv"
MODERATORS_JSON = "moderators.json"


def moderators_plot(expectation: str, frequency: int | None) -> str:
    """The partial-effect figure of one model (an expectation on the series of a frequency)."""
    at = "unknown_frequency" if frequency is None else f"f{frequency}"
    return f"moderators_{expectation}_{at}.png"


# `statelab generalise --vary`: each level's generalisation, and the effects across levels.
VARY_JSON = "vary.json"
VARY_PER_SERIES = "vary_per_series.csv"
VARY_ACROSS = "vary_across.csv"
VARY_LEVELS = "vary_levels.csv"
VARY_TRENDS = "vary_trends.csv"
VARY_RANKS = "vary_ranks.csv"
VARY_SKIPPED = "vary_skipped.csv"
VARY_VERDICTS_PLOT = "vary_verdicts.png"


# `statelab reproduce --vary`: the study on one series at each level, and across levels.
VARY_STUDY_JSON = "vary_study.json"
VARY_STUDY_VERDICTS = "vary_study_verdicts.csv"
VARY_STUDY_LEVELS = "vary_study_levels.csv"
VARY_STUDY_TRENDS = "vary_study_trends.csv"
VARY_STUDY_RANKS = "vary_study_ranks.csv"
VARY_STUDY_RMSE = "vary_study_rmse.csv"
VARY_STUDY_SKIPPED = "vary_study_skipped.csv"
VARY_STUDY_VERDICTS_PLOT = "vary_study_verdicts.png"


def vary_levels_plot(factor: str) -> str:
    """The figure of the pooled ratios at each level of ``factor`` (a grid: "epochs x lags")."""
    return f"vary_levels_{factor.replace(' x ', '_x_')}.png"


# --- The tables' schemas ---------------------------------------------------------------------


class Table(NamedTuple):
    """A CSV file: its name, its columns (name, kind) and, when its first column is the
    index, that column's name ("" for pandas' unnamed index). Kinds: "float" (NaN allowed),
    "int", "count" (a whole number, or empty), "bool" and "str" (empty allowed). Columns in
    ``optional`` came in after the first release that wrote the file: a reader does without
    them when an older folder lacks them, and checks them when present."""

    name: str
    columns: tuple[tuple[str, str], ...]
    index: str | None = None
    optional: frozenset[str] = frozenset()


def _columns(kind: str, names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, kind) for name in names.split())


# A paired test of A against B (statelab.stats.PairTest), as every table of tests holds it.
PAIR_TEST = (
    *_columns("int", "n_a n_b"),
    *_columns("float", "mean_a mean_b mean_difference ci_low ci_high welch_p mann_whitney_p "
                       "wilcoxon_p cohens_d cliffs_delta"),
    ("identical", "bool"), ("primary_p", "float"),
)  # fmt: skip
VERDICTS_TABLE = Table(VERDICTS, (
    *_columns("str", "claim a b"), *PAIR_TEST, ("holm_p", "float"),
    *_columns("float", "log_ratio log_ratio_se margin_rmse equivalence_p holm_equivalence_p"),
    *_columns("str", "verdict explanation"),
), index="expectation", optional=frozenset(
    ["n_a", "n_b", "identical", "primary_p", "log_ratio", "log_ratio_se", "margin_rmse", "equivalence_p", "holm_equivalence_p"]))  # fmt: skip
SE_CURVE_TABLE = Table(SE_CURVE, (
    ("repeats", "int"), *_columns("float", "bootstrap_se formula_se ci95_half_width"),
), index="")  # fmt: skip
POWER_TABLE = Table(POWER, (
    *_columns("float", "rmse_difference effect_size_d"), ("repeats_needed", "count"),
), index="")  # fmt: skip
REFERENCE_TABLE = VERDICTS_TABLE._replace(name=REFERENCE)  # the study's verdicts on Shampoo
PER_SERIES_TABLE = Table(PER_SERIES, (
    *_columns("str", "series domain"), ("train_length", "int"), ("expectation", "str"),
    *PAIR_TEST,
    *_columns("float", "log_ratio log_ratio_se margin_rmse equivalence_p bh_p bh_equivalence_p"),
    ("verdict", "str"),
))  # fmt: skip
EXPERIMENTS_TABLE = Table(EXPERIMENTS, (
    ("series", "str"), ("reference", "bool"), ("experiment", "str"),
    *_columns("float", "mean_rmse mean_relative_rmse mean_mase persistence_rmse"),
    *_columns("int", "finished failed"),
))  # fmt: skip
ACROSS_TABLE = Table(ACROSS, (
    *_columns("str", "expectation claim group label"), ("series", "int"),
    *_columns("int", "n_identical n_supported n_contradicted n_practically_equivalent "
                     "n_no_detectable_difference n_untested sign_lower sign_higher sign_zero"),
    ("sign_p", "float"), ("meta_k", "int"),
    *_columns("float", "meta_pooled meta_se meta_df meta_ci_low meta_ci_high meta_pi_low "
                       "meta_pi_high meta_tau2 meta_i2 meta_q meta_q_p"),
    ("meta_zero_se", "int"), ("pooled_ratio", "float"), ("verdict", "str"),
), optional=frozenset(["n_untested", "sign_zero", "meta_k", "meta_pooled", "meta_se", "meta_df", "meta_q", "meta_q_p", "meta_zero_se"]))  # fmt: skip
RANKS_TABLE = Table(RANKS, _columns("float", "mean_rank median_relative_rmse beats_persistence"),
                    index="experiment")  # fmt: skip
SKIPPED_TABLE = Table(SKIPPED, _columns("str", "series reason"))
RUN_RESULTS_TABLE = Table(RUN_RESULTS, (
    *_columns("str", "experiment series"), *_columns("int", "seed repeat"),
    *_columns("float", "rmse relative_rmse mase"), ("failure", "str"),
))  # fmt: skip
MODERATORS_TABLE = Table(MODERATORS, (
    ("expectation", "str"), ("frequency", "count"), ("term", "str"),
    *_columns("float", "estimate se t p ci_low ci_high holm_p"), ("k", "int"),
    *_columns("float", "tau2 r2"),
))  # fmt: skip
# The set-up study: each level's tables as `generalise` writes them, a row per level first.
LEVEL = _columns("str", "factor level")
VARY_PER_SERIES_TABLE = Table(VARY_PER_SERIES, (*LEVEL, *PER_SERIES_TABLE.columns))
VARY_ACROSS_TABLE = Table(VARY_ACROSS, (*LEVEL, *ACROSS_TABLE.columns))
VARY_LEVELS_TABLE = Table(VARY_LEVELS, (
    *LEVEL, *_columns("str", "value expectation"), ("series", "int"),
    *_columns("int", "n_identical n_supported n_contradicted n_practically_equivalent "
                     "n_no_detectable_difference meta_k"),
    *_columns("float", "pooled_ratio ratio_ci_low ratio_ci_high ratio_pi_low ratio_pi_high "
                       "meta_tau2"),
    ("verdict", "str"), ("verdict_changed", "bool"), ("best_experiment", "str"),
))  # fmt: skip
VARY_TRENDS_TABLE = Table(VARY_TRENDS, (
    *_columns("str", "factor term scale expectation"), ("series", "int"),
    *_columns("float", "slope slope_se df ci_low ci_high pi_low pi_high tau2 p holm_p"),
))  # fmt: skip
VARY_RANKS_TABLE = Table(VARY_RANKS, (
    *_columns("str", "factor level experiment"), *_columns("float", "mean_rank place"),
))  # fmt: skip
VARY_SKIPPED_TABLE = Table(VARY_SKIPPED, _columns("str", "level series reason"))
# The set-up study on one series: each level's verdicts as `reproduce` writes them, a row
# per level first, the effects across levels, the experiments' RMSEs.
VARY_STUDY_VERDICTS_TABLE = Table(VARY_STUDY_VERDICTS, (
    *LEVEL, ("expectation", "str"), *VERDICTS_TABLE.columns))  # fmt: skip
VARY_STUDY_LEVELS_TABLE = Table(VARY_STUDY_LEVELS, (
    *LEVEL, *_columns("str", "value expectation"),
    *_columns("float", "ratio log_ratio log_ratio_se holm_p"), ("verdict", "str"),
    ("verdict_changed", "bool"), ("best_experiment", "str"),
))  # fmt: skip
VARY_STUDY_TRENDS_TABLE = VARY_TRENDS_TABLE._replace(name=VARY_STUDY_TRENDS)
VARY_STUDY_RANKS_TABLE = Table(VARY_STUDY_RANKS, (
    *LEVEL, ("experiment", "str"),
    *_columns("float", "mean_rmse mean_relative_rmse mean_mase persistence_rmse"),
    *_columns("int", "finished failed"), ("place", "float"),
))  # fmt: skip
VARY_STUDY_RMSE_TABLE = Table(VARY_STUDY_RMSE, (
    *LEVEL, ("experiment", "str"), ("repeat", "int"), ("rmse", "float"), ("failure", "str"),
))  # fmt: skip
VARY_STUDY_SKIPPED_TABLE = VARY_SKIPPED_TABLE._replace(name=VARY_STUDY_SKIPPED)
EXPERIMENT_RESULTS = Table("experiment_NAME.csv", (("results", "float"),))  # the study's format


class SchemaMismatch(ValueError):
    """A table does not match its schema: a missing column, or a value of the wrong kind."""


_DTYPES = {"float": "float64", "int": "int64", "count": "Int64", "bool": "bool", "str": "str"}


def _schema(table: Table):
    import pandera.pandas as pa  # half a second to import: only when a table is checked

    # Booleans are not coerced: any text would coerce to True.
    columns = {name: pa.Column(_DTYPES[kind], nullable=kind in ("float", "count", "str"),
                               coerce=kind != "bool", required=name not in table.optional)
               for name, kind in table.columns}  # fmt: skip
    return pa.DataFrameSchema(columns, strict=False)


def check(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as its schema reads it: a copy with every declared column of its kind (and
    the table's index, if any, as its first column). Raises :class:`SchemaMismatch` in one
    line naming the first problem."""
    import pandera.errors as pe

    if table.index is not None and table.index not in frame.columns:
        frame = frame.reset_index()
        if table.index == "" and "index" in frame.columns:
            frame = frame.rename(columns={"index": ""})
    missing = [name for name, _ in table.columns
               if name not in frame.columns and name not in table.optional]  # fmt: skip
    if missing:
        raise SchemaMismatch(f"lacks column(s) {', '.join(missing)}")
    try:
        return _schema(table).validate(frame)
    except pe.SchemaErrors as errors:  # a value that does not convert to its column's kind
        first = errors.failure_cases.iloc[0]
        raise SchemaMismatch(
            f"column {first['column']!r} is not of its kind: {first['failure_case']!r}"
        ) from None
    except pe.SchemaError as error:  # a column of another kind (booleans are not coerced)
        name = getattr(error.schema, "name", None)
        problem = " ".join(str(error).split())[:120]
        raise SchemaMismatch(f"column {name!r} is not of its kind: {problem}") from None
