"""Pure, CPU-bound calls spread over worker processes, their results in order.

The statistics of a collection are one pure call a series (its six pair tests), and on one
core they took most of the full M3 study's analysis. joblib's loky executor runs them in
worker processes it starts by fork and exec (safe beside JAX's threads, and a user's script
needs no ``if __name__ == "__main__"`` guard) and keeps for later calls. On Ctrl-C, which a
terminal sends to every process of the group, the caller stops in one line and loky ends the
workers, none of which prints (seen with `statelab generalise` stopped in its statistics).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def workers_for(calls: int, least_per_worker: int, cores: int) -> int:
    """Worker processes for ``calls`` calls on ``cores`` cores: a core each, while each gets
    at least ``least_per_worker`` calls (a worker's start, about 1.5 s of imports, must pay
    for itself); 1 runs them in this process."""
    return max(1, min(cores, calls // least_per_worker))


def spread(
    function: Callable[..., Any], calls: Sequence[Mapping[str, Any]], least_per_worker: int
) -> list:
    """``function(**call)`` for every call, in order: in worker processes where
    :func:`workers_for` gives more than one (``function``, its arguments and its results
    pickled), else here."""
    workers = workers_for(len(calls), least_per_worker, cpu_cores())
    if workers == 1:
        return [function(**call) for call in calls]
    from joblib import Parallel, delayed  # imported where used: most runs never need it

    return Parallel(n_jobs=workers)(delayed(function)(**call) for call in calls)
