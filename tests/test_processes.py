"""Calls spread over worker processes: as many workers as pay for themselves, and the results
of the calls in their order, made in other processes."""

from __future__ import annotations

import os

import pytest

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


def power(base: float, exponent: float) -> tuple[int, float]:
    return os.getpid(), base**exponent


def test_spread_calls_run_in_worker_processes_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(processes, "cpu_cores", lambda: 2)  # workers even on one core
    calls = [{"base": float(k), "exponent": 1.5} for k in range(40)]
    made = processes.spread(power, calls, least_per_worker=1)
    assert [value for _, value in made] == [float(k) ** 1.5 for k in range(40)]
    assert os.getpid() not in {pid for pid, _ in made}


def test_too_few_calls_run_here(monkeypatch):
    monkeypatch.setattr(processes, "cpu_cores", lambda: 2)
    made = processes.spread(power, [{"base": 2.0, "exponent": 3.0}] * 3, least_per_worker=2)
    assert made == [(os.getpid(), 8.0)] * 3
