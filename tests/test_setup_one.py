"""The set-up study on one series (`reproduce --vary`): a level equal to a plain `reproduce
--pool 0` at that set-up gives its results and verdicts bit for bit, a level the series is
too short for is skipped with why (refused in one line when no level can run), bad --vary
input is the same one-line error as `generalise --vary`'s, the trend test on one series is
the weighted slope's Wald test (checked against statsmodels and for its size), and the
command writes its files as one set and reports each level as it is stored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

import statelab
from statelab import layout, stats
from statelab.errors import StatelabError
from statelab.execution import pipeline
from statelab.spec import PRESETS
from statelab.studies import setup, setup_one
from statelab.studies.study import Reproduction
from test_generalise import run_cli
from test_setup import BAD_VARY

BASE = statelab.StudySettings(repeats=3, seed=3, pool=0, setup=statelab.Setup(epochs=5))
LEARNING_RATES = {"learning_rate": [0.01, 0.001]}


class Recorder(pipeline.Silent):
    """The stages the pipeline reports, in order."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, int]] = []

    def stage(self, label: str, lanes: int, seconds: float) -> None:
        assert seconds >= 0
        self.stages.append((label, lanes))


# --- A level is a plain reproduce, bit for bit --------------------------------------------


def test_a_level_is_a_plain_reproduce_at_that_set_up_bit_for_bit():
    """learning_rate=0.001 at 5 epochs is `reproduce --epochs 5 --pool 0`; run beside another
    level (other lanes in the same plan, in chunks of 2 repeat indices), its every repeat's
    RMSE, its describe tables and its verdicts are the plain run's to the bit. The other
    level keeps repeat k's initial weights but trains to other results. Each level is
    reported once, as the last of its 2 chunks is stored, in the order given, with its
    networks."""
    plain = statelab.reproduce(BASE).result
    recorder = Recorder()
    varied = statelab.reproduce_vary(statelab.VarySettings(BASE, LEARNING_RATES),
                                     execution=pipeline.Execution(chunk=2), progress=recorder)  # fmt: skip
    result = varied.result
    assert isinstance(result, setup_one.StudyVariation)
    other, same = result.at_level
    assert isinstance(same, Reproduction)
    assert varied.filled.planned == 2 * 11 * 3  # two levels, 11 presets, 3 repeats, no pool
    assert list(same.results) == list(plain.results) == list(PRESETS)
    for name, r in plain.results.items():
        np.testing.assert_array_equal(same.results[name].rmse, r.rmse, strict=True)
        assert same.results[name].spec == r.spec
    pd.testing.assert_frame_equal(same.verdicts, plain.verdicts, check_exact=True)
    for key, table in plain.tables.items():
        pd.testing.assert_frame_equal(same.tables[key], table, check_exact=True)
    assert other.results["stateful"].spec.learning_rate == 0.01
    assert not np.array_equal(other.results["stateful"].rmse, plain.results["stateful"].rmse)
    assert recorder.stages == [("learning_rate=0.01", 33), ("learning_rate=0.001", 33)]
    assert result.notes == (
        "learning_rate: repeat k starts from the same initial weights at every level (common "
        "random numbers).",
    )
    levels = result.levels_table
    assert len(levels) == 2 * 6 and list(levels["level"].unique()) == [
        "learning_rate=0.01", "learning_rate=0.001"]  # fmt: skip
    mine = levels[levels["level"] == "learning_rate=0.001"].set_index("expectation")
    np.testing.assert_array_equal(mine["verdict"], plain.verdicts["verdict"])
    np.testing.assert_array_equal(mine["ratio"], np.exp(plain.verdicts["log_ratio"]))
    means = {name: np.nanmean(r.rmse) for name, r in plain.results.items()}
    assert set(mine["best_experiment"]) == {min(means, key=means.get)}
    ranks = result.ranks[result.ranks["level"] == "learning_rate=0.001"]
    order = sorted(means, key=means.get)  # the batch-12 pair ties (identical, E3)
    assert list(ranks["experiment"]) == order
    np.testing.assert_array_equal(ranks["place"],
                                  sps.rankdata([means[n] for n in order], method="min"))  # fmt: skip
    assert len(result.trends) == 6 and set(result.trends["series"]) <= {0, 1}
    assert result.answer[0] == "learning_rate:"


# --- Levels the series cannot run ---------------------------------------------------------


def test_a_level_the_series_is_too_short_for_is_skipped_with_why():
    """Lags 12 leave Shampoo (36 values) too short for the batch-12 pair: 1 value lost to
    differencing, 12 to the lags, 12 tested, 12 trained is 37."""
    settings = statelab.VarySettings(BASE, {"lags": [1, 2, 12]})
    plan, design = setup_one.study_setup_plan(settings)
    assert [level.label for level in design.levels] == ["lags=1", "lags=2"]
    assert [(level, skip.series) for level, skip in design.skipped] == [("lags=12", "shampoo")]
    assert "has 36 values; the split needs at least 37" in design.skipped[0][1].reason
    assert {t.spec.lags for t in plan.tasks} == {1, 2} and plan.planned == 2 * 11 * 3
    assert plan.stages == ("lags=1",) * 11 + ("lags=2",) * 11


def test_no_level_that_can_run_is_one_line():
    settings = statelab.VarySettings(BASE, {"lags": [12, 13]})
    with pytest.raises(StatelabError) as error:
        setup_one.study_setup_plan(settings)
    assert str(error.value).startswith("no level can run on shampoo: --vary lags=12: the series "
                                       "has 36 values")  # fmt: skip
    assert "\n" not in str(error.value)


def test_a_collection_base_is_refused_for_one_series_and_the_other_way_round():
    with pytest.raises(StatelabError, match="takes StudySettings as its base"):
        setup_one.study_setup_plan(statelab.VarySettings(statelab.GeneraliseSettings(),
                                                         LEARNING_RATES))  # fmt: skip
    with pytest.raises(StatelabError, match="takes GeneraliseSettings as its base"):
        setup.setup_plan(statelab.VarySettings(BASE, LEARNING_RATES))


# --- The trend on one series ----------------------------------------------------------------

EPOCHS = (100, 200, 400, 800)


def log_ratio_tables(values: dict[str, np.ndarray], se: np.ndarray) -> list[pd.DataFrame]:
    """A level's table as the trend test reads it, per level: one series, each expectation's
    log ratio from ``values`` (0 where not given), the SEs ``se`` (one a level)."""
    return [
        pd.DataFrame({"series": "shampoo", "expectation": [e.key for e in stats.EXPECTATIONS],
                      "log_ratio": [values.get(e.key, np.zeros(4))[i] for e in stats.EXPECTATIONS],
                      "log_ratio_se": se[i]})
        for i in range(len(EPOCHS))
    ]  # fmt: skip


def test_the_trend_on_one_series_is_the_weighted_slope_and_its_wald_test():
    """E1's log ratio at 100..800 epochs, unequal SEs: the slope per doubling and its SE are
    statsmodels' WLS at the known variances (scale fixed at 1), its p the normal two-sided
    p of slope / SE; Holm across the six expectations."""
    y = np.array([-0.10, -0.02, 0.05, 0.16])
    se = np.array([0.02, 0.03, 0.025, 0.05])
    levels = setup.levels_of(
        statelab.VarySettings(statelab.StudySettings(), {"epochs": list(EPOCHS)})
    )
    trends = setup.trend_table(levels, log_ratio_tables({"E1": y}, se)).set_index("expectation")
    x = sm.add_constant(np.log2(EPOCHS))
    fit = sm.WLS(y, x, weights=1 / se**2).fit(cov_type="fixed scale")
    e1 = trends.loc["E1"]
    assert e1["series"] == 1 and e1["term"] == "epochs" and e1["scale"] == "log2"
    assert e1["slope"] == pytest.approx(fit.params[1], rel=1e-10)
    assert e1["slope_se"] == pytest.approx(fit.bse[1], rel=1e-10)
    assert e1["p"] == pytest.approx(fit.pvalues[1], rel=1e-8)  # normal, as statsmodels' z
    assert e1["ci_low"] == pytest.approx(fit.conf_int()[1][0], rel=1e-8)
    assert trends.loc["E2", "slope"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(trends["holm_p"], stats.holm(trends["p"]))


def test_the_trend_on_one_series_keeps_its_size_and_finds_a_known_slope():
    """Simulated log ratios at four levels with known SEs: with no slope the test rejects
    about 5% of the time at 0.05 (4,000 draws: within 3.5 binomial SEs of 5%); with a
    slope of 0.05 per doubling the estimates centre on it, their spread is their SE."""
    rng = np.random.default_rng(17)
    x = np.log2(EPOCHS)[:, None]
    se = np.array([0.02, 0.03, 0.025, 0.05])
    draws = 4000
    null = rng.normal(0, se, size=(draws, 4))
    slopes = stats.series_slopes(x, null, np.broadcast_to(se, null.shape))
    p = np.array([stats.pooled_slope([b], [s]).p
                  for b, s in zip(slopes.estimate[:, 0], slopes.se[:, 0], strict=True)])  # fmt: skip
    share = (p < 0.05).mean()
    assert abs(share - 0.05) < 3.5 * np.sqrt(0.05 * 0.95 / draws), share
    sloped = 0.05 * np.log2(np.array(EPOCHS) / 100) + rng.normal(0, se, size=(draws, 4))
    found = stats.series_slopes(x, sloped, np.broadcast_to(se, sloped.shape))
    assert found.estimate[:, 0].mean() == pytest.approx(0.05, abs=4 * found.se[0, 0] / draws**0.5)
    assert found.estimate[:, 0].std(ddof=1) == pytest.approx(found.se[0, 0], rel=0.05)
    assert sps.kstest((found.estimate[:, 0] - 0.05) / found.se[:, 0], "norm").pvalue > 0.001


# --- The command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        *BAD_VARY,
        (["--vary", "lags=12,14"], "no level can run on shampoo: --vary lags=12: the series"),
        (["--vary", "epochs=1,2", "--pool", "10"], "--pool applies to one set-up"),
        (["--vary", "epochs=1,2", "--data", "m3/monthly"], "holds 1428 series; the study runs"),
    ],
)
def test_bad_vary_input_is_one_line_status_2_and_no_folder(capsys, tmp_path, argv, message):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, ["reproduce", "--out", str(out), *argv])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_dry_run_counts_the_networks_and_runs_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["reproduce", "--repeats", "4", "--epochs", "3", "--vary", "learning-rate=0.01,0.001",
            "--vary", "lags=1,2,12", "--out", str(out), "--dry-run"]  # fmt: skip
    code, printed, err = run_cli(capsys, argv)
    assert code == 0, err
    # learning_rate=0.001 and lags=1 are one set-up, lags 12 cannot run: 3 set-ups x 11 x 4;
    # of the eleven, 7 train networks of their own (the rest share one): 3 x 7 x 4 = 84
    assert printed.startswith("132 repeats to run, 84 networks to train (1 series, ")
    assert "Nothing was run." in printed and not out.exists()


def test_the_command_writes_every_level_and_the_tables_across_them_and_resumes(capsys, tmp_path):
    out = tmp_path / "varied"
    argv = ["reproduce", "--repeats", "3", "--epochs", "5", "--seed", "3", "--vary",
            "learning-rate=0.01,0.001", "--vary", "lags=1,12", "--out", str(out), "--quiet"]  # fmt: skip
    code, printed, err = run_cli(capsys, argv)
    assert code == 0, err
    assert printed.startswith("The study on shampoo at each level (3 repeats each")
    assert "learning_rate:\n- E1 stateful beats stateless: learning_rate=0.01 " in printed
    assert "skipped --vary lags=12 (see vary_study_skipped.csv): the series has 36" in printed
    assert "66 repeats planned: 66 run now" in printed
    tables = (layout.VARY_STUDY_VERDICTS_TABLE, layout.VARY_STUDY_LEVELS_TABLE,
              layout.VARY_STUDY_TRENDS_TABLE, layout.VARY_STUDY_RANKS_TABLE,
              layout.VARY_STUDY_RMSE_TABLE, layout.VARY_STUDY_SKIPPED_TABLE)  # fmt: skip
    read = {t.name: layout.check(t, pd.read_csv(out / t.name, keep_default_na=False,
                                                na_values=[""])) for t in tables}  # fmt: skip
    verdicts = read[layout.VARY_STUDY_VERDICTS]
    assert len(verdicts) == 3 * 6  # learning_rate=0.01, 0.001 and lags=1
    plain = statelab.reproduce(BASE).result.verdicts  # the store of another folder
    at_base = verdicts[verdicts["level"] == "learning_rate=0.001"].set_index("expectation")
    np.testing.assert_allclose(at_base["holm_p"], plain["holm_p"], rtol=1e-15)  # CSV round trip
    assert list(at_base["verdict"]) == list(plain["verdict"])
    assert len(read[layout.VARY_STUDY_RMSE]) == 3 * 11 * 3
    assert list(read[layout.VARY_STUDY_SKIPPED]["level"]) == ["lags=12"]
    assert (out / layout.VARY_STUDY_VERDICTS_PLOT).read_bytes().startswith(b"\x89PNG")
    record = json.loads((out / layout.VARY_STUDY_JSON).read_text())
    assert record["kind"] == "vary_study" and record["data"] == "shampoo"
    assert record["base_setup"] == {"epochs": 5} and record["skipped"][0]["level"] == "lags=12"
    first = {t.name: (out / t.name).read_text() for t in tables}
    code, printed, err = run_cli(capsys, argv)  # again: everything is in the store
    assert code == 0, err
    assert "66 repeats planned: 0 run now" in printed
    assert {t.name: (out / t.name).read_text() for t in tables} == first
