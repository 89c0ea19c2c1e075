"""Built-in data sets and CSV loading, validated at the boundary.

A series is a ``pandas.Series`` of float64 values with a sorted, unique index
(a monthly ``PeriodIndex`` for Shampoo Sales; whatever the CSV's first column
parses to otherwise).
"""

from __future__ import annotations

import functools
import hashlib
import json
import stat
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from statelab.errors import StatelabError
from statelab.files import lookup, shown

BUILTIN = ("shampoo",)


def data_hash(series: pd.Series) -> str:
    """A stable hash of a series' labels and values: the store keys results on it."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(x) for x in series.index]).encode())
    digest.update(series.to_numpy(dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def shampoo() -> pd.Series:
    """Shampoo Sales (Makridakis, Wheelwright and Hyndman, 1998): 36 months, 1901-01 .. 1903-12.

    The file ships inside the package in the study's own format (months "1-01" .. "3-12").
    It is read once a process (reading and parsing it took half of a one-repeat run's time
    outside training); every call gets its own copy.
    """
    return _shampoo().copy()


@functools.cache
def _shampoo() -> pd.Series:
    with resources.files("statelab").joinpath("datasets/shampoo.csv").open() as handle:
        frame = pd.read_csv(handle)
    index = pd.PeriodIndex([f"190{m}" for m in frame["Month"]], freq="M", name="month")
    return pd.Series(frame["Sales"].to_numpy(dtype=float), index=index, name="shampoo")


def load(source: str | Path | None = None, value_column: str | None = None) -> pd.Series:
    """Load a built-in series by name (default: Shampoo Sales) or a CSV file.

    A CSV has dates (or any sortable labels) in its first column and values in
    ``value_column``, by default the first numeric column after the dates.
    """
    if source is None or str(source) in BUILTIN:
        if value_column is not None:
            raise StatelabError(
                "--value-column applies only to --data FILE.csv, not a built-in set"
            )
        return shampoo()
    return validate(_read_csv(Path(source), value_column), Path(source).name)


def _read_csv(path: Path, value_column: str | None) -> pd.Series:
    found = lookup(path, f"cannot read the data file {shown(path)}")  # too long, a loop, ...
    if found is None:
        raise StatelabError(f"data file not found: {path} (give the path of a CSV file)")
    if not stat.S_ISREG(found.st_mode):
        raise StatelabError(f"data path is not a file: {path}")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise StatelabError(f"data file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StatelabError(f"cannot read {path} as CSV: {first_line}") from None
    if frame.shape[1] < 2:
        raise StatelabError(
            f"{path.name} needs two columns, dates then values; it has {frame.shape[1]}"
        )
    dates = frame.columns[0]
    if value_column is None:
        numeric = [c for c in frame.columns[1:] if pd.api.types.is_numeric_dtype(frame[c])]
        # A column of numbers with a stray word reads as text: take it, so the error names the word.
        numeric += [
            c for c in frame.columns[1:] if pd.to_numeric(frame[c], errors="coerce").notna().any()
        ]
        if not numeric:
            raise StatelabError(
                f"{path.name} has no numeric column after the dates; "
                "name one with --value-column and check its values are numbers"
            )
        value_column = numeric[0]
    elif value_column not in frame.columns[1:]:
        names = ", ".join(map(str, frame.columns[1:]))
        raise StatelabError(f"{path.name} has no column {value_column!r}; its columns: {names}")
    if pd.api.types.is_bool_dtype(frame[value_column]):
        raise StatelabError(f"{path.name}: column {value_column!r} holds True/False, not numbers")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = frame[value_column].notna() & values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # +1 header, +1 one-based
        raise StatelabError(
            f"{path.name} line {row}: non-numeric value {frame[value_column][bad].iloc[0]!r} "
            f"in column {value_column!r}"
        )
    index = pd.Index(frame[dates], name=str(dates))
    return pd.Series(values.to_numpy(dtype=float), index=index, name=str(value_column))


def validate(series: pd.Series, name: str) -> pd.Series:
    values = series.to_numpy()
    if len(values) == 0:
        raise StatelabError(f"{name} has no data rows")
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        raise StatelabError(
            f"{name} line {missing[0] + 2}: missing value in column {series.name!r} "
            "(fill or drop it before running)"
        )
    infinite = np.flatnonzero(~np.isfinite(values))
    if infinite.size:
        raise StatelabError(f"{name} line {infinite[0] + 2}: infinite value in {series.name!r}")
    if series.index.hasnans:
        raise StatelabError(f"{name}: a row has no date in column {series.index.name!r}")
    duplicated = series.index.duplicated()
    if duplicated.any():
        raise StatelabError(
            f"{name}: duplicate date {series.index[duplicated][0]!r} (each date must appear once)"
        )
    _check_dates(series.index, name)
    return series


def parse_dates(labels: pd.Index) -> pd.DatetimeIndex | None:
    """The labels as dates in one format for the whole column (inferred, then day-first), or
    None when no single format reads them all. Label by label parsing would read 12/01 as
    December and 13/01 as January in the same day-first file."""
    import warnings

    for dayfirst in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return pd.to_datetime(labels, dayfirst=dayfirst)
        except (ValueError, TypeError, OverflowError):
            continue
    return None


# Dates whose spacing pandas names (its offset aliases, before any anchor such as "-DEC") ->
# the seasonal period.
_PERIODS = {"M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4, "Y": 1, "YS": 1, "YE": 1,
            "A": 1, "AS": 1, "BA": 1, "BM": 12, "BMS": 12, "BQ": 4, "BQS": 4}  # fmt: skip


def period_of_dates(index: pd.Index) -> int | None:
    """The seasonal period a series' dates imply (monthly 12, quarterly 4, yearly 1), or None
    where they are not dates, or not evenly spaced by one of those steps (pandas'
    ``infer_freq``)."""
    dates = parse_dates(pd.Index(index).astype(str))
    if dates is None or len(dates) < 3:
        return None
    import warnings

    try:
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
            warnings.simplefilter("ignore")
            alias = pd.infer_freq(dates)
    except (TypeError, ValueError):
        return None
    alias = getattr(alias, "freqstr", alias)  # a string, or an offset in a later pandas
    return None if alias is None else _PERIODS.get(alias.split("-")[0])


def _check_dates(index: pd.Index, name: str) -> None:
    """Where every label reads as a date, the dates must be distinct and in order."""
    if isinstance(index, pd.PeriodIndex | pd.DatetimeIndex) or index.dtype.kind in "iuf":
        dates = index
    else:
        dates = parse_dates(index.astype(str))
        if dates is None:
            return  # labels, not dates: the file's order is the series' order
    if dates.has_duplicates:
        raise StatelabError(f"{name}: two rows have the same date {dates[dates.duplicated()][0]}")
    backwards = np.flatnonzero(
        np.diff(np.asarray(dates.asi8 if hasattr(dates, "asi8") else dates)) <= 0
    )
    if backwards.size:
        row = int(backwards[0]) + 3  # header, one-based, and the later of the two rows
        raise StatelabError(f"{name} line {row}: dates are not in increasing order (sort the file)")
