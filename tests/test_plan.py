"""Plans: every experiment on every series, series the split cannot use left out with why,
and ragged lengths padded into a few compiled shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.execution import calls
from statelab.execution import plan as plan_module
from statelab.execution.calls import Device
from statelab.execution.runner import call_groups, compiled_rows, shape_of, task


def series(name: str, values) -> pd.Series:
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.RangeIndex(1, len(values) + 1), name=name)


def walk(name: str, length: int, seed: int = 0) -> pd.Series:
    return series(name, 100 + np.cumsum(np.random.default_rng(seed).normal(0, 5, length)))


STATEFUL = [("stateful", statelab.Spec(epochs=2), 2)]


def test_series_the_split_cannot_use_are_left_out_with_why():
    given = [walk("good", 40), walk("short", 9), series("flat", [5.0] * 40),
             series("steps", np.arange(40.0))]  # fmt: skip
    made = plan_module.make_plan(STATEFUL, given, [12] * 4, seed=1)
    assert [t.series for t in made.tasks] == ["good"]
    reasons = dict(made.skipped)
    assert "the split needs at least" in reasons["short"]
    assert "constant" in reasons["flat"] and "constant" in reasons["steps"]  # diff always 1
    assert list(made.series) == ["good"]


def test_one_series_that_cannot_be_used_is_an_error_not_a_skip():
    with pytest.raises(statelab.StatelabError, match="the split needs at least"):
        plan_module.make_plan(STATEFUL, [walk("short", 9)], [12], seed=1)


def test_a_plan_with_no_usable_series_says_so():
    with pytest.raises(statelab.StatelabError, match="none of the 2 series can be used"):
        plan_module.make_plan(STATEFUL, [walk("a", 9), walk("b", 8)], [12, 12], seed=1)


def test_divisibility_is_checked_per_series():
    batched = [("b4", statelab.Spec(epochs=2, batch_size=4, forecast="batched"), 2)]
    # 30 values -> 28 framed rows, 12 test -> 16 training (divides by 4); 31 -> 17 (does not)
    made = plan_module.make_plan(batched, [walk("ok", 30), walk("odd", 31)], [12, 12], seed=1)
    assert [t.series for t in made.tasks] == ["ok"]
    assert "divide by the batch size 4" in dict(made.skipped)["odd"]


def test_lengths_are_bucketed_and_each_task_keeps_its_own_rows():
    given = [walk(f"s{n}", n) for n in (30, 31, 60, 62)]
    made = plan_module.make_plan(STATEFUL, given, [12] * 4, seed=1)
    compiled = [compiled_rows(t) for t in made.tasks]
    own = [len(t.dataset.train_y) for t in made.tasks]
    assert own == [16, 17, 46, 48]
    assert all(c[0] >= o for c, o in zip(compiled, own, strict=True))
    assert len({c for c in compiled}) == 2  # (17, 12) and (48, 12): under 10% padding


def test_test_sizes_are_per_series():
    made = plan_module.make_plan(STATEFUL, [walk("a", 40), walk("b", 40)], [6, 9], seed=1)
    assert [t.spec.test_rows for t in made.tasks] == [6, 9]
    assert {compiled_rows(t)[1] for t in made.tasks} == {9}


# --- Stages: the levels of --vary, chunk by chunk ------------------------------------------


def test_a_merged_plan_runs_its_stages_in_turn_and_a_shared_task_in_the_first():
    """Three plans (levels): the first and third share their task (the same experiment,
    settings and series), which runs once, in the first's stage; no chunk mixes stages."""
    shampoo = statelab.shampoo()
    plans = [plan_module.make_plan([("stateful", statelab.Spec(epochs=e), 5)], [shampoo], [12],
                                   seed=1) for e in (2, 3, 2)]  # fmt: skip
    merged, positions = plan_module.merge(plans, ["epochs=2", "epochs=3", "again"])
    assert positions == [[0], [1], [0]] and merged.stages == ("epochs=2", "epochs=3")
    staged = plan_module.staged_chunks(merged, 2)
    assert [stage for stage, _ in staged] == ["epochs=2"] * 3 + ["epochs=3"] * 3
    for stage, chunk in staged:
        assert {t.spec.epochs for t in chunk} == {int(stage[-1])}
    assert [list(c[0].repeats) for _, c in staged[:3]] == [[0, 1], [2, 3], [4]]
    fewer = [t._replace(repeats=t.repeats[t.repeats >= 3]) for t in merged.tasks]  # 3, 4 missing
    assert [len(c) for _, c in plan_module.staged_chunks(merged, 2, tasks=fewer)] == [1, 1, 1, 1]
    unstaged = plan_module.staged_chunks(plans[0], 2)
    assert [stage for stage, _ in unstaged] == ["", "", ""]


def test_series_per_chunk_counts_one_stage_s_lanes():
    """Two stages of 11 x 2 lanes a series: a chunk of 4,096 lanes on a CPU holds 4096 // 22
    series, not 4096 // 44 (a chunk holds one stage)."""
    shampoo = statelab.shampoo()
    made = [plan_module.make_plan([(f"e{i}", statelab.Spec(epochs=e), 2) for i in range(11)],
                                  [shampoo], [12], seed=1) for e in (2, 3)]  # fmt: skip
    merged, _ = plan_module.merge(made, ["a", "b"])
    cpu = Device("cpu", 2)
    assert plan_module.series_per_chunk(merged, cpu) == 4096 // 22
    assert plan_module.series_per_chunk(made[0], cpu) == 4096 // 22


# --- The dry-run's cost model, worked by hand -------------------------------------------------

CPU = calls.CPU_COSTS


def test_the_estimate_of_one_large_group_on_two_cores():
    """1000 repeats of LSTM(1), lags 1 (14 weights), on Shampoo's 22 training rows, 1000
    epochs, batch 1, in one chunk on 2 CPU cores: 1000 lanes fit one call (at most 1024),
    but each core gets one: 2 calls of 500 lanes, padded to whole vectors of 16, 512. Each
    call: 1000 x 22 steps, and 512 lanes x 1000 x 22 rows of 14 weights. One program."""
    made = plan_module.make_plan([("stateful", statelab.Spec(epochs=1000), 1000)],
                                 [statelab.shampoo()], [12], seed=1)  # fmt: skip
    found = plan_module.estimate(made, chunk=1000, device=Device("cpu", 2))
    row_us = CPU.row_us + 14 * CPU.row_weight_us
    call_us = 1000 * 22 * CPU.step_us + 512 * 1000 * 22 * row_us
    assert (found.repeats, found.networks, found.series, found.programs) == (1000, 1000, 1, 1)
    assert found.compile_seconds == pytest.approx(CPU.compile_s)
    assert found.seconds == pytest.approx(2 * call_us / 1e6 / 2 + CPU.compile_s)


def test_the_estimate_counts_twins_once():
    """The first case's 1000 repeats, as two experiments that differ only in how they
    forecast: 2000 repeats, but 1000 networks trained, in the same two calls."""
    made = plan_module.make_plan(
        [(name, statelab.PRESETS[name].spec.replace(epochs=1000), 1000)
         for name in ("stateful", "stateful_seed_train")],
        [statelab.shampoo()], [12], seed=1,
    )  # fmt: skip
    found = plan_module.estimate(made, chunk=1000, device=Device("cpu", 2))
    row_us = CPU.row_us + 14 * CPU.row_weight_us
    call_us = 1000 * 22 * CPU.step_us + 512 * 1000 * 22 * row_us
    assert (found.repeats, found.networks, found.programs) == (2000, 1000, 1)
    assert found.seconds == pytest.approx(2 * call_us / 1e6 / 2 + CPU.compile_s)


def test_the_estimate_follows_the_chunks_the_batch_and_the_network():
    """100 repeats of LSTM(4) (4 x 4 x (1 + 4 + 1) + 4 + 1 = 101 weights), batch 2, 10
    epochs, in chunks of 60 repeat indices on 2 cores. Alone, a chunk of 60 lanes (too few
    to split, under 64 a call) would be one call padded to 64, and one of 40 lanes one call
    of 48 (whole vectors of 16): two programs. The run shares one
    (statelab.execution.plan.call_sizes): of calls of 64 lanes (2 x 64 lanes run) and of 48
    (3 x 48: the chunk of 60 in two calls, not fewer than its own one), 64 trains fewer lanes
    in fewer calls. A step covers 2 of the 22 rows: 10 x 11 steps a call."""
    spec = statelab.Spec(epochs=10, batch_size=2, neurons=4, forecast="batched")
    made = plan_module.make_plan([("b2", spec, 100)], [statelab.shampoo()], [12], seed=1)
    found = plan_module.estimate(made, chunk=60, device=Device("cpu", 2))
    lane_us = 10 * 22 * (CPU.row_us + 101 * CPU.row_weight_us)
    call_us = {lanes: 10 * 11 * CPU.step_us + lanes * lane_us for lanes in (64, 48)}
    assert 2 * call_us[64] < 3 * call_us[48]
    assert found.programs == 1
    # The two calls share the cores, one each.
    assert found.seconds == pytest.approx(2 * call_us[64] / 2 / 1e6 + CPU.compile_s)
    # In one chunk: 100 lanes, still under 2 x 64 to split for the other core: one call of
    # 112 (at most 524,288 bytes // (101 weights x 32 bytes) = 162 lanes a call), on one core.
    alone = plan_module.estimate(made, chunk=100, device=Device("cpu", 2))
    assert alone.programs == 1
    assert alone.seconds == pytest.approx((110 * CPU.step_us + 112 * lane_us) / 1e6 + CPU.compile_s)
    one = plan_module.estimate(made, chunk=60, device=Device("cpu", 1))  # one after the other
    assert one.seconds == pytest.approx(2 * call_us[64] / 1e6 + CPU.compile_s)


# --- A pair of repeats always runs in one chunk (so on one device) ----------------------------


def experiments_by_repeat(chunk) -> dict[tuple[str, int], set[str]]:
    found: dict[tuple[str, int], set[str]] = {}
    for one in chunk:
        for repeat in one.repeats:
            found.setdefault((one.series, int(repeat)), set()).add(one.name)
    return found


@pytest.mark.parametrize(("first", "then"), [((3, None), (2, None)), ((5, 1), (4, 2))])
def test_a_chunk_holds_every_experiment_of_each_repeat_it_holds_on_a_resume_too(first, then):
    """Repeat k of two experiments on a series is a pair (common initial weights). A chunk
    runs on one worker, one device; if a chunk held one of a pair and not the other, a run
    resumed on another kind of device (with another chunk size) would pair results that
    differ in their last bits, and a pair identical by construction would no longer test as
    identical. First run: chunks of (repeats, series); some stored; the resume cuts what is
    missing with another size."""
    names = ["stateful", "stateless", "stateless_shuffle"]
    made = plan_module.make_plan(
        [(n, statelab.PRESETS[n].spec.replace(epochs=2), 7) for n in names],
        [walk("a", 40, 1), walk("b", 52, 2), walk("c", 40, 3)], [12] * 3, seed=1,
    )  # fmt: skip
    chunks = [c for _, c in plan_module.staged_chunks(made, *first)]
    stored = {(t.name, t.series, int(r)) for c in chunks[::2] for t in c for r in t.repeats}
    missing = [t._replace(repeats=np.array([r for r in t.repeats if (t.name, t.series, r)
                                            not in stored], dtype=int)) for t in made.tasks]  # fmt: skip
    resumed = [c for _, c in plan_module.staged_chunks(made, *then, tasks=missing)]
    assert stored and sum(len(t.repeats) for c in resumed for t in c) == 3 * 3 * 7 - len(stored)
    for chunk in chunks + resumed:
        for held in experiments_by_repeat(chunk).values():
            assert held == set(names)


@pytest.mark.parametrize(
    ("epochs", "sizes", "per_call"),
    [(1000, (512,), [512, 512]), (20_000, (8, 512), [512, 8])],
)
def test_a_run_shares_a_program_unless_padding_costs_more_than_compiling(epochs, sizes, per_call):
    """Two chunks of LSTM(1) on Shampoo (22 rows): 1000 networks (alone two calls of 512, a
    call a core) and 8 (alone one call of 8). At 1000 epochs the 8 run padded in a call of
    512: 504 lanes cost 504 x 22,000 lane-rows x 25 ns = 0.28 s, less than a program's
    compiling (2 s). At 20,000 epochs they would cost 5.6 s: a call of 8 compiles."""
    spec = statelab.Spec(epochs=epochs)
    parts = [[task("stateful", spec, statelab.shampoo(), count)] for count in (1000, 8)]
    found = plan_module.call_sizes(parts, Device("cpu", 2))
    shape = shape_of(spec, (22, 12))._replace(shuffles=False)
    assert found == calls.CallSizes("cpu", {(shape, epochs): sizes})
    # The runner's groups take them: one program at 1000 epochs, two at 20,000.
    groups = [g for part in parts for g in call_groups(part, Device("cpu", 2), sizes=found)]
    assert [g.per_call for g in groups] == per_call


@pytest.mark.parametrize(("epochs", "last"), [(1000, 100_000), (20_000, 12_504)])
def test_on_an_accelerator_a_run_never_splits_a_chunk_to_share_a_program(epochs, last):
    """On a GPU, four chunks of 100,000 networks of LSTM(1) on Shampoo (22 rows) and one of
    12,500: the small chunk's call size would cut each large chunk into eight calls, so they
    keep their one call of 100,000. By the accelerator's cost model padding the small chunk's
    12,504 lanes to 100,000 costs 87,496 lanes x 22 rows x 1000 epochs x (0.21 + 14 x 0.0135)
    ns = 0.77 s, less than a program's compiling (2 s): one program. At 20,000 epochs it
    would cost 15.4 s: two programs. (By the CPU's model, 49 s at 1000 epochs: two.)"""
    spec = statelab.Spec(epochs=epochs)
    parts = [[task("stateful", spec, statelab.shampoo(), n)] for n in [100_000] * 4 + [12_500]]
    gpu = Device("gpu", 1)
    found = plan_module.call_sizes(parts, gpu)
    groups = [g for part in parts for g in call_groups(part, gpu, sizes=found)]
    assert [g.per_call for g in groups] == [100_000] * 4 + [last]
    assert [g.calls for g in groups] == [1] * 5


def test_on_an_accelerator_the_full_m3_monthly_study_compiles_one_program_a_shape():
    """All 1,428 M3 monthly series, the eleven presets, 30 repeats, in the GPU's chunks of
    about 100,000 lanes: by the accelerator's cost model every call group of a shape (a bucket
    of training rows, a batch size, shuffling or not) takes one call size, the largest
    chunk's: no other size saves more than a program's compiling (17 programs by the CPU's
    cost model)."""
    from statelab.studies.generalise import GeneraliseSettings, generalise_plan

    made = generalise_plan(GeneraliseSettings(data="m3/monthly", repeats=30))[0]
    gpu = Device("gpu", 1)
    series = plan_module.series_per_chunk(made, gpu)
    parts = [part for _, part in plan_module.staged_chunks(made, 30, series)]
    assert len(parts) == 5
    found = plan_module.call_sizes(parts, gpu)
    groups = [g for part in parts for g in call_groups(part, gpu, sizes=found)]
    shapes = {(g.shape, g.epochs) for g in groups}
    assert len(shapes) == 6
    assert len({(g.shape, g.epochs, g.per_call) for g in groups}) == len(shapes)
    estimate = plan_module.estimate(made, 30, series, gpu)
    assert estimate.programs == 6 and estimate.compile_seconds == pytest.approx(12.0)


def test_the_estimate_on_an_accelerator_is_its_own_cost_model():
    """1000 repeats of LSTM(1) on Shampoo's 22 rows, 1000 epochs, on one GPU: one call of 1000
    lanes (whole blocks of 8), 22,000 steps of 8.5 us, and 1000 lanes x 22,000 lane-rows of
    0.21 + 14 x 0.0135 ns: 0.187 + 0.0088 s, and one program's 2 s of compiling."""
    made = plan_module.make_plan([("stateful", statelab.Spec(epochs=1000), 1000)],
                                 [statelab.shampoo()], [12], seed=1)  # fmt: skip
    found = plan_module.estimate(made, chunk=1000, device=Device("gpu", 1))
    assert (found.programs, found.device) == (1, "gpu")
    assert found.seconds == pytest.approx(22_000 * 8.5e-6 + 1000 * 22_000 * 0.399e-9 + 2)
