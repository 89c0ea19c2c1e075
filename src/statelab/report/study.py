"""One self-contained HTML report of a reproduced study: every figure embedded, no network.

It reads only what `statelab reproduce` wrote (results -> statistics -> files), so a
report can be rebuilt at any time from the folder alone. The folder may have been edited
or damaged: every value drawn from its files is checked where it is used as a number and
escaped where it is shown, and a damaged file ends in a one-line error naming it.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import os
import stat
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from statelab import files, layout
from statelab.errors import StatelabError
from statelab.files import shown
from statelab.studies.study import COMPARISONS

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
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORT_SUFFIXES = (".html", ".htm")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
.supported { color: #1a7f37; font-weight: bold; } .contradicted { color: #b42318; font-weight: bold; }
.identical { color: #175cd3; font-weight: bold; } .none { color: #666; font-weight: bold; }
.equivalent { color: #7a5af8; font-weight: bold; }
"""


class Damaged(Exception):
    """A file of the folder is not what `statelab reproduce` writes (internal to this module)."""


def damaged(folder: Path, name: str, problem: str, command: str = "reproduce") -> StatelabError:
    """The one-line error for a damaged file of the folder, with the fix (``command``: the
    command that writes the folder)."""
    problem = " ".join(shown(problem).split())[:200]
    return StatelabError(
        f"{shown(folder / name)} is damaged or was edited ({problem}): "
        f"run `statelab {command} --out {shown(folder)}` again"
    )


def text(value: object) -> str:
    """Any value drawn from a file, as escaped HTML text; a blank CSV cell shows as nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return escape(str(value))


def number(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"


def cell(value: object, digits: int = 3) -> str:
    """A table cell: numbers right-aligned, NaN (a test not run) or None as a dash, text left."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td>&ndash;</td>"
    if isinstance(value, float):
        return f"<td>{number(value, digits)}</td>"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return f"<td>{int(value)}</td>"
    return f'<td class="text">{text(value)}</td>'


def table(frame: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """An HTML table with every label and cell escaped."""
    head = [f'<th class="text">{text(frame.index.name)}</th>'] if index else []
    head += [f"<th>{text(c)}</th>" for c in frame.columns]
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f'<td class="text">{text(label)}</td>'] if index else []
        cells += [cell(value, digits) for value in values]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{''.join(head)}</tr>{''.join(rows)}</table>"


def image(folder: Path, name: str, alt: str, command: str = "reproduce") -> str:
    """A PNG of the folder, embedded; anything else there is a damaged file."""
    data = read_bytes(folder, name, command)
    if not data.startswith(PNG_SIGNATURE):
        raise damaged(folder, name, "not a PNG image", command)
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'


def read_bytes(folder: Path, name: str, command: str = "reproduce") -> bytes:
    try:
        return (folder / name).read_bytes()
    except OSError as error:
        raise damaged(folder, name, f"cannot read: {error.strerror}", command) from None


def read_csv(folder: Path, name: str, command: str = "reproduce") -> pd.DataFrame:
    """A CSV of the folder with its first column as the index."""
    try:
        return pd.read_csv(folder / name, index_col=0)
    except (ValueError, UnicodeDecodeError, OSError) as error:  # pandas' errors are ValueErrors
        raise damaged(folder, name, str(error).strip().split("\n")[0], command) from None


def read_json(folder: Path, name: str, check, command: str = "reproduce") -> dict:
    """A JSON file of the folder, which ``check`` (raising Damaged) finds usable."""
    try:
        data = json.loads(read_bytes(folder, name, command).decode("utf-8"))
    except UnicodeDecodeError:
        raise damaged(folder, name, "not UTF-8 text", command) from None
    except (ValueError, RecursionError) as error:
        raise damaged(folder, name, f"not JSON: {error}", command) from None
    try:
        check(data)
    except Damaged as error:
        raise damaged(folder, name, str(error), command) from None
    return data


def read_study(folder: Path) -> dict:
    """study.json, checked for every field the report uses."""
    return read_json(folder, layout.STUDY_JSON, check_study)


KINDS = {
    "an integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "a number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "an object": lambda v: isinstance(v, dict),
    "a list": lambda v: isinstance(v, list),
    "a string": lambda v: isinstance(v, str),
}
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


def field(data: object, keys: tuple[str, ...], kind: str) -> object:
    """data[a][b] for keys (a, b), which must be of ``kind`` (a key of KINDS)."""
    value = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise Damaged(f"'{'.'.join(keys)}' is missing")
        value = value[key]
    if not KINDS[kind](value):
        raise Damaged(f"'{'.'.join(keys)}' must be {kind}, not {type(value).__name__}")
    return value


def check_study(study: object) -> None:
    """Raise Damaged naming the first field of study.json the report cannot use."""
    for dotted, kind in STUDY_FIELDS.items():
        field(study, tuple(dotted.split(".")), kind)
    for name in study["experiments"]:
        for key, kind in EXPERIMENT_FIELDS.items():
            field(study, ("experiments", name, key), kind)


def read_verdicts(folder: Path) -> pd.DataFrame:
    verdicts = read_csv(folder, layout.VERDICTS)
    missing = [c for c in VERDICT_TEXT + VERDICT_COLUMNS if c not in verdicts.columns]
    if missing:
        raise damaged(folder, layout.VERDICTS, f"lacks column(s) {', '.join(missing)}")
    return verdicts


def verdict_class(verdict: object) -> str:
    if verdict == "practically equivalent":
        return "equivalent"
    return verdict if verdict in ("supported", "contradicted", "identical") else "none"


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
    parts.append(table(verdicts[VERDICT_COLUMNS[:-1] + optional + VERDICT_COLUMNS[-1:]]))
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
        image(folder, layout.SERIES_PLOT, "the data set"),
        f"<p>{text(series.get('name'))}: {len(series['values'])} values{span}.</p>",
    ]


def comparisons_section(folder: Path) -> list[str]:
    parts = ["<h2>Results of the four comparisons</h2>"]
    for comparison in COMPARISONS:
        parts.append(f"<h3>{text(comparison.title)}</h3>")
        if os.path.isfile(folder / layout.table_csv(comparison.key)):
            parts.append(table(read_csv(folder, layout.table_csv(comparison.key))))
        if os.path.isfile(folder / layout.box_plot(comparison.key)):
            parts.append(image(folder, layout.box_plot(comparison.key), comparison.title))
    if os.path.isfile(folder / layout.FORECASTS_PLOT):
        parts.append("<h3>Forecasts for the test year</h3>")
        parts.append(image(folder, layout.FORECASTS_PLOT, "forecasts for the test year"))
    return parts


def repeats_section(folder: Path, pool: dict) -> list[str]:
    return [
        "<h2>How many repeats? (A vs A)</h2>",
        f"<p>From a pool of {text(pool['repeats'])} repeats of {text(pool.get('experiment'))}: "
        "the bootstrap standard error of the mean RMSE against the number of repeats, and the "
        "repeats needed per experiment to detect a difference with 80% power at alpha 0.05 "
        "(two-sample t-test).</p>",
        image(folder, layout.SE_CURVE_PLOT, "standard error against repeats"),
        table(read_csv(folder, layout.SE_CURVE), index=False),
        table(read_csv(folder, layout.POWER), index=False),
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


def check_folder(folder: Path) -> str:
    """The command that wrote ``folder`` ("reproduce" or "generalise"), once it has every file
    the report needs."""
    from statelab.report import generalise as generalise_report

    found = files.lookup(folder, f"cannot read {shown(folder)}")
    if found is None:
        raise StatelabError(
            f"no such folder: {shown(folder)} (run `statelab reproduce --out {shown(folder)}` "
            "or `statelab generalise --out ...` first)"
        )
    if not stat.S_ISDIR(found.st_mode):
        raise StatelabError(
            f"{shown(folder)} is not a folder; give the one `reproduce` or `generalise` wrote"
        )
    generalised = not os.path.isfile(folder / layout.STUDY_JSON) and any(
        os.path.isfile(folder / name)
        for name in (layout.GENERALISE_JSON, layout.ACROSS, layout.PER_SERIES)
    )
    command, needed = (
        ("generalise", generalise_report.NEEDED) if generalised else ("reproduce", NEEDED)
    )
    missing = [name for name in needed if not os.path.isfile(folder / name)]
    if missing:
        raise StatelabError(
            f"{shown(folder)} lacks {', '.join(missing)}: "
            f"run `statelab {command} --out {shown(folder)}` first"
        )
    return command


def build(folder: Path) -> str:
    """The report's HTML for a folder written by `statelab reproduce` or `generalise`."""
    from statelab.report import generalise as generalise_report

    if check_folder(folder) == "generalise":
        return generalise_report.build(folder)
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


def check_out(folder: Path, target: Path) -> None:
    """The report goes to a regular file in an existing folder, never over the study's own
    files (only an .html name inside the study's folder, or inside its live set of files,
    where its names lead)."""
    real = files.resolve_target(target)
    own = {os.path.realpath(folder), os.path.realpath(folder / layout.OUTPUTS)}
    inside = str(real.parent) in own
    if inside and real.suffix.lower() not in REPORT_SUFFIXES:
        raise StatelabError(
            f"--out {shown(target)} would overwrite the study's own files in {shown(folder)}; "
            "give a name ending in .html"
        )


def write(folder: Path, target: Path | None = None) -> Path:
    """Build the report of ``folder`` and write it to ``target`` (default FOLDER/report.html)."""
    target = target or folder / layout.REPORT
    command = check_folder(folder)
    check_out(folder, target)
    try:
        html = build(folder)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            ArithmeticError) as error:  # fmt: skip
        if isinstance(error, StatelabError):
            raise
        # What the checks above do not foresee still ends in one line, never a traceback.
        raise damaged(folder, "", f"{type(error).__name__}: {error}", command) from None
    return files.write_text(target, html)
