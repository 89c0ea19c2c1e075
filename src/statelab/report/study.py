"""The page of a reproduced study (a folder `statelab reproduce` wrote): the six expectations
at a glance, then the evidence folded away (the tests behind each verdict, the data set, the
four comparisons, how many repeats, settings, versions).

It reads only the folder's files (results -> statistics -> files), so it can be rebuilt at
any time from the folder alone, with the toolkit's checks and escaping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from statelab import layout, records
from statelab.report.toolkit import (
    badge,
    cell,
    folded,
    html_table,
    image,
    number,
    p_cell,
    page,
    read_csv,
    read_record,
    read_table,
    settings_tables,
    shown_value,
    span_of,
    summary,
    table,
    text,
    text_cell,
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
# The tables behind the verdicts, one row per expectation: (title, [(label, column)]); a
# column in P_VALUES is shown as a p-value, a pair of columns as an interval.
TESTS = (
    ("Mean RMSE (lower is better), and the difference a &minus; b with its 95% CI",
     [("mean a", "mean_a"), ("mean b", "mean_b"), ("a &minus; b", "mean_difference"),
      ("95% CI", ("ci_low", "ci_high"))]),
    ("p-values", [("Welch", "welch_p"), ("Mann-Whitney", "mann_whitney_p"),
                  ("Wilcoxon", "wilcoxon_p"), ("Holm", "holm_p")]),
    ("Effect sizes and equivalence", [("Cohen's d", "cohens_d"), ("Cliff's delta", "cliffs_delta"),
                                      ("log ratio", "log_ratio"), ("margin", "margin_rmse"),
                                      ("Holm equivalence p", "holm_equivalence_p")]),
)  # fmt: skip
P_VALUES = {"welch_p", "mann_whitney_p", "wilcoxon_p", "holm_p", "holm_equivalence_p"}


def read_study(folder: Path) -> dict:
    """study.json, read through its model (statelab.records.StudyRecord)."""
    return read_record(folder, layout.STUDY_JSON, records.StudyRecord, COMMAND)


def read_verdicts(folder: Path) -> pd.DataFrame:
    return read_table(folder, layout.VERDICTS_TABLE, COMMAND)


def summary_section(verdicts: pd.DataFrame) -> str:
    """E1-E6 on one screen: the claim, the verdict, the difference with its interval, the
    corrected p."""
    rows = []
    for key, row in verdicts.iterrows():
        interval = span_of(row["ci_low"], row["ci_high"], 2)
        difference = f'<span class="nowrap">{shown_value(row["mean_difference"], 2)}</span>'
        rows.append([
            text_cell(f"<b>{text(key)}</b> {text(row['claim'])}<br>"
                      f"<small>a: {text(row['a'])}, b: {text(row['b'])}</small>"),
            text_cell(badge(row["verdict"])),
            f"<td>{difference} ({interval})</td>" if interval else f"<td>{difference}</td>",
            p_cell(row["holm_p"]),
        ])  # fmt: skip
    head = ["Expectation", "Verdict", "Mean RMSE a &minus; b (95% CI)", "Holm p"]
    return summary(
        "The six expectations",
        [
            html_table(head, rows, (0, 1), cards=True),
            '<p class="note">RMSE, lower is better: a difference below 0 favours a. Holm p: '
            "paired Wilcoxon, corrected across the six.</p>",
        ],
    )


def tests_cell(row: pd.Series, column: str | tuple[str, str]) -> str:
    if isinstance(column, tuple):
        return f"<td>{span_of(row[column[0]], row[column[1]])}</td>"
    return p_cell(row[column]) if column in P_VALUES else cell(row[column])


def tests_section(verdicts: pd.DataFrame) -> str:
    """Every number behind the verdicts, in three narrow tables of one row per expectation."""
    parts = [
        "<p>Tests: Welch's t, Mann-Whitney U, and the paired Wilcoxon signed-rank test (repeat "
        "k of every experiment starts from the same initial weights); Holm's correction across "
        "the six, on the Wilcoxon p-values; 95% BCa bootstrap intervals of the mean difference "
        "(a - b, RMSE, lower is better). A difference shown by the paired equivalence test "
        "(TOST, Holm-corrected) to lie within the margin (in RMSE: a share of the persistence "
        "RMSE) is practically equivalent: too small to matter.</p>"
    ]
    for title, columns in TESTS:
        shown = [(label, column) for label, column in columns
                 if column not in layout.VERDICTS_TABLE.optional or column in verdicts.columns]  # fmt: skip
        rows = [
            [text_cell(f"<b>{text(key)}</b> <small>a: {text(row['a'])}, b: {text(row['b'])}"
                       "</small>"), *(tests_cell(row, column) for _, column in shown)]
            for key, row in verdicts.iterrows()
        ]  # fmt: skip
        head = ["Expectation", *(label for label, _ in shown)]
        parts += [f"<h3>{title}</h3>", html_table(head, rows, cards=True)]
    return folded("The tests behind each verdict", parts)


def series_section(folder: Path, series: dict) -> str:
    index = series["index"]
    return folded(
        "The data set",
        [
            image(folder, layout.SERIES_PLOT, "the data set", COMMAND),
            f"<p>{text(series.get('name'))}: {len(series['values'])} values, "
            f"{text(index[0])} to {text(index[-1])}.</p>",
        ],
    )


def comparisons_section(folder: Path) -> str:
    parts = []
    for comparison in COMPARISONS:
        parts.append(f"<h3>{text(comparison.title)}</h3>")
        if os.path.isfile(folder / layout.table_csv(comparison.key)):
            parts.append(table(read_csv(folder, layout.table_csv(comparison.key), COMMAND), 2))
        if os.path.isfile(folder / layout.box_plot(comparison.key)):
            parts.append(image(folder, layout.box_plot(comparison.key), comparison.title, COMMAND))
    if os.path.isfile(folder / layout.FORECASTS_PLOT):
        parts.append("<h3>Forecasts for the test year</h3>")
        parts.append(image(folder, layout.FORECASTS_PLOT, "forecasts for the test year", COMMAND))
    return folded("Results of the four comparisons", parts)


def repeats_section(folder: Path, pool: dict) -> str:
    return folded(
        "How many repeats? (A vs A)",
        [
            f"<p>From a pool of {text(pool['repeats'])} repeats of "
            f"{text(pool.get('experiment'))}: the bootstrap standard error of the mean RMSE "
            "against the number of repeats, and the repeats needed per experiment to detect a "
            "difference with 80% power at alpha 0.05 (two-sample t-test).</p>",
            image(folder, layout.SE_CURVE_PLOT, "standard error against repeats", COMMAND),
            table(read_table(folder, layout.SE_CURVE_TABLE, COMMAND), index=False),
            table(read_table(folder, layout.POWER_TABLE, COMMAND), index=False),
        ],
    )


def settings_section(study: dict) -> str:
    experiments = study["experiments"]
    return folded(
        "Settings",
        settings_tables(
            {name: e["settings"] for name, e in experiments.items()},
            {name: {"settings hash": e.get("settings_hash"), "failed": e.get("failed")}
             for name, e in experiments.items()},
        ),
    )  # fmt: skip


def provenance_section(study: dict) -> str:
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
    return folded(
        "Versions and seeds",
        [
            table(provenance),
            "<p>Repeat k of every experiment draws its initial weights and shuffle order from "
            "(master seed, k); stateful2 draws from seed stream 1, every other experiment from "
            "stream 0.</p>",
        ],
    )


def build(folder: Path) -> str:
    """The page of a folder written by `statelab reproduce`."""
    study = read_study(folder)
    verdicts = read_verdicts(folder)
    series = study["series"]
    return page(
        "statelab: stateful and stateless LSTM study",
        "Stateful and stateless LSTM: the study, reproduced",
        [
            f"<p>{text(series.get('name'))}, {len(series['values'])} values; "
            f"{text(study['repeats'])} repeats per experiment, master seed "
            f"{text(study['seed'])}; persistence RMSE "
            f"{text(number(study['persistence_rmse']))}.</p>",
            summary_section(verdicts),
            tests_section(verdicts),
            series_section(folder, series),
            comparisons_section(folder),
            repeats_section(folder, study["pool"]),
            settings_section(study),
            provenance_section(study),
        ],
    )
