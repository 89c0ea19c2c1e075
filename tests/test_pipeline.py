"""The pipeline users run (`statelab.reproduce`, and so `statelab reproduce`, calls it): a
plan into the store, only what is missing, read back, analysed, files written."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import statelab
from statelab import layout
from statelab.errors import Interrupted
from statelab.execution import pipeline, runner
from statelab.execution import plan as plan_module
from statelab.execution.backends import InProcess
from statelab.execution.store import Store

SETTINGS = statelab.Setup(epochs=6)


def plan(repeats: int, pool: int = 0, seed: int = 1) -> statelab.StudySettings:
    return statelab.StudySettings(repeats=repeats, pool=pool, setup=SETTINGS, seed=seed)


def execute(settings: statelab.StudySettings, out, execution=None) -> pipeline.Outcome:
    return statelab.reproduce(settings, out=out, execution=execution)


def test_a_second_run_runs_nothing_and_gives_the_same_study(tmp_path):
    first = execute(plan(3), tmp_path)
    assert first.filled.planned == first.filled.run == 33 and first.filled.chunks == 1
    again = execute(plan(3), tmp_path)
    assert again.filled.run == 0 and again.filled.chunks == 0
    for name, result in first.result.results.items():
        np.testing.assert_array_equal(again.result.results[name].rmse, result.rmse)
    assert sorted(p.name for p in first.files) == sorted(p.name for p in again.files)


def test_more_repeats_run_only_the_new_ones_and_equal_a_fresh_run(tmp_path):
    execute(plan(3), tmp_path / "grown")
    grown = execute(plan(5), tmp_path / "grown")
    assert grown.filled.run == 11 * 2
    fresh = execute(plan(5), tmp_path / "fresh")
    for name, result in fresh.result.results.items():
        np.testing.assert_array_equal(grown.result.results[name].rmse, result.rmse)
        np.testing.assert_array_equal(grown.result.results[name].forecasts, result.forecasts)


def test_the_pool_runs_beyond_the_repeats_and_feeds_only_the_se_curve(tmp_path):
    outcome = execute(plan(3, pool=9), tmp_path)
    assert outcome.filled.planned == 11 * 3 + 6
    assert len(outcome.result.pool) == 9
    assert all(len(r.repeats) == 3 for r in outcome.result.results.values())
    np.testing.assert_array_equal(outcome.result.pool[:3], outcome.result.results["stateful"].rmse)
    assert outcome.result.se_curve["repeats"].max() == 9


def test_chunks_are_the_unit_of_storage(tmp_path):
    outcome = execute(plan(5), tmp_path, pipeline.Execution(chunk=2))
    assert outcome.filled.chunks == 3  # repeat indices 0-1, 2-3, 4


def test_kept_weights_reach_the_store(tmp_path):
    execute(plan(2), tmp_path, pipeline.Execution(keep="weights"))
    with sqlite3.connect(tmp_path / layout.STORE) as connection:
        kept = connection.execute(
            "SELECT COUNT(*) FROM repeats WHERE weights IS NOT NULL AND losses IS NULL"
        ).fetchone()[0]
    assert kept == 22


@pytest.mark.parametrize(
    ("execution", "message"),
    [
        (pipeline.Execution(chunk=0), "--chunk must be"),
        (pipeline.Execution(keep="everything"), "--keep takes"),
        (pipeline.Execution(workers=10**9), "cores"),
    ],
)
def test_bad_execution_settings_fail_before_the_store_exists(tmp_path, execution, message):
    with pytest.raises(statelab.StatelabError, match=message):
        execute(plan(2), tmp_path / "out", execution)
    assert not (tmp_path / "out").exists()


def test_chunks_of_other_sizes_share_one_compiled_program(tmp_path, monkeypatch):
    """100 repeats of LSTM(1) on Shampoo in chunks of 60 and 40 repeat indices. Alone, each
    chunk would compile a call of its own size (64 and 48 lanes, whole vectors of 16); the
    run sizes both alike (statelab.execution.plan.call_sizes: 64, two calls of 64 lanes
    rather than three of 48) and compiles one program. Every repeat is the same bits as in
    one chunk of 100."""
    made = plan_module.make_plan([("stateful", statelab.Spec(epochs=7), 100)],
                                 [statelab.shampoo()], [12], seed=1)  # fmt: skip
    monkeypatch.setattr(runner, "_COMPILED", {})  # this test's programs only
    stored = {}
    for chunk in (60, 100):
        (tmp_path / str(chunk)).mkdir()
        with Store(tmp_path / str(chunk)) as store:
            pipeline.fill(store, made, InProcess(), pipeline.Execution(chunk=chunk),
                          frozenset({"weights", "loss"}), pipeline.Silent())  # fmt: skip
            (stored[chunk],) = pipeline.load(store, made)
        if chunk == 60:
            assert [lanes for _, _, lanes in runner._COMPILED] == [64]
    assert len(stored[60].repeats) == 100
    for name in ("repeats", "forecasts_scaled", "rmse", "losses"):
        np.testing.assert_array_equal(getattr(stored[60], name), getattr(stored[100], name))
    for a, b in zip(stored[60].weights, stored[100].weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_chunk_of_one_repeat_stores_the_bits_of_a_chunk_of_four(tmp_path):
    """Found by a hostile try (`--chunk 1`): a repeat alone in its chunk was scored in another
    summation order, its RMSE one bit off. Every stored column must be the same."""
    made = plan_module.make_plan([("stateful", statelab.Spec(epochs=4), 4)],
                                 [statelab.shampoo()], [12], seed=2)  # fmt: skip
    stored = {}
    for chunk in (1, 4):
        (tmp_path / str(chunk)).mkdir()
        with Store(tmp_path / str(chunk)) as store:
            pipeline.fill(store, made, InProcess(), pipeline.Execution(chunk=chunk),
                          frozenset(), pipeline.Silent())  # fmt: skip
            stored[chunk] = store.connection.execute(
                "SELECT repeat, rmse, relative_rmse, mase, final_loss, forecasts_scaled "
                "FROM repeats ORDER BY repeat").fetchall()  # fmt: skip
    assert len(stored[1]) == 4 and stored[1] == stored[4]


def test_ctrl_c_after_training_says_all_is_stored_and_the_rerun_only_writes(tmp_path, monkeypatch):
    """Found by a hostile try: Ctrl-C while the results were analysed or written said only
    "interrupted". It must say how many of its repeats are stored (in review: not every row
    of a store that other studies share), and the same command then trains nothing and
    writes the files."""

    def pressed(*_):
        raise KeyboardInterrupt

    execute(plan(3, seed=7), tmp_path)  # another study's 33 repeats in the same store
    monkeypatch.setattr(pipeline, "load", pressed)  # Ctrl-C as the store is read back
    with pytest.raises(Interrupted) as interrupted:
        execute(plan(2), tmp_path)
    assert interrupted.value.stored == 11 * 2  # this command's, not the store's 55
    monkeypatch.undo()
    again = execute(plan(2), tmp_path)
    assert again.filled.run == 0 and again.files
