"""The HTML toolkit of the report pages: escaping, numbers, tables, embedded PNGs, the style,
and the readers that turn a damaged folder into a one-line error.

A page reads only its folder's files, which may have been edited or damaged: every value is
checked where it is used as a number and escaped where it is shown, and a damaged file ends
in a one-line error naming it and the command (``command``) that writes it again.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from statelab.errors import StatelabError
from statelab.files import shown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Below this a p-value has underflowed (to 0, or to a subnormal) in floating point, so its
# digits mean nothing: it shows as "< 1e-300".
P_FLOOR = 1e-300

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
    """A file of the folder is not what the command that wrote it writes (internal to the
    report)."""


def damaged(folder: Path, name: str, problem: str, command: str) -> StatelabError:
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


def p_value(p: object) -> str:
    """A p-value as every page shows it: three significant digits, and one that underflowed
    as "< 1e-300", never 0; NaN (a test not run) as a dash, and text (an edited cell)
    escaped."""
    if not is_number(p):
        return text(p) or "&ndash;"
    return "&lt; 1e-300" if p < P_FLOOR else f"{p:.3g}"


def p_phrase(p: object) -> str:
    """A p-value in a sentence: "p = 0.0123", or "p < 1e-300"."""
    shown_p = p_value(p)
    return f"p {shown_p}" if shown_p.startswith("&lt;") else f"p = {shown_p}"


def p_cell(p: object) -> str:
    return f"<td>{p_value(p)}</td>" if is_number(p) else cell(p)


def table(frame: pd.DataFrame, digits: int = 3, index: bool = True, p_columns=()) -> str:
    """An HTML table with every label and cell escaped; the columns named in ``p_columns``
    hold p-values (see :func:`p_value`)."""
    head = [f'<th class="text">{text(frame.index.name)}</th>'] if index else []
    head += [f"<th>{text(c)}</th>" for c in frame.columns]
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f'<td class="text">{text(label)}</td>'] if index else []
        cells += [p_cell(value) if column in p_columns else cell(value, digits)
                  for column, value in zip(frame.columns, values, strict=True)]  # fmt: skip
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{''.join(head)}</tr>{''.join(rows)}</table>"


def image(folder: Path, name: str, alt: str, command: str) -> str:
    """A PNG of the folder, embedded; anything else there is a damaged file."""
    data = read_bytes(folder, name, command)
    if not data.startswith(PNG_SIGNATURE):
        raise damaged(folder, name, "not a PNG image", command)
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'


def read_bytes(folder: Path, name: str, command: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except OSError as error:
        raise damaged(folder, name, f"cannot read: {error.strerror}", command) from None


def read_csv(folder: Path, name: str, command: str) -> pd.DataFrame:
    """A CSV of the folder with its first column as the index."""
    try:
        return pd.read_csv(folder / name, index_col=0)
    except (ValueError, UnicodeDecodeError, OSError) as error:  # pandas' errors are ValueErrors
        raise damaged(folder, name, str(error).strip().split("\n")[0], command) from None


def read_table(folder: Path, name: str, columns: list[str], command: str) -> pd.DataFrame:
    """A CSV of the folder that has every one of ``columns`` (its index's name among them,
    where listed) and at least one row."""
    frame = read_csv(folder, name, command)
    missing = [c for c in columns if c not in frame.columns and c != frame.index.name]
    if missing:
        raise damaged(folder, name, f"lacks column(s) {', '.join(missing)}", command)
    if frame.empty:
        raise damaged(folder, name, "holds no rows", command)
    return frame


def is_number(value: object) -> bool:
    """A finite number (a CSV cell edited to text, or NaN, is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def read_json(folder: Path, name: str, check, command: str) -> dict:
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


KINDS = {
    "an integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "a number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "an object": lambda v: isinstance(v, dict),
    "a list": lambda v: isinstance(v, list),
    "a string": lambda v: isinstance(v, str),
}


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


def verdict_class(verdict: object) -> str:
    if verdict == "practically equivalent":
        return "equivalent"
    return verdict if verdict in ("supported", "contradicted", "identical") else "none"
