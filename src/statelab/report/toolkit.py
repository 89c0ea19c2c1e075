"""The HTML toolkit every report page is built with: escaping, numbers and p-values as shown,
tables, verdict badges, the per-series split as a stacked bar, embedded PNGs, folded sections,
the page and its style, and the readers that turn a damaged folder into a one-line error.

A page reads only its folder's files, which may have been edited or damaged: every value is
checked where it is used as a number and escaped where it is shown. The page is one
self-contained file: figures embedded, no scripts, no network resources.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

import pandas as pd

from statelab import layout, records
from statelab.errors import StatelabError
from statelab.files import shown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Below this a p-value has underflowed (to 0, or to a subnormal) in floating point, so its
# digits mean nothing: it shows as "< 1e-300".

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1.2em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin: 0 0 .3em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .85em; max-width: 100%; }
th, td { border: 1px solid #ddd; padding: .25em .45em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.text, th.text { text-align: left; }
th, td.text { overflow-wrap: anywhere; }
td { font-variant-numeric: tabular-nums; }
.nowrap { white-space: nowrap; }
small, .note { color: #555; }
.note { font-size: .85em; }
img { max-width: 100%; height: auto; box-sizing: border-box; border: 1px solid #eee;
      margin: .5em 0; }
details { border-top: 1px solid #ccc; margin: .4em 0; }
details > summary { cursor: pointer; padding: .5em 0; }
details > summary > h2 { display: inline; border: 0; font-size: 1.15em; }
.badge { display: inline-block; padding: .05em .55em; border-radius: .8em; font-size: .9em;
         font-weight: 600; color: #fff; background: #667085; overflow-wrap: normal; }
.supported { background: #1a7f37; } .contradicted { background: #b42318; }
.identical { background: #175cd3; } .equivalent { background: #7a5af8; }
.none { background: #667085; } .untested { background: #d0d5dd; color: #222; }
.bar { display: flex; width: 11em; max-width: 100%; height: 1.25em; border-radius: 3px;
       overflow: hidden; background: #eee; }
.bar > span { font-size: .8em; line-height: 1.55em; text-align: center;
              overflow: hidden; color: #fff; }
.bar > span.untested { color: #222; }
.legend { font-size: .85em; color: #555; }
.legend .swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px;
                  margin: 0 .25em 0 .5em; vertical-align: -.05em; }
@media (max-width: 600px) {
  body { padding: 0 .5em; margin-top: .6em; }
  h1 { font-size: 1.25em; }
  table { font-size: .75em; }
  th, td { padding: .2em .25em; }
  .bar { width: 5.5em; }
  table.cards { display: block; }
  table.cards tbody { display: grid; grid-template-columns: repeat(var(--n), auto); }
  table.cards tr { display: contents; }
  table.cards td, table.cards th { border: 0; }
  table.cards th { overflow-wrap: normal; }
  table.cards :is(td, th):first-child { grid-column: 1 / -1; border-top: 1px solid #ddd; }
  table.cards th:first-child { display: none; }
}
"""

# --- Damage: one line naming the file and the command that writes it again ------------------


def damaged(folder: Path, name: str, problem: str, command: str) -> StatelabError:
    """The one-line error for a damaged file of the folder, with the fix (``command``: the
    command that writes the folder)."""
    problem = " ".join(shown(problem).split())[:200]
    return StatelabError(
        f"{shown(folder / name)} is damaged or was edited ({problem}): "
        f"run `statelab {command} --out {shown(folder)}` again"
    )


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


def read_table(folder: Path, table: layout.Table, command: str) -> pd.DataFrame:
    """A table of the folder read through its declared schema (statelab.layout, the one the
    writer checked), with at least one row; indexed as it was written."""
    frame = read_csv(folder, table.name, command) if table.index is not None else None
    if frame is not None:
        frame.index.name = table.index  # the first column is the index, whatever its header
    else:
        try:
            frame = pd.read_csv(folder / table.name)
        except (ValueError, UnicodeDecodeError, OSError) as error:
            raise damaged(folder, table.name, str(error).strip().split("\n")[0], command) from None
    try:
        checked = layout.check(table, frame)
    except layout.SchemaMismatch as error:
        raise damaged(folder, table.name, str(error), command) from None
    if checked.empty:
        raise damaged(folder, table.name, "holds no rows", command)
    return checked.set_index(table.index) if table.index is not None else checked


def read_record(folder: Path, name: str, model: type, command: str) -> dict:
    """A JSON file of the folder read through the model its writer checked
    (statelab.records), every field kept."""
    try:
        data = json.loads(read_bytes(folder, name, command).decode("utf-8"))
    except UnicodeDecodeError:
        raise damaged(folder, name, "not UTF-8 text", command) from None
    except (ValueError, RecursionError) as error:
        raise damaged(folder, name, f"not JSON: {error}", command) from None
    try:
        return records.check(model, data)
    except records.RecordMismatch as error:
        raise damaged(folder, name, str(error), command) from None


# --- Values as shown --------------------------------------------------------------------------


def is_number(value: object) -> bool:
    """A finite number (a CSV cell edited to text, or NaN for a test not run, is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def text(value: object) -> str:
    """Any value drawn from a file, as escaped HTML text; a blank CSV cell shows as nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return escape(str(value))


def number(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"


def p_value(p: object) -> str:
    """A p-value as every page shows it: three significant digits, and one that underflowed
    as "< 1e-300", never 0; NaN (a test not run) as a dash, and text (an edited cell)
    escaped."""
    from statelab.stats import p_shown

    if not is_number(p):
        return text(p) or "&ndash;"
    return escape(p_shown(p, 3))


def p_phrase(p: object) -> str:
    """A p-value in a sentence: "p = 0.0123", or "p < 1e-300"."""
    shown_p = p_value(p)
    return f"p {shown_p}" if shown_p.startswith("&lt;") else f"p = {shown_p}"


def span_of(low: object, high: object, digits: int = 3, scale=None) -> str:
    """An interval that never wraps, "low to high" (``scale``, e.g. math.exp, maps both
    ends first); nothing unless both ends are numbers."""
    if not (is_number(low) and is_number(high)):
        return ""
    ends = (scale(low), scale(high)) if scale else (low, high)
    return f'<span class="nowrap">{number(ends[0], digits)} to {number(ends[1], digits)}</span>'


# --- Tables -----------------------------------------------------------------------------------


def shown_value(value: object, digits: int = 3) -> str:
    """A value drawn from a file as shown in a page: NaN (a test not run) or None as a dash, a
    float to ``digits`` decimals, an integer whole, anything else as escaped text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, float):
        return number(value, digits)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    return text(value)


def cell(value: object, digits: int = 3) -> str:
    """A table cell: numbers (and the dash of a missing one) right-aligned, text left."""
    numeric = (
        value is None
        or isinstance(value, float)
        or (isinstance(value, numbers.Integral) and not isinstance(value, bool))
    )
    return f"<td>{shown_value(value, digits)}</td>" if numeric else text_cell(text(value))


def text_cell(html: str) -> str:
    """A left-aligned cell of already escaped HTML, whose long words wrap to fit the page."""
    return f'<td class="text">{html}</td>'


def p_cell(p: object) -> str:
    return f"<td>{p_value(p)}</td>" if is_number(p) else cell(p)


def html_table(
    head: Sequence[str], rows: Iterable[Sequence[str]], text_columns=(0,), cards: bool = False
) -> str:
    """A table of already escaped header labels and already rendered ``<td>`` cells; the
    headers of ``text_columns`` sit over text (left-aligned), the rest over numbers. On a
    narrow screen a table of ``cards`` shows each row as its first cell across the width and
    the others beneath it, side by side."""
    heads = [f'<th class="text">{label}</th>' if i in text_columns else f"<th>{label}</th>"
             for i, label in enumerate(head)]  # fmt: skip
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    opening = f'<table class="cards" style="--n:{len(heads) - 1}">' if cards else "<table>"
    return f"{opening}<tr>{''.join(heads)}</tr>{body}</table>"


def table(frame: pd.DataFrame, digits: int = 3, index: bool = True, p_columns=()) -> str:
    """A DataFrame as an HTML table, every label and cell escaped; the columns named in
    ``p_columns`` are p-values (see :func:`p_value`)."""
    head = [text(frame.index.name)] if index else []
    head += [text(c) for c in frame.columns]
    offset = 1 if index else 0
    text_columns = {0} if index else set()
    text_columns |= {i + offset for i, c in enumerate(frame.columns)
                     if not pd.api.types.is_numeric_dtype(frame[c])}  # fmt: skip
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [text_cell(text(label))] if index else []
        cells += [p_cell(value) if column in p_columns else cell(value, digits)
                  for column, value in zip(frame.columns, values, strict=True)]  # fmt: skip
        rows.append(cells)
    return html_table(head, rows, text_columns)


def settings_tables(
    settings: dict[str, dict[str, object]], more: dict[str, dict[str, object]] | None = None
) -> list[str]:
    """The experiments' settings as two narrow tables (one column per experiment would run off
    the page): every setting of the first experiment, then each experiment with the settings
    where it differs from the first, and its ``more`` columns (such as a settings hash)."""
    as_text = {str(name): {str(k): "none" if v is None else str(v) for k, v in values.items()}
               for name, values in settings.items()}  # fmt: skip
    first_name, first = next(iter(as_text.items()))
    reference = pd.DataFrame({first_name: pd.Series(first, dtype=object)})
    reference.index.name = "setting"
    rows = {}
    for name, values in as_text.items():
        keys = [*first, *(k for k in values if k not in first)]
        changed = [f"{k} {values.get(k, '')}" for k in keys if values.get(k) != first.get(k)]
        rows[name] = {f"differs from {first_name} in": ", ".join(changed),
                      **{str(k): v for k, v in (more or {}).get(name, {}).items()}}  # fmt: skip
    columns = list(dict.fromkeys(column for row in rows.values() for column in row))
    # Column by column, as objects: a count missing on one row stays a count on the others.
    differences = pd.DataFrame(
        {c: pd.Series([row.get(c) for row in rows.values()], dtype=object) for c in columns}
    ).set_axis(list(rows), axis="index")
    differences.index.name = "experiment"
    return [table(reference), table(differences)]


# --- Verdicts ---------------------------------------------------------------------------------

VERDICT_CLASSES = {"supported": "supported", "contradicted": "contradicted",
                   "identical": "identical", "practically equivalent": "equivalent",
                   "untested": "untested"}  # fmt: skip


def verdict_class(verdict: object) -> str:
    return VERDICT_CLASSES.get(verdict, "none") if isinstance(verdict, str) else "none"


def badge(verdict: object) -> str:
    return f'<span class="badge {verdict_class(verdict)}">{text(verdict)}</span>'


def split_bar(counts: Sequence[tuple[str, object]]) -> str:
    """The split of per-series verdicts, (verdict, count) in order, as a stacked bar of plain
    HTML (no script, no image): each verdict's share of the width, its count written in it
    where the share is wide enough, and every count in the bar's title."""
    known = [(verdict, int(n)) for verdict, n in counts if is_number(n) and n > 0]
    total = sum(n for _, n in known)
    if not total:
        return ""
    label = escape(", ".join(f"{n:,} {verdict}" for verdict, n in known))
    segments = "".join(
        f'<span class="{verdict_class(verdict)}" style="width:{100 * n / total:.3f}%">'
        f"{n if n / total >= 0.12 else ''}</span>"
        for verdict, n in known
    )
    return f'<div class="bar" role="img" title="{label}" aria-label="{label}">{segments}</div>'


def legend(verdicts: Iterable[str]) -> str:
    keys = "".join(
        f' <span class="nowrap"><span class="swatch {verdict_class(v)}"></span>{text(v)}</span>'
        for v in verdicts
    )
    return f'<p class="legend">Per-series verdicts:{keys}</p>'


# --- Figures, sections, the page --------------------------------------------------------------


def image(folder: Path, name: str, alt: str, command: str) -> str:
    """A PNG of the folder, embedded; anything else there is a damaged file."""
    data = read_bytes(folder, name, command)
    if not data.startswith(PNG_SIGNATURE):
        raise damaged(folder, name, "not a PNG image", command)
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'


def folded(title: str, parts: Sequence[str]) -> str:
    """A section folded away under its heading (``<details>``: no script needed)."""
    return f"<details><summary><h2>{title}</h2></summary>{''.join(parts)}</details>"


def summary(title: str, parts: Sequence[str]) -> str:
    """The page's opening section, which the first screen shows whole."""
    return f'<section id="summary"><h2>{title}</h2>{"".join(parts)}</section>'


def page(title: str, heading: str, parts: Sequence[str]) -> str:
    """The whole document (``title`` and ``heading`` already escaped)."""
    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
    )
    return "\n".join([head, f"<h1>{heading}</h1>", *parts, "</body></html>"])
