"""The study's own Keras loop, run on the TensorFlow backend, as the engine's reference.

Keras 3's JAX backend does not carry LSTM state inside fit() or predict(), so the
reference must be TensorFlow's. Run as a script in its own process (TensorFlow and
JAX each want the process to themselves):

    KERAS_BACKEND=tensorflow python tests/keras_reference.py IN.npz OUT.npz [IN OUT ...]

Each IN.npz holds train_x (R, L), train_y (R,), test_x (T, L), the five Keras-layout weight
arrays (their shapes give the lags and units), ``epochs``, ``batch_size`` and
``partial_batch`` (the batch size of the regime whose last batch is partial). Its OUT.npz
gets, per regime, the (T,) forecasts in scaled units and the trained weights. Several pairs
share one process, so TensorFlow starts once.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REGIMES = (
    "stateful",
    "stateless",
    "stateful_noreset",
    "stateful_reset_test",
    "keras2017_stateful",
    "stateless_partial_batch",  # e.g. 22 rows in batches of 5: a partial last batch of 2
)


def keras2_hard_sigmoid(x):
    """Keras 2's hard_sigmoid (Keras 3's is relu6(x + 3) / 6), for the keras2017 profile."""
    import keras

    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def build(keras, weights, lags, stateful, batch_size, keras2017=False):
    neurons = weights["recurrent_kernel"].shape[0]
    if stateful:
        inputs = keras.Input(batch_shape=(batch_size, 1, lags))
    else:
        inputs = keras.Input(shape=(1, lags))
    activation = keras2_hard_sigmoid if keras2017 else "sigmoid"
    lstm = keras.layers.LSTM(neurons, stateful=stateful, recurrent_activation=activation)
    model = keras.Sequential([inputs, lstm, keras.layers.Dense(1)])
    adam = keras.optimizers.Adam(learning_rate=0.001, epsilon=1e-8 if keras2017 else 1e-7)
    model.compile(loss="mean_squared_error", optimizer=adam)
    lstm.set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    model.layers[-1].set_weights([weights["dense_kernel"], weights["dense_bias"]])
    return model, lstm


def run(regime: str, arrays) -> dict[str, np.ndarray]:
    """The study's harness for one regime: fit epoch by epoch, then one-step predictions."""
    import keras

    train_x = arrays["train_x"].reshape(-1, 1, arrays["train_x"].shape[1])
    test_x = arrays["test_x"].reshape(-1, 1, arrays["test_x"].shape[1])
    train_y = arrays["train_y"]
    epochs, batch_size = int(arrays["epochs"]), int(arrays["batch_size"])
    stateful = not regime.startswith("stateless")
    if regime == "stateless_partial_batch":
        batch_size = int(arrays["partial_batch"])
    model, lstm = build(
        keras,
        arrays,
        train_x.shape[2],
        stateful,
        batch_size,
        keras2017=regime.startswith("keras2017"),
    )
    if stateful:
        for _ in range(epochs):
            model.fit(train_x, train_y, epochs=1, batch_size=batch_size, verbose=0, shuffle=False)
            if regime != "stateful_noreset":
                lstm.reset_states()
    else:
        model.fit(train_x, train_y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=False)
    forecasts = []
    for row in test_x:
        forecasts.append(model.predict(row[None], batch_size=1, verbose=0)[0, 0])
        if regime == "stateful_reset_test":
            lstm.reset_states()
    kernel, recurrent_kernel, bias = lstm.get_weights()
    dense_kernel, dense_bias = model.layers[-1].get_weights()
    return {
        f"{regime}/forecasts": np.asarray(forecasts, dtype=np.float32),
        f"{regime}/kernel": kernel,
        f"{regime}/recurrent_kernel": recurrent_kernel,
        f"{regime}/bias": bias,
        f"{regime}/dense_kernel": dense_kernel,
        f"{regime}/dense_bias": dense_bias,
    }


def main(pairs: list[str]) -> None:
    import keras

    for source, target in zip(pairs[::2], pairs[1::2], strict=True):
        arrays = dict(np.load(source))
        out = {
            "keras_version": np.asarray(keras.__version__),
            "backend": np.asarray(keras.backend.backend()),
        }
        for regime in REGIMES:
            out.update(run(regime, arrays))
        np.savez(target, **out)


if __name__ == "__main__":
    main(sys.argv[1:])
