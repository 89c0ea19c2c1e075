"""The set-up study (`generalise --vary`): its factors and levels checked at the boundary in
one line each, one plan over every level (a set-up reached twice runs once, a series a level
cannot use is skipped there with why), and a level equal to a plain `generalise` run's
set-up giving that run's per-series results bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import statelab
from statelab import layout, stats
from statelab.errors import StatelabError
from statelab.execution import pipeline
from statelab.spec import PRESETS
from statelab.studies import generalise, setup
from test_generalise import run_cli
from test_report import layout_problems

TWO = "m3:N1402,m3:N1403"


def base(**changes) -> statelab.GeneraliseSettings:
    return statelab.GeneraliseSettings(TWO, repeats=2, seed=3, **changes)


# --- Factors and levels, checked -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("epochs=100,300,1000", ("epochs", (100, 300, 1000))),
        ("learning-rate=0.01, 0.001", ("learning_rate", (0.01, 0.001))),
        ("Neurons=1,2", ("neurons", (1, 2))),
        ("profile=keras3,keras2017", ("profile", ("keras3", "keras2017"))),
    ],
)
def test_a_vary_option_is_a_factor_and_its_levels_of_the_factors_kind(text, expected):
    assert setup.parse_vary(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs", "give FACTOR=LEVELS"),
        ("epochs=", "an empty level"),
        ("epochs=100,,300", "an empty level"),
        ("epochs=100,1.5", "the levels of epochs are whole numbers"),
        ("learning_rate=fast,0.1", "the levels of learning_rate are numbers"),
        ("colour=1,2", "unknown factor; vary one of epochs, neurons, lags"),
        ("stateful=True,False", "stateful changes what an experiment is"),
        ("batch-size=1,12", "batch-size changes what an experiment is"),
        ("shuffle=0,1", "shuffle changes what an experiment is"),
        ("reset_after_epoch=0,1", "reset-after-epoch changes what an experiment is"),
    ],
)
def test_a_bad_vary_option_is_one_line(text, message):
    with pytest.raises(StatelabError, match=message) as error:
        setup.parse_vary(text)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("factors", "grid", "message"),
    [
        ({}, False, "give a factor to vary"),
        ({"epochs": []}, False, "no levels"),
        ({"epochs": [100, 300, 100]}, False, "the level 100 is given twice"),
        ({"learning_rate": [0.001, 1e-3]}, False, "the level 0.001 is given twice"),
        ({"epochs": [100]}, False, "one level; give two or more"),
        ({"epochs": [100, 2_000_000]}, False, "epochs must be at most 1000000"),
        ({"neurons": [1, 100_000]}, False, "neurons must be at most 256"),
        ({"lags": [0, 1]}, False, "lags must be a whole number >= 1"),
        ({"learning_rate": [0.001, 50.0]}, False, "learning-rate must be a number above 0"),
        ({"profile": ["keras3", "keras1"]}, False, "unknown profile 'keras1'"),
        ({"epochs": [10, 2.5]}, False, "the levels of epochs are whole numbers"),
        ({"epochs": [10, True]}, False, "the levels of epochs are whole numbers"),
        ({"stateful": [True, False]}, False, "changes what an experiment is"),
        ({"epochs": [1, 2]}, True, "--grid crosses two or more factors"),
        ({"epochs": list(range(1, 9)), "neurons": list(range(1, 10))}, True, "72 set-ups"),
    ],
)
def test_bad_factors_and_levels_are_one_line_errors(factors, grid, message):
    settings = statelab.VarySettings(base(), factors, grid)
    with pytest.raises(StatelabError, match=message) as error:
        setup.setup_plan(settings)
    assert "\n" not in str(error.value)


def test_a_factor_the_base_set_up_already_sets_is_refused():
    settings = statelab.VarySettings(base(setup=statelab.Setup(epochs=5)), {"epochs": [1, 2]})
    with pytest.raises(StatelabError, match="--epochs and --vary epochs both set epochs"):
        setup.setup_plan(settings)


def test_a_level_that_leaves_every_series_too_short_is_refused_naming_the_level():
    settings = statelab.VarySettings(base(), {"lags": [1, 60]})  # 68 and 36 values
    with pytest.raises(StatelabError, match=r"^--vary lags=60: none of the 3 series can be used"):
        setup.setup_plan(settings)


# --- One plan over every level ---------------------------------------------------------------


def test_levels_one_factor_at_a_time_or_crossed_keep_the_rest_at_the_base():
    settings = statelab.VarySettings(base(setup=statelab.Setup(profile="keras2017")),
                                     {"epochs": [10, 20], "neurons": [1, 2, 4]})  # fmt: skip
    levels = setup.levels_of(settings)
    assert [lv.label for lv in levels] == ["epochs=10", "epochs=20", "neurons=1", "neurons=2",
                                           "neurons=4"]  # fmt: skip
    assert levels[1].setup == statelab.Setup(epochs=20, profile="keras2017")
    assert levels[3].setup == statelab.Setup(neurons=2, profile="keras2017")
    crossed = setup.levels_of(settings.__class__(settings.base, settings.factors, grid=True))
    assert [lv.label for lv in crossed][:4] == ["epochs=10, neurons=1", "epochs=10, neurons=2",
                                                "epochs=10, neurons=4", "epochs=20, neurons=1"]  # fmt: skip
    assert len(crossed) == 6 and {lv.factor for lv in crossed} == {"epochs x neurons"}
    assert crossed[5].setup == statelab.Setup(epochs=20, neurons=4, profile="keras2017")


def test_a_set_up_reached_from_two_factors_runs_once():
    """epochs=1000 and learning_rate=0.001 are both the study's own set-up."""
    settings = statelab.VarySettings(base(), {"epochs": [1000, 7],
                                              "learning_rate": [0.001, 0.01]})  # fmt: skip
    plan, design = setup.setup_plan(settings)
    assert len(plan.tasks) == 3 * 11 * 3  # three distinct set-ups, 11 presets, 2 series + Shampoo
    first, _, third, _ = design.parts
    assert first.positions == third.positions  # the same tasks, planned once
    assert len(set(first.positions)) == 33
    for part in design.parts:  # each level's tasks are its own plan's, in its order
        assert [(t.name, t.series, t.spec) for t in (plan.tasks[i] for i in part.positions)] == [
            (t.name, t.series, t.spec) for t in part.plan.tasks]  # fmt: skip
    at_seven = [plan.tasks[i] for i in design.parts[1].positions]
    assert {t.spec.epochs for t in at_seven} == {7}


def test_a_series_a_level_cannot_use_is_skipped_at_that_level_with_why():
    """Lags 12 leave Shampoo (36 values) too short for the batch-12 pair's 12 training rows:
    1 value lost to differencing, 12 to the lags, 12 tested, 12 trained is 37. The M3 series
    (68 values, 18 tested, batch 18) need 1 + 12 + 18 + 18 = 49."""
    plan, design = setup.setup_plan(statelab.VarySettings(base(), {"lags": [1, 12]}))
    one, twelve = design.parts
    assert one.collection.reference == "shampoo" and not one.plan.skipped
    assert twelve.collection.reference is None
    assert [s.series for s in twelve.plan.skipped] == ["shampoo"]
    assert "has 36 values; the split needs at least 37" in twelve.plan.skipped[0].reason
    assert setup.skipped(design)[0][0] == "lags=12"
    assert {t.series for t in (plan.tasks[i] for i in twelve.positions)} == set(TWO.split(","))


# --- A level is a plain generalise, bit for bit ---------------------------------------------


class Stages(pipeline.Silent):
    """The stages (levels) the pipeline reports, in order."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, int]] = []

    def stage(self, label: str, lanes: int, seconds: float) -> None:
        self.stages.append((label, lanes))


def test_a_level_is_a_plain_generalise_at_that_set_up_bit_for_bit():
    """The level learning_rate=0.001 at 3 epochs is `generalise --epochs 3`; run beside
    another level (other lanes in the same compiled calls), its per-series results, its
    experiments table and its pooled rows are the plain run's to the bit. The other level
    keeps repeat k's initial weights (common random numbers) but trains to other results."""
    settings = base(setup=statelab.Setup(epochs=3))
    plain = statelab.generalise(settings).result
    recorder = Stages()
    varied = statelab.vary(statelab.VarySettings(settings, {"learning_rate": [0.01, 0.001]}),
                           progress=recorder)  # fmt: skip
    other, same = varied.result.at_level
    # Each level is reported once, as its last chunk is stored: 11 x 2 repeats x 3 series.
    assert recorder.stages == [("learning_rate=0.01", 66), ("learning_rate=0.001", 66)]
    assert isinstance(varied.result, setup.Variation)
    assert varied.filled.planned == 2 * 11 * 2 * 3  # two levels, 11 presets, 2 repeats, 3 series
    pd.testing.assert_frame_equal(same.per_series, plain.per_series, check_exact=True)
    pd.testing.assert_frame_equal(same.experiments, plain.experiments, check_exact=True)
    pd.testing.assert_frame_equal(same.across, plain.across, check_exact=True)
    assert same.specs == plain.specs
    assert other.specs["stateful"]["learning_rate"] == 0.01
    assert not other.per_series["mean_a"].equals(plain.per_series["mean_a"])
    assert varied.result.notes == (
        "learning_rate: repeat k starts from the same initial weights at every level (common "
        "random numbers).",
    )
    assert list(PRESETS) == list(other.specs)
    result = varied.result
    assert list(result.levels_table["level"].unique()) == [
        "learning_rate=0.01",
        "learning_rate=0.001",
    ]
    assert len(result.trends) == 6 and set(result.trends["term"]) == {"learning_rate"}
    assert len(result.ranks) == 2 * 11
    assert result.answer[0] == "learning_rate:"


# --- Across levels, on constructed per-series tables ----------------------------------------

SERIES = ("a", "b", "c", "d")
OFFSETS = np.array([-0.16, -0.15, -0.14, -0.15])  # E1's log ratio at 100 epochs, per series


def constructed(epochs: int) -> generalise.Generalisation:
    """A level's generalisation with the per-series table built by hand: E1's log ratio is
    each series' offset + 0.1 per doubling of the epochs (from 100), the others' do not
    move; every SE 0.01. Only what the analysis across levels reads is filled in."""
    rows = []
    for i, name in enumerate(SERIES):
        for expectation in stats.EXPECTATIONS:
            ratio = OFFSETS[i] + (0.1 * np.log2(epochs / 100) if expectation.key == "E1" else 0)
            rows.append({"series": name, "domain": "", "train_length": 50 + i,
                         "expectation": expectation.key, "log_ratio": ratio,
                         "log_ratio_se": 0.01, "identical": False, "verdict": "supported"})  # fmt: skip
    per_series = pd.DataFrame(rows)
    collection = generalise.Collection("made", SERIES, {}, {}, 0.01, None)
    ranks = pd.DataFrame({"mean_rank": [1.0, 2.0]}, index=pd.Index(["x", "y"], name="experiment"))
    return generalise.Generalisation(
        collection, per_series, None, generalise.across_series(per_series, 0.01),
        generalise.Ranking(ranks, pd.DataFrame(), object()), *[None] * 7,
    )  # fmt: skip


def constructed_levels():
    settings = statelab.VarySettings(base(), {"epochs": [100, 400, 800]})
    levels = setup.levels_of(settings)
    return levels, [constructed(e) for e in (100, 400, 800)]


def test_the_trend_across_levels_is_each_series_slope_pooled_and_holm_adjusted():
    """E1 moves by exactly 0.1 per doubling on every series: the pooled slope is 0.1 with the
    SE each series' three levels give (at 0, 2, 3 doublings: 0.01 / sqrt(14 / 3), the same
    for all four: / sqrt(4)
    pooled, times HKSJ's truncated q* = 1); the other expectations do not move."""
    levels, at_level = constructed_levels()
    trends = setup.trend_table(levels, [one.per_series for one in at_level])
    trends = trends.set_index("expectation")
    assert list(trends.index) == [e.key for e in stats.EXPECTATIONS]
    e1 = trends.loc["E1"]
    assert (e1["factor"], e1["term"], e1["scale"], e1["series"]) == ("epochs", "epochs", "log2", 4)
    assert e1["slope"] == pytest.approx(0.1)
    assert e1["slope_se"] == pytest.approx(0.01 / np.sqrt(14 / 3) / np.sqrt(4))
    assert e1["tau2"] == pytest.approx(0.0, abs=1e-12)
    assert e1["p"] == pytest.approx(2 * sps.t.sf(0.1 / e1["slope_se"], 3))  # t on k - 1 = 3
    assert trends.loc["E2", "slope"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(trends["holm_p"], stats.holm(trends["p"]))


def test_the_levels_table_pools_each_level_and_marks_where_the_verdict_changes():
    """E1's pooled log ratio is the series' mean (equal SEs): -0.15, +0.05, +0.15 at 100, 400
    and 800 epochs, so stateful wins, then loses, then loses: the verdict changes at 400,
    not at 800 (which differs from the first level, not from the one before)."""
    table = setup.levels_table(*constructed_levels())
    e1 = table[table["expectation"] == "E1"].set_index("level")
    np.testing.assert_allclose(e1["pooled_ratio"], np.exp([-0.15, 0.05, 0.15]))
    assert list(e1["verdict"]) == ["supported", "contradicted", "contradicted"]
    assert list(e1["verdict_changed"]) == [False, True, False]
    assert not table[table["expectation"] != "E1"]["verdict_changed"].any()
    assert set(table["best_experiment"]) == {"x"}
    assert (e1["ratio_ci_low"] < e1["pooled_ratio"]).all()
    assert (e1["pooled_ratio"] < e1["ratio_ci_high"]).all()


def test_a_grid_codes_main_effects_and_their_interaction():
    levels = setup.levels_of(statelab.VarySettings(
        base(), {"epochs": [100, 400], "lags": [1, 3], "profile": ["keras3", "keras2017"]},
        grid=True))  # fmt: skip
    cell = next(lv for lv in levels if lv.label == "epochs=400, lags=3, profile=keras2017")
    assert setup.coded(cell) == pytest.approx({
        "epochs": 2.0 + np.log2(100), "lags": 3.0, "profile=keras2017": 1.0,
        "epochs:lags": 3 * (2.0 + np.log2(100)), "epochs:profile=keras2017": 2.0 + np.log2(100),
        "lags:profile=keras2017": 3.0,
    })  # fmt: skip


# --- The command -------------------------------------------------------------------------


# Bad --vary input common to `generalise --vary` and `reproduce --vary` (test_setup_one.py).
BAD_VARY = [
    (["--vary", "colour=1,2"], "--vary colour: unknown factor"),
    (["--vary", "epochs="], "--vary epochs=: an empty level"),
    (["--vary", "epochs=1,1"], "--vary epochs=1,1: the level 1 is given twice"),
    (["--vary", "epochs=1,2", "--vary", "epochs=3,4"], "--vary epochs is given twice"),
    (["--vary", "epochs=1,2000000"], "epochs must be at most 1000000"),
    (["--vary", "neurons=1,1000"], "neurons must be at most 256"),
    (["--vary", "stateful=1,0"], "stateful changes what an experiment is"),
    (["--grid"], "--grid crosses the --vary factors"),
    (["--vary", "epochs=1,2", "--grid"], "--grid crosses two or more factors"),
    (["--epochs", "3", "--vary", "epochs=1,2"], "--epochs and --vary epochs both set"),
]


@pytest.mark.parametrize(
    ("argv", "message"),
    [*BAD_VARY, (["--vary", "lags=1,60"], "--vary lags=60: none of the 3 series can be used")],
)
def test_bad_vary_input_is_one_line_status_2_and_no_folder(capsys, tmp_path, argv, message):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, ["generalise", "--data", TWO, "--out", str(out), *argv])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_dry_run_counts_the_networks_and_runs_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["generalise", "--data", TWO, "--repeats", "2", "--epochs", "3", "--vary",
            "learning-rate=0.01,0.001", "--vary", "lags=1,12", "--out", str(out), "--dry-run"]  # fmt: skip
    code, printed, err = run_cli(capsys, argv)
    assert code == 0, err
    # learning_rate=0.001 and lags=1 are one set-up: 3 distinct set-ups x 11 x 2 repeats on
    # 2 series and Shampoo, but Shampoo is too short at lags 12: 11 x 2 x (3 + 3 + 2) = 176;
    # of the eleven, 7 train networks of their own (the rest share one): 7 x 2 x 8 = 112
    assert printed.startswith("176 repeats to run, 112 networks to train (3 series, ")
    assert "Nothing was run." in printed and not out.exists()


def test_the_command_writes_every_level_and_the_tables_across_them_and_resumes(capsys, tmp_path):
    out = tmp_path / "varied"
    argv = ["generalise", "--data", TWO, "--repeats", "2", "--epochs", "3", "--seed", "3",
            "--vary", "learning-rate=0.01,0.001", "--out", str(out), "--quiet"]  # fmt: skip
    code, printed, err = run_cli(capsys, argv)
    assert code == 0, err
    assert "learning_rate:" in printed and "- E1 stateful beats stateless: " in printed
    assert "common random numbers" in printed
    assert "132 repeats planned: 132 run now" in printed
    tables = {t.name: t for t in (layout.VARY_PER_SERIES_TABLE, layout.VARY_ACROSS_TABLE,
                                  layout.VARY_LEVELS_TABLE, layout.VARY_TRENDS_TABLE,
                                  layout.VARY_RANKS_TABLE, layout.VARY_SKIPPED_TABLE)}  # fmt: skip
    read = {name: layout.check(t, pd.read_csv(out / name, keep_default_na=False,
                                              na_values=[""])) for name, t in tables.items()}  # fmt: skip
    assert len(read[layout.VARY_PER_SERIES]) == 2 * 2 * 6  # levels x series x expectations
    assert set(read[layout.VARY_LEVELS]["level"]) == {"learning_rate=0.01", "learning_rate=0.001"}
    assert len(read[layout.VARY_TRENDS]) == 6 and len(read[layout.VARY_SKIPPED]) == 0
    for figure in (layout.vary_levels_plot("learning_rate"), layout.VARY_VERDICTS_PLOT):
        assert (out / figure).read_bytes().startswith(b"\x89PNG"), figure
    record = json.loads((out / layout.VARY_JSON).read_text())
    assert record["kind"] == "vary" and record["factors"] == {"learning_rate": [0.01, 0.001]}
    assert record["base_setup"] == {"epochs": 3}
    first = {name: (out / name).read_text() for name in tables}
    code, printed, err = run_cli(capsys, argv)  # again: everything is in the store
    assert code == 0, err
    assert "132 repeats planned: 0 run now" in printed
    assert {name: (out / name).read_text() for name in tables} == first

    code, printed, err = run_cli(capsys, ["report", str(out)])  # the page of the folder
    assert code == 0, err
    html = (out / layout.REPORT).read_text()
    assert "<h2>Does the answer depend on the set-up?</h2>" in html
    assert "<b>learning_rate</b>: " in html and "keep their verdict" in html
    assert layout_problems(out / layout.REPORT) == []  # Chromium: fits at 1280 and 390 px
    (out / layout.VARY_JSON).write_text('{"data": 3}')
    code, _, err = run_cli(capsys, ["report", str(out)])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "vary.json is damaged or was edited ('data' must be a string" in err
