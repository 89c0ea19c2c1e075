"""Figures: box plots of RMSEs, the series, forecasts against the actual test year."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from statelab.files import write_atomic  # noqa: E402

# Names come from users (column names, file names): draw them as plain text, never as
# matplotlib's $math$ markup, which fails on a stray dollar sign.
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def _plain_text(draw):
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(PLAIN_TEXT):
            return draw(*args, **kwargs)

    return wrapper


@_plain_text
def save(figure: plt.Figure, path: Path) -> Path:
    try:
        return write_atomic(
            path, lambda temporary: figure.savefig(temporary, format="png", dpi=110)
        )
    finally:
        plt.close(figure)


@_plain_text
def box_plot(
    columns: Mapping[str, Sequence[float]], title: str, persistence: float | None = None
) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(max(5, 1.6 * len(columns)), 4.2))
    axes.boxplot(list(columns.values()), tick_labels=list(columns))
    if persistence is not None:
        axes.axhline(persistence, color="grey", linestyle="--", linewidth=1, label="persistence")
        axes.legend(loc="upper right", fontsize=8)
    axes.set_ylabel("test RMSE (sales units)")
    axes.set_title(title, fontsize=10)
    axes.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    return figure


@_plain_text
def series_plot(series: pd.Series) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.plot(np.arange(len(series)), series.to_numpy(), marker=".")
    step = max(1, len(series) // 12)
    axes.set_xticks(np.arange(0, len(series), step))
    axes.set_xticklabels([str(x) for x in series.index[::step]], rotation=45, fontsize=8)
    axes.set_ylabel(str(series.name or "value"))
    axes.set_title("The data set", fontsize=10)
    figure.tight_layout()
    return figure


@_plain_text
def forecast_plot(
    results: Mapping[str, object], names: Sequence[str] = ("stateful", "stateless")
) -> plt.Figure:
    """Median forecast across repeats (10-90% band) against the actual test months."""
    shown = [results[n] for n in names if n in results] or list(results.values())[:2]
    dataset = shown[0].dataset
    x = np.arange(len(dataset.test_actual))
    figure, axes = plt.subplots(figsize=(7, 3.8))
    axes.plot(x, dataset.test_actual, color="black", marker="o", label="actual")
    axes.plot(x, dataset.test_previous, color="grey", linestyle="--", label="persistence")
    for result in shown:
        low, median, high = np.percentile(result.forecasts, [10, 50, 90], axis=0)
        (line,) = axes.plot(x, median, marker=".", label=f"{result.name} (median)")
        axes.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
    axes.set_xticks(x)
    axes.set_xticklabels([str(v) for v in dataset.test_index], rotation=45, fontsize=8)
    axes.set_title("Forecasts for the test year (band: 10-90% of repeats)", fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


@_plain_text
def se_curve_plot(curve: pd.DataFrame, experiment: str) -> plt.Figure:
    """Standard error of the mean RMSE against repeats (bootstrap, and s / sqrt(n))."""
    figure, axes = plt.subplots(figsize=(6, 3.8))
    axes.plot(curve["repeats"], curve["bootstrap_se"], marker="o", label="bootstrap")
    axes.plot(curve["repeats"], curve["formula_se"], linestyle="--", label="s / sqrt(n)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("repeats")
    axes.set_ylabel("standard error of the mean RMSE")
    axes.set_title(f"A vs A: how the standard error shrinks ({experiment})", fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
