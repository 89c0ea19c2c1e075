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
# (lags, units): the study's network, and the larger ones the set-up study trains.
SIZES = ((1, 1), (3, 4), (3, 16))


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


def partial_batch(rows: int) -> int:
    """A batch size that leaves a partial last batch of the training rows (5 for the study's 22)."""
    return next(size for size in range(5, rows) if rows % size)


@pytest.fixture(scope="module")
def keras_reference(tmp_path_factory) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """Keras's results for every size in SIZES, from one TensorFlow process."""
    folder = tmp_path_factory.mktemp("keras")
    pairs = []
    for lags, neurons in SIZES:
        dataset = prepare(statelab.shampoo(), statelab.Spec(lags=lags))
        source, target = folder / f"in_{lags}_{neurons}.npz", folder / f"out_{lags}_{neurons}.npz"
        np.savez(
            source,
            train_x=dataset.train_x.astype(np.float32),
            train_y=dataset.train_y.astype(np.float32),
            test_x=dataset.test_x.astype(np.float32),
            epochs=EPOCHS,
            batch_size=1,
            partial_batch=partial_batch(len(dataset.train_y)),
            **fixed_weights(lags, neurons),
        )
        pairs += [str(source), str(target)]
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, str(HERE / "keras_reference.py"), *pairs],
                   check=True, env=env, timeout=900)  # fmt: skip
    return {size: dict(np.load(folder / f"out_{size[0]}_{size[1]}.npz")) for size in SIZES}


@pytest.mark.parametrize(("lags", "neurons"), SIZES)
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
        ("stateless_partial_batch", "stateless", "keras3"),
    ],
)
def test_forecasts_and_weights_match_keras_tensorflow(
    keras_reference, regime, preset, profile, lags, neurons
):
    """Float32, 5 epochs: forecasts (scaled units) and trained weights agree to 1e-5."""
    reference = keras_reference[lags, neurons]
    assert str(reference["backend"]) == "tensorflow"
    settings = {"lags": lags, "neurons": neurons, "profile": profile}
    if regime == "stateless_partial_batch":
        rows = len(prepare(statelab.shampoo(), statelab.Spec(lags=lags)).train_y)
        settings["batch_size"] = partial_batch(rows)
    weights = fixed_weights(lags, neurons)
    result = statelab.run(preset, repeats=1, epochs=EPOCHS, initial_weights=weights, **settings)
    expected = reference[f"{regime}/forecasts"]
    np.testing.assert_allclose(result.forecasts_scaled[0], expected, atol=1e-5, rtol=0)
    for name in statelab.LSTMWeights._fields:
        np.testing.assert_allclose(
            getattr(result.weights, name)[0], reference[f"{regime}/{name}"], atol=1e-5, rtol=0
        )


@pytest.mark.parametrize(("lags", "neurons"), SIZES)
def test_the_keras_references_differ_between_regimes(keras_reference, lags, neurons):
    """Guards the reference itself: a backend that dropped the state (as Keras 3's JAX backend
    does) or ignored the profile would make these equal."""
    reference = keras_reference[lags, neurons]
    stateful = reference["stateful/forecasts"]
    others = ("stateless", "stateful_noreset", "stateful_reset_test", "keras2017_stateful",
              "stateless_partial_batch")  # fmt: skip
    for other in others:
        assert np.abs(stateful - reference[f"{other}/forecasts"]).max() > 1e-4, other
