"""The results store: round trip, compact rows, kept extras, no duplicates, failures, the
first release's stores migrated, damage and locks refused in one line, resume after
kill -9, a failing command that leaves the store intact, and every row's checksum: a byte
flipped in a stored value fails every read, naming the row, and is never recomputed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statelab
from first_release import FIRST_RELEASE_CODE, write_first_layout
from statelab import layout
from statelab.cli import main
from statelab.data.series import data_hash
from statelab.execution.results import code_version
from statelab.execution.store import FILENAME, SCHEMA_VERSION, Store, parse_keep
from statelab.execution.store_schema import (
    COLUMNS,
    PLACEHOLDERS,
    REPEATS_TABLE,
    StoredRepeat,
    sealed,
    unsealed,
)


def load(store: Store, result: statelab.Results) -> statelab.Results:
    return store.load(result.name, result.spec, result.dataset, result.series, result.data_hash,
                      result.seed, result.repeats)  # fmt: skip


def test_round_trip_is_exact_and_no_repeat_is_stored_twice(tmp_path):
    result = statelab.run("stateful_noreset", repeats=3, epochs=7, seed=4)
    with Store(tmp_path) as store:
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.add([result]) == 3
        assert store.add([result]) == 0  # stored once, whatever happens
        assert store.count() == 3
        assert store.stored("stateful_noreset", result.spec, result.data_hash, 4) == {0, 1, 2}
        loaded = load(store, result)
    for field in (
        "repeats",
        "rmse",
        "relative_rmse",
        "mase",
        "forecasts",
        "forecasts_scaled",
        "final_loss",
        "failures",
    ):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(result, field), field)
    assert loaded.forecasts.dtype == np.float64  # rebuilt from float32, as the run did
    assert loaded.weights is None and loaded.losses is None  # not kept by default
    assert loaded.provenance.versions == result.provenance.versions
    assert loaded.provenance.timings == result.provenance.timings
    row = (
        sqlite3.connect(tmp_path / FILENAME)
        .execute(
            "SELECT r.seed, r.repeat, r.series, r.status, r.code, s.profile, s.settings, p.versions "
            "FROM repeats r JOIN settings s USING (settings_hash) JOIN provenance p "
            "ON p.id = r.provenance LIMIT 1"
        )
        .fetchone()
    )
    assert row[:5] == (4, 0, "shampoo", "ok", code_version())
    assert row[5] == "keras3" and json.loads(row[6])["reset_after_epoch"] is False
    assert '"jax"' in row[7]


def test_a_row_is_at_most_512_bytes_by_default(tmp_path):
    result = statelab.run("stateful_seed_train_no_resets", repeats=400, epochs=2)
    with Store(tmp_path) as store:
        store.add([result])
        payload = store.connection.execute(
            "SELECT MAX(length(experiment) + length(series) + length(settings_hash) + "
            "length(data_hash) + length(code) + length(status) + length(reason) + "
            "length(forecasts_scaled) + 8 * 9) FROM repeats"
        ).fetchone()[0]
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert payload <= 512
    size = (tmp_path / FILENAME).stat().st_size
    assert size / 400 <= 512, f"{size / 400:.0f} bytes per repeat on disk"


def test_weights_and_loss_curves_are_kept_on_request(tmp_path):
    result = statelab.run("stateful", repeats=2, epochs=450, seed=2, lags=2, neurons=3)
    with Store(tmp_path) as store:
        store.add([result], keep=parse_keep("weights,loss"))
        loaded = load(store, result)
    for name in statelab.LSTMWeights._fields:
        np.testing.assert_array_equal(getattr(loaded.weights, name), getattr(result.weights, name))
    assert loaded.loss_epochs[0] == 1 and loaded.loss_epochs[-1] == 450
    assert len(loaded.loss_epochs) == 200
    np.testing.assert_array_equal(loaded.losses, result.losses[:, loaded.loss_epochs - 1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("weights", {"weights"}), ("loss, weights", {"loss", "weights"}), (None, set()), ("", set())],
)
def test_keep_parses_its_list(text, expected):
    assert parse_keep(text) == expected


def test_keep_names_what_it_does_not_know():
    with pytest.raises(statelab.StatelabError, match="not gradients"):
        parse_keep("weights,gradients")


def test_a_diverging_repeat_is_stored_as_failed_and_counted(tmp_path):
    months = pd.period_range("2001-01", periods=36, freq="M")
    big = pd.Series([1e300 * (i % 3) for i in range(36)], index=months, name="big")
    bad = statelab.run("stateless", data=big, repeats=2, epochs=3)
    assert bad.failed.all() and np.isnan(bad.rmse).all()
    with Store(tmp_path) as store:
        store.add([bad])
        rows = store.connection.execute("SELECT status, reason, rmse FROM repeats").fetchall()
        loaded = load(store, bad)
    assert all(status == "failed" and "too large" in reason and rmse is None
               for status, reason, rmse in rows)  # fmt: skip
    assert loaded.summary()["failed"] == 2 and loaded.summary()["count"] == 0


def test_a_first_release_store_opens_keeps_its_rows_and_computes_anew(tmp_path, capsys):
    """The first release's engine (revision 3) is not today's: its rows are migrated to the
    current layout and kept, but never reused; the study runs anew beside them."""
    result = statelab.run("stateful", repeats=2, epochs=1, seed=1)
    write_first_layout(tmp_path / FILENAME, [result])  # as statelab 0.1.0 filed them
    with Store(tmp_path) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.stored("stateful", result.spec, result.data_hash, 1) == set()
        assert store.count() == 0  # none of them is today's
    code, out, err = run_cli_out(capsys, reproduce(tmp_path))
    assert code == 0 and "22 run now" in out, err
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        codes = dict(connection.execute("SELECT code, COUNT(*) FROM repeats GROUP BY code"))
    assert codes == {FIRST_RELEASE_CODE: 2, code_version(): 22}


def reproduce(out: Path, *extra: str) -> list[str]:
    return ["reproduce", "--repeats", "2", "--pool", "0", "--epochs", "1", "--out", str(out),
            "--quiet", *extra]  # fmt: skip


def run_cli_out(capsys, argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def run_cli(capsys, argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["CREATE TABLE repeats (experiment TEXT, repeat INTEGER)"], "another layout"),
        ([f"PRAGMA user_version = {SCHEMA_VERSION + 1}", "CREATE TABLE repeats (x)"],
         "newer statelab"),
    ],
)  # fmt: skip
def test_a_store_of_another_layout_or_release_is_a_clean_error(tmp_path, capsys, statements,
                                                                 message):  # fmt: skip
    connection = sqlite3.connect(tmp_path / FILENAME)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_a_store_that_is_not_sqlite_is_a_clean_error(tmp_path, capsys):
    (tmp_path / FILENAME).write_text("not a database")
    code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and "not a statelab store" in err and len(err.splitlines()) == 1
    assert (tmp_path / FILENAME).read_text() == "not a database"


def test_a_store_truncated_to_nothing_is_named_not_silently_restarted(tmp_path, capsys):
    (tmp_path / FILENAME).write_bytes(b"")
    code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and "empty (0 bytes)" in err and len(err.splitlines()) == 1
    assert (tmp_path / FILENAME).read_bytes() == b""


def test_a_store_with_damaged_pages_is_a_clean_error(tmp_path, capsys):
    assert run_cli(capsys, reproduce(tmp_path))[0] == 0
    path = tmp_path / FILENAME
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 3 * page
    data[page + 8 : 3 * page] = os.urandom(2 * page - 8)  # the header (page 1) stays intact
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and "damaged" in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and path.read_bytes() == before


def test_a_store_in_use_by_another_command_is_refused(tmp_path, capsys):
    with Store(tmp_path):
        code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and "another statelab command is using" in err
    assert len(err.splitlines()) == 1
    assert run_cli(capsys, reproduce(tmp_path))[0] == 0  # free again once it is closed


def reproduce_argv(out: Path) -> list[str]:
    return ["reproduce", "--repeats", "12", "--pool", "16", "--epochs", "60", "--chunk", "2",
            "--seed", "3", "--out", str(out), "--quiet"]  # fmt: skip


def rows(out: Path) -> pd.DataFrame:
    connection = sqlite3.connect(out / FILENAME)
    frame = pd.read_sql("SELECT experiment, repeat, rmse, forecasts_scaled, final_loss "
                        "FROM repeats ORDER BY experiment, repeat", connection)  # fmt: skip
    connection.close()
    return frame


def reproduced(tmp_path_factory, name: str, argv) -> Path:
    out = tmp_path_factory.mktemp(name)
    with pytest.raises(SystemExit) as exit_info:
        main(argv(out))
    assert exit_info.value.code == 0
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    return reproduced(tmp_path_factory, "whole", reproduce_argv)


def slow_argv(out: Path) -> list[str]:
    """Four chunks of about half a second each: time to stop the run after the first."""
    return ["reproduce", "--repeats", "4", "--pool", "0", "--epochs", "30000", "--chunk", "1",
            "--seed", "3", "--out", str(out), "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def slow_uninterrupted(tmp_path_factory) -> Path:
    return reproduced(tmp_path_factory, "slow", slow_argv)


def start_and_stop(out: Path, stop: signal.Signals) -> subprocess.CompletedProcess:
    """Start a real `statelab reproduce` and send it ``stop`` once it has stored a chunk."""
    command = [sys.executable, "-m", "statelab", *slow_argv(out)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
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
    assert process.poll() is None, "the run finished before it could be stopped"
    os.kill(process.pid, stop)
    _, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, "", err)


def resume_and_compare(capsys, out: Path, uninterrupted: Path) -> None:
    expected = rows(uninterrupted)
    assert 0 < len(rows(out)) < len(expected)  # stopped mid-run, with chunks already stored
    assert run_cli(capsys, slow_argv(out))[0] == 0
    resumed = rows(out)
    assert len(resumed) == len(expected) == 11 * 4  # every repeat once
    pd.testing.assert_frame_equal(resumed, expected)
    for name in statelab.PRESETS:
        file = layout.experiment_csv(name)
        assert (out / file).read_text() == (uninterrupted / file).read_text()


def test_resume_after_kill_9_equals_an_uninterrupted_run(tmp_path, capsys, slow_uninterrupted):
    start_and_stop(tmp_path / "killed", signal.SIGKILL)
    resume_and_compare(capsys, tmp_path / "killed", slow_uninterrupted)


def test_ctrl_c_says_how_many_are_stored_and_resumes(tmp_path, capsys, slow_uninterrupted):
    out = tmp_path / "interrupted"
    stopped = start_and_stop(out, signal.SIGINT)
    stored = len(rows(out))
    assert stopped.returncode == 130
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"statelab: interrupted; {stored} repeats are stored, run the same command to resume"
    )
    assert "Traceback" not in stopped.stderr
    resume_and_compare(capsys, out, slow_uninterrupted)


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    "bad",
    [["--epochs", "0"], ["--data", "/no/such.csv"], ["--chunk", "0"], ["--pool", "-1"],
     ["--repeats", "0"], ["--workers", "1", "--cluster", "tcp://127.0.0.1:1"],
     ["--workers", "1000000000"], ["--repeats", "10000000000"], ["--pool", "1000000000000"],
     ["--keep", "everything"]],
)  # fmt: skip
def test_a_failing_command_leaves_the_store_and_files_intact(capsys, uninterrupted, bad):
    with sqlite3.connect(uninterrupted / FILENAME) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = snapshot(uninterrupted)
    code, err = run_cli(capsys, [*reproduce_argv(uninterrupted), *bad])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert snapshot(uninterrupted) == before


def test_data_hash_tells_series_apart():
    shampoo = statelab.shampoo()
    assert data_hash(shampoo) == data_hash(shampoo.copy())
    assert data_hash(shampoo) != data_hash(shampoo * 1.0000001)
    assert data_hash(shampoo) != data_hash(shampoo.set_axis(range(36)))


def test_a_full_disk_while_storing_is_one_line_and_keeps_what_was_stored(tmp_path, capsys):
    """A real full disk: the command runs in a child process whose file-size limit stops
    the store from growing (Python ignores SIGXFSZ, so writes past it fail with EFBIG)."""
    out = tmp_path / "study"
    assert run_cli(capsys, reproduce(out))[0] == 0
    with sqlite3.connect(out / FILENAME) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = connection.execute("SELECT COUNT(*) FROM repeats").fetchone()[0]
    limit = (out / FILENAME).stat().st_size + 2048
    prelude = (
        f"import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "from statelab.cli import main; main(sys.argv[1:])"
    )
    bigger = [*reproduce(out), "--repeats", "40", "--chunk", "40"]
    environment = {**os.environ, "STATELAB_COMPILATION_CACHE": "0"}  # the store alone fills up
    process = subprocess.run([sys.executable, "-c", prelude, *bigger], capture_output=True,
                             text=True, timeout=300, env=environment)  # fmt: skip
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, process.stderr
    assert "cannot write the store" in lines[0] and "Traceback" not in process.stderr
    with sqlite3.connect(out / FILENAME) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert connection.execute("SELECT COUNT(*) FROM repeats").fetchone()[0] == before
    assert run_cli(capsys, bigger)[0] == 0  # with room again, the same command resumes


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE repeats SET forecasts_scaled = X'0000' WHERE repeat = 0",
        "UPDATE repeats SET forecasts_scaled = 'text' WHERE repeat = 0",
        "UPDATE repeats SET forecasts_scaled = X'00000000' WHERE repeat = 0",
        "UPDATE repeats SET rmse = 'abc' WHERE repeat = 1",
    ],
)
def test_a_stored_value_edited_or_damaged_is_one_line(tmp_path, capsys, damage):
    assert run_cli(capsys, reproduce(tmp_path))[0] == 0
    with sqlite3.connect(tmp_path / FILENAME) as connection:
        connection.execute(damage)
    before = (tmp_path / FILENAME).read_bytes()
    code, err = run_cli(capsys, reproduce(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is damaged" in err, err
    assert (tmp_path / FILENAME).read_bytes() == before


# The checksum of every row (store layout 3).

ROW = StoredRepeat(
    experiment="stateful", series="shampoo", settings_hash="ab12", data_hash="cd34", seed=3,
    repeat=0, code="statelab 0.2.0 engine 4", status="ok", reason="", rmse=2.0,
    relative_rmse=float("nan"), mase=-0.0, final_loss=None, forecasts_scaled=b"\x00\x01\x02\x03",
    compile_s=1, run_s=0.5, cache_hits=2, lanes=4, stored_at=1.7e9, provenance=1, weights=None,
    losses=None, loss_epochs=None,
)  # fmt: skip


def through_sqlite(row: StoredRepeat) -> tuple:
    """``row`` sealed, stored in a table of the store's layout and read back."""
    connection = sqlite3.connect(":memory:")
    connection.execute(REPEATS_TABLE)
    connection.execute(f"INSERT INTO repeats VALUES {PLACEHOLDERS}", sealed(row))
    values = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM repeats").fetchone()
    connection.close()
    return values


def different(value):
    """Another value of the same kind."""
    if value is None:
        return 1.0
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:]
    if isinstance(value, str):
        return value + "x"
    return value + 1


def test_a_row_reads_back_sealed_whatever_sqlite_makes_of_its_numbers():
    """SQLite gives back NaN as NULL, an int in a REAL column as a float, -0.0 as 0.0: the
    checksum is of the values, so the row read back matches the row written."""
    values = through_sqlite(ROW)
    assert values[COLUMNS.index("relative_rmse")] is None
    assert repr(values[COLUMNS.index("compile_s")]) == "1.0"
    assert repr(values[COLUMNS.index("mase")]) == "0.0"
    assert unsealed(values) is not None


def test_any_value_changed_breaks_the_seal():
    values = through_sqlite(ROW)
    for k, field in enumerate(StoredRepeat._fields):
        changed = (*values[:k], different(values[k]), *values[k + 1 :])
        assert unsealed(changed) is None, field
    # the same characters split differently between two columns
    one, other = (
        ROW._replace(experiment="ab", series="c"),
        ROW._replace(experiment="a", series="bc"),
    )
    assert unsealed((*other, sealed(one)[-1])) is None
    assert unsealed((*values[:-1], None)) is None  # a checksum lost
    # values of a type their column cannot hold, as an UPDATE can leave them: damaged, no error
    for field, value in [("rmse", "abc"), ("forecasts_scaled", "text"), ("experiment", b"\0"),
                         ("seed", 4.5), ("weights", 7)]:  # fmt: skip
        k = StoredRepeat._fields.index(field)
        assert unsealed((*values[:k], value, *values[k + 1 :])) is None, field


def flip_one_byte(path: Path, column: str, where: str) -> None:
    """Flip the lowest bit of one byte of a stored RMSE (a REAL: a byte of its IEEE 754
    double) or of a stored blob, with SQLite alone, as damage on disk would."""
    with sqlite3.connect(path) as connection:
        (value,) = connection.execute(f"SELECT {column} FROM repeats WHERE {where}").fetchone()
        raw = bytearray(struct.pack("<d", value) if isinstance(value, float) else value)
        raw[3] ^= 0x01
        damaged = struct.unpack("<d", raw)[0] if isinstance(value, float) else bytes(raw)
        assert damaged != value
        connection.execute(f"UPDATE repeats SET {column} = ? WHERE {where}", (damaged,))
    connection.close()


@pytest.mark.parametrize("column", ["rmse", "forecasts_scaled", "weights"])
def test_a_flipped_byte_in_a_stored_row_fails_every_read_naming_the_row(tmp_path, column):
    result = statelab.run("stateful_noreset", repeats=3, epochs=7, seed=4)
    with Store(tmp_path) as store:
        store.add([result], keep=parse_keep("weights"))
        untouched = load(store, result)  # an untouched store reads back identical values
    np.testing.assert_array_equal(untouched.rmse, result.rmse)
    np.testing.assert_array_equal(untouched.forecasts, result.forecasts)
    flip_one_byte(tmp_path / FILENAME, column, "repeat = 1")
    message = (
        f"{tmp_path / FILENAME} is damaged: the stored repeat 1 of stateful_noreset on shampoo "
        "(seed 4) does not match its checksum; delete that file to compute the results anew, "
        "or restore it from a copy"
    )
    with Store(tmp_path) as store:
        for read in (
            lambda: store.stored("stateful_noreset", result.spec, result.data_hash, 4),
            lambda: load(store, result),
        ):
            with pytest.raises(statelab.StatelabError) as raised:
                read()
            assert str(raised.value) == message
    flip_one_byte(tmp_path / FILENAME, column, "repeat = 2")
    with Store(tmp_path) as store, pytest.raises(statelab.StatelabError) as raised:
        load(store, result)
    assert "repeat 1 of stateful_noreset" in str(raised.value)
    assert "checksum (and 1 more of its rows);" in str(raised.value)


def test_a_damaged_row_fails_the_command_in_one_line_and_is_never_recomputed(tmp_path, capsys):
    assert run_cli(capsys, reproduce(tmp_path))[0] == 0
    path = tmp_path / FILENAME
    with sqlite3.connect(path) as connection:
        (seed,) = connection.execute("SELECT DISTINCT seed FROM repeats").fetchone()
    connection.close()
    flip_one_byte(path, "rmse", "experiment = 'stateful' AND repeat = 1")
    before = path.read_bytes()
    process = subprocess.run([sys.executable, "-m", "statelab", *reproduce(tmp_path)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert lines[0] == (
        f"statelab: error: {path} is damaged: the stored repeat 1 of stateful on shampoo "
        f"(seed {seed}) does not match its checksum; delete that file to compute the results "
        "anew, or restore it from a copy"
    )
    assert path.read_bytes() == before  # nothing recomputed, nothing stored over it
