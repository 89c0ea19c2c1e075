"""Figures (statelab.outputs.plots): each saves a non-blank PNG of the size it was drawn at; user
names with ``$`` signs and HTML draw as plain text; long labels are shortened in the middle;
failed repeats (NaN) are left out of box plots and of the forecast bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import statelab
from statelab.data.dataset import prepare
from statelab.execution.results import Provenance, Results, versions
from statelab.outputs import plots
from statelab.spec import Spec

# With matplotlib's $math$ parsing on, each of these fails to draw (checked below).
DOLLARS = "profit $_$ in $\\frac{$"
HTML = "<b>sales</b> & <script>alert(1)</script>"
PNG = b"\x89PNG\r\n\x1a\n"


def check_png(path, figure) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG)
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    inches = figure.get_size_inches()
    assert (width, height) == (round(inches[0] * plots.DPI), round(inches[1] * plots.DPI))
    assert 300 <= width <= 2000 and 250 <= height <= 1200
    not_white = (pixels < 250).any(axis=1).mean()
    assert 0.01 < not_white < 0.9  # something drawn, not a solid block
    assert len(np.unique(pixels, axis=0)) > 20  # lines, text and antialiasing, not one colour


def made(name: str, forecasts: np.ndarray, failures: list[str]) -> Results:
    n = len(forecasts)
    dataset = prepare(statelab.shampoo(), Spec())
    return Results(
        name=name, spec=Spec(), series="sales", data_hash="x", seed=1, repeats=np.arange(n),
        rmse=np.full(n, 100.0), relative_rmse=np.full(n, 0.7), mase=np.full(n, 1.1),
        forecasts=np.asarray(forecasts, dtype=float),
        forecasts_scaled=np.zeros((n, 12)), final_loss=np.zeros(n),
        failures=np.array(failures, dtype=object), dataset=dataset, persistence_rmse=136.761,
        provenance=Provenance(versions=(versions(),), devices=("cpu",)),
    )  # fmt: skip


def curve() -> pd.DataFrame:
    repeats = np.array([5, 10, 20, 50, 100])
    return pd.DataFrame(
        {"repeats": repeats, "bootstrap_se": 9.3 / np.sqrt(repeats) * 1.02,
         "formula_se": 9.3 / np.sqrt(repeats), "ci95_half_width": 18.2 / np.sqrt(repeats)}
    )  # fmt: skip


RNG = np.random.default_rng(0)
COLUMNS = {"stateful": 100 + 9 * RNG.standard_normal(20), "stateless": 95 + RNG.standard_normal(20)}


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.box_plot(COLUMNS, "Stateful vs stateless", 136.761),
        lambda: plots.series_plot(statelab.shampoo()),
        lambda: plots.forecast_plot(
            {"stateful": made("stateful", 300 + RNG.normal(0, 30, (4, 12)), [""] * 4)}
        ),
        lambda: plots.se_curve_plot(curve(), "stateful"),
    ],
    ids=["box", "series", "forecasts", "se_curve"],
)
def test_each_figure_saves_a_non_blank_png_of_its_size(tmp_path, draw):
    figure = draw()
    path = tmp_path / "figure.png"
    assert plots.save(figure, path) == path
    check_png(path, figure)
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]  # no temporary left


def test_the_names_that_break_math_parsing_really_do_break_it():
    # The guard below would be vacuous if these drew fine with $math$ parsing on.
    figure, axes = plots._figure(4, 3)
    axes.set_title(DOLLARS, parse_math=True)
    with pytest.raises(ValueError):
        figure.canvas.draw()


def test_names_with_dollar_signs_and_html_draw_as_plain_text(tmp_path):
    box = plots.box_plot({DOLLARS: [1.0, 2.0, 3.0], HTML: [2.0, 3.0, 4.0]}, DOLLARS, 2.5)
    months = pd.period_range("2001-01", periods=24, freq="M")
    series = pd.Series(np.arange(24.0), index=months, name=DOLLARS)
    line = plots.series_plot(series)
    forecast = plots.forecast_plot({DOLLARS: made(DOLLARS, np.ones((2, 12)), ["", ""])})
    se = plots.se_curve_plot(curve(), HTML)
    for i, figure in enumerate((box, line, forecast, se)):
        path = plots.save(figure, tmp_path / f"{i}.png")
        check_png(path, figure)
        for text in figure.findobj(lambda artist: hasattr(artist, "get_parse_math")):
            assert text.get_parse_math() is False, text.get_text()
    axes = box.axes[0]
    assert axes.get_title() == DOLLARS  # kept whole, drawn as written
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        plots._short(DOLLARS),
        plots._short(HTML),
    ]
    assert line.axes[0].get_ylabel() == DOLLARS
    assert f"{DOLLARS} (median)" in [t.get_text() for t in forecast.axes[0].get_legend().texts]
    assert se.axes[0].get_title() == f"A vs A: how the standard error shrinks ({HTML})"


def test_long_labels_are_shortened_in_the_middle():
    long = "experiment_with_a_really_long_descriptive_name"  # 46 characters
    exactly = "x" * 24
    figure = plots.box_plot({long: [1.0, 2.0], exactly: [2.0, 3.0], "short": [1.0]}, "t")
    labels = figure.axes[0].get_xticklabels()
    assert [t.get_text() for t in labels] == [
        "experiment_\u2026iptive_name",  # 11 first, an ellipsis, 11 last
        exactly,  # 24 is not too long
        "short",
    ]
    assert all(t.get_rotation() == 30 for t in labels)  # long labels are slanted
    assert plots._short("y" * 25) == "y" * 11 + "\u2026" + "y" * 11
    short_only = plots.box_plot({"a": [1.0], "b": [2.0]}, "t")
    assert all(t.get_rotation() == 0 for t in short_only.axes[0].get_xticklabels())


def line_data(figure) -> list[list[float]]:
    return [list(map(float, line.get_ydata())) for line in figure.axes[0].get_lines()]


def test_nan_rmses_are_left_out_of_box_plots():
    with_nan = plots.box_plot({"a": [1.0, np.nan, 2.0, 3.0, 4.0, np.nan], "b": [5.0, 6.0]}, "t")
    without = plots.box_plot({"a": [1.0, 2.0, 3.0, 4.0], "b": [5.0, 6.0]}, "t")
    drawn = line_data(with_nan)
    assert drawn == line_data(without)
    assert not np.isnan([y for ys in drawn for y in ys]).any()
    # the median line of "a" sits at 2.5, the median of 1, 2, 3, 4
    medians = [line for line in with_nan.axes[0].get_lines() if line.get_label() == "_nolegend_"]
    assert any(list(line.get_ydata()) == [2.5, 2.5] for line in medians)


def test_failed_repeats_are_left_out_of_the_forecast_bands():
    base = np.linspace(300.0, 600.0, 12)
    finished = np.stack([base, base + 10.0, base + 40.0])
    # failed repeats: one with NaN forecasts, one with finite nonsense
    forecasts = np.vstack([finished, np.full((1, 12), np.nan), np.full((1, 12), 1e6)])
    result = made("stateful", forecasts, ["", "", "", "forecast not finite", "RMSE not finite"])
    figure = plots.forecast_plot({"stateful": result})
    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert set(lines) == {"actual", "persistence", "stateful (median)"}
    np.testing.assert_allclose(lines["stateful (median)"].get_ydata(), base + 10.0)
    np.testing.assert_array_equal(lines["actual"].get_ydata(), result.dataset.test_actual)
    np.testing.assert_array_equal(lines["persistence"].get_ydata(), result.dataset.test_previous)
    (band,) = axes.collections
    y = band.get_paths()[0].vertices[:, 1]
    assert np.isfinite(y).all()
    # 10% and 90% of base, base + 10, base + 40: base + 2 and base + 34
    assert np.isclose(y.min(), base.min() + 2.0) and np.isclose(y.max(), base.max() + 34.0)


def test_a_result_whose_repeats_all_failed_draws_no_line():
    good = made("stateful", np.ones((2, 12)), ["", ""])
    bad = made("stateless", np.full((2, 12), np.nan), ["forecast not finite"] * 2)
    figure = plots.forecast_plot({"stateful": good, "stateless": bad})
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["actual", "persistence", "stateful (median)"]
    assert len(figure.axes[0].collections) == 1
