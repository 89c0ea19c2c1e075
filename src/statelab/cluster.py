"""Running chunks of experiments in this process or on a Dask cluster.

Workers only compute: each chunk returns its :class:`Results`, and the caller alone
writes the store. A chunk lost with a worker is recomputed elsewhere by Dask; since a
repeat's result depends only on (settings, data, seed, repeat index), the rerun gives
the same bits, and the store's key keeps it from being stored twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd

from statelab.errors import StatelabError
from statelab.results import Results
from statelab.runner import Experiment, ProgressCallback, run_experiments

Chunk = Sequence[Experiment]  # experiments, each with its own repeat indices


def run_chunk(chunk: Chunk, series: pd.Series, seed: int, progress=None) -> dict[str, Results]:
    """One chunk, start to finish: the unit of work a worker runs."""
    return run_experiments(list(chunk), series, seed=seed, progress=progress, chunks=10)


def run_chunks(
    chunks: Sequence[Chunk],
    series: pd.Series,
    seed: int,
    client=None,
    progress: ProgressCallback | None = None,
) -> Iterator[dict[str, Results]]:
    """Each chunk's results as it finishes: in order in this process, or in completion
    order on the Dask ``client``'s workers."""
    if client is None:
        for chunk in chunks:
            yield run_chunk(chunk, series, seed, progress)
        return
    from distributed import as_completed

    scattered = client.scatter(series, broadcast=True)
    futures = [
        client.submit(run_chunk, list(chunk), scattered, seed, pure=False, retries=2)
        for chunk in chunks
    ]
    for future in as_completed(futures):
        yield future.result()


@contextmanager
def dask_client(workers: int | None = None, address: str | None = None):
    """A Dask client: a new local cluster of ``workers`` processes, an existing scheduler at
    ``address``, or None (run in this process)."""
    if workers is None and address is None:
        yield None
        return
    if workers is not None and address is not None:
        raise StatelabError("give --workers N (a local cluster) or --cluster ADDRESS, not both")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise StatelabError(
            "Dask is not installed: pip install 'statelab[dask]' to use --workers or --cluster"
        ) from None
    if workers is not None:
        if workers < 1:
            raise StatelabError(f"--workers must be >= 1, got {workers}")
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise StatelabError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    try:
        yield client
    finally:
        client.close()
