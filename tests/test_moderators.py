"""Which series does state help: the meta-regression's prediction intervals, the plain-words
line, the per-expectation models with their out-of-sample check on simulated series, the
partial-effect figures, and the report's section "Which series does state help?"."""

import contextlib
import io
import json
import shutil
import struct
from functools import partial
from html import escape
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from statelab import stats
from statelab.errors import StatelabError
from statelab.studies import moderators as mod
from test_stats_pooling import BCG, METAFOR, VI, YI

# t_{0.975} on 2 degrees of freedom, as printed in every t table (4.303).
T2 = 4.302652729911275


def test_prediction_interval_worked_by_hand():
    """y = 1 + 2x exactly, x = -1, 0, 1, 0, every SE 1: REML tau2 is 0 (no residual), q = 0
    is truncated to 1, so V = (X'X)^-1 = diag(1/4, 1/2). At x = 2: 1 + 2 * 2 = 5, x'Vx = 1/4 +
    4/2 = 2.25, and on k - p = 2 df the interval is 5 -+ 4.303 * 1.5; with a new series'
    sampling variance 1 under the root, 5 -+ 4.303 * sqrt(3.25)."""
    x = np.array([-1.0, 0.0, 1.0, 0.0])
    fit = stats.meta_regression(1 + 2 * x, np.ones(4), x)
    assert fit.tau2 == 0
    shown = stats.predict(fit, np.array([2.0]))
    assert shown.estimate == pytest.approx([5.0])
    assert shown.se == pytest.approx([1.5])
    assert shown.pi_low == pytest.approx([5 - T2 * 1.5])
    assert shown.pi_high == pytest.approx([5 + T2 * 1.5])
    wider = stats.predict(fit, np.array([2.0, 0.0]), variance=1.0)
    assert wider.pi_high == pytest.approx([5 + T2 * np.sqrt(3.25), 1 + T2 * np.sqrt(0.25 + 1)])


def test_prediction_at_latitude_0_from_metafors_published_bcg_fit():
    """At ablat = 0 only the intercept enters, so metafor's published fit of rma(yi, vi, mods =
    ~ ablat, test="knha") gives the prediction: 0.2515 with SE 0.2839, and the interval 0.2515
    -+ t_{11} sqrt(0.0764 + 0.2839^2), t_{0.975, 11} = 2.201 (a t table's)."""
    fit = stats.meta_regression(YI, np.sqrt(VI), BCG["ablat"])
    shown = stats.predict(fit, np.array([0.0, 0.0]))
    half = 2.200985160082949 * np.sqrt(0.0764 + 0.2839**2)
    assert shown.estimate == pytest.approx([0.2515] * 2, abs=METAFOR)
    assert shown.se == pytest.approx([0.2839] * 2, abs=METAFOR)
    assert shown.pi_low == pytest.approx([0.2515 - half] * 2, abs=5 * METAFOR)
    assert shown.pi_high == pytest.approx([0.2515 + half] * 2, abs=5 * METAFOR)


def test_prediction_of_the_intercept_only_model():
    """Without moderators the prediction is the pooled mean, its SE the pooled mean's (Knapp-
    Hartung), and the interval pooled -+ t_{k-1} sqrt(tau2 + se^2)."""
    y = np.array([0.1, -0.2, 0.3, 0.05, -0.1])
    se = np.array([0.1, 0.05, 0.2, 0.1, 0.08])
    fit = stats.meta_regression(y, se)
    assert fit.tau2 > 0
    row = fit.coefficients.loc["intercept"]
    shown = stats.predict(fit)
    half = 2.7764451051977987 * np.sqrt(fit.tau2 + row["se"] ** 2)  # t_{0.975, 4}: 2.776
    assert (shown.estimate[0], shown.se[0]) == pytest.approx((row["estimate"], row["se"]))
    interval = (row["estimate"] - half, row["estimate"] + half)
    assert (shown.pi_low[0], shown.pi_high[0]) == pytest.approx(interval)
    with pytest.raises(StatelabError, match="2 moderator.s. given for a model of 1"):
        stats.predict(stats.meta_regression(y, se, np.arange(5.0)), np.ones((2, 2)))


def _model(rows, r2=0.4):
    """A model whose coefficient table is ``rows``: (term, estimate, t, holm_p)."""
    table = pd.DataFrame(rows, columns=["term", "estimate", "t", "holm_p"]).set_index("term")
    table["p"] = table["holm_p"] / 4  # raw p below 0.05 everywhere: only Holm's may decide
    intercept = pd.DataFrame({"estimate": [0.0], "t": [0.0], "holm_p": [np.nan], "p": [0.5]},
                             index=pd.Index(["intercept"], name="term"))  # fmt: skip
    e6 = stats.EXPECTATIONS[5]
    return mod.Model(e6, 12, tuple(table.index), (), 100, 0, SimpleNamespace(r2=r2),
                     pd.concat([intercept, table]), None, "")  # fmt: skip


def test_words_from_the_holm_adjusted_coefficients():
    """A negative coefficient (the log ratio stateful/reset falls as the feature rises) names
    the feature's high side, a positive one its low side, strongest |t| first; a coefficient
    whose raw p is below 0.05 but whose Holm p is not is left out."""
    line = mod.words(_model([("length", -0.05, -3.0, 0.01), ("seasonal_strength", -0.08, -6.0,
                             0.001), ("trend_strength", 0.04, 2.5, 0.03),
                             ("persistence_error", -0.02, -2.1, 0.12)]))  # fmt: skip
    assert line == ("E6 (stateful/stateful_reset_test, frequency 12): stateful does best against "
                    "stateful_reset_test on strongly seasonal, long, weakly trending series (the "
                    "features explain 40% of tau2).")  # fmt: skip


def test_words_when_no_coefficient_qualifies():
    line = mod.words(_model([("length", -0.05, -2.2, 0.08), ("persistence_error", 0.1, 2.0, 0.2)]))
    assert "do not explain the spread" in line
    assert "long" not in line and "smooth" not in line


def _simulated(n, effect, seed, frequencies=(12,)):
    """``n`` series per frequency with uniform features and, for every expectation, log ratios
    with SEs 0.02 to 0.08 and a between-series SD 0.05; E6's mean falls by ``effect`` per SD of
    seasonal strength (the only moderator that matters)."""
    rng = np.random.default_rng(seed)
    frames = []
    for f in frequencies:
        frames.append(pd.DataFrame({
            "frequency": f, "length": rng.integers(48, 126, n).astype(float),
            "trend_strength": rng.uniform(0, 1, n),
            "seasonal_strength": rng.uniform(0, 1, n) if f > 1 else np.nan,
            "persistence_error": rng.uniform(0.2, 1.4, n)}))  # fmt: skip
    features = pd.concat(frames, ignore_index=True)
    features.index = pd.Index([f"s{i}" for i in range(len(features))], name="series")
    features["frequency"] = features["frequency"].astype("Int64")
    seasonal = features["seasonal_strength"].fillna(0.5)
    z = ((seasonal - seasonal.mean()) / seasonal.std()).to_numpy()
    rows = []
    for expectation in stats.EXPECTATIONS:
        se = rng.uniform(0.02, 0.08, len(features))
        mean = -effect * z if expectation.key == "E6" else 0.0
        y = mean + rng.normal(0, 0.05, len(features)) + rng.normal(0, se)
        rows += [{"series": s, "expectation": expectation.key, "log_ratio": a, "log_ratio_se": b}
                 for s, a, b in zip(features.index, y, se, strict=True)]  # fmt: skip
    return pd.DataFrame(rows), features


def test_a_known_moderator_is_found_and_predicted_out_of_sample():
    """400 series, E6's log ratio falling 0.1 per SD of seasonal strength: the coefficient's
    CI covers -0.1, the words name strongly seasonal series, the held-out intervals cover near
    95%, and the features beat the pooled mean."""
    found = mod.regress(*_simulated(400, 0.1, seed=3))
    e6 = next(m for m in found.models if m.expectation.key == "E6")
    row = e6.coefficients.loc["seasonal_strength"]
    assert row["ci_low"] < -0.1 < row["ci_high"] and row["holm_p"] < 0.05
    assert "on strongly seasonal series" in e6.words
    check = e6.out_of_sample
    assert (check.fitted, check.held_out) == (200, 200)
    assert 0.9 <= check.coverage <= 0.99  # 200 draws at 0.95: SE 0.015
    assert check.rmse < 0.75 * check.baseline_rmse
    assert "so the features beat the pooled mean" in e6.words
    assert len(found.table) == 6 * 5
    assert list(found.table["expectation"].unique()) == [e.key for e in stats.EXPECTATIONS]


def test_no_moderator_effect_the_pooled_mean_wins():
    """No feature matters, 40 series: the features explain nothing, and out of sample their
    four coefficients fitted on 20 series predict worse than the pooled mean, and the words
    say so."""
    e1 = mod.regress(*_simulated(40, 0.0, seed=5)).models[0]
    assert e1.expectation.key == "E1"
    assert "do not explain the spread" in e1.words
    p = e1.coefficients["p"].iloc[1:]  # Holm: the smallest of the 4 p-values times 4
    assert e1.coefficients.loc[p.idxmin(), "holm_p"] == pytest.approx(min(1.0, 4 * p.min()))
    assert 0.05 < 4 * p.min() < 1
    assert e1.out_of_sample.rmse > e1.out_of_sample.baseline_rmse
    assert "so the features do not beat the pooled mean for everyone" in e1.words


def test_per_frequency_models_leave_the_seasons_out_of_yearly_series():
    table, features = _simulated(30, 0.0, seed=1, frequencies=(12, 1))
    features.loc["s0", "seasonal_strength"] = np.nan  # a monthly series too short for seasons
    found = mod.regress(table, features, seed=2)
    e1 = [m for m in found.models if m.expectation.key == "E1"]
    assert [m.frequency for m in e1] == [1, 12]
    yearly, monthly = e1
    assert yearly.moderators == ("length", "trend_strength", "persistence_error")
    assert yearly.dropped == ("seasonal_strength",) and yearly.left_out == 0
    assert monthly.left_out == 1 and monthly.fit.k == 29 and yearly.fit.k == 30


def test_collinear_features_are_said_in_words_not_fatal():
    table, features = _simulated(30, 0.0, seed=1)
    features["trend_strength"] = 1 - 2 * features["seasonal_strength"]
    found = mod.regress(table, features)
    assert all("no model" in m.words and "collinear" in m.words for m in found.models)
    assert found.table.empty


def test_bad_requests_are_refused():
    table, features = _simulated(30, 0.0, seed=1)
    with pytest.raises(StatelabError, match="unknown moderator.*wiggliness"):
        mod.regress(table, features, ("length", "wiggliness"))
    with pytest.raises(StatelabError, match="no features for 1 series"):
        mod.regress(table, features.drop("s3"))


def test_the_files_match_their_schemas():
    from statelab import layout, records
    from statelab.outputs.moderators import _model

    found = mod.regress(*_simulated(40, 0.1, seed=4, frequencies=(12, 1)))
    checked = layout.check(layout.MODERATORS_TABLE, found.table)
    assert len(checked) == 6 * 5 + 6 * 4  # monthly: intercept and 4; yearly: no seasons
    for model in found.models:
        assert records.check(records._Model, _model(model))["expectation"] == model.expectation.key


# --- The partial effects ----------------------------------------------------------------------

# t_{0.975} on 5 degrees of freedom, as printed in every t table (2.571).
T5 = 2.5705818366147395


def _worked_example():
    """8 series of frequency 12 on two features with an orthogonal design: length 100 -+ 20
    and trend strength 0.5 -+ 0.2 in a 2x2 pattern twice over, every SE 0.05 (v = 0.0025),
    and log ratios y = 0.1 - 0.002 (length - 100) + 0.25 (trend - 0.5) + 0.1 x1 x2: the last
    term, orthogonal to the design, is the residual. With equal variances WLS is OLS, so the
    coefficients are exactly the ones built in, and REML's tau2 has the closed form
    RSS / (k - p) - v = 8 * 0.01 / 5 - 0.0025 = 0.0135; then q = 1, and the covariance on the
    standardised features is (v + tau2) (X'X)^-1 = 0.016 diag(1/8, 1/7, 1/7) (each column of
    -+1 / sqrt(8/7) sums to 7 in squares)."""
    x1 = np.array([1, 1, -1, -1, 1, 1, -1, -1.0])
    x2 = np.array([1, -1, 1, -1, 1, -1, 1, -1.0])
    names = pd.Index([f"s{i}" for i in range(8)], name="series")
    features = pd.DataFrame({"frequency": 12, "length": 100 + 20 * x1,
                             "trend_strength": 0.5 + 0.2 * x2}, index=names)  # fmt: skip
    features["frequency"] = features["frequency"].astype("Int64")
    y = 0.1 - 0.04 * x1 + 0.05 * x2 + 0.1 * x1 * x2
    table = pd.DataFrame([{"series": s, "expectation": e.key, "log_ratio": a, "log_ratio_se": 0.05}
                          for e in stats.EXPECTATIONS for s, a in zip(names, y, strict=True)])  # fmt: skip
    found = mod.regress(table, features, ("length", "trend_strength"))
    return found.models[0], y, x2


def test_the_partial_effect_curve_worked_by_hand_at_two_points():
    """At length L, trend at its mean: the log ratio 0.1 - 0.002 (L - 100); its SE^2 is
    0.016 (1/8 + z^2/7) with z = (L - 100) / (20 sqrt(8/7)), so 0.016 (1/8 + (L - 100)^2 /
    3200): 0.004 at L = 120 and 0.0025 at L = 90; the CI is exp(estimate -+ t_5 SE), the
    prediction interval exp(estimate -+ t_5 sqrt(0.0135 + SE^2)). The series' partial
    residuals are their log ratios less the trend's term, 0.05 x2, exp'd."""
    model, y, x2 = _worked_example()
    assert model.fit.tau2 == pytest.approx(0.0135, rel=1e-6)
    effect = mod.partial_effect(model, "length", np.array([120.0, 90.0]))
    estimate = np.array([0.06, 0.12])
    se = np.sqrt([0.004, 0.0025])
    assert effect.ratio == pytest.approx(np.exp(estimate))
    assert effect.ci_low == pytest.approx(np.exp(estimate - T5 * se))
    assert effect.ci_high == pytest.approx(np.exp(estimate + T5 * se))
    wide = np.sqrt(0.0135 + se**2)
    assert effect.pi_low == pytest.approx(np.exp(estimate - T5 * wide), rel=1e-6)
    assert effect.pi_high == pytest.approx(np.exp(estimate + T5 * wide), rel=1e-6)
    assert effect.values == pytest.approx(model.fitted.values["length"].to_numpy())
    assert effect.partial == pytest.approx(np.exp(y - 0.05 * x2))
    drawn = mod.partial_effect(model, "length")  # by default across the series' range
    assert (drawn.at[0], drawn.at[-1], len(drawn.at)) == (80, 120, 101)


def test_figures_are_drawn_for_the_features_that_matter_only(tmp_path):
    """200 series where only seasonal strength moves E6's log ratio: E6 at frequency 12 gets
    the one figure, of one panel (4.6 inches wide at 110 dpi); the null models get none,
    though in E1 (length) and E5 (seasonal strength) a raw p is below 0.05 (Holm's is not)."""
    from statelab.outputs.moderators import write_moderators

    found = mod.regress(*_simulated(200, 0.1, seed=10))
    raw = {m.expectation.key for m in found.models if (m.coefficients["p"].iloc[1:] < 0.05).any()}
    assert raw == {"E1", "E5", "E6"}  # so a rule on the raw p would draw three figures
    drawn = {m.expectation.key: [e.feature for e in mod.partial_effects(m)] for m in found.models}
    assert drawn == {"E1": [], "E2": [], "E3": [], "E4": [], "E5": [], "E6": ["seasonal_strength"]}
    written = [path.name for path in write_moderators(found, "simulated", tmp_path)]
    assert written == ["moderators.csv", "moderators.json", "moderators_E6_f12.png"]
    header = (tmp_path / "moderators_E6_f12.png").read_bytes()[:24]
    assert struct.unpack(">II", header[16:24]) == (506, 440)  # (0.9 + 3.7) x (1 + 3) inches


def test_the_file_names_cover_every_frequency_and_a_new_set_drops_stale_figures(tmp_path):
    """names(plan) lists a figure for each expectation at each frequency among the plan's
    series (yearly, monthly, and unknown for a CSV file), so the file set of a later run where
    nothing matters drops the earlier figure."""
    from statelab.execution import fileset
    from statelab.outputs import moderators as files

    plan = SimpleNamespace(series={"m3:N0001": None, "m3:N1402": None, "shampoo": None,
                                   str(tmp_path / "mine.csv"): None})  # fmt: skip
    names = files.names(plan)
    for key in ("E1", "E6"):
        assert {f"moderators_{key}_f1.png", f"moderators_{key}_f12.png",
                f"moderators_{key}_unknown_frequency.png"} <= set(names)  # fmt: skip
    assert not [name for name in names if name.endswith("_f4.png")]
    helped = mod.regress(*_simulated(200, 0.1, seed=10))
    fileset.publish(tmp_path, partial(files.write_moderators, helped, "simulated"), names)
    assert (tmp_path / "moderators_E6_f12.png").is_file()
    fileset.publish(tmp_path, partial(files.write_moderators, mod.regress(*_simulated(
        200, 0.0, seed=10)), "simulated"), names)  # fmt: skip
    assert not (tmp_path / "moderators_E6_f12.png").exists()
    assert (tmp_path / "moderators.json").is_file()


# --- End to end, and the report's section -----------------------------------------------------

THREE_ARGV = ["generalise", "--data", "m3:N1402,m3:N1403,m3:N1404", "--repeats", "3",
              "--epochs", "2", "--quiet", "--moderators"]  # fmt: skip


def _cli(argv) -> str:
    """Run the CLI, which must succeed; what it printed."""
    from statelab.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return printed.getvalue()


@pytest.fixture(scope="module")
def moderated(tmp_path_factory) -> tuple[Path, str]:
    """`generalise --moderators` on three series (too few for any model), and what it
    printed."""
    out = tmp_path_factory.mktemp("moderated") / "out"
    return out, _cli([*THREE_ARGV, "--out", str(out)])


def test_generalise_moderators_through_the_cli(moderated, capsys):
    """Three series: too few for any model, which the words say; the files are written, and
    --moderators with --vary is one line, status 2."""
    from statelab.cli import main

    out, printed = moderated
    assert "Which series does state help?" in printed
    written = json.loads((out / "moderators.json").read_text())
    assert [m["expectation"] for m in written["models"]] == [e.key for e in stats.EXPECTATIONS]
    assert all("too few series" in m["words"] and m["k"] is None for m in written["models"])
    assert pd.read_csv(out / "moderators.csv").empty and (out / "per_series.csv").exists()
    assert not list(out.glob("moderators_*.png"))
    with pytest.raises(SystemExit) as exit_info:
        main([*THREE_ARGV, "--out", str(out), "--vary", "epochs=1,2"])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "--moderators applies to one set-up" in error
    assert len(error.splitlines()) == 1


def test_the_report_says_when_no_model_could_be_fitted(moderated, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(moderated[0], folder, symlinks=True)
    _cli(["report", str(folder)])
    html = (folder / "report.html").read_text()
    section = html[html.index("Which series does state help?") :]
    section = section[: section.index("</details>")]
    assert "0 of 6 models had the series to be fitted" in section
    assert "Too few series to check any model out of sample." in section
    assert section.count("too few series with a tested log ratio") == 6
    assert "<img" not in section and "<table" not in section


@pytest.fixture(scope="module")
def helped(moderated, tmp_path_factory) -> tuple[Path, mod.Moderators]:
    """The folder of ``moderated`` with the moderators of 200 simulated series where only
    seasonal strength moves E6 (written as `generalise --moderators` writes them), and its
    report."""
    from statelab.outputs.moderators import write_moderators

    folder = tmp_path_factory.mktemp("helped") / "out"
    shutil.copytree(moderated[0], folder, symlinks=True)
    found = mod.regress(*_simulated(200, 0.1, seed=10))
    write_moderators(found, "simulated", folder)
    _cli(["report", str(folder)])
    return folder, found


def _section(html: str) -> str:
    start = html.index("<h2>Which series does state help?</h2>")
    return html[start : html.index("</details>", start)]


def test_the_section_shows_each_model_with_the_numbers_of_its_files(helped):
    """The section sits after the groups of series; for E6 the coefficients of moderators.csv
    (read here with pandas) shown to 3 decimals with their CIs and Holm p, the share of tau2,
    the words, the figure, and the out-of-sample figures of moderators.json; for the null
    models the plain statement that the features do not beat the pooled mean."""
    from statelab.report.toolkit import number, p_value

    folder, found = helped
    html = (folder / "report.html").read_text()
    assert html.index("Each expectation by group of series") < html.index(
        "Which series does state help?") < html.index("Which regime wins")  # fmt: skip
    section = _section(html)
    assert "A feature matters (Holm p &lt; 0.05) in 1: E6 stateful/stateful_reset_test, " \
           "frequency 12 (seasonal_strength)." in section  # fmt: skip
    table = pd.read_csv(folder / "moderators.csv")
    e6 = table[table["expectation"] == "E6"].set_index("term")
    row = e6.loc["seasonal_strength"]
    assert row["estimate"] < 0 and row["holm_p"] < 1e-10
    e6_part = section[section.index("<h3>E6 ") :]
    assert (f"<td>{number(row['estimate'])}<br><small><span class=\"nowrap\">"
            f"{number(row['ci_low'])} to {number(row['ci_high'])}</span></small></td>"
            f"<td>{number(np.exp(row['estimate']))}</td><td>{p_value(row['p'])}</td>"
            f"<td>{p_value(row['holm_p'])}</td>") in e6_part  # fmt: skip
    assert "<b>seasonal_strength</b>" in e6_part and "<b>length</b>" not in e6_part
    record = json.loads((folder / "moderators.json").read_text())
    model = record["models"][5]
    assert f"the features explain {model['r2']:.0%} of tau2" in e6_part
    assert escape(model["words"]) in e6_part
    assert e6_part.count("<img") == 1 and 'alt="partial effects of seasonal_strength on E6"' \
        in e6_part  # fmt: skip
    check = model["out_of_sample"]
    assert (f"<td>{check['coverage']:.0%}</td><td>{number(check['rmse'])}</td>" in e6_part
            and f"<td>{number(check['baseline_rmse'])}</td>" in e6_part)  # fmt: skip
    assert "the features beat the pooled mean for everyone (RMSE" in e6_part
    not_beaten = [m for m in record["models"]
                  if m["out_of_sample"]["rmse"] >= m["out_of_sample"]["baseline_rmse"]]  # fmt: skip
    assert not_beaten and section.count("the features do not beat the pooled mean for "
                                        "everyone</b>") == len(not_beaten)  # fmt: skip
    assert (f"beat the pooled mean for everyone in {6 - len(not_beaten)} of 6 models; where "
            "they do not") in section  # fmt: skip
    assert section.count("<img") == 1 == len(list(folder.glob("moderators_*.png")))
    assert found.models[5].words == model["words"]


def test_the_section_renders_in_headless_chromium(helped):
    """Every figure of the page loads (the four of the generalisation and the partial
    effects), unfolding the section shows its tables and figure, no script errors, no
    network, and the page fits the width of a desktop and a phone."""
    from test_report import layout_problems, opened

    folder = helped[0]
    with opened(folder / "report.html") as (page, messages, requests):
        section = page.locator("details", has=page.locator("h2", has_text="Which series"))
        section.locator("summary").click()
        shown = section.evaluate(
            "d => [d.open, Array.from(d.querySelectorAll('img')).map(i => [i.complete, "
            "i.naturalWidth, i.getBoundingClientRect().width]), d.querySelectorAll('table')"
            ".length, d.querySelectorAll('h3').length]"
        )
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    unfolded, figures, tables, models = shown
    assert unfolded and models == 6 and tables == 6 * 2  # coefficients and out of sample each
    assert len(figures) == 1 and figures[0][:2] == [True, 506] and figures[0][2] > 300
    assert len(images) == 5 and all(done and width > 100 for done, width in images)
    assert not [m for m in messages if m[0] == "error"], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert layout_problems(folder / "report.html") == []


def _without_e6(path: Path) -> None:
    table = pd.read_csv(path)
    table[table["expectation"] != "E6"].to_csv(path, index=False)


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("moderators.json", "{not json", "not JSON"),
        ("moderators.json", '{"data": 3}', "'data' must be a string"),
        ("moderators.json", lambda path: path.write_text(path.read_text().replace(
            '"coverage": ', '"coverage": "x", "was": ', 1)), "must be a number"),
        ("moderators.csv", "a,b\n1,2\n", "lacks column(s)"),
        ("moderators.csv", _without_e6, "holds no rows for the model of E6 at frequency 12"),
        ("moderators_E6_f12.png", "not a png", "not a PNG image"),
        ("moderators_E6_f12.png", Path.unlink, "cannot read"),
    ],
)  # fmt: skip
def test_a_damaged_moderators_file_is_one_line_naming_it_and_the_fix(
    helped, tmp_path, capsys, name, damage, message
):
    from statelab.cli import main

    folder = tmp_path / "copy"
    shutil.copytree(helped[0], folder, symlinks=True)
    (folder / "report.html").unlink()
    path = folder / name
    if callable(damage):
        damage(path)
    else:
        path.unlink()
        path.write_text(damage)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(folder)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(error.strip().splitlines()) == 1, error
    assert name in error and message in error, error
    assert "statelab generalise --moderators --out" in error
    assert not (folder / "report.html").exists()
