"""A reproduced study -> its files: results CSVs, describe tables, box plots, verdicts,
the standard-error curve, the power table, the series and forecast plots, study.json.

Everything is computed first and written after, each file atomically, so a failure
leaves the folder as it was and an interruption never leaves half a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import plots, stats
from statelab.errors import StatelabError
from statelab.files import write_atomic, write_text
from statelab.results import Results, describe_with_failures
from statelab.spec import PRESETS
from statelab.study import COMPARISONS, POOL_EXPERIMENT, POWER_DIFFERENCES, Comparison, Study


def label(name: str, comparison: Comparison) -> str:
    """An experiment's column label: the study's noseed_1..3 and seed_1..3 in the resets
    comparison, its own name elsewhere."""
    return PRESETS[name].label if comparison.key == "resets" else name


def describe(columns: dict[str, Sequence[float]]) -> pd.DataFrame:
    """pandas describe() of RMSE columns side by side, as the study's script prints it, plus
    a ``failed`` row: repeats that diverged (NaN) are counted there, never averaged in."""
    return pd.DataFrame(
        {
            name: describe_with_failures(pd.Series(values, dtype=float))
            for name, values in columns.items()
        }
    )


class Reproduction(NamedTuple):
    results: dict[str, Results]
    tables: dict[str, pd.DataFrame]  # comparison key -> describe table (labels as columns)
    verdicts: pd.DataFrame  # E1-E6
    se_curve: pd.DataFrame
    power: pd.DataFrame
    files: list[Path]


def provenance(study: Study, series: pd.Series) -> dict[str, object]:
    """What produced the study: settings, seeds, repeats, versions, data, timings."""
    first = next(iter(study.results.values()))
    return {
        "seed": first.seed,
        "repeats": len(first.repeats),
        "pool": {"experiment": POOL_EXPERIMENT, "repeats": len(study.pool)},
        "versions": first.provenance["versions"],
        "device": first.provenance["device"],
        "persistence_rmse": first.persistence_rmse,
        "series": {
            "name": str(series.name),
            "index": [str(x) for x in series.index],
            "values": [float(v) for v in series],
        },  # fmt: skip
        "experiments": {
            name: {
                "settings": r.spec.to_dict(),
                "settings_hash": r.spec.digest(),
                "seed_stream": r.spec.seed_stream,
                "failed": int(r.failed.sum()),
                "versions": r.provenance.get("all_versions", [r.provenance["versions"]]),
                "timings": r.provenance["timings"],
            }  # fmt: skip
            for name, r in study.results.items()
        },
    }


def write_outputs(study: Study, series: pd.Series, out: Path) -> Reproduction:
    """Compute every table, statistic and figure of the study, then write them under ``out``."""
    results = study.results
    seed = next(iter(results.values())).seed
    tables, figures = {}, {}
    for comparison in COMPARISONS:
        columns = {label(n, comparison): results[n].rmse for n in comparison.experiments}
        tables[comparison.key] = describe(columns)
        persistence = results[comparison.experiments[0]].persistence_rmse
        figures[f"box_{comparison.key}.png"] = plots.box_plot(
            columns, comparison.title, persistence
        )
    verdicts = stats.expectation_table({n: r.rmse for n, r in results.items()}, seed=seed)
    se_curve = stats.standard_error_curve(study.pool, seed=seed)
    finished = study.pool[np.isfinite(study.pool)]
    spread = float(np.std(finished, ddof=1)) if len(finished) >= 2 else float("nan")
    power = stats.repeats_for_power(spread, POWER_DIFFERENCES)
    figures["series.png"] = plots.series_plot(series)
    figures["forecasts.png"] = plots.forecast_plot(results)
    figures["se_curve.png"] = plots.se_curve_plot(se_curve, POOL_EXPERIMENT)
    text = json.dumps(provenance(study, series), indent=2) + "\n"

    files: list[Path] = []
    for name, result in results.items():
        files.append(write_atomic(out / f"experiment_{name}.csv",
                                  lambda path, r=result: r.study_csv().to_csv(path, index=False)))  # fmt: skip
    for key, table in tables.items():
        files.append(write_atomic(out / f"table_{key}.csv", lambda path, t=table: t.to_csv(path)))
        files.append(write_text(out / f"table_{key}.txt", table.to_string() + "\n"))
    for name, frame in (("verdicts", verdicts), ("se_curve", se_curve), ("power", power)):
        files.append(write_atomic(out / f"{name}.csv", lambda path, f=frame: f.to_csv(path)))
    for name, figure in figures.items():
        files.append(plots.save(figure, out / name))
    files.append(write_text(out / "study.json", text))
    return Reproduction(results, tables, verdicts, se_curve, power, files)


def format_verdicts(verdicts: pd.DataFrame) -> str:
    """One line per expectation: verdict, then the statistics behind it."""
    lines = []
    for key, row in verdicts.iterrows():
        if row["verdict"] == "identical":
            stats_text = "identical repeat by repeat; no test run"
        elif np.isnan(row["ci_low"]):
            stats_text = row["explanation"]
        else:
            stats_text = (
                f"diff {row['mean_difference']:+.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}], "
                f"Wilcoxon p={row['wilcoxon_p']:.2g}, Welch p={row['welch_p']:.2g}, "
                f"Mann-Whitney p={row['mann_whitney_p']:.2g}, Holm p={row['holm_p']:.2g}, "
                f"d={row['cohens_d']:+.2f}, Cliff's delta={row['cliffs_delta']:+.2f}"
            )
        lines.append(f"{key} {row['claim']}: {row['verdict'].upper()} ({stats_text})")
    return "\n".join(lines)


def read_results_file(path: Path) -> pd.Series:
    """A results file in the study's format: a ``results`` column of RMSEs, an empty cell
    for a repeat that diverged."""
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
    if (values.isna() & frame["results"].notna()).any() or np.isinf(values).any():
        raise StatelabError(
            f"{path}: the 'results' column must hold finite numbers, one RMSE per row "
            "(an empty cell marks a repeat that diverged)"
        )
    if values.notna().sum() < 2:
        raise StatelabError(
            f"{path}: needs at least 2 RMSEs to compare, has {values.notna().sum()}"
        )
    return values


def results_name(path: Path) -> str:
    stem = path.stem
    return stem.removeprefix("experiment_") or stem
