"""A plan: what to run, as data. Tasks (an experiment's repeats on one series), the series
they use, the master seed; series that cannot be used, with why; and the chunks the work is
cut into. The Shampoo study (statelab.studies.study) and a run over a collection are two plans on
one pipeline (statelab.execution.pipeline)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from statelab.errors import StatelabError
from statelab.execution import buckets
from statelab.execution.calls import (
    CallSizes,
    Device,
    call_count,
    call_size,
    call_us,
    costs,
    lanes_per_chunk,
    this_device,
)
from statelab.execution.runner import (
    MAX_REPEATS,
    Task,
    call_groups,
    compiled_rows,
    repeat_indices,
    shape_of,
    task,
)
from statelab.spec import Spec, check_seed

# The most repeats (lanes) one command may plan: each is held as an index until it runs,
# and a typo (--repeats 1000000 on a slice of 645 series) must be refused, not allocated.
MAX_PLANNED = 50_000_000


class Skip(NamedTuple):
    """A series left out of a plan, and why."""

    series: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """Tasks, the series they use by name, the master seed, the repeats each experiment's
    statistics take (an experiment may run more, such as the study's pool), the series
    left out with why, and, for a plan of several stages (the levels of --vary), each task's
    stage: a chunk holds one stage's tasks, and the stages run in turn."""

    series: Mapping[str, pd.Series]
    tasks: tuple[Task, ...]
    seed: int
    repeats: int
    skipped: tuple[Skip, ...] = ()
    stages: tuple[str, ...] = ()  # one label per task; () for a plan of one stage

    @property
    def planned(self) -> int:
        return sum(len(t.repeats) for t in self.tasks)


def make_plan(
    experiments: Sequence[tuple[str, Spec, int]],
    series: Sequence[pd.Series],
    test_sizes: Sequence[int],
    seed: int,
    adapt: Callable[[str, Spec, int], Spec] | None = None,
) -> Plan:
    """Every experiment (name, spec, repeats) on every series, with each series' own test
    size: ``adapt(name, spec, test_size)`` makes an experiment's spec for a series of that
    test size (by default, ``spec`` with those test rows; `generalise` also sets the batch-12
    pair's batch to the horizon). A series the split cannot use (too short, constant, ...) is left out and recorded
    when there are several, and is an error when it is the only one. Series of different
    lengths are padded into a few compiled shapes (statelab.execution.buckets)."""
    check_seed(seed)
    check_planned(len(series) * sum(len(repeat_indices(r)) for *_, r in experiments), len(series))
    made, skipped = [], []
    for one, size in zip(series, test_sizes, strict=True):
        try:  # every experiment on this series, or none of them
            made.extend([
                task(name, (adapt or _with_test_rows)(name, spec, size), one, repeats)
                for name, spec, repeats in experiments
            ])  # fmt: skip
        except StatelabError as error:
            if len(series) == 1:
                raise
            skipped.append(Skip(str(one.name), str(error)))
    if not made:
        raise StatelabError(f"none of the {len(series)} series can be used: {skipped[0].reason}")
    used = {t.series for t in made}
    counts = [len(repeat_indices(repeats)) for *_, repeats in experiments]
    return Plan(
        {str(s.name): s for s in series if str(s.name) in used},
        tuple(bucketed(made)),
        seed,
        min(counts),
        tuple(skipped),
    )


def check_planned(planned: int, series: int) -> None:
    """Refuse more than MAX_PLANNED repeats: bad repeats are the command's fault, not a
    series'."""
    if planned > MAX_PLANNED:
        raise StatelabError(
            f"{planned:,} repeats planned ({series} series); one command runs at most "
            f"{MAX_PLANNED:,}: use fewer --repeats, levels or a smaller --data slice"
        )


def merge(plans: Sequence[Plan], stages: Sequence[str]) -> tuple[Plan, list[list[int]]]:
    """One plan that runs every task of ``plans`` (which share their seed and repeats) once,
    bucketed together, and for each plan the positions of its tasks in it. A task in several
    plans (the same experiment, settings and series, such as a study's base set-up reached
    from two factors) runs once, in the stage of the first (``stages``: one label a plan);
    the skipped series stay with each plan."""
    tasks: dict[tuple, int] = {}
    positions, staged = [], []
    for plan, stage in zip(plans, stages, strict=True):
        mine = []
        for one in plan.tasks:
            key = (one.name, one.series, one.spec)
            if key not in tasks:
                tasks[key] = len(tasks)
                staged.append(stage)
            mine.append(tasks[key])
        positions.append(mine)
    unique = [None] * len(tasks)
    for plan, mine in zip(plans, positions, strict=True):
        for one, position in zip(plan.tasks, mine, strict=True):
            unique[position] = one._replace(rows=None)  # bucketed anew, all together
    series = {name: s for plan in plans for name, s in plan.series.items()}
    check_planned(sum(len(t.repeats) for t in unique), len(series))
    first = plans[0]
    merged = Plan(series, tuple(bucketed(unique)), first.seed, first.repeats, (), tuple(staged))
    return merged, positions


def _with_test_rows(name: str, spec: Spec, test_size: int) -> Spec:
    return spec.replace(test_rows=test_size)


def bucketed(tasks: Sequence[Task]) -> list[Task]:
    """The tasks with compiled rows: tasks that differ only in their rows share a few
    compiled shapes, training rows by :func:`buckets.assign`, test rows the longest."""
    groups: dict[tuple, list[int]] = {}
    for i, one in enumerate(tasks):  # the tasks whose lanes could share a compiled call
        groups.setdefault((shape_of(one.spec, (0, 0)), one.spec.epochs), []).append(i)
    out = list(tasks)
    for members in groups.values():
        rows = [compiled_rows(tasks[i]) for i in members]
        if len(set(rows)) == 1:
            continue  # one shape already: nothing to pad
        lanes = [len(tasks[i].repeats) for i in members]
        spec = tasks[members[0]].spec
        trained = buckets.assign([r[0] for r in rows], lanes, multiple=spec.batch_size)
        tested = max(r[1] for r in rows)  # the engine pads a partial last forecast batch
        for i, train_rows in zip(members, trained, strict=True):
            out[i] = tasks[i]._replace(rows=(train_rows, tested))
    return out


class Estimate(NamedTuple):
    networks: int  # networks to train: the repeats' less twins' (runner.training_key)
    series: int  # the series they train on
    programs: int  # distinct compiled programs
    seconds: float  # wall seconds on the device's cores, by the cost model (execution/calls.py)
    compile_seconds: float  # of which compiling (less when the compilation cache has them)
    device: str  # the device it was worked out for (JAX's platform: "cpu", "gpu", ...)
    repeats: int = 0  # repeats to run (some may be in the store already), each a network's


def estimate(
    plan: Plan, chunk: int, series: int | None = None, device: Device | None = None
) -> Estimate:
    """How much a plan trains, and a rough time for it on ``device`` (this machine's), cut
    into chunks of ``chunk`` repeat indices (and ``series`` series) as the pipeline cuts it,
    in calls of the sizes it would choose (:func:`call_sizes`); by the cost model of
    statelab.execution.calls for the device's kind (a CPU's measured on a CPU, an
    accelerator's fitted to one H200's figures)."""
    device = device or this_device()
    parts = [part for _, part in staged_chunks(plan, chunk, series)]
    sizes = call_sizes(parts, device)
    busy_us, longest_us, programs, trained = 0.0, 0.0, set(), 0
    for part in parts:
        for group in call_groups(part, device, sizes=sizes):
            trained += group.trained
            one_call = call_us(group.shape, group.epochs, group.per_call, device.kind)
            busy_us += group.calls * one_call
            longest_us = max(longest_us, one_call)
            programs.add((group.shape, group.epochs, group.per_call))
    compiling = len(programs) * costs(device.kind).compile_s
    training = max(busy_us / device.cores, longest_us) / 1e6  # a call runs on one core
    return Estimate(trained, len(plan.series), len(programs), training + compiling, compiling,
                    device.kind, plan.planned)  # fmt: skip


def call_sizes(parts: Sequence[Sequence[Task]], device: Device) -> CallSizes:
    """The call sizes each program of a run of these chunks may use on ``device``, so that
    chunks share programs. Alone, each chunk's groups would size their calls on their own
    (calls.lanes_per_call), and a shape in chunks of other group sizes would compile once for
    each size. Per program, by the cost model (statelab.execution.calls), this starts from
    the one size that makes the run's training plus compiling least, then adds the size that
    saves most while it saves more than the program it adds costs to compile; the candidates
    are the groups' own sizes. A run's results are the same bits whatever the sizes (lanes
    are independent)."""
    groups: dict[tuple, list[int]] = {}  # (shape, epochs) -> the networks of each group
    for part in parts:
        for group in call_groups(part, device):
            groups.setdefault((group.shape, group.epochs), []).append(group.trained)
    chosen = {key: _cheapest(device, key, trained) for key, trained in groups.items()}
    return CallSizes(device.kind, chosen)


def _cheapest(device: Device, key: tuple, trained: list[int]) -> tuple[int, ...]:
    """:func:`call_sizes` for one program: the sizes, from the groups' own."""
    shape, epochs = key

    def cost(allowed: frozenset[int]) -> float:
        sizes = [call_size(device, shape, epochs, count, allowed) for count in trained]
        busy = sum(call_count(count, size) * call_us(shape, epochs, size, device.kind)
                   for count, size in zip(trained, sizes, strict=True))  # fmt: skip
        return busy + len(set(sizes)) * costs(device.kind).compile_s * 1e6

    candidates = sorted({call_size(device, shape, epochs, count) for count in trained})
    chosen = min((frozenset([size]) for size in candidates), key=cost)
    while more := [chosen | {size} for size in candidates if size not in chosen]:
        best = min(more, key=cost)
        if cost(best) >= cost(chosen):
            break
        chosen = best
    return tuple(sorted(chosen))


# The equivalence margin's largest share of the persistence RMSE.
MAX_MARGIN = 1.0


def check_margin(margin: float) -> float:
    """The equivalence margin (--margin), a share of the persistence RMSE."""
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not (0 < margin <= MAX_MARGIN)
    ):
        raise StatelabError(
            f"--margin must be a share of the persistence RMSE above 0 and at most "
            f"{MAX_MARGIN:g} (0.01 is 1%), got {margin}"
        )
    return float(margin)


def check_paired_repeats(repeats: int) -> int:
    """The repeats of a study whose statistics pair them: at least 2; returns their count."""
    count = len(repeat_indices(repeats))
    if count < 2:
        raise StatelabError(
            "the study's paired statistics need at least 2 repeats: use --repeats 2 or more"
        )
    return count


def check_chunk(size: int, option: str = "--chunk") -> None:
    """A chunk's size, in repeat indices (--chunk) or in series (--chunk-series)."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_REPEATS:
        raise StatelabError(
            f"{option} must be a whole number from 1 to {MAX_REPEATS:,}, got {size}"
        )


def repeats_per_chunk(plan: Plan, most: int = 100, device: Device | None = None) -> int:
    """Repeat indices per chunk when every series shares each chunk (a run over a slice):
    about the device's lanes a chunk (statelab.execution.calls.lanes_per_chunk), at most
    ``most``."""
    lanes = lanes_per_chunk(device or this_device())
    return max(1, min(most, lanes // max(1, len(plan.tasks))))


def series_per_chunk(plan: Plan, device: Device | None = None) -> int:
    """Series per chunk when a chunk holds every repeat of every experiment of a stage on a
    block of series (generalise): about the device's lanes a chunk, so a chunk finishes in
    seconds and a finished chunk is finished series."""
    stages = max(1, len(set(plan.stages)))
    lanes = plan.planned // max(1, len(plan.series) * stages)  # a series' lanes in a stage
    return max(1, lanes_per_chunk(device or this_device()) // max(1, lanes))


def staged_chunks(
    plan: Plan, size: int, series: int | None = None, tasks: Sequence[Task] | None = None
) -> list[tuple[str, tuple[Task, ...]]]:
    """The plan's chunks (:func:`chunks`), stage by stage in the order the stages come: (the
    stage's label, a chunk of its tasks). ``tasks``: the plan's tasks with fewer repeats each
    (those the store lacks), in the plan's order."""
    tasks = plan.tasks if tasks is None else tasks
    stages = plan.stages or ("",) * len(tasks)
    made = []
    for stage in dict.fromkeys(stages):
        mine = [one for one, own in zip(tasks, stages, strict=True) if own == stage]
        made.extend((stage, chunk) for chunk in chunks(mine, size, series))
    return made


def chunks(tasks: Sequence[Task], size: int, series: int | None = None) -> list[tuple[Task, ...]]:
    """Cut the tasks' repeats into chunks of ``size`` repeat indices, and, given ``series``,
    of that many series (in the order the tasks name them): a chunk runs, is stored and is
    resumed as one unit, so an interruption loses at most one chunk."""
    check_chunk(size)
    if series is None:
        blocks = [list(tasks)]
    else:
        check_chunk(series, "--chunk-series")
        order = list(dict.fromkeys(t.series for t in tasks))
        block_of = {name: i // series for i, name in enumerate(order)}
        blocks = [[] for _ in range(-(-len(order) // series))]
        for one in tasks:
            blocks[block_of[one.series]].append(one)
    made = []
    for block in blocks:
        top = max((int(t.repeats.max()) + 1 for t in block if len(t.repeats)), default=0)
        for start in range(0, top, size):
            chunk = []
            for one in block:
                picked = one.repeats[(one.repeats >= start) & (one.repeats < start + size)]
                if len(picked):
                    chunk.append(one._replace(repeats=picked))
            if chunk:
                made.append(tuple(chunk))
    return made
