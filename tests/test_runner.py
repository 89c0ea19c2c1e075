"""The runner: tasks checked where they are made, one name per experiment and series, and
absurd repeat counts refused before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest

import statelab
from statelab.execution import runner


def test_two_experiments_with_one_name_are_refused_not_silently_merged():
    custom = [statelab.experiment(epochs=2), statelab.experiment(epochs=2, stateful=False)]
    assert custom[0].name == custom[1].name == "custom"
    with pytest.raises(statelab.StatelabError, match="both named 'custom'"):
        statelab.run_experiments(custom, statelab.shampoo(), repeats=2)


def test_experiments_with_their_own_names_both_come_back():
    given = [
        statelab.Experiment("a", statelab.Spec(epochs=2)),
        statelab.Experiment("b", statelab.Spec(epochs=2, stateful=False)),
    ]
    ran = statelab.run_experiments(given, statelab.shampoo(), repeats=2)
    assert set(ran) == {"a", "b"}
    assert not np.array_equal(ran["a"].rmse, ran["b"].rmse)


@pytest.mark.parametrize(
    ("repeats", "message"),
    [
        (0, "from 1 to 1,000,000"),
        (10**10, "from 1 to 1,000,000"),
        ([3, 3], "distinct"),
        ([-1], ">= 0"),
        ([], "non-empty"),
        ([2**33], "below 2\\*\\*32"),
    ],
)
def test_absurd_repeats_are_refused_before_any_work(repeats, message):
    with pytest.raises(statelab.StatelabError, match=message):
        runner.repeat_indices(repeats)


def test_repeat_indices_are_kept_as_given():
    np.testing.assert_array_equal(runner.repeat_indices([5, 2, 9]), [5, 2, 9])
    np.testing.assert_array_equal(runner.repeat_indices(3), [0, 1, 2])


def test_a_task_checks_its_data_where_it_is_made():
    short = statelab.shampoo()[:10]
    with pytest.raises(statelab.StatelabError, match="the split needs at least"):
        runner.task("stateful", statelab.Spec(), short, 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_initial_weights_must_be_finite(bad):
    given = {
        "kernel": np.full((1, 4), bad),
        "recurrent_kernel": np.zeros((1, 4)),
        "bias": np.zeros(4),
        "dense_kernel": np.zeros((1, 1)),
        "dense_bias": np.zeros(1),
    }
    with pytest.raises(statelab.StatelabError, match="kernel holds values that are not finite"):
        statelab.run(repeats=1, epochs=1, initial_weights=given)
