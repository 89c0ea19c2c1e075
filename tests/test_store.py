"""The results store: round trip, no duplicates, failures, resume after kill -9, and a
failing command that leaves the store intact."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab import outputs
from statelab.cli import main
from statelab.store import FILENAME, Store, data_hash


def test_round_trip_and_no_duplicates(tmp_path):
    result = statelab.run("stateful_noreset", repeats=3, epochs=7, seed=4)
    series = statelab.shampoo()
    with Store(tmp_path) as store:
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.add([result], data_hash(series)) == 3
        assert store.add([result], data_hash(series)) == 0  # stored once, whatever happens
        assert store.count() == 3
        assert store.stored("stateful_noreset", result.spec, data_hash(series), 4) == {0, 1, 2}
        loaded = store.load("stateful_noreset", result.spec, result.dataset, data_hash(series), 4,
                            np.arange(3), result.persistence_rmse)  # fmt: skip
    np.testing.assert_array_equal(loaded.rmse, result.rmse)
    np.testing.assert_array_equal(loaded.forecasts, result.forecasts)
    np.testing.assert_array_equal(loaded.forecasts_scaled, result.forecasts_scaled)
    np.testing.assert_array_equal(loaded.weights.kernel, result.weights.kernel)
    np.testing.assert_array_equal(loaded.final_loss, result.final_loss)
    row = (
        sqlite3.connect(tmp_path / FILENAME)
        .execute("SELECT seed, repeat, profile, settings, versions, status FROM repeats LIMIT 1")
        .fetchone()
    )
    assert row[0] == 4 and row[2] == "keras3" and '"stateful": true' in row[3]
    assert '"jax"' in row[4] and row[5] == "ok"


def test_a_study_resumed_under_other_versions_still_reports(tmp_path, capsys):
    argv = ["reproduce", "--repeats", "3", "--pool", "3", "--epochs", "3", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    with pytest.raises(SystemExit):
        main(argv)
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        connection.execute('UPDATE repeats SET versions = \'{"jax": "0.0.1"}\' WHERE repeat = 1')
    for command in (argv, ["report", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 0, capsys.readouterr().err
    study_json = (tmp_path / "study.json").read_text()
    assert "0.0.1" in study_json  # the other version set is recorded, not hidden
    assert "version sets in the store" in (tmp_path / "report.html").read_text()


def test_a_diverging_repeat_is_stored_as_failed_and_counted(tmp_path):
    bad = statelab.run("stateful", repeats=2, epochs=3, learning_rate=1e30)
    assert bad.failed.all() and np.isnan(bad.rmse).all()
    assert "not finite" in bad.failures[0]
    summary = bad.summary()
    assert summary["failed"] == 2 and summary["count"] == 0
    with Store(tmp_path) as store:
        store.add([bad], data_hash(statelab.shampoo()))
        rows = store.connection.execute("SELECT status, reason, rmse FROM repeats").fetchall()
    assert all(status == "failed" and "not finite" in reason and rmse is None
               for status, reason, rmse in rows)  # fmt: skip
    table = outputs.describe({"bad": bad.rmse, "good": [1.0, 2.0]})
    assert table.loc["failed", "bad"] == 2 and table.loc["failed", "good"] == 0
    assert np.isnan(table.loc["mean", "bad"]) and table.loc["mean", "good"] == 1.5


def reproduce_argv(out: Path) -> list[str]:
    return ["reproduce", "--repeats", "12", "--pool", "16", "--epochs", "60", "--chunk", "2",
            "--seed", "3", "--out", str(out), "--quiet"]  # fmt: skip


def rows(out: Path) -> pd.DataFrame:
    connection = sqlite3.connect(out / FILENAME)
    frame = pd.read_sql("SELECT experiment, repeat, rmse, forecasts, weights FROM repeats "
                        "ORDER BY experiment, repeat", connection)  # fmt: skip
    connection.close()
    return frame


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    with pytest.raises(SystemExit) as exit_info:
        main(reproduce_argv(out))
    assert exit_info.value.code == 0
    return out


def test_resume_after_kill_9_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "statelab", *reproduce_argv(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    stored = 0
    while time.monotonic() < deadline and process.poll() is None:
        if (out / FILENAME).exists():
            try:
                stored = sqlite3.connect(out / FILENAME, timeout=5).execute(
                    "SELECT COUNT(*) FROM repeats").fetchone()[0]  # fmt: skip
            except sqlite3.OperationalError:
                stored = 0
            if stored > 0:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    expected = rows(uninterrupted)
    assert 0 < len(rows(out)) < len(expected)  # killed mid-run, with chunks already stored
    with pytest.raises(SystemExit) as exit_info:
        main(reproduce_argv(out))
    assert exit_info.value.code == 0
    resumed = rows(out)
    assert len(resumed) == len(expected) == 11 * 12 + 4  # every repeat once; pool 16 of stateful
    pd.testing.assert_frame_equal(resumed, expected)
    for name in statelab.PRESETS:
        file = f"experiment_{name}.csv"
        assert (out / file).read_text() == (uninterrupted / file).read_text()


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    "bad",
    [["--epochs", "0"], ["--data", "/no/such.csv"], ["--chunk", "0"], ["--pool", "-1"],
     ["--repeats", "0"], ["--workers", "1", "--cluster", "tcp://127.0.0.1:1"]],
)  # fmt: skip
def test_a_failing_command_leaves_the_store_and_files_intact(capsys, uninterrupted, bad):
    with sqlite3.connect(uninterrupted / FILENAME) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = snapshot(uninterrupted)
    with pytest.raises(SystemExit) as exit_info:
        main([*reproduce_argv(uninterrupted), *bad])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert snapshot(uninterrupted) == before


def test_a_store_of_another_layout_is_a_clean_error(tmp_path, capsys):
    connection = sqlite3.connect(tmp_path / FILENAME)
    connection.execute("CREATE TABLE repeats (experiment TEXT, repeat INTEGER)")
    connection.commit()
    connection.close()
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["reproduce", "--repeats", "2", "--pool", "0", "--epochs", "1", "--out", str(tmp_path)]
        )
    assert exit_info.value.code == 2
    assert "another layout" in capsys.readouterr().err


def test_a_store_that_is_not_sqlite_is_a_clean_error(tmp_path, capsys):
    (tmp_path / FILENAME).write_text("not a database")
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["reproduce", "--repeats", "2", "--pool", "0", "--epochs", "1", "--out", str(tmp_path)]
        )
    assert exit_info.value.code == 2
    assert "not a statelab store" in capsys.readouterr().err
    assert (tmp_path / FILENAME).read_text() == "not a database"
