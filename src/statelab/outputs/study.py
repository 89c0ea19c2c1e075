"""A reproduced study -> its files: results CSVs, describe tables, box plots, verdicts,
the standard-error curve, the power table, the series and forecast plots, study.json.

The pipeline hands the writer a fresh folder and makes what it wrote the output folder's live
set in one rename (statelab.execution.fileset): a failure or a kill leaves the previous set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from statelab import layout, records
from statelab.execution.plan import Plan
from statelab.files import write_atomic, write_text
from statelab.outputs.tables import write_table
from statelab.studies.study import COMPARISONS, POOL_EXPERIMENT, Reproduction, label


def provenance(study: Reproduction) -> dict[str, object]:
    """study.json: what produced the study: settings, seeds, repeats, the verdicts'
    equivalence margin (a share of the persistence RMSE), versions, data, timings."""
    first = next(iter(study.results.values()))
    series = study.series
    return {
        "seed": first.seed,
        "repeats": len(first.repeats),
        "pool": {"experiment": POOL_EXPERIMENT, "repeats": len(study.pool)},
        "versions": dict(first.provenance.versions[0]),
        "device": first.provenance.devices[0],
        "persistence_rmse": first.persistence_rmse,
        "margin": study.settings.margin,
        "series": {
            "name": str(series.name),
            "data_hash": first.data_hash,
            "index": [str(x) for x in series.index],
            "values": [float(v) for v in series],
        },  # fmt: skip
        "experiments": {
            name: {
                "settings": r.spec.to_dict(),
                "settings_hash": r.spec.digest(),
                "seed_stream": r.spec.seed_stream,
                "failed": int(r.failed.sum()),
                "versions": [dict(v) for v in r.provenance.versions],
                "devices": list(r.provenance.devices),
                "timings": r.provenance.timings._asdict(),
            }  # fmt: skip
            for name, r in study.results.items()
        },
    }


def file_names(experiments: Sequence[str]) -> list[str]:
    """Every file :func:`write_outputs` writes for a study of these experiments."""
    return [
        *(layout.experiment_csv(name) for name in experiments),
        *(name(c.key) for c in COMPARISONS for name in (layout.table_csv, layout.table_txt)),
        layout.VERDICTS, layout.SE_CURVE, layout.POWER,
        *(layout.box_plot(c.key) for c in COMPARISONS),
        layout.SERIES_PLOT, layout.FORECASTS_PLOT, layout.SE_CURVE_PLOT, layout.STUDY_JSON,
    ]  # fmt: skip


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_study` writes for the plan's study."""
    return file_names(list(dict.fromkeys(t.name for t in plan.tasks)))


def write_study(study: Reproduction, out: Path) -> list[Path]:
    """Write every table and figure of the study under ``out``, one figure at a time (drawn,
    saved and closed before the next)."""
    from statelab.outputs import plots  # matplotlib: only when writing

    results = study.results
    record = records.check(records.StudyRecord, provenance(study))  # its reader's model
    text = json.dumps(record, indent=2) + "\n"
    files: list[Path] = []
    for name, result in results.items():
        files.append(write_atomic(out / layout.experiment_csv(name),
                                  lambda path, r=result: r.study_csv().to_csv(path, index=False)))  # fmt: skip
    for key, table in study.tables.items():
        files.append(
            write_atomic(out / layout.table_csv(key), lambda path, t=table: t.to_csv(path))
        )
        files.append(write_text(out / layout.table_txt(key), table.to_string() + "\n"))
    for table, frame in (
        (layout.VERDICTS_TABLE, study.verdicts),
        (layout.SE_CURVE_TABLE, study.se_curve),
        (layout.POWER_TABLE, study.power),
    ):
        files.append(write_table(out, table, frame))
    figures = [
        (layout.box_plot(c.key), lambda c=c: plots.box_plot(
            {label(n, c): results[n].rmse for n in c.experiments}, c.title,
            results[c.experiments[0]].persistence_rmse))
        for c in COMPARISONS
    ] + [
        (layout.SERIES_PLOT, lambda: plots.series_plot(study.series)),
        (layout.FORECASTS_PLOT, lambda: plots.forecast_plot(results)),
        (layout.SE_CURVE_PLOT, lambda: plots.se_curve_plot(study.se_curve, POOL_EXPERIMENT)),
    ]  # fmt: skip
    for name, draw in figures:
        files.append(plots.save(draw(), out / name))
    files.append(write_text(out / layout.STUDY_JSON, text))
    return files


def format_verdicts(verdicts: pd.DataFrame) -> str:
    """One line per expectation: verdict, then the statistics behind it."""
    from statelab.stats import p_text

    lines = []
    for key, row in verdicts.iterrows():
        if row["verdict"] == "identical":
            stats_text = "identical repeat by repeat; no test run"
        elif np.isnan(row["ci_low"]):
            stats_text = row["explanation"]
        else:
            stats_text = (
                f"diff {row['mean_difference']:+.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}], "
                f"Wilcoxon {p_text(row['wilcoxon_p'])}, Welch {p_text(row['welch_p'])}, "
                f"Mann-Whitney {p_text(row['mann_whitney_p'])}, Holm {p_text(row['holm_p'])}, "
                f"d={row['cohens_d']:+.2f}, Cliff's delta={row['cliffs_delta']:+.2f}"
            )
            if np.isfinite(row.get("holm_equivalence_p", np.nan)):
                stats_text += (f", equivalence (TOST within +-{row['margin_rmse']:.3g}) Holm "
                               f"{p_text(row['holm_equivalence_p'])}")  # fmt: skip
        lines.append(f"{key} {row['claim']}: {row['verdict'].upper()} ({stats_text})")
    return "\n".join(lines)
