"""The page of a generalisation (a folder `statelab generalise` wrote): each expectation at a
glance (the pooled verdict, the pooled ratio with its interval, the split of per-series
verdicts), the forest plot, then the evidence folded away (the answer in words, each
expectation by group of series, which series state helps where `generalise --moderators`
wrote moderators.json, the ranks, the Shampoo reference, settings and versions).

It reads only the folder's files, with the toolkit's checks and escaping.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from statelab import layout, records
from statelab.report.toolkit import (
    badge,
    damaged,
    folded,
    html_table,
    image,
    is_number,
    legend,
    number,
    p_cell,
    p_phrase,
    page,
    read_csv,
    read_record,
    read_table,
    settings_tables,
    shown_value,
    span_of,
    split_bar,
    summary,
    table,
    text,
    text_cell,
)
from statelab.stats import ALPHA, EXPECTATIONS, VERDICTS
from statelab.studies.generalise import count_column
from statelab.studies.moderators import OutOfSample, qualifying

COMMAND = "generalise"
MODERATED = "generalise --moderators"  # the command that writes moderators.csv and .json
NEEDED = (layout.GENERALISE_JSON, layout.ACROSS, layout.RANKS, layout.LOG_RATIOS_PLOT,
          layout.FOREST_PLOT, layout.RELATIVE_RMSE_PLOT)  # fmt: skip
UNTESTED = "untested"  # series neither identical nor tested; counted since the count came in
RANK_HEADS = {"mean_rank": "mean rank", "median_relative_rmse": "median relative RMSE",
              "beats_persistence": "share beating persistence"}  # fmt: skip
REFERENCE_COLUMNS = [("log ratio", "log_ratio", False), ("Holm p", "holm_p", True),
                     ("Holm equivalence p", "holm_equivalence_p", True)]  # fmt: skip
RATIOS = {e.key: f"{e.better}/{e.worse}" for e in EXPECTATIONS}


def read_generalisation(folder: Path) -> dict:
    """generalise.json, read through its model (statelab.records.GeneraliseRecord)."""
    return read_record(folder, layout.GENERALISE_JSON, records.GeneraliseRecord, COMMAND)


def read_across(folder: Path) -> pd.DataFrame:
    """across.csv, which must hold the rows over all series that the summary shows."""
    across = read_table(folder, layout.ACROSS_TABLE, COMMAND)
    if not (across["group"] == "all").any():
        raise damaged(folder, layout.ACROSS, "holds no row of group 'all'", COMMAND)
    return across


def split_verdicts(columns: pd.Index) -> list[str]:
    """The per-series verdicts counted in across.csv's ``columns``, in order."""
    return [*VERDICTS, UNTESTED] if count_column(UNTESTED) in columns else list(VERDICTS)


def split(row: pd.Series) -> str:
    """The row's per-series verdicts as a stacked bar."""
    return split_bar([(v, row[count_column(v)]) for v in split_verdicts(row.index)])


def ratio(row: pd.Series, predicted: bool = False) -> str:
    """The pooled ratio and its 95% confidence interval (from the log scale), and where
    ``predicted`` the 95% prediction interval for a new series; no interval wraps."""
    interval = span_of(row["meta_ci_low"], row["meta_ci_high"], scale=math.exp)
    shown = f'<span class="nowrap">{shown_value(row["pooled_ratio"])}</span>'
    shown += f" ({interval})" if interval else ""
    new = span_of(row["meta_pi_low"], row["meta_pi_high"], scale=math.exp) if predicted else ""
    return f"<td>{shown}<br><small>new series {new}</small></td>" if new else f"<td>{shown}</td>"


def share(value: object) -> str:
    return f"{value:.0%}" if is_number(value) else ""


def summary_section(across: pd.DataFrame) -> str:
    """Each expectation on one line: over all series, its verdict, the pooled ratio and the
    per-series split."""
    overall = across[across["group"] == "all"].sort_values("expectation", kind="stable")
    rows = []
    for _, row in overall.iterrows():
        of = RATIOS.get(row["expectation"])
        rows.append([
            text_cell(f"<b>{text(row['expectation'])}</b> {text(row['claim'])}"
                      + (f"<br><small>RMSE ratio {text(of)}</small>" if of else "")),
            text_cell(badge(row["verdict"])),
            ratio(row),
            text_cell(split(row)),
        ])  # fmt: skip
    head = ["Expectation", "Pooled verdict", "Pooled ratio (95% CI)", "Per-series verdicts"]
    return summary(
        "Across the series",
        [
            html_table(head, rows, (0, 1), cards=True),
            legend(split_verdicts(across.columns)),
            '<p class="note">Pooled ratio of mean RMSEs (random effects): below 1, the '
            "first-named has the lower RMSE.</p>",
        ],
    )


def forest_section(folder: Path) -> list[str]:
    return [
        "<h2>The pooled effects</h2>",
        image(folder, layout.FOREST_PLOT, "forest plot of the pooled effects", COMMAND),
    ]


def answer_section(record: dict) -> str:
    lines = record["answer"]
    head, items = (lines[0], lines[1:]) if lines else ("", [])
    return folded(
        "The answer in words",
        [
            f"<p>{text(head)}</p>",
            "<ul>"
            + "".join(f"<li>{text(line.removeprefix('- '))}</li>" for line in items)
            + "</ul>",
            f"<p>{text(record['horizon_note'])} A difference in mean RMSE within "
            f"{text(record['margin'])} x the series' persistence RMSE counts as practically "
            "equivalent (paired TOST).</p>",
        ],
    )


def groups_section(folder: Path, across: pd.DataFrame) -> str:
    """Each expectation by group of series (all, thirds by training length, domains,
    frequencies)."""
    parts = [
        "<p>Per series: the paired Wilcoxon test (Welch's where repeats do not pair) and the "
        "paired TOST, each Benjamini-Hochberg adjusted across the series. Across series: the "
        "count of series in each verdict, a sign test of the log ratios, and a random-effects "
        "meta-analysis (REML) of log(mean RMSE A / mean RMSE B): the pooled ratio, its 95% "
        "confidence interval (Hartung-Knapp-Sidik-Jonkman, truncated), the 95% prediction "
        "interval for a new series, and I2 (tau2 is in across.csv). "
        "Groups: thirds by training length, domains where the collections record them, and "
        "frequencies where the series have several.</p>",
    ]
    head = ["Group", "Per-series verdicts", "Pooled ratio (95% CI; new series)", "I2",
            "Sign test p", "Verdict"]  # fmt: skip
    for key, part in across.groupby("expectation", sort=True):
        rows = [
            [text_cell(f"{text(row['label'])}<br><small>{shown_value(row['series'])} "
                       "series</small>"),
             text_cell(split(row)), ratio(row, predicted=True),
             f"<td>{share(row['meta_i2'])}</td>", p_cell(row["sign_p"]),
             text_cell(badge(row["verdict"]))]
            for _, row in part.iterrows()
        ]  # fmt: skip
        parts += [
            f"<h3>{text(key)} {text(part['claim'].iloc[0])}</h3>",
            html_table(head, rows, (0, 1, 5), cards=True),
        ]
    parts.append(image(folder, layout.LOG_RATIOS_PLOT, "per-series log ratios", COMMAND))
    return folded("Each expectation by group of series", parts)


class ModelRead(NamedTuple):
    """One model of moderators.json as the page reads it, with its rows of moderators.csv
    indexed by term (empty where the model has no fit)."""

    model: dict
    coefficients: pd.DataFrame

    @property
    def heading(self) -> str:
        key, frequency = self.model["expectation"], self.model["frequency"]
        at = "unknown frequency" if frequency is None else f"frequency {frequency}"
        return f"{text(key)} {text(RATIOS.get(key, ''))}, {text(at)}"

    @property
    def matters(self) -> list[str]:
        """The features that matter (the rule the figures were drawn by)."""
        return [] if self.coefficients.empty else list(qualifying(self.coefficients).index)

    @property
    def check(self) -> OutOfSample | None:
        found = self.model["out_of_sample"]  # its fields checked by the record's model
        return None if found is None else OutOfSample(*(found[f] for f in OutOfSample._fields))


def read_moderated(folder: Path) -> list[ModelRead]:
    """moderators.json's models, each with its coefficients from moderators.csv (read only
    when some model has a fit: without one the table has no rows)."""
    record = read_record(folder, layout.MODERATORS_JSON, records.ModeratorsRecord, MODERATED)
    fitted = any(model["k"] is not None for model in record["models"])
    table = read_table(folder, layout.MODERATORS_TABLE, MODERATED) if fitted else None
    found = []
    for model in record["models"]:
        rows = pd.DataFrame()
        if model["k"] is not None:
            frequency = model["frequency"]
            at = (
                table["frequency"].isna() if frequency is None else table["frequency"].eq(frequency)
            )
            rows = table[at.fillna(False) & table["expectation"].eq(model["expectation"])]
            if rows.empty:
                raise damaged(folder, layout.MODERATORS, f"holds no rows for the model of "
                              f"{model['expectation']} at frequency {frequency}", MODERATED)  # fmt: skip
        found.append(ModelRead(model, rows.set_index("term") if len(rows) else rows))
    return found


def coefficients_table(coefficients: pd.DataFrame) -> str:
    """A row per term: the coefficient (per SD of its feature; the intercept: an average
    series) with its 95% CI on the log scale, as a ratio, its p and its Holm-adjusted p; the
    terms that matter in bold."""
    matters = set(qualifying(coefficients).index)
    rows = [
        [text_cell(f"<b>{text(term)}</b>" if term in matters else text(term)),
         f"<td>{shown_value(row['estimate'])}<br><small>{span_of(row['ci_low'], row['ci_high'])}"
         "</small></td>",
         f"<td>{number(math.exp(row['estimate'])) if is_number(row['estimate']) else ''}</td>",
         p_cell(row["p"]), p_cell(row["holm_p"])]
        for term, row in coefficients.iterrows()
    ]  # fmt: skip
    head = ["Term", "Log ratio per SD (95% CI)", "Ratio per SD", "p", "Holm p"]
    return html_table(head, rows, (0,), cards=True)


def out_of_sample_part(check: OutOfSample | None) -> str:
    """The out-of-sample check in a table, and in plain words whether the features beat the
    pooled mean for everyone."""
    if check is None:
        return "<p>Out of sample: too few series to fit one half and predict the other.</p>"
    rows = [[text_cell(label), f"<td>{share(coverage)}</td>", f"<td>{number(rmse)}</td>"]
            for label, coverage, rmse in (
                ("the features", check.coverage, check.rmse),
                ("the pooled mean for everyone", check.baseline_coverage, check.baseline_rmse))]  # fmt: skip
    if check.beats_baseline:
        said = "the features beat the pooled mean for everyone"
    else:
        said = ("<b>the features do not beat the pooled mean for everyone</b>: for a new series "
                "the pooled ratio predicts as well")  # fmt: skip
    return (
        f"<p>Out of sample (fitted on a seeded random half, {text(check.fitted)} series, "
        f"predicting the other {text(check.held_out)}): {said} (RMSE of the held-out log ratios "
        f"{number(check.rmse)} against {number(check.baseline_rmse)}).</p>"
        + html_table(["Predicted by", "Coverage of the 95% PIs", "RMSE (log ratio)"], rows)
    )


def moderators_opening(models: list[ModelRead], features: list[str]) -> str:
    """The section's paragraph in plain words: what was fitted, where a feature matters, and
    whether the features beat the pooled mean out of sample."""
    fitted = [m for m in models if m.model["k"] is not None]
    matter = [m for m in fitted if m.matters]
    checked = [m.check for m in fitted if m.check is not None]
    beat = sum(check.beats_baseline for check in checked)
    said = [
        "Per expectation and frequency, the per-series log ratios are regressed on the series' "
        f"features ({text(', '.join(features))}; standardised, so a coefficient is the change "
        "in the log ratio per SD of its feature) by a random-effects meta-regression (REML, "
        f"Knapp-Hartung), Holm-corrected across the features: {len(fitted)} of {len(models)} "
        "models had the series to be fitted."
    ]
    if matter:
        named = "; ".join(f"{m.heading} ({text(', '.join(m.matters))})" for m in matter)
        said.append(f"A feature matters (Holm p &lt; {ALPHA:g}) in {len(matter)}: {named}.")
    else:
        said.append(f"In none does a feature matter (Holm p &lt; {ALPHA:g}): the features do "
                    "not explain the spread of the effect across series.")  # fmt: skip
    if checked:
        said.append(f"Out of sample the features beat the pooled mean for everyone in {beat} of "
                    f"{len(checked)} models" + ("." if beat == len(checked) else "; where they "
                    "do not, the pooled ratio is as good a guess for a new series."))  # fmt: skip
    else:
        said.append("Too few series to check any model out of sample.")
    return f"<p>{' '.join(said)}</p>"


def moderators_section(folder: Path) -> list[str]:
    """Which series does state help? (where `generalise --moderators` wrote moderators.json):
    a paragraph in plain words, then per model its words, the share of tau2 its features
    explain, its coefficients, its partial-effect figure and its out-of-sample check."""
    if not (folder / layout.MODERATORS_JSON).is_file():
        return []
    models = read_moderated(folder)
    features = list(dict.fromkeys(f for m in models for f in m.model["moderators"]))
    parts = [moderators_opening(models, features)]
    for found in models:
        model = found.model
        parts += [f"<h3>{found.heading} <small>({text(model['series'])} series)</small></h3>",
                  f"<p>{text(model['words'])}</p>"]  # fmt: skip
        if model["k"] is None:
            continue
        parts += [
            f"<p>{text(model['k'])} series fitted; the features explain "
            f"{share(model['r2']) or '&ndash;'} of tau2, the between-series variance (residual "
            f"tau2 {shown_value(model['tau2'])}).</p>",
            coefficients_table(found.coefficients),
        ]
        if found.matters:
            name = layout.moderators_plot(model["expectation"], model["frequency"])
            alt = f"partial effects of {', '.join(found.matters)} on {model['expectation']}"
            parts.append(image(folder, name, alt, MODERATED))
        parts.append(out_of_sample_part(found.check))
    return [folded("Which series does state help?", parts)]


def ranks_section(folder: Path, record: dict) -> str:
    ranks = read_table(folder, layout.RANKS_TABLE, COMMAND)
    friedman = record.get("friedman")
    parts = []
    if friedman is not None:  # its kinds checked by the record's model
        parts.append(
            f"<p>Mean ranks of the experiments by mean RMSE within each series (1 is best). "
            f"Friedman chi-square {friedman['statistic']:.1f}, {p_phrase(friedman['p'])}; "
            f"Nemenyi critical difference {friedman['critical_difference']:.2f} (experiments "
            "whose mean ranks differ by less are joined in the diagram). The median relative "
            "RMSE is over series of each series' mean RMSE over its persistence RMSE; beats "
            "persistence is the share of series where that is below 1.</p>"
        )
    parts.append(table(ranks[list(RANK_HEADS)].rename(columns=RANK_HEADS)))
    if (folder / layout.CD_DIAGRAM).is_file():
        parts.append(image(folder, layout.CD_DIAGRAM, "critical-difference diagram", COMMAND))
    parts.append(image(folder, layout.RELATIVE_RMSE_PLOT, "relative RMSE by experiment", COMMAND))
    return folded("Which regime wins", parts)


def reference_section(folder: Path) -> list[str]:
    if not (folder / layout.REFERENCE).is_file():
        return []
    reference = read_csv(folder, layout.REFERENCE, COMMAND)
    if reference.empty or "verdict" not in reference.columns:
        return []
    shown = [(label, c, p) for label, c, p in REFERENCE_COLUMNS if c in reference.columns]
    claims = reference["claim"] if "claim" in reference.columns else [""] * len(reference)
    rows = [
        [text_cell(f"<b>{text(key)}</b> {text(claim)}"),
         *(p_cell(row[c]) if p else f"<td>{shown_value(row[c])}</td>" for _, c, p in shown),
         text_cell(badge(row["verdict"]))]
        for (key, row), claim in zip(reference.iterrows(), claims, strict=True)
    ]  # fmt: skip
    head = ["Expectation", *(label for label, _, _ in shown), "Verdict"]
    return [
        folded(
            "Shampoo Sales, from the same run",
            [
                "<p>The study's own series, run beside the collection with the same repeats and "
                "seed (Holm's correction across the six, as <code>statelab reproduce</code>); "
                "its log ratios are the red lines of the per-series figure.</p>",
                html_table(head, rows, (0, len(head) - 1), cards=True),
            ],
        )
    ]


def settings_section(record: dict) -> str:
    experiments = {
        name: settings
        for name, settings in record["experiments_on_first_series"].items()
        if isinstance(settings, dict)
    }
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
    return folded(
        "Settings and versions",
        [
            "<p>Repeat k of every experiment on a series starts from the same initial weights "
            "(common random numbers), drawn from (master seed, k). Settings as on the first "
            "series (the test rows, and the batch-12 pair's batch, follow each series' "
            "horizon); per_series.csv, experiments.csv and the store hold every series.</p>",
            *(settings_tables(experiments) if experiments else []),
            table(provenance),
        ],
    )


def build(folder: Path) -> str:
    """The page of a folder written by `statelab generalise`."""
    record = read_generalisation(folder)
    across = read_across(folder)
    return page(
        "statelab: does the study generalise?",
        f"Does the study generalise? {text(record['data'])}",
        [
            f"<p>{text(record['series'])} series, {text(record['repeats'])} repeats of each "
            f"experiment per series, master seed {text(record['seed'])}; equivalence margin "
            f"{text(record['margin'])} x each series' persistence RMSE.</p>",
            summary_section(across),
            *forest_section(folder),
            answer_section(record),
            groups_section(folder, across),
            *moderators_section(folder),
            ranks_section(folder, record),
            *reference_section(folder),
            settings_section(record),
        ],
    )
