"""The output folder's layout: every file name `reproduce` writes and `report` reads, in one
place."""

from __future__ import annotations

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
