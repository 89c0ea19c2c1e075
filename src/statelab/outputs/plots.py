"""Figures: box plots of RMSEs, the series, forecasts against the actual test year, the
standard-error curve, the critical-difference diagram of ranks, the generalisation's and the
set-up study's figures, and the partial effects of the series' features.

Each figure is a plain ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot, no global
state) with fixed margins, so saving it draws it once: a layout engine (tight_layout,
constrained) would draw it a second time to measure it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import offset_copy

from statelab import stats
from statelab.files import write_atomic

# Names come from users (column names, file names): draw them as plain text, never as
# matplotlib's $math$ markup, which fails on a stray dollar sign.
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}
DPI = 110
LONG_LABEL = 12  # characters: longer tick labels are slanted, with room below for them
LONGEST_LABEL = 24  # characters: longer ones are shortened in the middle (tables keep them)


def _short(label: str) -> str:
    if len(label) <= LONGEST_LABEL:
        return label
    half = (LONGEST_LABEL - 1) // 2
    return f"{label[:half]}\u2026{label[-half:]}"


def _plain_text(draw):
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(PLAIN_TEXT):
            return draw(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float, bottom: float = 0.14) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    figure.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=bottom)
    return figure, axes


@_plain_text
def save(figure: Figure, path: Path) -> Path:
    return write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=DPI))


@_plain_text
def box_plot(
    columns: Mapping[str, Sequence[float]], title: str, persistence: float | None = None
) -> Figure:
    """One box per column of RMSEs (NaNs, failed repeats, left out), the persistence RMSE
    as a dashed line."""
    labels = [_short(str(name)) for name in columns]
    longest = max(map(len, labels))
    slanted = longest > LONG_LABEL
    # Room below for the labels: about 3.4 pixels of height per character at 30 degrees.
    below = (30 + 3.4 * longest) / (4.2 * DPI) if slanted else 0.1
    figure, axes = _figure(max(5, 1.6 * len(columns)), 4.2, bottom=below)
    values = [np.asarray(v, dtype=float) for v in columns.values()]
    axes.boxplot([v[np.isfinite(v)] for v in values], tick_labels=labels)
    if persistence is not None:
        axes.axhline(persistence, color="grey", linestyle="--", linewidth=1, label="persistence")
        axes.legend(loc="upper right", fontsize=8)
    axes.set_ylabel("test RMSE (the series' units)")
    axes.set_title(title, fontsize=10)
    axes.tick_params(axis="x", labelsize=8)
    if slanted:
        for label in axes.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    return figure


@_plain_text
def series_plot(series: pd.Series) -> Figure:
    figure, axes = _figure(7, 3.5, bottom=0.25)
    axes.plot(np.arange(len(series)), series.to_numpy(), marker=".")
    step = max(1, len(series) // 12)
    axes.set_xticks(np.arange(0, len(series), step))
    axes.set_xticklabels([str(x) for x in series.index[::step]], rotation=45, fontsize=8)
    axes.set_ylabel(str(series.name or "value"))
    axes.set_title("The data set", fontsize=10)
    return figure


@_plain_text
def forecast_plot(
    results: Mapping[str, object], names: Sequence[str] = ("stateful", "stateless")
) -> Figure:
    """Median forecast across repeats (10-90% band) against the actual test months."""
    shown = [results[n] for n in names if n in results] or list(results.values())[:2]
    dataset = shown[0].dataset
    x = np.arange(len(dataset.test_actual))
    figure, axes = _figure(7, 3.8, bottom=0.22)
    axes.plot(x, dataset.test_actual, color="black", marker="o", label="actual")
    axes.plot(x, dataset.test_previous, color="grey", linestyle="--", label="persistence")
    for result in shown:
        finished = result.forecasts[~result.failed]
        if not len(finished):
            continue
        low, median, high = np.percentile(finished, [10, 50, 90], axis=0)
        (line,) = axes.plot(x, median, marker=".", label=f"{result.name} (median)")
        axes.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
    axes.set_xticks(x)
    axes.set_xticklabels([str(v) for v in dataset.test_index], rotation=45, fontsize=8)
    axes.set_title("Forecasts for the test year (band: 10-90% of repeats)", fontsize=10)
    axes.legend(fontsize=8)
    return figure


@_plain_text
def se_curve_plot(curve: pd.DataFrame, experiment: str) -> Figure:
    """Standard error of the mean RMSE against repeats (bootstrap, and s / sqrt(n))."""
    figure, axes = _figure(6, 3.8)
    axes.plot(curve["repeats"], curve["bootstrap_se"], marker="o", label="bootstrap")
    axes.plot(curve["repeats"], curve["formula_se"], linestyle="--", label="s / sqrt(n)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("repeats")
    axes.set_ylabel("standard error of the mean RMSE")
    axes.set_title(f"A vs A: how the standard error shrinks ({experiment})", fontsize=10)
    axes.legend(fontsize=8)
    return figure


@_plain_text
def log_ratio_plot(
    ratios: Mapping[str, Sequence[float]],
    titles: Mapping[str, str],
    reference: Mapping[str, float] | None = None,
) -> Figure:
    """Per expectation, the ECDF of the per-series log ratios log(mean A / mean B) (below 0:
    A has the lower RMSE), with 0 marked and the reference series' value (Shampoo) as a red
    line."""
    keys = list(ratios)
    figure, panels = _panels(len(keys))
    for key, axes in zip(keys, panels, strict=True):
        values = np.sort(np.asarray(ratios[key], dtype=float))
        values = values[np.isfinite(values)]
        if len(values):
            axes.ecdf(values, color="C0")
        axes.axvline(0, color="grey", linestyle="--", linewidth=1)
        if reference is not None and np.isfinite(reference.get(key, np.nan)):
            axes.axvline(reference[key], color="C3", linewidth=1.5, label="Shampoo")
            axes.legend(fontsize=7, loc="lower right")
        axes.set_title(_short_title(f"{key}: {titles[key]}"), fontsize=8)
        axes.set_xlabel("log(mean RMSE A / mean RMSE B)", fontsize=7)
        axes.set_ylabel("share of series", fontsize=7)
        axes.tick_params(labelsize=7)
    figure.suptitle("Per-series log ratios (left of 0: the claimed better side, A, is lower)",
                    fontsize=10)  # fmt: skip
    return figure


def _plain_log_axis(axis) -> None:
    """Plain tick labels on a log axis: its default ones are $math$, which PLAIN_TEXT shows
    raw."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _short_title(text: str, width: int = 58) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _panels(count: int, columns: int = 3) -> tuple[Figure, list]:
    """A figure of ``count`` panels, ``columns`` a row (one per expectation)."""
    rows = -(-count // columns)
    figure = Figure(figsize=(11, 3.2 * rows), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.1, hspace=0.55, wspace=0.25)
    return figure, [figure.add_subplot(rows, columns, i + 1) for i in range(count)]


@_plain_text
def forest_plot(rows: pd.DataFrame) -> Figure:
    """The pooled RMSE ratios (random effects): a row each (``label``, ``pooled``, ``ci_low``,
    ``ci_high``, ``pi_low``, ``pi_high``, log scale values, and ``overall``: the
    expectation's all-series row, drawn bold), the 95% CI as a thick line and the prediction
    interval as a thin one, on a log axis with 1 (no difference) marked."""
    count = len(rows)
    height = 1.2 + 0.26 * count
    figure = Figure(figsize=(9, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    figure.subplots_adjust(left=0.42, right=0.97, top=1 - 0.55 / height, bottom=0.55 / height)
    y = np.arange(count)[::-1]
    for position, (_, row) in zip(y, rows.iterrows(), strict=True):
        colour = "C0" if row["overall"] else "C7"
        if np.isfinite(row["pi_low"]):
            axes.plot(np.exp([row["pi_low"], row["pi_high"]]), [position] * 2, color=colour,
                      linewidth=0.8)  # fmt: skip
        if np.isfinite(row["pooled"]):
            axes.plot(np.exp([row["ci_low"], row["ci_high"]]), [position] * 2, color=colour,
                      linewidth=3)  # fmt: skip
            axes.plot(np.exp(row["pooled"]), position, "D", color=colour, markersize=4)
    axes.axvline(1, color="grey", linestyle="--", linewidth=1)
    axes.set_xscale("log")
    _plain_log_axis(axes.xaxis)
    axes.tick_params(axis="x", which="both", labelsize=7)
    axes.set_yticks(y)
    axes.set_yticklabels([_short_title(str(label), 60) for label in rows["label"]], fontsize=7)
    for tick, overall in zip(axes.get_yticklabels(), rows["overall"], strict=True):
        tick.set_fontweight("bold" if overall else "normal")
    axes.set_xlabel("pooled ratio of mean RMSEs, A / B (thick: 95% CI; thin: a new series)",
                    fontsize=8)  # fmt: skip
    axes.set_title("Random-effects meta-analysis of the log ratios", fontsize=10)
    return figure


@_plain_text
def relative_rmse_plot(relative: Mapping[str, Sequence[float]]) -> Figure:
    """One box per experiment of the per-series mean relative RMSEs (RMSE over the persistence
    RMSE; below 1 beats persistence), on a log axis."""
    labels = list(relative)
    figure, axes = _figure(max(7, 0.8 * len(labels)), 4.6, bottom=0.34)
    values = [np.asarray(relative[n], dtype=float) for n in labels]
    axes.boxplot([v[np.isfinite(v) & (v > 0)] for v in values], tick_labels=labels,
                 showfliers=False)  # fmt: skip
    axes.axhline(1, color="grey", linestyle="--", linewidth=1, label="persistence")
    axes.set_yscale("log")
    _plain_log_axis(axes.yaxis)
    axes.set_ylabel("mean relative RMSE per series")
    axes.set_title("Relative RMSE by experiment (whiskers: 1.5 IQR; outliers not drawn)",
                   fontsize=10)  # fmt: skip
    axes.legend(fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    for label in axes.get_xticklabels():
        label.set_rotation(35)
        label.set_horizontalalignment("right")
    return figure


def cd_diagram(ranks: stats.Ranks, title: str) -> Figure:
    """The critical-difference diagram (scikit-posthocs): mean ranks on a line, experiments whose
    Nemenyi p is not below 0.05 joined by a bar, and a bar as long as the critical difference
    above the rank axis (drawn here: scikit-posthocs' own ``cd=`` bar sits on the axis' tick
    labels). A plain Figure on the Agg canvas (no pyplot state); names are plain text, not
    $math$."""
    import scikit_posthocs

    with matplotlib.rc_context(PLAIN_TEXT):
        height = 1.5 + 0.3 * len(ranks.mean_ranks)  # inches: 1 above the axis for the title
        figure = Figure(figsize=(11, height), dpi=110)  # room for long names each side
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        scikit_posthocs.critical_difference_diagram(
            ranks.mean_ranks, ranks.nemenyi, ax=axes,
            label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        )  # fmt: skip
        start, cd = ranks.mean_ranks.min(), ranks.critical_difference
        above = offset_copy(axes.transData, fig=figure, y=24, units="points")
        axes.plot([start, start + cd], [0, 0], color="k", linewidth=2, transform=above, clip_on=False)  # fmt: skip
        axes.text(start + cd / 2, 0, f"CD = {cd:.2f}", transform=offset_copy(above, fig=figure, y=3, units="points"), ha="center", va="bottom")  # fmt: skip
        axes.set_title(title, pad=44)
        figure.subplots_adjust(left=0.3, right=0.7, top=1 - 1.0 / height, bottom=0.1 / height)
    return figure


@_plain_text
def level_plot(
    rows: pd.DataFrame,
    titles: Mapping[str, str],
    factor: str,
    reference: Mapping[tuple[str, str], float] | None = None,
) -> Figure:
    """For one factor, one panel per expectation: the pooled ratio at each level (rows: the
    set-up study's levels table, ``level``, ``value``, ``expectation``, ``pooled_ratio`` and
    ``ratio_*``) with its 95% CI (dark band) and prediction interval (light band), 1 marked,
    and the reference series' ratio at each level ((level, expectation) -> ratio) in red.
    The levels are evenly spaced in the order given; the axis spans the CIs (a prediction
    interval wider than that runs off the panel)."""
    keys = list(titles)
    labels = list(dict.fromkeys(rows["value"]))
    x = np.arange(len(labels))
    figure, panels = _panels(len(keys))
    for i, (key, axes) in enumerate(zip(keys, panels, strict=True)):
        mine = rows[rows["expectation"] == key].set_index("value").reindex(labels)
        axes.fill_between(x, mine["ratio_pi_low"], mine["ratio_pi_high"], color="C0", alpha=0.12,
                          linewidth=0, label="new series (PI)")  # fmt: skip
        axes.fill_between(x, mine["ratio_ci_low"], mine["ratio_ci_high"], color="C0", alpha=0.35,
                          linewidth=0, label="95% CI")  # fmt: skip
        axes.plot(x, mine["pooled_ratio"], "o-", color="C0", markersize=3, label="pooled")
        marks = [(reference or {}).get((level, key), np.nan) for level in mine["level"]]
        if np.isfinite(marks).any():
            axes.plot(x, marks, "s", color="C3", markersize=4, label="Shampoo")
        axes.axhline(1, color="grey", linestyle="--", linewidth=1)
        shown = np.array([1.0, *mine["ratio_ci_low"], *mine["ratio_ci_high"], *marks])
        shown = shown[np.isfinite(shown)]
        low, high = shown.min(), shown.max()
        axes.set_ylim(low - 0.15 * (high - low) - 0.01, high + 0.15 * (high - low) + 0.01)
        axes.set_xticks(x)
        axes.set_xticklabels([_short(str(v)) for v in labels], fontsize=7)
        axes.set_title(_short_title(f"{key}: {titles[key]}"), fontsize=8)
        axes.set_xlabel(factor, fontsize=7)
        axes.set_ylabel("RMSE ratio A / B", fontsize=7)
        axes.tick_params(labelsize=7)
        if i == 0:
            axes.legend(fontsize=6, loc="best")
    figure.suptitle(f"Pooled ratio at each level of {factor} (below 1: A, the claimed better "
                    "side, is lower)", fontsize=10)  # fmt: skip
    return figure


@_plain_text
def verdict_map(
    rows: pd.DataFrame, title: str = "The collection's verdict at each level"
) -> Figure:
    """The verdict on each expectation (rows) at each level (columns; rows: a levels table's
    ``level``, ``expectation``, ``verdict``), one colour per verdict."""
    wide = rows.pivot(index="expectation", columns="level", values="verdict")
    wide = wide[list(dict.fromkeys(rows["level"]))]
    colours = {"supported": "#4c9a5b", "contradicted": "#c8553d", "identical": "#9a9a9a",
               "practically equivalent": "#7fa7d1", "no detectable difference": "#eeeeee"}  # fmt: skip
    codes = {verdict: i for i, verdict in enumerate(stats.VERDICTS)}
    figure, axes = _figure(max(6, 1.1 * wide.shape[1] + 2), 1.8 + 0.45 * len(wide), bottom=0.25)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.88)
    cmap = matplotlib.colors.ListedColormap([colours[v] for v in stats.VERDICTS])
    axes.imshow(wide.apply(lambda c: c.map(codes)).to_numpy(float), cmap=cmap, vmin=-0.5,
                vmax=len(stats.VERDICTS) - 0.5, aspect="auto")  # fmt: skip
    for (i, j), verdict in np.ndenumerate(wide.to_numpy()):
        axes.text(j, i, str(verdict).replace(" ", "\n"), ha="center", va="center", fontsize=6)
    axes.set_xticks(range(wide.shape[1]))
    axes.set_xticklabels([_short(str(c)) for c in wide.columns], fontsize=7, rotation=30,
                         ha="right")  # fmt: skip
    axes.set_yticks(range(len(wide)))
    axes.set_yticklabels(wide.index, fontsize=8)
    axes.set_title(title, fontsize=10)
    return figure


@_plain_text
def partial_effect_plot(effects: Sequence, title: str) -> Figure:
    """One panel per feature that matters in a model (``effects``:
    statelab.studies.moderators.PartialEffect; ``title``: the model, naming its ratio): the
    predicted ratio against the feature on its own scale, the other features at their mean, with its 95% CI (dark band) and prediction interval
    (light band), the series as their partial residuals, and 1 marked. The ratio axis is
    logarithmic (the model is linear in the log ratio, so the curve is a straight line),
    with plain ticks at round ratios."""
    columns = min(3, len(effects))
    rows = -(-len(effects) // columns)
    width, height = 0.9 + 3.7 * columns, 1.0 + 3.0 * rows  # inches
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, top=1 - 0.85 / height,
                           bottom=0.5 / height, hspace=0.6, wspace=0.3)  # fmt: skip
    for i, effect in enumerate(effects):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.fill_between(effect.at, effect.pi_low, effect.pi_high, color="C0", alpha=0.12,
                          linewidth=0, label="new series (95% PI)")  # fmt: skip
        axes.fill_between(effect.at, effect.ci_low, effect.ci_high, color="C0", alpha=0.35,
                          linewidth=0, label="95% CI")  # fmt: skip
        axes.plot(effect.at, effect.ratio, color="C0", label="predicted")
        axes.plot(effect.values, effect.partial, ".", color="C7", markersize=3, alpha=0.6,
                  label="series (partial residuals)")  # fmt: skip
        axes.axhline(1, color="grey", linestyle="--", linewidth=1)
        axes.set_yscale("log")
        low, high = axes.get_ylim()
        ticks = MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(low, high)
        axes.yaxis.set_major_locator(FixedLocator(ticks[ticks > 0]))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.set_ylim(low, high)
        axes.set_title(f"{_short(effect.feature)} (Holm {stats.p_text(effect.holm_p, 2, ' = ')})",
                       fontsize=8)  # fmt: skip
        axes.set_xlabel(f"{_short(effect.feature)} (the others at their mean)", fontsize=7)
        axes.set_ylabel("RMSE ratio (as in the title)", fontsize=7)
        axes.tick_params(labelsize=7)
        if i == 0:
            axes.legend(fontsize=6, loc="best", framealpha=0.7)
    figure.suptitle(f"{_short_title(title, 30 + 30 * columns)}\npartial effects (below 1: the "
                    "first-named has the lower RMSE)", fontsize=9)  # fmt: skip
    return figure
