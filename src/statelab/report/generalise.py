"""The HTML report of a folder written by `statelab generalise`: the answer in plain words
first, then the evidence (across-series tables, figures, ranks, the Shampoo reference,
settings and versions). It reads only the folder's files, checked where they are used, with
the helpers of statelab.report.study (escaping, embedded PNGs, one-line errors for damage)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from statelab import layout
from statelab.report.study import (
    KINDS,
    STYLE,
    Damaged,
    damaged,
    field,
    image,
    read_csv,
    read_json,
    table,
    text,
    verdict_class,
)

COMMAND = "generalise"
NEEDED = (layout.GENERALISE_JSON, layout.ACROSS, layout.RANKS, layout.LOG_RATIOS_PLOT,
          layout.FOREST_PLOT, layout.RELATIVE_RMSE_PLOT)  # fmt: skip
FIELDS = {
    "data": "a string",
    "seed": "an integer",
    "repeats": "an integer",
    "margin": "a number",
    "series": "an integer",
    "horizon_note": "a string",
    "answer": "a list",
    "skipped": "a list",
    "experiments_on_first_series": "an object",
    "versions": "a list",
    "devices": "a list",
}
ACROSS_COLUMNS = ["expectation", "claim", "group", "label", "series", "n_supported",
                  "n_contradicted", "n_practically_equivalent", "n_no_detectable_difference",
                  "n_identical", "sign_lower", "sign_higher", "sign_p", "pooled_ratio",
                  "meta_ci_low", "meta_ci_high", "meta_pi_low", "meta_pi_high", "meta_tau2",
                  "meta_i2", "verdict"]  # fmt: skip
SHOWN = {"label": "group", "series": "series", "n_supported": "supported",
         "n_contradicted": "contradicted", "n_practically_equivalent": "equivalent",
         "n_no_detectable_difference": "no difference", "n_identical": "identical",
         "sign_p": "sign test p", "pooled_ratio": "pooled ratio", "ci": "95% CI",
         "pi": "new series", "meta_tau2": "tau2", "meta_i2": "I2", "verdict": "verdict"}  # fmt: skip
RANK_COLUMNS = ["mean_rank", "median_relative_rmse", "beats_persistence"]


def check_record(record: object) -> None:
    """Raise Damaged naming the first field of generalise.json the report cannot use."""
    for key, kind in FIELDS.items():
        field(record, (key,), kind)
    if not all(isinstance(line, str) for line in record["answer"]):
        raise Damaged("'answer' must be a list of strings")


def read_record(folder: Path) -> dict:
    """generalise.json, checked for every field the report uses."""
    return read_json(folder, layout.GENERALISE_JSON, check_record, COMMAND)


def _damaged(folder: Path, name: str, problem: str):
    return damaged(folder, name, problem, COMMAND)


def read_across(folder: Path) -> pd.DataFrame:
    across = read_csv(folder, layout.ACROSS, COMMAND).reset_index()
    missing = [c for c in ACROSS_COLUMNS if c not in across.columns]
    if missing:
        raise _damaged(folder, layout.ACROSS, f"lacks column(s) {', '.join(missing)}")
    return across


def _interval(low: object, high: object) -> str:
    import math

    if not all(KINDS["a number"](v) and math.isfinite(v) for v in (low, high)):
        return ""
    return f"{math.exp(low):.3f} to {math.exp(high):.3f}"


def answer_section(record: dict) -> list[str]:
    lines = record["answer"]
    head, items = (lines[0], lines[1:]) if lines else ("", [])
    return [
        "<h2>The answer</h2>",
        f"<p>{text(head)}</p>",
        "<ul>" + "".join(f"<li>{text(line.removeprefix('- '))}</li>" for line in items) + "</ul>",
        f"<p>{text(record['horizon_note'])} A difference in mean RMSE within "
        f"{text(record['margin'])} x the series' persistence RMSE counts as practically "
        "equivalent (paired TOST).</p>",
    ]


def expectations_section(folder: Path, across: pd.DataFrame) -> list[str]:
    parts = [
        "<h2>Each expectation across series</h2>",
        "<p>Per series: the paired Wilcoxon test (Welch's where repeats do not pair) and the "
        "paired TOST, each Benjamini-Hochberg adjusted across the series. Across series: the "
        "count of series in each verdict, a sign test of the log ratios, and a random-effects "
        "meta-analysis (REML) of log(mean RMSE A / mean RMSE B): the pooled ratio, its 95% "
        "confidence interval (Hartung-Knapp-Sidik-Jonkman, truncated), the 95% prediction "
        "interval for a new series, tau2 and I2. "
        "Groups: thirds by training length, and domains where the collection records them.</p>",
    ]
    for key, part in across.groupby("expectation", sort=True):
        claim = part["claim"].iloc[0]
        overall = part[part["group"] == "all"]
        verdict = overall["verdict"].iloc[0] if len(overall) else ""
        shown = part.assign(
            ci=[_interval(lo, hi) for lo, hi in zip(part["meta_ci_low"], part["meta_ci_high"],
                                                    strict=True)],
            pi=[_interval(lo, hi) for lo, hi in zip(part["meta_pi_low"], part["meta_pi_high"],
                                                    strict=True)],
        )[list(SHOWN)].rename(columns=SHOWN)  # fmt: skip
        parts += [
            f"<h3>{text(key)} {text(claim)}: <span class='{verdict_class(verdict)}'>"
            f"{text(verdict)}</span></h3>",
            table(shown, index=False),
        ]
    parts += [
        image(folder, layout.LOG_RATIOS_PLOT, "per-series log ratios", COMMAND),
        image(folder, layout.FOREST_PLOT, "forest plot of the pooled effects", COMMAND),
    ]
    return parts


def ranks_section(folder: Path, record: dict) -> list[str]:
    ranks = read_csv(folder, layout.RANKS, COMMAND)
    missing = [c for c in RANK_COLUMNS if c not in ranks.columns]
    if missing:
        raise _damaged(folder, layout.RANKS, f"lacks column(s) {', '.join(missing)}")
    friedman = record.get("friedman")
    parts = ["<h2>Which regime wins</h2>"]
    if isinstance(friedman, dict) and all(
        KINDS["a number"](friedman.get(k)) for k in ("statistic", "p", "critical_difference")
    ):
        parts.append(
            f"<p>Mean ranks of the experiments by mean RMSE within each series (1 is best). "
            f"Friedman chi-square {friedman['statistic']:.1f}, p = {friedman['p']:.3g}; "
            f"Nemenyi critical difference {friedman['critical_difference']:.2f} (experiments "
            "whose mean ranks differ by less are joined in the diagram). The median relative "
            "RMSE is over series of each series' mean RMSE over its persistence RMSE; beats "
            "persistence is the share of series where that is below 1.</p>"
        )
    parts.append(table(ranks[RANK_COLUMNS]))
    if (folder / layout.CD_DIAGRAM).is_file():
        parts.append(image(folder, layout.CD_DIAGRAM, "critical-difference diagram", COMMAND))
    parts.append(image(folder, layout.RELATIVE_RMSE_PLOT, "relative RMSE by experiment", COMMAND))
    return parts


def reference_section(folder: Path) -> list[str]:
    if not (folder / layout.REFERENCE).is_file():
        return []
    reference = read_csv(folder, layout.REFERENCE, COMMAND)
    if reference.empty or "verdict" not in reference.columns:
        return []
    columns = [c for c in ("claim", "mean_a", "mean_b", "log_ratio", "holm_p",
                           "holm_equivalence_p", "verdict") if c in reference.columns]  # fmt: skip
    return [
        "<h2>Shampoo Sales, from the same run</h2>",
        "<p>The study's own series, run beside the collection with the same repeats and seed "
        "(Holm's correction across the six, as <code>statelab reproduce</code>); its log ratios "
        "are the red lines of the figure above.</p>",
        table(reference[columns]),
    ]


def settings_section(record: dict) -> list[str]:
    experiments = {
        name: {str(k): "" if v is None else str(v) for k, v in settings.items()}
        for name, settings in record["experiments_on_first_series"].items()
        if isinstance(settings, dict)
    }
    frame = pd.DataFrame.from_dict(experiments, orient="index")
    frame.index.name = "experiment"
    versions = record["versions"][0] if record["versions"] else {}
    values = {
        "data": record["data"], "series": record["series"], "skipped": len(record["skipped"]),
        "repeats": record["repeats"], "master seed": record["seed"],
        "margin": record["margin"], "devices": ", ".join(map(str, record["devices"])),
        "version sets": len(record["versions"]),
        **(versions if isinstance(versions, dict) else {}),
    }  # fmt: skip
    provenance = pd.DataFrame({"value": {str(k): str(v) for k, v in values.items()}})
    provenance.index.name = "what"
    return [
        "<h2>Settings and versions</h2>",
        "<p>Repeat k of every experiment on a series starts from the same initial weights "
        "(common random numbers), drawn from (master seed, k). Settings as on the first "
        "series (the test rows, and the batch-12 pair's batch, follow each series' horizon); "
        "per_series.csv, experiments.csv and the store hold every series.</p>",
        table(frame),
        table(provenance),
    ]


def build(folder: Path) -> str:
    """The report's HTML for a folder written by `statelab generalise`."""
    record = read_record(folder)
    across = read_across(folder)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>statelab: does the study generalise?</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Does the study generalise? {text(record['data'])}</h1>",
        *answer_section(record),
        *expectations_section(folder, across),
        *ranks_section(folder, record),
        *reference_section(folder),
        *settings_section(record),
        "</body></html>",
    ]
    return "\n".join(parts)
