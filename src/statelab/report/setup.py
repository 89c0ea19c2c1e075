"""The page of a variation of the set-up (a folder `statelab generalise --vary` wrote): does
the answer depend on the set-up? Per factor, each expectation's verdict and pooled ratio at
every level with the trend test beside it, the figures, then the evidence folded away (the
answer in words, every trend test, the best experiment at each level, skipped series,
settings).

It reads only the folder's files, with the toolkit's checks and escaping.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from statelab import layout, records
from statelab.report.toolkit import (
    badge,
    folded,
    html_table,
    image,
    p_cell,
    page,
    read_record,
    read_table,
    shown_value,
    span_of,
    summary,
    table,
    text,
    text_cell,
)
from statelab.stats import EXPECTATIONS

COMMAND = "generalise --vary FACTOR=LEVELS"
NEEDED = (layout.VARY_JSON, layout.VARY_LEVELS, layout.VARY_TRENDS, layout.VARY_VERDICTS_PLOT)
CLAIMS = {e.key: e.claim for e in EXPECTATIONS}


def factor_section(levels: pd.DataFrame, trends: pd.DataFrame, factor: str) -> str:
    """One factor: a row per expectation, its verdict and pooled ratio (95% CI) at each level,
    then the trend of its log ratio with the Holm-adjusted p."""
    mine = levels[levels["factor"] == factor]
    order = list(dict.fromkeys(mine["level"]))
    values = mine.drop_duplicates("level").set_index("level")["value"]
    rows = []
    for key in dict.fromkeys(mine["expectation"]):
        cells = [text_cell(f"<b>{text(key)}</b> {text(CLAIMS.get(key, ''))}")]
        by_level = mine[mine["expectation"] == key].set_index("level")
        for level in order:
            row = by_level.loc[level]
            interval = span_of(row["ratio_ci_low"], row["ratio_ci_high"])
            cells.append(text_cell(
                f"{badge(row['verdict'])}<br><small>{shown_value(row['pooled_ratio'])}"
                + (f" ({interval})" if interval else "") + "</small>"))  # fmt: skip
        tested = trends[(trends["factor"] == factor) & (trends["expectation"] == key)]
        cells.append(text_cell("<br>".join(
            f"{shown_value(t.slope)} <small>{text(t.term)}, {text(t.scale)}</small>"
            for t in tested.itertuples()) or ""))  # fmt: skip
        cells.append(p_cell(tested["holm_p"].min() if len(tested) else float("nan")))
        rows.append(cells)
    head = ["Expectation", *(text(values[level]) for level in order), "Trend", "Holm p"]
    return html_table(head, rows, tuple(range(len(order) + 1)), cards=True)


def in_words(levels: pd.DataFrame, factor: str) -> str:
    """Which expectations keep their verdict at every level of ``factor``, and where the
    others' change, in one line."""
    mine = levels[levels["factor"] == factor]
    kept, moved = [], []
    for key, part in mine.groupby("expectation", sort=True):
        if part["verdict"].nunique() == 1:
            kept.append(text(key))
        else:
            steps = ", ".join(f"{text(v)} at {text(value)}"
                              for v, value in zip(part["verdict"], part["value"], strict=True))  # fmt: skip
            moved.append(f"<b>{text(key)}</b> changes ({steps})")
    same = f"{', '.join(kept)} keep their verdict at every level" if kept else ""
    return f"<li><b>{text(factor)}</b>: " + "; ".join(p for p in [*moved, same] if p) + ".</li>"


def build(folder: Path) -> str:
    """The page of a folder written by `statelab generalise --vary`."""
    record = read_record(folder, layout.VARY_JSON, records.VaryRecord, COMMAND)
    levels = read_table(folder, layout.VARY_LEVELS_TABLE, COMMAND)
    trends = read_table(folder, layout.VARY_TRENDS_TABLE, COMMAND)
    factors = list(dict.fromkeys(levels["factor"]))
    opening = (
        f"<p>The study on {int(levels['series'].max())} series of {text(record['data'])} "
        f"({text(record['repeats'])} repeats of each experiment per series, master seed "
        f"{text(record['seed'])}), run as "
        "<code>statelab generalise</code> runs it at each level of "
        f"{text(', '.join(factors))}, the other settings at the study's set-up. Where an "
        "expectation's verdict stays the same across the levels, the answer does not depend "
        "on that setting; where it changes, it does. The trend is each series' slope of its "
        "log ratio on the level (log2 for epochs, neurons and learning rate: a change per "
        "doubling), pooled across series by random effects, Holm-adjusted across factors and "
        "expectations.</p>"
    )
    parts = [opening, "<ul>" + "".join(in_words(levels, f) for f in factors) + "</ul>"]
    tables = []
    for factor in factors:
        tables += [f"<h3>{text(factor)}</h3>", factor_section(levels, trends, factor)]
    figures = [image(folder, layout.VARY_VERDICTS_PLOT, "verdicts at each level", COMMAND)]
    figures += [
        image(folder, layout.vary_levels_plot(f), f"pooled ratio at each level of {f}", COMMAND)
        for f in factors
        if (folder / layout.vary_levels_plot(f)).is_file()
    ]
    best = levels.drop_duplicates("level").set_index("level")[["factor", "best_experiment"]]
    shown_trends = trends[["term", "expectation", "slope", "ci_low", "ci_high", "holm_p"]]
    return page(
        "statelab: does the answer depend on the set-up?",
        f"Does the answer depend on the set-up? {text(record['data'])}",
        [
            summary("Does the answer depend on the set-up?", parts),
            "<h2>The verdicts and pooled ratios at each level</h2>",
            *tables,
            *figures,
            folded(
                "The answer in words",
                [
                    "<ul>"
                    + "".join(
                        f"<li>{text(line.removeprefix('- '))}</li>" for line in record["answer"]
                    )
                    + "</ul>"
                ],
            ),  # fmt: skip
            folded("Every trend test", [table(shown_trends, index=False, p_columns=("holm_p",))]),
            folded("The best experiment at each level", [table(best)]),
            folded(
                "Settings",
                [
                    f"<p>Base set-up: {text(record['base_setup'] or 'the study’s')}; "
                    f"{'every combination of the levels' if record['grid'] else 'one factor at a time'}"
                    f"; equivalence margin {text(record['margin'])} x each series' persistence "
                    "RMSE.</p>",
                    "<ul>"
                    + "".join(f"<li>{text(note)}</li>" for note in record["notes"])
                    + "</ul>",
                ],
            ),  # fmt: skip
        ],
    )
