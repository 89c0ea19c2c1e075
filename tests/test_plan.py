"""Plans: every experiment on every series, series the split cannot use left out with why,
and ragged lengths padded into a few compiled shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.execution import plan as plan_module
from statelab.execution.runner import compiled_rows


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
