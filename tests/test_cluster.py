"""Scale-out on a real local Dask cluster: a worker killed mid-run loses nothing, and
every repeat is stored exactly once, with the same bits as the in-process run."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import statelab
from statelab import study
from statelab.cluster import dask_client
from statelab.store import Store

SETTINGS = {"epochs": 40}


def plan():
    return study.plan(statelab.shampoo(), repeats=8, pool=12, settings=SETTINGS)


def stored_rmse(folder) -> dict[tuple[str, int], float]:
    with Store(folder) as store:
        return {(e, r): v for e, r, v in store.connection.execute(
            "SELECT experiment, repeat, rmse FROM repeats")}  # fmt: skip


def test_worker_killed_mid_run_every_repeat_stored_once_and_bitwise_equal(tmp_path):
    series = statelab.shampoo()
    in_process = tmp_path / "local"
    in_process.mkdir()
    with Store(in_process) as store:
        study.fill_store(store, series, plan(), seed=5, chunk=2)

    killed = []
    on_cluster = tmp_path / "cluster"
    on_cluster.mkdir()
    with dask_client(workers=2) as client, Store(on_cluster) as store:
        pids = client.run(os.getpid)

        def kill_one_worker(done: int, total: int) -> None:
            if not killed and done < total:
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append((done, total))

        filled = study.fill_store(
            store, series, plan(), seed=5, chunk=2, client=client, on_chunk=kill_one_worker
        )
        rows = store.connection.execute(
            "SELECT experiment, repeat, COUNT(*) FROM repeats GROUP BY experiment, repeat"
        ).fetchall()
    assert killed and killed[0][0] < killed[0][1]  # killed with chunks still to come
    expected = {(e.name, int(r)) for e in plan() for r in e.repeats}
    assert {(e, r) for e, r, _ in rows} == expected and all(n == 1 for *_, n in rows)
    assert filled.repeats_run == len(expected)
    local, remote = stored_rmse(in_process), stored_rmse(on_cluster)
    assert local.keys() == remote.keys()
    for key in local:
        assert np.float64(local[key]).tobytes() == np.float64(remote[key]).tobytes(), key


def test_cluster_and_workers_are_exclusive():
    with pytest.raises(statelab.StatelabError, match="not both"), dask_client(2, "tcp://x:1"):
        pass


def test_unreachable_scheduler_is_a_clean_error():
    with (
        pytest.raises(statelab.StatelabError, match="cannot reach"),
        dask_client(None, "tcp://127.0.0.1:9"),
    ):
        pass
