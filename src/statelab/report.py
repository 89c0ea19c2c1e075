"""One self-contained HTML report of a reproduced study: every figure embedded, no network.

It reads only what `statelab reproduce` wrote (results -> statistics -> files), so a
report can be rebuilt at any time from the folder alone.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import pandas as pd

from statelab.errors import StatelabError
from statelab.files import write_text
from statelab.study import COMPARISONS

NEEDED = ("study.json", "verdicts.csv", "se_curve.csv", "power.csv", "series.png", "se_curve.png")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
.supported { color: #1a7f37; font-weight: bold; } .contradicted { color: #b42318; font-weight: bold; }
.identical { color: #175cd3; font-weight: bold; } .none { color: #666; font-weight: bold; }
"""


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _table(frame: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """An escaped HTML table; numbers right-aligned, text left."""
    head = "".join(
        f'<th class="text">{escape(str(frame.index.name or ""))}</th>' if index else "",
    ) + "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for label, row in frame.iterrows():
        cells = [f'<td class="text">{escape(str(label))}</td>'] if index else []
        for value in row:
            if isinstance(value, float) and value != value:  # NaN: a test not run
                cells.append("<td>&ndash;</td>")
            elif isinstance(value, float):
                cells.append(
                    f"<td>{value:.{digits}g}</td>"
                    if abs(value) < 1e-3 and value
                    else f"<td>{value:.{digits}f}</td>"
                )
            else:
                cells.append(f'<td class="text">{escape(str(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _verdict_class(verdict: str) -> str:
    return verdict if verdict in ("supported", "contradicted", "identical") else "none"


def build(folder: Path) -> str:
    """The report's HTML for a folder written by `statelab reproduce`."""
    if not folder.is_dir():
        raise StatelabError(
            f"no such folder: {folder} (run `statelab reproduce --out {folder}` first)"
        )
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        raise StatelabError(
            f"{folder} lacks {', '.join(missing)}: run `statelab reproduce --out {folder}` first"
        )
    study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    verdicts = pd.read_csv(folder / "verdicts.csv", index_col=0)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>statelab: stateful and stateless LSTM study</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Stateful and stateless LSTM: the study, reproduced</h1>",
        f"<p>{study['repeats']} repeats per experiment, master seed {study['seed']}; "
        f"persistence RMSE {study['persistence_rmse']:.3f}.</p>",
        "<h2>Verdicts</h2>",
    ]
    for key, row in verdicts.iterrows():
        css = _verdict_class(row["verdict"])
        parts.append(
            f"<p><b>{escape(str(key))}</b> {escape(row['claim'])}: "
            f"<span class='{css}'>{escape(row['verdict'])}</span>. {escape(row['explanation'])}.</p>"
        )
    columns = ["a", "b", "mean_a", "mean_b", "mean_difference", "ci_low", "ci_high", "welch_p",
               "mann_whitney_p", "wilcoxon_p", "holm_p", "cohens_d", "cliffs_delta", "verdict"]  # fmt: skip
    parts.append(_table(verdicts[columns]))
    parts.append(
        "<p>Tests: Welch's t, Mann-Whitney U, and the paired Wilcoxon signed-rank test (repeat "
        "k of every experiment starts from the same initial weights); Holm's correction across "
        "the six, on the Wilcoxon p-values; 95% BCa bootstrap intervals of the mean difference "
        "(a - b, RMSE, lower is better).</p>"
    )
    parts.append("<h2>The data set</h2>")
    parts.append(_image(folder / "series.png", "the data set"))
    series = study["series"]
    parts.append(
        f"<p>{escape(series['name'])}: {len(series['values'])} values, "
        f"{escape(series['index'][0])} to {escape(series['index'][-1])}.</p>"
    )
    parts.append("<h2>Results of the four comparisons</h2>")
    for comparison in COMPARISONS:
        parts.append(f"<h3>{escape(comparison.title)}</h3>")
        table_path = folder / f"table_{comparison.key}.csv"
        if table_path.is_file():
            parts.append(_table(pd.read_csv(table_path, index_col=0)))
        box = folder / f"box_{comparison.key}.png"
        if box.is_file():
            parts.append(_image(box, comparison.title))
    if (folder / "forecasts.png").is_file():
        parts.append("<h3>Forecasts for the test year</h3>")
        parts.append(_image(folder / "forecasts.png", "forecasts for the test year"))
    pool = study["pool"]
    parts.append("<h2>How many repeats? (A vs A)</h2>")
    parts.append(
        f"<p>From a pool of {pool['repeats']} repeats of {escape(pool['experiment'])}: the "
        "bootstrap standard error of the mean RMSE against the number of repeats, and the "
        "repeats needed per experiment to detect a difference with 80% power at alpha 0.05 "
        "(two-sample t-test).</p>"
    )
    parts.append(_image(folder / "se_curve.png", "standard error against repeats"))
    parts.append(_table(pd.read_csv(folder / "se_curve.csv", index_col=0), index=False))
    parts.append(_table(pd.read_csv(folder / "power.csv", index_col=0), index=False))
    parts.append("<h2>Settings</h2>")
    settings = pd.DataFrame(
        {
            name: {**e["settings"], "settings hash": e["settings_hash"], "failed": e["failed"]}
            for name, e in study["experiments"].items()
        }  # fmt: skip
    ).T
    settings.index.name = "experiment"
    parts.append(_table(settings.astype(str)))
    parts.append("<h2>Versions and seeds</h2>")
    provenance = pd.DataFrame(
        {
            "value": {
                **study["versions"],
                "device": study["device"],
                "master seed": study["seed"],
                "repeats": study["repeats"],
                "version sets in the store": max(
                    len(e["versions"]) for e in study["experiments"].values()
                ),
            }
        }  # fmt: skip
    )
    provenance.index.name = "what"
    parts.append(_table(provenance.astype(str)))
    parts.append(
        "<p>Repeat k of every experiment draws its initial weights and shuffle order from "
        "(master seed, k); stateful2 draws from seed stream 1, every other experiment from "
        "stream 0.</p></body></html>"
    )
    return "\n".join(parts)


def write(folder: Path, target: Path | None = None) -> Path:
    target = target or folder / "report.html"
    try:
        html = build(folder)
    except StatelabError:
        raise
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise StatelabError(
            f"{folder} is damaged or incomplete ({type(error).__name__}: {error}): "
            f"run `statelab reproduce --out {folder}` again"
        ) from None
    return write_text(target, html)
