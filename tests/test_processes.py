"""Calls spread over worker processes: as many workers as pay for themselves, the results of
the calls in their order and to the bit (NaN and -0.0 too), made in other processes that
ignore Ctrl-C and end with the call; and here where workers cannot run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import struct

import numpy as np
import psutil
import pytest

from statelab import stats
from statelab.execution import processes


@pytest.mark.parametrize(
    ("calls", "least", "cores", "workers"),
    [
        (0, 100, 2, 1),  # nothing to do
        (199, 100, 2, 1),  # a second worker would get 99: not worth its start
        (200, 100, 2, 2),
        (1428, 100, 2, 2),  # the full M3 study on this machine
        (1428, 100, 16, 14),  # on 16 cores, 14 workers of at least 100 series each
        (1428, 100, 1, 1),  # one core: no worker
        (5, 1, 16, 5),
    ],
)
def test_a_worker_a_core_while_each_gets_enough_calls(calls, least, cores, workers):
    assert processes.workers_for(calls, least, cores) == workers


def power(base: float, exponent: float) -> tuple[int, float, bool]:
    """The process it ran in, base ** exponent, and whether that process ignores Ctrl-C."""
    return os.getpid(), base**exponent, signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(processes, "cpu_cores", lambda: 2)  # workers even on one core


def test_calls_run_in_workers_that_ignore_ctrl_c_and_come_back_in_order(two_cores):
    calls = [{"base": float(k), "exponent": 1.5} for k in range(40)]
    made = processes.spread(power, calls, least_per_worker=1)
    assert [value for _, value, _ in made] == [float(k) ** 1.5 for k in range(40)]
    assert os.getpid() not in {pid for pid, _, _ in made}
    assert all(ignores for *_, ignores in made)  # a terminal's Ctrl-C is this process's alone
    assert signal.getsignal(signal.SIGINT) != signal.SIG_IGN  # and this one hears it again
    # The workers end with the call: kept, they would hold the CLI's output open after it
    # leaves by os._exit.
    alive = {pid for pid, *_ in made if psutil.pid_exists(pid)}
    assert not {pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}


def test_too_few_calls_run_here(two_cores):
    made = processes.spread(power, [{"base": 2.0, "exponent": 3.0}] * 3, least_per_worker=2)
    assert [(pid, value) for pid, value, _ in made] == [(os.getpid(), 8.0)] * 3


def exits_in_a_worker(parent: int) -> int:
    if os.getpid() != parent:
        os._exit(1)  # a worker killed (out of memory, say)
    return parent


def test_calls_whose_workers_die_run_here(two_cores):
    parent = os.getpid()
    assert processes.spread(exits_in_a_worker, [{"parent": parent}] * 4, 1) == [parent] * 4


def _spread_in_a_daemon(queue) -> None:
    processes.cpu_cores = lambda: 2
    queue.put([pid for pid, *_ in processes.spread(power, [{"base": 1.0, "exponent": 1.0}] * 4, 1)]
              + [os.getpid()])  # fmt: skip


def test_a_daemon_runs_the_calls_itself():
    """A daemonic process (a Dask worker, say) may start no process of its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    daemon = context.Process(target=_spread_in_a_daemon, args=(queue,), daemon=True)
    daemon.start()
    *ran_in, itself = queue.get(timeout=120)
    daemon.join(30)
    assert ran_in == [itself] * 4


def test_the_statistics_are_the_same_bits_in_workers(two_cores):
    """A series' six tests made in a worker, pickled back: equal to those made here to the
    bit, on series with failed (NaN) repeats, identical experiments and an RMSE of -0.0."""
    rng = np.random.default_rng(3)
    names = {n for e in stats.EXPECTATIONS for n in (e.better, e.worse)}
    calls = []
    for k in range(6):
        rmse = {name: rng.uniform(0.5, 2.0, 30) for name in sorted(names)}
        if k % 2:
            rmse["stateful"][[3, 17]] = np.nan
        if k == 2:
            rmse["stateless"] = rmse["stateful"].copy()
        if k == 4:
            rmse["stateful"][0] = -0.0
        calls.append({"rmse": rmse, "margin": 0.05 * k, "seed": k})
    here = [stats.expectation_tests(**call) for call in calls]
    spread = processes.spread(stats.expectation_tests, calls, least_per_worker=1)
    assert bits(spread) == bits(here)
    assert any(t.test.n_a == 28 for t in here[1])  # the cases are there: 2 failed repeats
    assert any(t.test.identical for t in here[2])


def bits(value) -> object:
    """Every float of nested tuples and lists as its 8 bytes: NaN equals NaN only with the
    same bits, and -0.0 differs from 0.0."""
    if isinstance(value, float):
        return struct.pack("<d", value)
    if isinstance(value, tuple | list):
        return [type(value).__name__, *map(bits, value)]
    return value
