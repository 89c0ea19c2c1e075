"""Backends: in process and on a real local Dask cluster. A worker killed mid-run loses
nothing, and every repeat is stored exactly once, with the same bits as in process."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

import statelab
from statelab.execution import pipeline
from statelab.execution.backends import InProcess, check_workers, open_backend
from statelab.execution.store import Store
from statelab.studies import study


def plan():
    return study.study_plan(
        study.StudySettings(repeats=8, pool=12, setup=statelab.Setup(epochs=40), seed=5)
    )


def stored_rmse(folder) -> dict[tuple[str, int], float]:
    with Store(folder) as store:
        return {(e, r): v for e, r, v in store.connection.execute(
            "SELECT experiment, repeat, rmse FROM repeats")}  # fmt: skip


class KillOneWorker(pipeline.Silent):
    def __init__(self, pids: list[int]) -> None:
        self.pids, self.killed = pids, []

    def chunks(self, done: int, total: int, lanes: int, series: int) -> None:
        if not self.killed and done < total:
            os.kill(sorted(self.pids)[0], signal.SIGKILL)
            self.killed.append((done, total))


def test_worker_killed_mid_run_every_repeat_stored_once_and_bitwise_equal(tmp_path):
    in_process, on_cluster = tmp_path / "local", tmp_path / "cluster"
    in_process.mkdir()
    on_cluster.mkdir()
    with Store(in_process) as store:
        pipeline.fill(
            store, plan(), InProcess(), pipeline.Execution(chunk=2), frozenset(), pipeline.Silent()
        )

    with open_backend(workers=2) as backend, Store(on_cluster) as store:
        progress = KillOneWorker(list(backend.client.run(os.getpid).values()))
        filled = pipeline.fill(
            store, plan(), backend, pipeline.Execution(chunk=2), frozenset(), progress
        )
        rows = store.connection.execute(
            "SELECT experiment, repeat, COUNT(*) FROM repeats GROUP BY experiment, repeat"
        ).fetchall()
    assert progress.killed and progress.killed[0][0] < progress.killed[0][1]  # chunks to come
    expected = {(t.name, int(r)) for t in plan().tasks for r in t.repeats}
    assert {(e, r) for e, r, _ in rows} == expected and all(n == 1 for *_, n in rows)
    assert filled.run == len(expected) == 11 * 8 + 4
    local, remote = stored_rmse(in_process), stored_rmse(on_cluster)
    assert local.keys() == remote.keys()
    for key in local:
        assert np.float64(local[key]).tobytes() == np.float64(remote[key]).tobytes(), key


@pytest.mark.parametrize(
    ("workers", "address", "message"),
    [
        (2, "tcp://x:1", "not both"),
        (0, None, "--workers must be from 1"),
        (10**9, None, "cores"),
        ((os.cpu_count() or 1) + 1, None, "cores"),
    ],
)
def test_impossible_cluster_settings_are_refused_before_anything_starts(workers, address, message):
    with pytest.raises(statelab.StatelabError, match=message):
        check_workers(workers, address)
    with pytest.raises(statelab.StatelabError, match=message), open_backend(workers, address):
        pass


def test_unreachable_scheduler_is_a_clean_error():
    with (
        pytest.raises(statelab.StatelabError, match="cannot reach"),
        open_backend(None, "tcp://127.0.0.1:9"),
    ):
        pass


def test_ctrl_c_from_a_terminal_stops_a_local_cluster_run_in_one_line(tmp_path):
    """A terminal's Ctrl-C goes to every process of its group, Dask's worker processes too.
    They must leave it to statelab, which stops in one line with status 130 and closes the
    cluster (found by a hostile try: each worker printed a traceback of its own)."""
    out = tmp_path / "g"
    command = [sys.executable, "-m", "statelab", "generalise", "--data", "m3/monthly",
               "--sample", "6", "--epochs", "3000", "--repeats", "4", "--workers", "2",
               "--chunk-series", "1", "--quiet", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while _stored(out) == 0:  # the cluster is up and a chunk is stored
            if child.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):  # the group may be gone
                    os.killpg(child.pid, signal.SIGKILL)
                pytest.fail(f"no chunk was stored while it ran: {child.communicate()[1]}")
            time.sleep(0.1)
        workers = _workers(child.pid)
        assert len(workers) == 2
        os.killpg(child.pid, signal.SIGINT)  # as a terminal does
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    lines = [line for line in err.splitlines() if line.strip()]
    assert child.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("statelab: interrupted"), err
    assert not any(worker.is_running() for worker in workers)


def _stored(out) -> int:
    """Repeats in the store in ``out`` (0 before it exists), read only: never made here."""
    path = out / "statelab.sqlite"
    if not path.exists():
        return 0
    try:
        uri = f"file:{path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as store:
            return store.execute("SELECT COUNT(*) FROM repeats").fetchone()[0]
    except sqlite3.OperationalError:  # its tables not made yet
        return 0


def _workers(pid: int) -> list[psutil.Process]:
    """The worker processes (multiprocessing's) under process ``pid``."""
    found = []
    for one in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(one.cmdline()):
                found.append(one)
    return found
