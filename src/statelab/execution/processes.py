"""Pure, CPU-bound calls spread over worker processes, their results in order.

A collection's statistics are one pure call a series (its six pair tests), and on one core
they took most of the full M3 study's analysis. loky (joblib's executor) runs them in worker
processes it starts by fork and exec, which is safe beside JAX's threads and asks no
``if __name__ == "__main__"`` guard of a user's script. The workers start with Ctrl-C
ignored (:func:`statelab.execution.interrupts.ignored`), and end with the call: the CLI
leaves by ``os._exit``, which would leave kept workers holding its output open.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from typing import Any

from statelab.execution import interrupts


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def workers_for(calls: int, least_per_worker: int, cores: int) -> int:
    """Worker processes for ``calls`` calls on ``cores`` cores: a core each, while each gets
    at least ``least_per_worker`` calls, so that its start pays for itself (a worker
    imports for about 1.5 s); 1 runs them in this process."""
    return max(1, min(cores, calls // least_per_worker))


def spread(
    function: Callable[..., Any], calls: Sequence[Mapping[str, Any]], least_per_worker: int
) -> list:
    """``function(**call)`` for every call, in order: in worker processes where
    :func:`workers_for` gives more than one (``function``, its arguments and its results
    pickled), else here. Here too where this process may have none (a daemon, such as a
    Dask worker) or where the workers die (the calls are pure: their results are the same)."""
    workers = workers_for(len(calls), least_per_worker, cpu_cores())
    if workers > 1 and not multiprocessing.current_process().daemon:
        try:
            return _in_workers(functools.partial(_call, function), calls, workers)
        except BrokenExecutor:
            pass
    return [function(**call) for call in calls]


def _call(function: Callable[..., Any], call: Mapping[str, Any]):
    return function(**call)


def _in_workers(one: Callable[[Mapping[str, Any]], Any], calls, workers: int) -> list:
    from loky import ProcessPoolExecutor  # imported where used: most runs never need it

    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        with interrupts.ignored():  # the first call starts every worker
            first = pool.submit(one, calls[0])
        rest = pool.map(one, calls[1:], chunksize=max(1, len(calls) // (8 * workers)))
        made = [first.result(), *rest]
    except BaseException:  # Ctrl-C, or a call that failed: stop at once
        pool.shutdown(wait=True, kill_workers=True)
        raise
    pool.shutdown(wait=True)
    return made
