"""The study's own Keras loop for one repeat of `stateful` (TensorFlow backend), timed.

Run in a process of its own: python benchmarks/keras_study_loop.py EPOCHS
Prints one JSON line: {"epochs": E, "seconds": S, "keras": version}.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(epochs: int) -> None:
    import keras

    import statelab
    from statelab.data.dataset import prepare

    dataset = prepare(statelab.shampoo(), statelab.Spec())
    train_x = dataset.train_x.reshape(-1, 1, 1)
    test_x = dataset.test_x.reshape(-1, 1, 1)
    started = time.perf_counter()
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(1, 1, 1)),
            keras.layers.LSTM(1, stateful=True),
            keras.layers.Dense(1),
        ]
    )
    model.compile(loss="mean_squared_error", optimizer="adam")
    for _ in range(epochs):
        model.fit(train_x, dataset.train_y, epochs=1, batch_size=1, verbose=0, shuffle=False)
        model.layers[0].reset_states()
    for row in test_x:
        model.predict(row[None], batch_size=1, verbose=0)
    seconds = time.perf_counter() - started
    print(json.dumps({"epochs": epochs, "seconds": seconds, "keras": keras.__version__}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
