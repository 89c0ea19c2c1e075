"""Ragged lanes: series of different lengths share one compiled call. A lane padded to a
longer compiled shape gives the same bits as alone, and a padded step is an exact no-op."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.engine import lstm as engine
from statelab.execution import runner
from statelab.execution.calls import LANE_BLOCK
from statelab.execution.runner import Task, compiled_rows, run_tasks, task

PRESETS = ("stateful", "stateless", "stateless_shuffle", "stateful_seed_train", "stateful_noreset")


def series(length: int, seed: int) -> pd.Series:
    values = 100 + np.cumsum(np.random.default_rng(seed).normal(1, 10, length))
    return pd.Series(values, index=pd.RangeIndex(1, length + 1), name=f"s{length}")


SERIES = [series(30, 1), series(47, 2), series(64, 3)]  # 16, 33 and 50 training rows


def tasks(name: str, given=SERIES, repeats=(0, 3), test_rows=(12, 12, 12)) -> list[Task]:
    spec = statelab.PRESETS[name].spec.replace(epochs=9)
    return [task(name, spec.replace(test_rows=t), s, list(repeats))
            for s, t in zip(given, test_rows, strict=True)]  # fmt: skip


def assert_same_bits(a: statelab.Results, b: statelab.Results) -> None:
    for field in ("forecasts_scaled", "losses", "final_loss", "rmse"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), field)
    for name in engine.LSTMWeights._fields:
        np.testing.assert_array_equal(getattr(a.weights, name), getattr(b.weights, name), name)


@pytest.mark.parametrize("name", PRESETS)
def test_three_series_of_different_lengths_in_one_call_equal_each_alone(name):
    own = tasks(name)
    longest = max(compiled_rows(t)[0] for t in own)
    shared = [t._replace(rows=(longest, 12)) for t in own]  # one compiled shape for all three
    together = run_tasks(shared, seed=4)
    assert len({r.provenance.call for r in together}) == 1  # one compiled call
    for alone_task, beside in zip(own, together, strict=True):
        (alone,) = run_tasks([alone_task], seed=4)
        assert_same_bits(alone, beside)


def test_ragged_test_rows_too():
    own = tasks("stateful", test_rows=(6, 12, 9))
    longest = max(compiled_rows(t)[0] for t in own)  # 53: the 64-value series, 9 test rows
    shared = [t._replace(rows=(longest, 12)) for t in own]
    together = run_tasks(shared, seed=2)
    for alone_task, beside in zip(own, together, strict=True):
        (alone,) = run_tasks([alone_task], seed=2)
        assert beside.forecasts.shape == (2, alone_task.spec.test_rows)
        assert_same_bits(alone, beside)


def test_a_lane_beside_its_own_series_and_others_gives_the_same_bits():
    own = tasks("stateless_shuffle", repeats=(1,))
    mixed = tasks("stateless_shuffle", repeats=(0, 1, 2)) + tasks("stateful", repeats=(1,))
    shared = [t._replace(rows=(50, 12)) for t in mixed if t.spec.shuffle]
    (alone,) = run_tasks([own[0]], seed=9)
    beside = run_tasks(shared, seed=9)[0]
    keep = beside.repeats == 1
    np.testing.assert_array_equal(beside.forecasts_scaled[keep], alone.forecasts_scaled)
    np.testing.assert_array_equal(beside.losses[keep], alone.losses)


def lanes_of(spec: statelab.Spec, data: pd.Series, rows: tuple[int, int]) -> engine.Lane:
    one = task("x", spec, data, [0])
    lane = runner._lanes(spec, one.dataset, 1, one.repeats, None, rows)
    return runner.call_lanes(lane, 0, LANE_BLOCK)


def test_a_padded_step_leaves_weights_moments_count_and_state_untouched():
    spec = statelab.Spec(epochs=1, reset_after_epoch=False)
    data = SERIES[0]  # 16 training rows, compiled as 20: steps 17..20 are padding
    shape = runner.shape_of(spec, (20, 12))
    lane = lanes_of(spec, data, (20, 12))
    start, train, _ = engine.compiled(shape, 1)
    carry, _, _ = train(lane, start(lane))
    # The same lane compiled with exactly its 16 rows: the carry must be bit for bit equal.
    exact = lanes_of(spec, data, (16, 12))
    exact_shape = runner.shape_of(spec, (16, 12))
    start16, train16, _ = engine.compiled(exact_shape, 1)
    carry16, _, _ = train16(exact, start16(exact))
    for padded, own in zip(jax.tree.leaves(carry), jax.tree.leaves(carry16), strict=True):
        np.testing.assert_array_equal(np.asarray(padded), np.asarray(own))
    assert int(np.asarray(carry.opt_state.count)[0]) == 16  # Adam stepped on real rows only


def test_a_batch_of_padding_only_changes_nothing_in_one_step():
    """One step of train_epochs' batch rule on a batch whose weights are all zero."""
    spec = statelab.Spec(epochs=1, stateful=True, reset_after_epoch=False)
    lane = lanes_of(spec, SERIES[0], (16, 12))
    lane = lane._replace(train_rows=jnp.zeros_like(lane.train_rows))  # every row is padding
    shape = runner.shape_of(spec, (16, 12))
    start, train, _ = engine.compiled(shape, 1)
    first = start(lane)
    carry, losses, _ = train(lane, first)
    for after, before in zip(jax.tree.leaves(carry[:3]), jax.tree.leaves(first[:3]), strict=True):
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


@pytest.mark.parametrize(
    ("spec", "lengths", "tests"),
    [
        # stateless, batch 12, batched forecasts: ragged training and test rows, partial
        # last batches in both (stateless only), with and without shuffling
        (statelab.Spec(stateful=False, batch_size=12, forecast="batched"), (40, 55, 70), (6, 12, 9)),
        (statelab.Spec(stateful=False, batch_size=12, forecast="batched", shuffle=True),
         (40, 55, 70), (6, 12, 9)),
        # stateful, batch 12, seeded, batched: rows that divide by 12, of several lengths
        (statelab.Spec(batch_size=12, forecast="batched", seed_state=True), (38, 50, 62), (12, 24, 12)),
    ],
)  # fmt: skip
def test_batched_lanes_bucketed_by_the_plan_equal_each_alone(spec, lengths, tests):
    from statelab.execution import plan as plan_module

    given = [series(n, k) for k, n in enumerate(lengths)]
    spec = spec.replace(epochs=6)
    made = plan_module.make_plan([("x", spec, 2)], given, list(tests), seed=3)
    assert len(made.tasks) == 3 and any(t.rows for t in made.tasks)  # padded somewhere
    together = run_tasks(made.tasks, seed=3)
    for one, beside in zip(made.tasks, together, strict=True):
        (alone,) = run_tasks([one._replace(rows=None)], seed=3)
        assert_same_bits(alone, beside)
