"""The engine against real Keras 3 (TensorFlow backend) on fixed initial weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import statelab
from statelab.data.dataset import prepare

EPOCHS = 5
HERE = Path(__file__).parent


def fixed_weights(lags: int = 1, neurons: int = 1, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "kernel": rng.uniform(-0.9, 0.9, (lags, 4 * neurons)).astype(np.float32),
        "recurrent_kernel": rng.uniform(-0.9, 0.9, (neurons, 4 * neurons)).astype(np.float32),
        "bias": np.array([0, 1, 0, 0] * 1, np.float32).repeat(neurons)
        + rng.uniform(-0.1, 0.1, 4 * neurons).astype(np.float32),
        "dense_kernel": rng.uniform(-0.9, 0.9, (neurons, 1)).astype(np.float32),
        "dense_bias": np.array([0.05], np.float32),
    }


@pytest.fixture(scope="module")
def keras_reference(tmp_path_factory) -> dict[str, np.ndarray]:
    folder = tmp_path_factory.mktemp("keras")
    dataset = prepare(statelab.shampoo(), statelab.Spec())
    weights = fixed_weights()
    np.savez(
        folder / "in.npz",
        train_x=dataset.train_x.astype(np.float32),
        train_y=dataset.train_y.astype(np.float32),
        test_x=dataset.test_x.astype(np.float32),
        epochs=EPOCHS,
        batch_size=1,
        **weights,
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run(
        [
            sys.executable,
            str(HERE / "keras_reference.py"),
            str(folder / "in.npz"),
            str(folder / "out.npz"),
        ],
        check=True,
        env=env,
        timeout=600,
    )
    return dict(np.load(folder / "out.npz"))


@pytest.mark.parametrize(
    ("regime", "preset", "profile"),
    [
        ("stateful", "stateful", "keras3"),
        ("stateless", "stateless", "keras3"),
        ("stateful_noreset", "stateful_noreset", "keras3"),
        ("stateful_reset_test", "stateful_reset_test", "keras3"),
        # Keras 3 with Keras 2's hard_sigmoid and epsilon: our own keras2017 reference.
        ("keras2017_stateful", "stateful", "keras2017"),
        # a partial last batch: Keras averages the loss over the rows actually in it
        ("stateless_batch5", "stateless", "keras3"),
    ],
)
def test_forecasts_and_weights_match_keras_tensorflow(keras_reference, regime, preset, profile):
    """Float32, 5 epochs: forecasts (scaled units) and trained weights agree to 1e-5."""
    assert str(keras_reference["backend"]) == "tensorflow"
    batch = {"batch_size": 5} if regime == "stateless_batch5" else {}
    result = statelab.run(
        preset, repeats=1, epochs=EPOCHS, initial_weights=fixed_weights(), profile=profile, **batch
    )
    preset = regime
    expected = keras_reference[f"{preset}/forecasts"]
    np.testing.assert_allclose(result.forecasts_scaled[0], expected, atol=1e-5, rtol=0)
    for name in statelab.LSTMWeights._fields:
        np.testing.assert_allclose(
            getattr(result.weights, name)[0], keras_reference[f"{preset}/{name}"], atol=1e-5, rtol=0
        )


def test_the_keras_references_differ_between_regimes(keras_reference):
    """Guards the reference itself: a backend that dropped the state (as Keras 3's JAX backend
    does) or ignored the profile would make these equal."""
    stateful = keras_reference["stateful/forecasts"]
    others = ("stateless", "stateful_noreset", "stateful_reset_test", "keras2017_stateful",
              "stateless_batch5")  # fmt: skip
    for other in others:
        assert np.abs(stateful - keras_reference[f"{other}/forecasts"]).max() > 1e-4, other
