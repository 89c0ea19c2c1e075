"""Where chunks run: in this process, or on a Dask cluster, behind one small protocol.

Workers only compute: each chunk returns its :class:`Results`, and the caller alone writes
the store. A chunk lost with a worker is recomputed elsewhere by Dask; since a repeat's
result depends only on (settings, data, seed, repeat index), the rerun gives the same bits,
and the store's key keeps it from being stored twice. Every process shares JAX's persistent
compilation cache (statelab.execution.cache), so a worker loads what another has compiled.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Protocol

from statelab.errors import StatelabError
from statelab.execution import cache, interrupts
from statelab.execution.calls import CallSizes, chunks_at_once, this_device
from statelab.execution.results import Results
from statelab.execution.runner import ProgressCallback, Task, run_tasks

Chunk = tuple[Task, ...]  # every task's repeats in one range of repeat indices
# Segments of epochs per compiled call (progress is reported after each). One: every
# segment allocates the call's working memory afresh (hundreds of MB on a slice, faulted in
# page by page), which cost a third of the CPU time in the kernel at 10 segments; results
# are the same bits either way. The chunks' own progress is what a pipeline run shows.
SEGMENTS = 1


def run_chunk(
    chunk: Chunk, seed: int, sizes: CallSizes | None, progress: ProgressCallback | None = None
) -> list[Results]:
    """One chunk, start to finish, in calls of the ``sizes`` its run allows: the unit of work
    a worker runs (through the shared compilation cache)."""
    cache.enable()
    return run_tasks(chunk, seed=seed, progress=progress, segments=SEGMENTS, sizes=sizes)


class Backend(Protocol):
    def run(
        self, chunks: Sequence[Chunk], seed: int, sizes: CallSizes | None = None
    ) -> Iterator[list[Results]]:
        """Each chunk's results as it finishes (in any order), its calls of the ``sizes``
        the run allows (statelab.execution.plan.call_sizes)."""
        ...


class InProcess:
    """Chunks in this process, results in the chunks' order. ``parallel`` chunks run at a
    time (default: statelab.execution.calls.chunks_at_once, the cores this process may use
    on a CPU): a chunk's compiled calls already run side by side, but its last, largest call
    leaves the other cores idle until it ends, and the next chunk fills them. One at a time,
    ``progress`` hears every segment of epochs."""

    def __init__(self, progress: ProgressCallback | None = None,
                 parallel: int | None = None) -> None:  # fmt: skip
        self.progress = progress
        self.parallel = parallel or chunks_at_once(this_device())

    def run(
        self, chunks: Sequence[Chunk], seed: int, sizes: CallSizes | None = None
    ) -> Iterator[list[Results]]:
        if self.parallel <= 1:
            for chunk in chunks:
                yield run_chunk(chunk, seed, sizes, self.progress)
            return
        waiting = iter(chunks)
        pool = ThreadPoolExecutor(self.parallel)
        try:
            running = deque(pool.submit(run_chunk, chunk, seed, sizes)
                            for chunk in itertools.islice(waiting, self.parallel))  # fmt: skip
            while running:
                finished = running.popleft().result()
                for chunk in itertools.islice(waiting, 1):  # keep `parallel` chunks running
                    running.append(pool.submit(run_chunk, chunk, seed, sizes))
                yield finished
        finally:  # Ctrl-C or an error: start nothing more, wait for nothing
            pool.shutdown(wait=False, cancel_futures=True)


class DaskBackend:
    """Chunks on a Dask client's workers, results in completion order."""

    def __init__(self, client) -> None:
        self.client = client

    def run(
        self, chunks: Sequence[Chunk], seed: int, sizes: CallSizes | None = None
    ) -> Iterator[list[Results]]:
        from distributed import as_completed

        futures = [self.client.submit(run_chunk, chunk, seed, sizes, pure=False, retries=2)
                   for chunk in chunks]  # fmt: skip
        for future in as_completed(futures):
            yield future.result()


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def check_workers(workers: int | None, address: str | None) -> None:
    """Refuse impossible cluster settings before anything starts."""
    if workers is not None and address is not None:
        raise StatelabError("give --workers N (a local cluster) or --cluster ADDRESS, not both")
    cores = os.cpu_count() or 1
    if workers is not None and not 1 <= workers <= cores:
        raise StatelabError(
            f"--workers must be from 1 to this machine's {cores} cores, got {workers}; "
            "for more, start a Dask cluster and give --cluster ADDRESS"
        )


def _local_cluster(workers: int) -> Iterator[Backend]:
    """A new local cluster of ``workers`` processes, as a backend, closed afterwards."""
    from distributed import Client, LocalCluster

    try:
        with interrupts.ignored():
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.CRITICAL,
            )  # fmt: skip
    except Exception as error:  # Dask raises what its start-up met: say so in one line
        raise StatelabError(f"cannot start a local Dask cluster: {_first_line(error)}") from None
    try:
        client = Client(cluster)
    except Exception as error:
        cluster.close()
        raise StatelabError(f"cannot connect to the local cluster: {_first_line(error)}") from None
    try:
        yield DaskBackend(client)
    finally:
        client.close()
        cluster.close()


@contextmanager
def open_backend(
    workers: int | None = None,
    address: str | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[Backend]:
    """In process (neither given), a new local Dask cluster of ``workers`` processes, or the
    Dask scheduler at ``address``."""
    check_workers(workers, address)
    if workers is None and address is None:
        yield InProcess(progress)
        return
    try:
        from distributed import Client
    except ImportError:
        raise StatelabError(
            "Dask is not installed: pip install 'statelab[dask]' to use --workers or --cluster"
        ) from None
    if workers is not None:
        # Workers shut down on Ctrl-C or at the end say so at WARNING level, and a worker
        # whose heartbeat meets the closing scheduler logs an ERROR with a traceback: not for
        # users. A chunk's own failure reaches statelab through its future, said in one line.
        quiet = logging.getLogger("distributed")
        level = quiet.level  # put back afterwards, for the caller's own Dask work
        quiet.setLevel(logging.CRITICAL)
        try:
            yield from _local_cluster(workers)
        finally:
            quiet.setLevel(level)
        return
    try:
        client = Client(address, timeout="10s")
    except Exception as error:  # OSError, TimeoutError, ValueError, TypeError (a bad scheme)...
        raise StatelabError(
            f"cannot reach the Dask scheduler at {address}: {_first_line(error)}"
        ) from None
    try:
        yield DaskBackend(client)
    finally:
        client.close()
