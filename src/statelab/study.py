"""The whole study: the eleven presets, the study's four comparisons, their files.

Results -> describe tables and box plots; the data flows one way, and every file is
written atomically, so an interrupted reproduction never leaves half a file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import plots, stats
from statelab.cluster import run_chunks
from statelab.dataset import prepare
from statelab.errors import StatelabError
from statelab.evaluate import persistence_rmse
from statelab.files import write_atomic, write_text
from statelab.results import Results, describe_with_failures
from statelab.runner import Experiment, ProgressCallback, repeat_indices, run_experiments
from statelab.spec import PRESETS
from statelab.store import Store, data_hash


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
    """pandas describe() of RMSE columns side by side, as the study's script prints it, plus
    a ``failed`` row: repeats that diverged (NaN) are counted there, never averaged in."""
    return pd.DataFrame(
        {
            name: describe_with_failures(pd.Series(values, dtype=float))
            for name, values in columns.items()
        }
    )


# Default repeats per experiment, chosen from the power analysis (README, "Why 500"):
# stateful's RMSEs have a standard deviation near 9.3, and 500 repeats detect a 2-point
# difference in mean RMSE with 77% power at alpha 0.05 / 6 (Holm's strictest step) even
# in an unpaired t-test; the paired tests the verdicts use are much stronger.
DEFAULT_REPEATS = 500
# The A-vs-A pool: repeats of `stateful` behind the standard-error curve.
POOL_EXPERIMENT, DEFAULT_POOL = "stateful", 1000
POWER_DIFFERENCES = (1.0, 2.0, 5.0, 10.0)


class Study(NamedTuple):
    results: dict[str, Results]  # the eleven experiments, `repeats` each
    pool: np.ndarray  # (P,) RMSEs of POOL_EXPERIMENT over repeats 0..P-1


class Reproduction(NamedTuple):
    results: dict[str, Results]
    tables: dict[str, pd.DataFrame]  # comparison key -> describe table (labels as columns)
    verdicts: pd.DataFrame  # E1-E6
    se_curve: pd.DataFrame
    power: pd.DataFrame
    files: list[Path]


def plan(
    series: pd.Series, repeats: int, pool: int, settings: dict[str, object]
) -> list[Experiment]:
    """The eleven presets (``settings`` override every one), each with the repeats the study
    needs: ``repeats`` each, and ``pool`` for the pool experiment. Validated here, before any
    work or any store is touched."""
    indices = repeat_indices(repeats)
    experiments = []
    for preset in PRESETS.values():
        spec = preset.spec.replace(**settings)
        count = max(len(indices), pool) if preset.name == POOL_EXPERIMENT else len(indices)
        experiments.append(Experiment(preset.name, spec, repeats=np.arange(count)))
        prepare(series, spec)  # bad data or settings fail now, not mid-run
    return experiments


def chunked(experiments: list[Experiment], chunk: int) -> list[list[Experiment]]:
    """Split the repeats into blocks of ``chunk`` repeat indices; each block runs (and is
    stored) as one unit, so an interruption loses at most one block."""
    if chunk < 1:
        raise StatelabError(f"--chunk must be >= 1, got {chunk}")
    top = max((int(e.repeats.max()) + 1 for e in experiments if len(e.repeats)), default=0)
    blocks = []
    for start in range(0, top, chunk):
        block = []
        for e in experiments:
            picked = e.repeats[(e.repeats >= start) & (e.repeats < start + chunk)]
            if len(picked):
                block.append(e._replace(repeats=picked))
        if block:
            blocks.append(block)
    return blocks


def run_study(
    series: pd.Series,
    *,
    repeats: int = DEFAULT_REPEATS,
    seed: int = 1,
    pool: int = DEFAULT_POOL,
    progress: ProgressCallback | None = None,
    **settings: object,
) -> Study:
    """All eleven presets in this process, without a store (sharing compilations)."""
    experiments = plan(series, repeats, pool, settings)
    results = run_experiments(experiments, series, seed=seed, progress=progress, chunks=10)
    return trim(results, len(repeat_indices(repeats)))


def trim(results: dict[str, Results], repeats: int) -> Study:
    """The first ``repeats`` of every experiment, and the pool experiment's whole pool."""
    pool = results[POOL_EXPERIMENT].rmse
    trimmed = {}
    for name, result in results.items():
        keep = result.repeats < repeats
        trimmed[name] = _subset(result, keep)
    return Study(trimmed, pool)


def _subset(result: Results, keep: np.ndarray) -> Results:
    if keep.all():
        return result
    return dataclasses.replace(
        result,
        repeats=result.repeats[keep],
        rmse=result.rmse[keep],
        forecasts=result.forecasts[keep],
        forecasts_scaled=result.forecasts_scaled[keep],
        losses=result.losses[keep],
        weights=type(result.weights)(*(w[keep] for w in result.weights)),
        failures=result.failures[keep],
    )


class Filled(NamedTuple):
    repeats_run: int
    chunks: int
    compile_s: float  # summed over compiled calls (on workers too, with a cluster)
    run_s: float


def fill_store(
    store: Store,
    series: pd.Series,
    experiments: list[Experiment],
    *,
    seed: int,
    chunk: int = 100,
    client=None,
    progress: ProgressCallback | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Filled:
    """Run every planned repeat the store lacks, chunk by chunk, storing each chunk as it
    finishes. Returns how many repeats were run. Running it again after an interruption
    runs only what is missing; the stored results are the same as an uninterrupted run's.
    Reports the repeats run and the compile and run seconds of every compiled call."""
    data = data_hash(series)
    missing = []
    for experiment in experiments:
        done = store.stored(experiment.name, experiment.spec, data, seed)
        todo = np.array([k for k in experiment.repeats if int(k) not in done], dtype=np.int64)
        missing.append(experiment._replace(repeats=todo))
    blocks = chunked(missing, chunk)
    ran, compile_s, run_s = 0, 0.0, 0.0
    for finished, results in enumerate(run_chunks(blocks, series, seed, client, progress), 1):
        store.add(results.values(), data)
        ran += sum(len(r.repeats) for r in results.values())
        calls = {r.provenance["compiled_group"]: r.provenance["timings"] for r in results.values()}
        compile_s += sum(t["compile_s"] for t in calls.values())
        run_s += sum(t["run_s"] for t in calls.values())
        if on_chunk is not None:
            on_chunk(finished, len(blocks))
    return Filled(ran, len(blocks), compile_s, run_s)


def load_study(
    store: Store, series: pd.Series, experiments: list[Experiment], seed: int, repeats: int
) -> Study:
    """The planned study, read back from the store."""
    data = data_hash(series)
    results = {}
    for experiment in experiments:
        dataset = prepare(series, experiment.spec)
        results[experiment.name] = store.load(
            experiment.name, experiment.spec, dataset, data, seed, experiment.repeats,
            persistence_rmse(dataset),
        )  # fmt: skip
    return trim(results, repeats)


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
                "label": label(name),
                "settings": r.spec.to_dict(),
                "settings_hash": r.spec.digest(),
                "seed_stream": r.spec.seed_stream,
                "timings": r.provenance["timings"],
            }  # fmt: skip
            for name, r in study.results.items()
        },
    }


def write_outputs(study: Study, series: pd.Series, out: Path) -> Reproduction:
    """Results files, tables, box plots, verdicts, the standard-error curve, the power table,
    the series plot, the forecast plot and study.json (provenance), under ``out``."""
    results = study.results
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

    seed = next(iter(results.values())).seed
    verdicts = stats.expectation_table({n: r.rmse for n, r in results.items()}, seed=seed)
    se_curve = stats.standard_error_curve(study.pool, seed=seed)
    power = stats.repeats_for_power(float(np.std(study.pool, ddof=1)), POWER_DIFFERENCES)
    for name, frame in (("verdicts", verdicts), ("se_curve", se_curve), ("power", power)):
        files.append(write_atomic(out / f"{name}.csv", lambda path, f=frame: f.to_csv(path)))
    files.append(plots.save(plots.se_curve_plot(se_curve, POOL_EXPERIMENT), out / "se_curve.png"))
    text = json.dumps(provenance(study, series), indent=2)
    files.append(write_text(out / "study.json", text + "\n"))
    return Reproduction(results, tables, verdicts, se_curve, power, files)


def format_verdicts(verdicts: pd.DataFrame) -> str:
    """One line per expectation: verdict, then the statistics behind it."""
    lines = []
    for key, row in verdicts.iterrows():
        if row["verdict"] == "identical":
            stats_text = "identical repeat by repeat; no test run"
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
    if (values.isna() & frame["results"].notna()).any() or values.notna().sum() == 0:
        raise StatelabError(
            f"{path}: the 'results' column must hold numbers, one RMSE per row "
            "(an empty cell marks a repeat that diverged)"
        )
    return values


def results_name(path: Path) -> str:
    stem = path.stem
    return stem.removeprefix("experiment_") or stem
