"""The page of a reproduced study (a folder `statelab reproduce` wrote), built with the toolkit.

It reads only what `statelab reproduce` wrote (results -> statistics -> files), so a
report can be rebuilt at any time from the folder alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from statelab import layout
from statelab.report.toolkit import (
    STYLE,
    Damaged,
    field,
    image,
    is_number,
    number,
    read_csv,
    read_json,
    read_table,
    table,
    text,
    verdict_class,
)
from statelab.studies.study import COMPARISONS

COMMAND = "reproduce"
NEEDED = (
    layout.STUDY_JSON,
    layout.VERDICTS,
    layout.SE_CURVE,
    layout.POWER,
    layout.SERIES_PLOT,
    layout.SE_CURVE_PLOT,
)
VERDICT_COLUMNS = ["a", "b", "mean_a", "mean_b", "mean_difference", "ci_low", "ci_high", "welch_p",
                   "mann_whitney_p", "wilcoxon_p", "holm_p", "cohens_d", "cliffs_delta", "verdict"]  # fmt: skip
# Written since the equivalence test came in; shown where present.
OPTIONAL_VERDICT_COLUMNS = ["log_ratio", "margin_rmse", "holm_equivalence_p"]
VERDICT_TEXT = ["claim", "explanation"]  # and "verdict", among the columns
P_VALUES = {"welch_p", "mann_whitney_p", "wilcoxon_p", "holm_p", "holm_equivalence_p"}
STUDY_FIELDS = {
    "seed": "an integer",
    "repeats": "an integer",
    "persistence_rmse": "a number",
    "pool": "an object",
    "pool.repeats": "an integer",
    "versions": "an object",
    "series": "an object",
    "series.index": "a list",
    "series.values": "a list",
    "experiments": "an object",
}
EXPERIMENT_FIELDS = {"settings": "an object", "versions": "a list"}


def check_study(study: object) -> None:
    """Raise Damaged naming the first field of study.json the report cannot use."""
    for dotted, kind in STUDY_FIELDS.items():
        field(study, tuple(dotted.split(".")), kind)
    for name in study["experiments"]:
        for key, kind in EXPERIMENT_FIELDS.items():
            field(study, ("experiments", name, key), kind)
    index, values = study["series"]["index"], study["series"]["values"]
    if not index:
        raise Damaged("'series.index' is empty")
    if len(values) != len(index):
        raise Damaged(f"'series.values' holds {len(values)} values for {len(index)} dates")
    if not all(is_number(v) for v in values):
        raise Damaged("'series.values' must hold finite numbers only")
    if not study["experiments"]:
        raise Damaged("'experiments' is empty")
    if not is_number(study["persistence_rmse"]):
        raise Damaged("'persistence_rmse' must be a finite number")


def read_study(folder: Path) -> dict:
    """study.json, checked for every field the report uses."""
    return read_json(folder, layout.STUDY_JSON, check_study, COMMAND)


def read_verdicts(folder: Path) -> pd.DataFrame:
    return read_table(folder, layout.VERDICTS, VERDICT_TEXT + VERDICT_COLUMNS, COMMAND)


def verdicts_section(verdicts: pd.DataFrame) -> list[str]:
    parts = ["<h2>Verdicts</h2>"]
    for key, claim, verdict, explanation in zip(
        verdicts.index, verdicts["claim"], verdicts["verdict"], verdicts["explanation"], strict=True
    ):
        parts.append(
            f"<p><b>{text(key)}</b> {text(claim)}: <span class='{verdict_class(verdict)}'>"
            f"{text(verdict)}</span>. {text(explanation)}.</p>"
        )
    optional = [c for c in OPTIONAL_VERDICT_COLUMNS if c in verdicts.columns]
    shown = verdicts[VERDICT_COLUMNS[:-1] + optional + VERDICT_COLUMNS[-1:]]
    parts.append(table(shown, p_columns=P_VALUES))
    parts.append(
        "<p>Tests: Welch's t, Mann-Whitney U, and the paired Wilcoxon signed-rank test (repeat "
        "k of every experiment starts from the same initial weights); Holm's correction across "
        "the six, on the Wilcoxon p-values; 95% BCa bootstrap intervals of the mean difference "
        "(a - b, RMSE, lower is better). A difference shown by the paired equivalence test "
        "(TOST, Holm-corrected) to lie within the margin (margin_rmse: a share of the "
        "persistence RMSE) is practically equivalent: too small to matter.</p>"
    )
    return parts


def series_section(folder: Path, series: dict) -> list[str]:
    index = series["index"]
    span = f", {text(index[0])} to {text(index[-1])}" if index else ""
    return [
        "<h2>The data set</h2>",
        image(folder, layout.SERIES_PLOT, "the data set", COMMAND),
        f"<p>{text(series.get('name'))}: {len(series['values'])} values{span}.</p>",
    ]


def comparisons_section(folder: Path) -> list[str]:
    parts = ["<h2>Results of the four comparisons</h2>"]
    for comparison in COMPARISONS:
        parts.append(f"<h3>{text(comparison.title)}</h3>")
        if os.path.isfile(folder / layout.table_csv(comparison.key)):
            parts.append(table(read_csv(folder, layout.table_csv(comparison.key), COMMAND)))
        if os.path.isfile(folder / layout.box_plot(comparison.key)):
            parts.append(image(folder, layout.box_plot(comparison.key), comparison.title, COMMAND))
    if os.path.isfile(folder / layout.FORECASTS_PLOT):
        parts.append("<h3>Forecasts for the test year</h3>")
        parts.append(image(folder, layout.FORECASTS_PLOT, "forecasts for the test year", COMMAND))
    return parts


def repeats_section(folder: Path, pool: dict) -> list[str]:
    return [
        "<h2>How many repeats? (A vs A)</h2>",
        f"<p>From a pool of {text(pool['repeats'])} repeats of {text(pool.get('experiment'))}: "
        "the bootstrap standard error of the mean RMSE against the number of repeats, and the "
        "repeats needed per experiment to detect a difference with 80% power at alpha 0.05 "
        "(two-sample t-test).</p>",
        image(folder, layout.SE_CURVE_PLOT, "standard error against repeats", COMMAND),
        table(read_csv(folder, layout.SE_CURVE, COMMAND), index=False),
        table(read_csv(folder, layout.POWER, COMMAND), index=False),
    ]


def settings_section(study: dict) -> list[str]:
    rows = {
        name: {**e["settings"], "settings hash": e.get("settings_hash"), "failed": e.get("failed")}
        for name, e in study["experiments"].items()
    }
    as_text = {
        name: {str(k): None if v is None else str(v) for k, v in row.items()}
        for name, row in rows.items()
    }
    settings = pd.DataFrame.from_dict(as_text, orient="index")
    settings.index.name = "experiment"
    return ["<h2>Settings</h2>", table(settings)]


def provenance_section(study: dict) -> list[str]:
    version_sets = max((len(e["versions"]) for e in study["experiments"].values()), default=0)
    values = {
        **study["versions"],
        "device": study.get("device"),
        "master seed": study["seed"],
        "repeats": study["repeats"],
        "version sets in the store": version_sets,
    }
    provenance = pd.DataFrame({"value": {str(k): str(v) for k, v in values.items()}})
    provenance.index.name = "what"
    return [
        "<h2>Versions and seeds</h2>",
        table(provenance),
        "<p>Repeat k of every experiment draws its initial weights and shuffle order from "
        "(master seed, k); stateful2 draws from seed stream 1, every other experiment from "
        "stream 0.</p>",
    ]


def build(folder: Path) -> str:
    """The page of a folder written by `statelab reproduce`."""
    study = read_study(folder)
    verdicts = read_verdicts(folder)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>statelab: stateful and stateless LSTM study</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Stateful and stateless LSTM: the study, reproduced</h1>",
        f"<p>{text(study['repeats'])} repeats per experiment, master seed {text(study['seed'])}; "
        f"persistence RMSE {text(number(study['persistence_rmse']))}.</p>",
        *verdicts_section(verdicts),
        *series_section(folder, study["series"]),
        *comparisons_section(folder),
        *repeats_section(folder, study["pool"]),
        *settings_section(study),
        *provenance_section(study),
        "</body></html>",
    ]
    return "\n".join(parts)
