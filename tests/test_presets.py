"""Each preset gives the study's behaviour, observed on the engine's state itself."""

from __future__ import annotations

import numpy as np
import pytest

import statelab
from statelab.execution.runner import trace_experiment
from statelab.spec import PRESETS

EPOCHS = 3
TRAIN_ROWS, TEST_ROWS = 22, 12


def traced(name: str, repeats: int = 2):
    train, forecast = trace_experiment(
        statelab.experiment(name, epochs=EPOCHS), statelab.shampoo(), repeats=repeats, seed=5
    )
    # |h| + |c| of the state entering each step, per repeat and row: zero means a reset
    train_norm = np.abs(train.state_in.h) + np.abs(train.state_in.c)  # (N, E, B, b, n)
    predict_norm = np.abs(forecast.state_in.h) + np.abs(forecast.state_in.c)  # (N, P, f, n)
    return train_norm.sum(axis=(-2, -1)), predict_norm.sum(axis=(-2, -1)), forecast


def split_predictions(predict_norm):
    """(N, P) -> the seeding rows' part, the test rows' part."""
    return predict_norm[:, :TRAIN_ROWS], predict_norm[:, TRAIN_ROWS:]


def test_every_study_experiment_is_a_preset():
    assert len(PRESETS) == 11
    assert {p.label for p in PRESETS.values()} >= {f"noseed_{i}" for i in (1, 2, 3)} | {
        f"seed_{i}" for i in (1, 2, 3)
    }


def test_stateful_resets_after_each_epoch_and_carries_across_rows_and_predictions():
    train, predict, _ = traced("stateful")
    assert (train[:, :, 0] == 0).all()  # every epoch starts from zero
    assert (train[:, :, 1:] > 0).all()  # the state flows from row to row
    _, test = split_predictions(predict)
    assert (test[:, 0] == 0).all()  # reset after the last epoch
    assert (test[:, 1:] > 0).all()  # carried across the 12 predictions


@pytest.mark.parametrize("name", ["stateless", "stateless_shuffle"])
def test_stateless_starts_every_batch_and_prediction_from_zero(name):
    train, predict, _ = traced(name)
    assert (train == 0).all() and (predict == 0).all()


def test_shuffle_changes_the_result_from_the_same_initial_weights():
    plain = statelab.run("stateless", repeats=2, epochs=EPOCHS)
    shuffled = statelab.run("stateless_shuffle", repeats=2, epochs=EPOCHS)
    assert not np.array_equal(plain.forecasts, shuffled.forecasts)


def test_batch12_pair_is_identical_repeat_by_repeat():
    """One batch per epoch with a reset after it: a stateful model never carries anything."""
    train, predict, _ = traced("stateful_batch12")
    assert train.shape[2] == 1 and (train == 0).all() and (predict == 0).all()
    stateful = statelab.run("stateful_batch12", repeats=3, epochs=EPOCHS)
    stateless = statelab.run("stateless_batch12", repeats=3, epochs=EPOCHS)
    assert stateful.forecasts_scaled.shape == (3, TEST_ROWS)
    np.testing.assert_array_equal(stateful.forecasts, stateless.forecasts)


def test_reset_test_resets_after_every_prediction():
    train, predict, _ = traced("stateful_reset_test")
    assert (train[:, :, 1:] > 0).all()
    _, test = split_predictions(predict)
    assert (test == 0).all()


def test_noreset_carries_state_across_epochs_and_into_the_test():
    train, predict, _ = traced("stateful_noreset")
    assert (train[:, 0, 0] == 0).all()  # only the very first batch starts from zero
    assert (train[:, 1:, 0] > 0).all()  # later epochs start where the previous one ended
    _, test = split_predictions(predict)
    assert (test > 0).all()  # the training state flows into the first prediction


def test_seed_train_runs_the_training_rows_before_the_test():
    _, predict, _ = traced("stateful_seed_train")
    seeding, test = split_predictions(predict)
    assert (seeding[:, 0] == 0).all() and (seeding[:, 1:] > 0).all()
    assert (test > 0).all()  # the first test prediction starts from the seeded state
    # without seeding the same model starts the test from zero
    _, unseeded_predict, _ = traced("stateful")
    assert (split_predictions(unseeded_predict)[1][:, 0] == 0).all()


def test_seed_train_resets_makes_seeding_a_no_op():
    _, predict, _ = traced("stateful_seed_train_resets")
    assert (predict == 0).all()
    seeded = statelab.run("stateful_seed_train_resets", repeats=2, epochs=EPOCHS)
    reset = statelab.run("stateful_reset_test", repeats=2, epochs=EPOCHS)
    np.testing.assert_array_equal(seeded.forecasts, reset.forecasts)


def test_seed_train_no_resets_never_resets():
    train, predict, _ = traced("stateful_seed_train_no_resets")
    assert (train[:, 1:, 0] > 0).all()
    seeding, test = split_predictions(predict)
    assert (seeding > 0).all() and (test > 0).all()  # even the first seeding row


def test_common_random_numbers_except_the_a_vs_a_twin():
    # A learning rate of 1e-30 leaves the weights where they started.
    zero_epoch = {
        n: statelab.run(n, repeats=3, epochs=1, learning_rate=1e-30)
        for n in ("stateful", "stateless", "stateful2")
    }
    np.testing.assert_array_equal(
        zero_epoch["stateful"].weights.kernel, zero_epoch["stateless"].weights.kernel
    )
    assert not np.array_equal(
        zero_epoch["stateful"].weights.kernel, zero_epoch["stateful2"].weights.kernel
    )
