"""`statelab compare`: the study's comparison script for any results files.

A results file holds a ``results`` column, one RMSE per row, and an empty cell (an empty
line in the one-column file) for a repeat that diverged. Every row is kept: failures are
counted, never skipped, so that row k of every file stays repeat k when pairing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import files, layout, stats
from statelab.errors import StatelabError
from statelab.files import shown
from statelab.outputs import plots
from statelab.studies.study import describe

FORMAT = "the study's format: a header 'results', then one RMSE per line"
LARGEST = 1e50  # beyond this, variances squared (Welch's degrees of freedom) overflow float64
SHOWN = ["a", "b", "n_a", "n_b", "mean_difference", "ci_low", "ci_high", "welch_p",
         "mann_whitney_p", "wilcoxon_p", "holm_p", "cohens_d", "cliffs_delta", "verdict"]  # fmt: skip


class Compared(NamedTuple):
    table: pd.DataFrame  # describe table with a ``failed`` row, one column per file
    pairs: pd.DataFrame | None  # every pair tested (None for one file)
    dropped: dict[tuple[str, str], int]  # paired only: pairs left out because a side failed
    plot: Path


def results_name(path: Path) -> str:
    """The experiment a results file holds, as its column is labelled (control characters
    and undecodable bytes escaped: the name is printed and drawn)."""
    return shown(layout.experiment_name(path.name) or path.name)


def _read_csv(path: Path) -> pd.DataFrame:
    """The file as text cells, blank lines kept as rows of empty cells."""
    try:
        return pd.read_csv(path, skip_blank_lines=False, dtype=str)
    except pd.errors.EmptyDataError:
        raise StatelabError(f"{shown(path)} is empty ({FORMAT})") from None
    except pd.errors.ParserError as error:
        first = str(error).strip().splitlines()[0]
        raise StatelabError(f"cannot read {shown(path)} as a CSV: {first} ({FORMAT})") from None
    except UnicodeDecodeError:
        raise StatelabError(f"{shown(path)} is not UTF-8 text ({FORMAT})") from None
    except OSError as error:
        raise StatelabError(f"cannot read {shown(path)}: {error.strerror}") from None


def parse_results(cells: pd.Series, path: Path) -> np.ndarray:
    """The ``results`` column as floats, NaN for an empty cell (a repeat that diverged)."""
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero((np.isnan(values) & cells.notna().to_numpy()) | np.isinf(values))
    if len(bad):
        row = int(bad[0])
        raise StatelabError(
            f"{shown(path)} line {row + 2}: {shown(repr(cells.iloc[row]))[:40]} is not a finite "
            f"number ({FORMAT}; an empty line marks a repeat that diverged)"
        )
    large = np.flatnonzero(np.abs(values) > LARGEST)
    if len(large):
        row = int(large[0])
        raise StatelabError(
            f"{shown(path)} line {row + 2}: {values[row]:g} is too large to compare "
            f"(beyond ±{LARGEST:g}); rescale the values"
        )
    return values


def read_results_file(path: Path) -> np.ndarray:
    """A results file in the study's format: RMSEs, NaN for a repeat that diverged."""
    found = files.lookup(path, f"cannot read {shown(path)}")
    if found is None:
        raise StatelabError(f"results file not found: {shown(path)}")
    if stat.S_ISDIR(found.st_mode):
        raise StatelabError(f"{shown(path)} is a folder; give a results CSV")
    if not stat.S_ISREG(found.st_mode):
        raise StatelabError(f"{shown(path)} is not a regular file (a device, FIFO or socket)")
    frame = _read_csv(path)
    if not isinstance(frame.index, pd.RangeIndex):
        raise StatelabError(f"{shown(path)}: rows have more cells than the header ({FORMAT})")
    if "results" not in frame.columns:
        raise StatelabError(f"{shown(path)} has no 'results' column ({FORMAT})")
    values = parse_results(frame["results"], path)
    finished = int(np.isfinite(values).sum())
    if finished < 2:
        raise StatelabError(
            f"{shown(path)}: needs at least 2 RMSEs to compare, has {finished} "
            f"({len(values) - finished} failed)"
        )
    return values


def read_all(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """Each file's RMSEs under its experiment name; a file given twice, or two files of the
    same name, is an error."""
    columns: dict[str, np.ndarray] = {}
    seen: dict[str, Path] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise StatelabError(f"{shown(path)} is given twice; give each results file once")
        seen[real] = path
        name = results_name(path)
        if name in columns:
            raise StatelabError(f"two results files are named {name} ({shown(path)}); rename one")
        columns[name] = read_results_file(path)
    return columns


def check_pairs(columns: dict[str, np.ndarray]) -> None:
    """Paired comparison pairs row k with row k: every file needs the same number of rows."""
    rows = {name: len(values) for name, values in columns.items()}
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in rows.items())
        raise StatelabError(
            f"--paired needs the same number of rows in every file (rows: {listed}); "
            "drop --paired or compare files of one run"
        )


def dropped_pairs(columns: dict[str, np.ndarray]) -> dict[tuple[str, str], int]:
    """For each pair of files, the rows left out because one side (or both) failed."""
    names = list(columns)
    return {
        (a, b): int((np.isnan(columns[a]) | np.isnan(columns[b])).sum())
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }


def check_plot(plot: Path, inputs: Sequence[Path]) -> None:
    """The plot goes to a regular file in an existing folder, never over a results file."""
    real = files.resolve_target(plot)
    for path in inputs:
        if os.path.realpath(path) == str(real):
            raise StatelabError(
                f"--plot {shown(plot)} would overwrite the results file {shown(path)}; "
                "give another name"
            )


def compare(paths: Sequence[Path], plot: Path, paired: bool = False) -> Compared:
    """The describe table (with failures counted), every pair tested (Holm-corrected; paired
    Wilcoxon with ``paired``), and a box plot of the finished repeats written to ``plot``."""
    if not paths:
        raise StatelabError("give at least one results file")
    check_plot(plot, paths)
    columns = read_all(paths)
    if paired:
        check_pairs(columns)
    table = describe(columns)
    pairs = stats.pairwise_table(columns, paired=paired) if len(columns) >= 2 else None
    dropped = dropped_pairs(columns) if paired else {}
    finished = {name: values[np.isfinite(values)] for name, values in columns.items()}
    plots.save(plots.box_plot(finished, "Test RMSE"), plot)
    return Compared(table, pairs, dropped, plot)


def format_pairs(pairs: pd.DataFrame) -> str:
    """The pairwise table as the CLI prints it."""
    return pairs[SHOWN].to_string(index=False, float_format=lambda v: f"{v:.4g}")


def format_dropped(dropped: dict[tuple[str, str], int]) -> list[str]:
    """One line per pair that lost rows to failures."""
    return [
        f"{a} vs {b}: {n} pair(s) dropped because one side failed"
        for (a, b), n in dropped.items()
        if n
    ]


def format_compared(compared: Compared) -> str:
    """What `statelab compare` prints: the describe table, the pairs, the pairs dropped."""
    parts = [compared.table.to_string()]
    if compared.pairs is not None:
        parts += ["", format_pairs(compared.pairs)]
    parts += format_dropped(compared.dropped)
    parts.append(f"wrote {shown(compared.plot)}")
    return "\n".join(parts)
