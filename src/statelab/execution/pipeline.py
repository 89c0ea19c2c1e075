"""The study pipeline, one library function: a plan -> the chunks the store lacks, run on a
backend and stored as each finishes -> read back -> an analysis (a typed result) -> files.

Every study kind runs through :func:`execute` with its own :class:`Finish` (its analysis and,
when files are wanted, their writer); `statelab.api` and so the command line call it, and so
do the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Generic, NamedTuple, Protocol, TypeVar

from statelab.defaults import CHUNK
from statelab.errors import Interrupted, StatelabError
from statelab.execution import cache, fileset, interrupts
from statelab.execution.backends import Backend, check_workers, open_backend
from statelab.execution.calls import this_device
from statelab.execution.plan import Plan, call_sizes, check_chunk, staged_chunks
from statelab.execution.results import Results, Timings, code_version
from statelab.execution.store import Store, parse_keep
from statelab.files import resolve_target


class Progress(Protocol):
    def chunks(self, done: int, total: int, lanes: int, series: int) -> None:
        """After every stored chunk, with the lanes (repeats) it held and the series whose
        every planned repeat is now stored."""

    def epochs(self, done: int, total: int, lanes: int) -> None:
        """After every segment of epochs of a compiled call in this process."""

    def stage(self, label: str, lanes: int, seconds: float) -> None:
        """After the last chunk of a stage of a plan of several (a level of --vary), with
        the lanes its chunks ran and the seconds since the stage before it ended."""


class Silent:
    def chunks(self, done: int, total: int, lanes: int, series: int) -> None:
        pass

    def epochs(self, done: int, total: int, lanes: int) -> None:
        pass

    def stage(self, label: str, lanes: int, seconds: float) -> None:
        pass


class Execution(NamedTuple):
    """How a plan runs: none of it changes a result."""

    chunk: int = CHUNK  # repeat indices per chunk: the unit of work, storage and resume
    series: int | None = None  # and series per chunk (None: every series in each chunk)
    workers: int | None = None  # a new local Dask cluster of this many processes
    cluster: str | None = None  # or the Dask scheduler at this address
    keep: str | None = None  # optional parts to store: "weights", "loss", or both


class Filled(NamedTuple):
    planned: int
    run: int  # repeats run now; the rest were already stored
    chunks: int
    timings: Timings  # summed over the compiled calls (on workers too, with a cluster)


T = TypeVar("T")


class Finish(NamedTuple, Generic[T]):
    """What a plan's results become: ``analyse`` makes the study's typed result from the
    plan and the results read back; ``write``, when given, writes its files into the folder
    it is given (a fresh one, which then becomes the output folder's live set: see
    :mod:`~statelab.execution.fileset`) and returns their paths; ``names`` lists every file
    ``write`` may write (each is checked before any work starts)."""

    analyse: Callable[[Plan, list[Results]], T]
    write: Callable[[T, Path], list[Path]] | None = None
    names: Callable[[Plan], list[str]] | None = None


class Outcome(NamedTuple, Generic[T]):
    result: T  # the study's typed result
    files: tuple[Path, ...]  # the files written, as users see them (none without a writer)
    filled: Filled
    fill_s: float  # wall seconds running the missing chunks into the store
    outputs_s: float  # wall seconds reading back, analysing and writing files


def fill(
    store: Store, plan: Plan, backend: Backend, execution: Execution, keep, progress
) -> Filled:
    """Run every planned repeat the store lacks, chunk by chunk, storing each chunk as it
    finishes. Running it again after an interruption runs only what is missing, and the
    stored results are the same as an uninterrupted run's."""
    missing = []
    for one in plan.tasks:
        done = store.stored(one.name, one.spec, one.data_hash, plan.seed)
        missing.append(one._replace(repeats=one.repeats[[int(k) not in done for k in one.repeats]]))
    staged = staged_chunks(plan, execution.chunk, execution.series, missing)
    cut = [chunk for _, chunk in staged]
    left: dict[str, int] = {}  # series -> repeats it lacks
    for one in missing:
        left[one.series] = left.get(one.series, 0) + len(one.repeats)
    complete = len(plan.series) - sum(1 for count in left.values() if count)
    stages = _Stages(plan, [stage for stage, _ in staged]) if plan.stages else None
    ran, timings = 0, Timings()
    interrupts.install()
    # One set of call sizes for every chunk, so that chunks share compiled programs (chosen
    # for this process's device: workers of another kind ignore them).
    sizes = call_sizes(cut, this_device())
    for finished, results in enumerate(backend.run(cut, plan.seed, sizes), 1):
        if interrupts.PRESSED.is_set():  # a Ctrl-C Python swallowed: stop before storing more
            raise KeyboardInterrupt
        _same_code(results)
        store.add(results, keep)
        lanes = sum(len(r.repeats) for r in results)
        ran += lanes
        timings += _call_timings(results)
        for r in results:
            left[r.series] -= len(r.repeats)
            complete += left[r.series] == 0
        progress.chunks(finished, len(cut), lanes, complete)
        if stages is not None:
            stages.stored(results, lanes, progress)
    return Filled(plan.planned, ran, len(cut), timings)


class _Stages:
    """When the last chunk of each stage of a plan is stored. Chunks finish in any order (on
    Dask), so a chunk's stage is its first result's task's: a task is one (experiment,
    series, settings) of the plan."""

    def __init__(self, plan: Plan, labels: list[str]) -> None:
        self.stage_of = {(t.name, t.series, t.spec): stage
                         for t, stage in zip(plan.tasks, plan.stages, strict=True)}  # fmt: skip
        self.left = {label: labels.count(label) for label in labels}  # chunks to store
        self.lanes = dict.fromkeys(self.left, 0)
        self.since = time.perf_counter()

    def stored(self, results: list[Results], lanes: int, progress: Progress) -> None:
        first = results[0]
        label = self.stage_of[first.name, first.series, first.spec]
        self.left[label] -= 1
        self.lanes[label] += lanes
        if not self.left[label]:
            now = time.perf_counter()
            progress.stage(label, self.lanes[label], now - self.since)
            self.since = now


def _same_code(results: list[Results]) -> None:
    """Results computed by other statelab code (a Dask worker with another release) are
    refused: the store would file them under this code's key."""
    here = code_version()
    for result in results:
        if result.provenance.code != here:
            raise StatelabError(
                f"a worker runs {result.provenance.code}, this command {here}: install the "
                "same statelab on every worker"
            )


def _call_timings(results: list[Results]) -> Timings:
    """The chunk's compiled calls' timings, each call counted once (its tasks share it)."""
    calls = {r.provenance.call: r.provenance.timings for r in results}
    return sum(calls.values(), Timings())


def load(store: Store, plan: Plan) -> list[Results]:
    """Every task of the plan, read back from the store."""
    return [
        store.load(t.name, t.spec, t.dataset, t.series, t.data_hash, plan.seed, t.repeats)
        for t in plan.tasks
    ]


def execute(
    plan: Plan,
    out: Path,
    finish: Finish[T],
    execution: Execution | None = None,
    progress: Progress | None = None,
) -> Outcome[T]:
    """Run ``plan`` into the store in folder ``out`` (resuming whatever an earlier run left),
    read it back, analyse it and, if ``finish`` has a writer, write its files there as one
    set: all of them or none (:mod:`~statelab.execution.fileset`). Every setting and file
    name is checked before the store is opened or a worker started; Ctrl-C raises
    :class:`Interrupted` with the count of repeats stored, all of them whole."""
    execution = execution or Execution()
    progress = progress or Silent()
    keep = parse_keep(execution.keep)
    check_chunk(execution.chunk)
    if execution.series is not None:
        check_chunk(execution.series)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StatelabError(f"--out {out} is a file; give a folder")
    names = finish.names(plan) if finish.write is not None and finish.names is not None else []
    if out.is_dir() and finish.write is not None:
        fileset.check(out)
        for name in names:
            # The set's own link is replaced at the switch, never written through; anything
            # else under a name is refused as a write to it is (a folder, a FIFO, a loop).
            if not fileset.is_link(out, name):
                resolve_target(out / name)
    check_workers(execution.workers, execution.cluster)
    cache.enable()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StatelabError(f"cannot create folder {out}: {error.strerror}") from None
    # The store first: a locked, damaged or newer store is refused before a worker starts.
    with Store(out) as store, open_backend(execution.workers, execution.cluster,
                                           progress.epochs) as backend:  # fmt: skip
        if finish.write is not None:
            fileset.tidy(out, names)  # what a killed command left, before any work
        started = time.perf_counter()
        files: tuple[Path, ...] = ()
        # Ctrl-C while training, analysing or writing: what is stored is whole, and the same
        # command resumes (after training, it only analyses and writes the files again).
        try:
            filled = fill(store, plan, backend, execution, keep, progress)
            filled_at = time.perf_counter()
            result = finish.analyse(plan, load(store, plan))
            if finish.write is not None:  # under the lock
                files = tuple(fileset.publish(out, partial(finish.write, result), names))
        except KeyboardInterrupt:
            wanted = ((t.name, t.spec, t.data_hash, t.repeats) for t in plan.tasks)
            raise Interrupted(store.count_of(wanted, plan.seed)) from None
    done = time.perf_counter()
    return Outcome(result, files, filled, filled_at - started, done - filled_at)
