"""The whole study: the eleven presets, the study's four comparisons, their files.

Results -> describe tables and box plots; the data flows one way, and every file is
written atomically, so an interrupted reproduction never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from statelab import plots
from statelab.errors import StatelabError
from statelab.files import write_atomic, write_text
from statelab.results import Results
from statelab.runner import Experiment, ProgressCallback, run_experiments
from statelab.spec import PRESETS


class Comparison(NamedTuple):
    key: str
    title: str
    experiments: tuple[str, ...]


COMPARISONS = (
    Comparison("a_vs_a", "A vs A: two independent runs of stateful", ("stateful", "stateful2")),
    Comparison(
        "stateful_vs_stateless",
        "Stateful vs stateless (batch 1)",
        ("stateful", "stateless", "stateless_shuffle"),
    ),
    Comparison(
        "batch12",
        "Stateful vs stateless at batch size 12",
        ("stateful_batch12", "stateless_batch12"),
    ),
    Comparison(
        "resets",
        "When the state is reset and seeded",
        (
            "stateful",
            "stateful_reset_test",
            "stateful_noreset",
            "stateful_seed_train",
            "stateful_seed_train_resets",
            "stateful_seed_train_no_resets",
        ),
    ),
)


def label(name: str) -> str:
    """The study's label for an experiment (noseed_1..3, seed_1..3 in the resets comparison)."""
    return PRESETS[name].label if name in PRESETS else name


def describe(columns: dict[str, Sequence[float]]) -> pd.DataFrame:
    """pandas describe() of RMSE columns side by side, as the study's script prints it."""
    return pd.DataFrame(
        {name: pd.Series(values, dtype=float) for name, values in columns.items()}
    ).describe()


class Reproduction(NamedTuple):
    results: dict[str, Results]
    tables: dict[str, pd.DataFrame]  # comparison key -> describe table (labels as columns)
    files: list[Path]


def run_study(
    series: pd.Series,
    *,
    repeats: int = 10,
    seed: int = 1,
    progress: ProgressCallback | None = None,
    **settings: object,
) -> dict[str, Results]:
    """All eleven presets (``settings`` override every one), sharing compilations."""
    experiments = [Experiment(p.name, p.spec.replace(**settings)) for p in PRESETS.values()]
    return run_experiments(
        experiments, series, repeats=repeats, seed=seed, progress=progress, chunks=10
    )


def write_outputs(results: dict[str, Results], series: pd.Series, out: Path) -> Reproduction:
    """Results files, tables, box plots, the series plot and the forecast plot, under ``out``."""
    if out.exists() and not out.is_dir():
        raise StatelabError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, result in results.items():
        files.append(
            write_atomic(
                out / f"experiment_{name}.csv",
                lambda path, r=result: r.study_csv().to_csv(path, index=False),
            )
        )
    tables = {}
    for comparison in COMPARISONS:
        table = describe({label(n): results[n].rmse for n in comparison.experiments})
        tables[comparison.key] = table
        files.append(
            write_atomic(out / f"table_{comparison.key}.csv", lambda path, t=table: t.to_csv(path))
        )
        files.append(write_text(out / f"table_{comparison.key}.txt", table.to_string() + "\n"))
        columns = {label(n): results[n].rmse for n in comparison.experiments}
        files.append(
            plots.save(
                plots.box_plot(
                    columns, comparison.title, results[comparison.experiments[0]].persistence_rmse
                ),
                out / f"box_{comparison.key}.png",
            )
        )
    files.append(plots.save(plots.series_plot(series), out / "series.png"))
    files.append(plots.save(plots.forecast_plot(results), out / "forecasts.png"))
    return Reproduction(results, tables, files)


def read_results_file(path: Path) -> pd.Series:
    """A results file in the study's format: a ``results`` column of RMSEs."""
    if not path.is_file():
        raise StatelabError(f"results file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise StatelabError(
            f"cannot read {path} as a results CSV: {str(error).splitlines()[0]}"
        ) from None
    if "results" not in frame.columns:
        raise StatelabError(
            f"{path} has no 'results' column (the study's format: header 'results')"
        )
    values = pd.to_numeric(frame["results"], errors="coerce")
    if values.isna().any() or len(values) == 0:
        raise StatelabError(f"{path}: the 'results' column must hold numbers, one RMSE per row")
    return values


def results_name(path: Path) -> str:
    stem = path.stem
    return stem.removeprefix("experiment_") or stem
