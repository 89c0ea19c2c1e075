"""Stores of earlier layouts migrated to the current one (statelab.execution.migrate).

The first release's: every row comes across, failed repeats with their status and reason,
and the store reports the same rows after; a store whose first-layout rows are malformed is
refused in one line and left byte for byte as it was (the migration is one transaction).
Layout 2's: every value kept and every row sealed with its checksum, read back equal, a
migration killed midway leaves the layout-2 store as it was, and a study stored in layout 2
gives the same files."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import statelab
from first_release import write_first_layout
from layout_2 import write_layout_2
from statelab.cli import main
from statelab.execution import migrate
from statelab.execution.results import code_version
from statelab.execution.store import FILENAME, SCHEMA_VERSION, Store, parse_keep
from statelab.execution.store_schema import COLUMNS, StoredRepeat, unsealed

REASON = "training loss not finite from epoch 4"
OLD_ROWS = "SELECT experiment, data_hash, seed, repeat, status, reason, rmse FROM repeats"
ORDER = " ORDER BY experiment, repeat"


@pytest.fixture(scope="module")
def results() -> list[statelab.Results]:
    """A run with one repeat marked failed, and a run whose repeats really diverged."""
    ok = statelab.run("stateful", repeats=3, epochs=5, seed=3)
    marked = dataclasses.replace(ok, failures=np.array(["", REASON, ""], dtype=object))
    months = pd.period_range("2001-01", periods=36, freq="M")
    big = pd.Series([1e300 * (i % 3) for i in range(36)], index=months, name="big")
    diverged = statelab.run("stateless", data=big, repeats=2, epochs=3, seed=3)
    assert diverged.failed.all() and marked.failed.tolist() == [False, True, False]
    return [marked, diverged]


def load(store: Store, result: statelab.Results) -> statelab.Results:
    return store.load(result.name, result.spec, result.dataset, result.series, result.data_hash,
                      result.seed, result.repeats)  # fmt: skip


def first_layout_store(folder, results) -> list[tuple]:
    """A store in the first release's layout in ``folder``, its rows filed under today's code
    so that they read back (this tests the conversion; test_store.py tests that real
    first-release rows are kept but not reused); returns its rows as the first release kept
    them."""
    write_first_layout(folder / FILENAME, results, code_version())
    connection = sqlite3.connect(folder / FILENAME)
    try:
        return connection.execute(OLD_ROWS + ORDER).fetchall()
    finally:
        connection.close()


def test_every_row_migrates_and_failed_repeats_keep_status_and_reason(tmp_path, results):
    old = first_layout_store(tmp_path, results)
    assert len(old) == 5
    assert [(r[3], r[4], r[5]) for r in old if r[0] == "stateful"] == [
        (0, "ok", ""), (1, "failed", REASON), (2, "ok", ""),
    ]  # fmt: skip
    with Store(tmp_path) as store:
        connection = store.connection
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master "
                                                   "WHERE type='table'")}  # fmt: skip
        assert "repeats_first_layout" not in tables and {"repeats", "settings"} <= tables
        assert store.count() == len(old)
        assert connection.execute(OLD_ROWS + ORDER).fetchall() == old  # the same rows
        codes = {r[0] for r in connection.execute("SELECT code FROM repeats")}
        assert codes == {code_version()}  # the code each row was filed under is kept
        failed = connection.execute(
            "SELECT experiment, repeat, reason, rmse FROM repeats WHERE status = 'failed'" + ORDER
        ).fetchall()
        assert failed[0] == ("stateful", 1, REASON, None)
        assert [(e, k) for e, k, _, _ in failed] == [("stateful", 1), ("stateless", 0),
                                                      ("stateless", 1)]  # fmt: skip
        assert all("too large" in reason for e, _, reason, _ in failed if e == "stateless")
        loaded = {r.name: load(store, r) for r in results}
        for result in results:
            assert store.stored(result.name, result.spec, result.data_hash, 3) == set(
                result.repeats.tolist()
            )
    for result in results:
        back = loaded[result.name]
        assert back.failures.tolist() == result.failures.tolist()
        np.testing.assert_array_equal(back.failed, result.failed)
        np.testing.assert_array_equal(back.rmse, result.rmse)  # NaN where failed
        np.testing.assert_array_equal(back.forecasts_scaled, result.forecasts_scaled)
        np.testing.assert_array_equal(back.losses, result.losses)  # kept by the first release
        for x, y in zip(back.weights, result.weights, strict=True):
            np.testing.assert_array_equal(x, y)
        summary, expected = back.summary(), result.summary()
        assert summary["failed"] == expected["failed"] and summary["count"] == expected["count"]
    marked = loaded["stateful"]
    np.testing.assert_array_equal(marked.forecasts, results[0].forecasts)
    # the scores the first release did not store are rebuilt from the data on reading
    np.testing.assert_allclose(marked.relative_rmse, results[0].relative_rmse, rtol=1e-12)
    np.testing.assert_allclose(marked.mase, results[0].mase, rtol=1e-12)
    assert np.isnan(marked.mase[1]) and np.isnan(marked.relative_rmse[1])


def test_a_migrated_store_opens_again_unchanged(tmp_path, results):
    first_layout_store(tmp_path, results[:1])
    with Store(tmp_path) as store:
        rows = store.connection.execute(OLD_ROWS + ORDER).fetchall()
    with Store(tmp_path) as store:  # no second migration, nothing lost
        assert store.connection.execute(OLD_ROWS + ORDER).fetchall() == rows
        assert store.count() == 3


def test_only_the_first_layout_is_recognised(tmp_path, results):
    first_layout_store(tmp_path, results[:1])
    connection = sqlite3.connect(tmp_path / FILENAME)
    assert migrate.is_first_layout(connection)
    connection.close()
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE repeats (experiment TEXT, repeat INTEGER)")
    assert not migrate.is_first_layout(other)
    other.close()


# (column, malformed text) for the row of repeat 1
DAMAGE = [
    ("weights", "not json"),
    ("weights", "{}"),  # JSON, but no arrays in it
    ("forecasts_scaled", "[0.1, 0.2"),
    ("losses", "{"),
    ("versions", "python 3.11"),
]


def damaged_store(folder, results, column: str, text: str) -> bytes:
    first_layout_store(folder, results)
    with sqlite3.connect(folder / FILENAME) as connection:
        connection.execute(f"UPDATE repeats SET {column} = ? WHERE repeat = 1", (text,))
    connection.close()
    assert sorted(p.name for p in folder.iterdir()) == [FILENAME]
    return (folder / FILENAME).read_bytes()


@pytest.mark.parametrize(("column", "text"), DAMAGE)
def test_a_malformed_first_layout_store_is_left_byte_for_byte_unchanged(
    tmp_path, results, column, text
):
    before = damaged_store(tmp_path, results, column, text)
    for _ in range(2):  # and refused the same way again: nothing half-done, no lock left held
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the kind is tested below
            Store(tmp_path)
        assert "another statelab command" not in str(raised.value)
        assert (tmp_path / FILENAME).read_bytes() == before
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        assert migrate.is_first_layout(connection)  # nothing committed, even to a WAL
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 0
        assert connection.execute("SELECT COUNT(*) FROM repeats").fetchone()[0] == 5
    connection.close()


@pytest.mark.parametrize(("column", "text"), DAMAGE)
def test_a_malformed_first_layout_store_is_a_one_line_statelab_error(
    tmp_path, results, column, text
):
    damaged_store(tmp_path, results, column, text)
    with pytest.raises(statelab.StatelabError) as raised:
        Store(tmp_path)
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and FILENAME in message


# Layout 2 (statelab 0.2.0: today's rows without their checksum) -> layout 3.


def contents(path) -> dict[str, list[tuple]]:
    """Every value of a store's three tables, its rows' checksums aside."""
    connection = sqlite3.connect(path)
    try:
        return {
            "repeats": connection.execute(
                f"SELECT {', '.join(StoredRepeat._fields)} FROM repeats" + ORDER
            ).fetchall(),
            "settings": connection.execute("SELECT * FROM settings").fetchall(),
            "provenance": connection.execute("SELECT * FROM provenance").fetchall(),
        }
    finally:
        connection.close()


def layout_2_store(folder, results) -> dict[str, list[tuple]]:
    """A layout-2 store in ``folder`` holding ``results`` (weights and loss curves kept);
    returns its contents."""
    write_layout_2(folder / FILENAME, results, parse_keep("weights,loss"))
    before = contents(folder / FILENAME)
    assert len(before["repeats"]) == 5 and len(before["repeats"][0]) == 23
    return before


def test_a_layout_2_store_migrates_to_layout_3_and_reads_back_equal(tmp_path, results):
    before = layout_2_store(tmp_path, results)
    with Store(tmp_path) as store:
        connection = store.connection
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 3
        columns = tuple(r[1] for r in connection.execute("PRAGMA table_info(repeats)"))
        assert columns == (*StoredRepeat._fields, "checksum")
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master "
                                                   "WHERE type='table'")}  # fmt: skip
        assert tables == {"repeats", "settings", "provenance"}
        sealed_rows = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM repeats").fetchall()
        assert all(unsealed(values) is not None for values in sealed_rows)  # every row sealed
        loaded = {r.name: load(store, r) for r in results}
    assert contents(tmp_path / FILENAME) == before  # every value as it was
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    Store(fresh).close()
    schema = "SELECT sql FROM sqlite_master WHERE name = 'repeats'"
    with sqlite3.connect(tmp_path / FILENAME) as migrated, sqlite3.connect(fresh / FILENAME) as new:
        assert migrated.execute(schema).fetchone() == new.execute(schema).fetchone()
    for result in results:
        back = loaded[result.name]
        for field in ("repeats", "rmse", "relative_rmse", "mase", "forecasts", "forecasts_scaled",
                      "final_loss", "failures", "losses"):  # fmt: skip
            np.testing.assert_array_equal(getattr(back, field), getattr(result, field), field)
        np.testing.assert_array_equal(back.loss_epochs, result.loss_epochs[back.loss_epochs - 1])
        for x, y in zip(back.weights, result.weights, strict=True):
            np.testing.assert_array_equal(x, y)
    with Store(tmp_path) as store:  # opened again: no second migration, nothing changed
        assert store.count() == 5
    assert contents(tmp_path / FILENAME) == before


KILL_MID_MIGRATION = """
import os, signal, sys
from pathlib import Path
from statelab.execution import migrate
from statelab.execution.store import Store

sealed = []
real = migrate.checksum


def checksum_then_die(row):
    sealed.append(row)
    if len(sealed) == 3:  # two rows of five copied into the new table
        os.kill(os.getpid(), signal.SIGKILL)
    return real(row)


migrate.checksum = checksum_then_die
Store(Path(sys.argv[1]))
"""


def test_a_migration_killed_midway_leaves_the_layout_2_store_as_it_was(tmp_path, results):
    before = layout_2_store(tmp_path, results)
    file_before = (tmp_path / FILENAME).read_bytes()
    killed = subprocess.run([sys.executable, "-c", KILL_MID_MIGRATION, str(tmp_path)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (tmp_path / FILENAME).read_bytes() == file_before  # nothing reached the file
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        assert migrate.is_layout_2(connection)
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 2
    assert contents(tmp_path / FILENAME) == before
    with Store(tmp_path) as store:  # and it migrates whole next time
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == 3
        np.testing.assert_array_equal(load(store, results[0]).rmse, results[0].rmse)
    assert contents(tmp_path / FILENAME) == before


def test_a_layout_2_row_its_layout_cannot_hold_is_refused_and_left_as_it_was(tmp_path, results):
    """A row is sealed as found, but a value its column cannot hold (text for an RMSE, left
    by an edit) cannot be sealed: the store is refused in one line, unchanged."""
    layout_2_store(tmp_path, results)
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        connection.execute("UPDATE repeats SET rmse = 'abc' WHERE repeat = 1")
    connection.close()
    before = (tmp_path / FILENAME).read_bytes()
    with pytest.raises(statelab.StatelabError) as raised:
        Store(tmp_path)
    assert len(str(raised.value).splitlines()) == 1 and "is damaged" in str(raised.value)
    assert (tmp_path / FILENAME).read_bytes() == before
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        assert migrate.is_layout_2(connection)
    connection.close()


def test_reproduce_on_a_layout_2_store_reuses_it_and_writes_the_same_results(tmp_path, capsys):
    """A study stored by 0.2.0 (made here from today's by dropping the checksums) is read back
    after the migration, not run again, and gives every CSV byte for byte."""
    argv = ["reproduce", "--repeats", "2", "--pool", "0", "--epochs", "1", "--out",
            str(tmp_path), "--quiet"]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    csvs = {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")}
    assert len(csvs) >= 11
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        connection.execute("ALTER TABLE repeats DROP COLUMN checksum")
        connection.execute("PRAGMA user_version = 2")
        assert migrate.is_layout_2(connection)
    connection.close()
    before = contents(tmp_path / FILENAME)
    for name in csvs:
        (tmp_path / name).unlink()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "22 repeats planned: 0 run now" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")} == csvs
    assert contents(tmp_path / FILENAME) == before
