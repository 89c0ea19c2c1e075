"""The spec: validated once, immutable, presets as .replace(), one profile object."""

from __future__ import annotations

import math

import numpy as np
import pytest

import statelab
from statelab.engine.profile import PROFILES
from statelab.spec import MAX_LEARNING_RATE, PRESETS, Spec


@pytest.mark.parametrize(
    "rate", [math.inf, 1e308, -0.1, 0.0, math.nan, MAX_LEARNING_RATE * 2, True]
)
def test_a_learning_rate_that_can_only_diverge_is_refused(rate):
    with pytest.raises(statelab.StatelabError, match="learning-rate must be a number above 0"):
        Spec(learning_rate=rate)


def test_learning_rates_up_to_the_limit_are_taken():
    assert Spec(learning_rate=MAX_LEARNING_RATE).learning_rate == MAX_LEARNING_RATE
    assert Spec(learning_rate=1).learning_rate == 1


@pytest.mark.parametrize("stream", [-1, 2**32, 1.0, True, None])
def test_a_seed_stream_outside_a_uint32_is_refused(stream):
    # Such a stream would wrap into another (2**32 is stream 0, the study's): refused instead.
    with pytest.raises(statelab.StatelabError, match="seed_stream must be a whole number from 0"):
        Spec(seed_stream=stream)


def test_the_largest_seed_stream_draws_its_own_weights():
    last = statelab.run(repeats=1, epochs=1, seed_stream=2**32 - 1).weights.kernel
    assert not np.array_equal(last, statelab.run(repeats=1, epochs=1).weights.kernel)


def test_each_profile_is_one_object_with_the_documented_defaults():
    keras3, keras2017 = Spec().keras, Spec(profile="keras2017").keras
    assert keras3 == PROFILES["keras3"] and keras2017 == PROFILES["keras2017"]
    assert (keras3.hard_sigmoid, keras3.epsilon, keras3.keras2_moments) == (False, 1e-7, False)
    assert (keras2017.hard_sigmoid, keras2017.epsilon, keras2017.keras2_moments) == (
        True,
        1e-8,
        True,
    )
    assert {(p.beta_1, p.beta_2) for p in PROFILES.values()} == {(0.9, 0.999)}


def test_replace_validates_again_and_leaves_the_original():
    spec = Spec()
    with pytest.raises(statelab.StatelabError, match="batch-size"):
        spec.replace(batch_size=0)
    assert spec.replace(epochs=3).epochs == 3 and spec.epochs == 1000


def test_the_digest_is_stable_and_tells_settings_apart():
    assert Spec().digest() == Spec().digest()
    assert Spec().digest() != Spec(shuffle=True).digest()
    assert len(Spec().digest()) == 16


def test_a_setup_changes_only_what_it_sets_in_every_preset():
    setup = statelab.Setup(epochs=300, neurons=4)
    assert setup.changes() == {"epochs": 300, "neurons": 4}
    for preset in PRESETS.values():
        changed = setup.apply(preset.spec)
        assert (changed.epochs, changed.neurons) == (300, 4)
        assert changed.replace(epochs=preset.spec.epochs, neurons=1) == preset.spec
    assert statelab.Setup().apply(PRESETS["stateful"].spec) == PRESETS["stateful"].spec


def test_a_setup_is_checked_as_a_spec_is():
    with pytest.raises(statelab.StatelabError, match="profile"):
        statelab.Setup(profile="keras1").apply(Spec())
    with pytest.raises(statelab.StatelabError, match="epochs"):
        statelab.Setup(epochs=0).apply(Spec())
