"""Keras's Adam, both moment forms, against the formulas written out in NumPy float32."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from statelab.engine.optim import bias_correction, keras_adam


def reference(gradients, lr, b1, b2, eps, keras2):
    """Keras 2.0's Adam (b1 m + (1 - b1) g) or Keras 3's (m + (g - m)(1 - b1)), one weight,
    in float32 as each computes it: Keras 2 holds b1 and b2 as float32 variables, so 1 - b1
    is a float32 subtraction; Keras 3 takes 1 - b1 in Python, then rounds it to float32."""
    f = np.float32
    one_minus_b1 = f(1) - f(b1) if keras2 else f(1 - b1)
    one_minus_b2 = f(1) - f(b2) if keras2 else f(1 - b2)
    lr, b1, b2, eps = f(lr), f(b1), f(b2), f(eps)
    w, m, v, path = f(0), f(0), f(0), []
    for t, g in enumerate(map(f, gradients), start=1):
        t = f(t)
        if keras2:
            m, v = b1 * m + one_minus_b1 * g, b2 * v + one_minus_b2 * g * g
        else:
            m, v = m + (g - m) * one_minus_b1, v + (g * g - v) * one_minus_b2
        alpha = lr * np.sqrt(f(1) - b2**t) / (f(1) - b1**t)
        w -= alpha * m / (np.sqrt(v) + eps)
        path.append(w)
    return np.array(path)


@pytest.mark.parametrize(("keras2", "eps"), [(False, 1e-7), (True, 1e-8)])
def test_keras_adam_follows_the_formula(keras2, eps):
    gradients = [0.5, -0.2, 1e-4, 3.0, -2.5, 0.0, 1e-6, 0.7]
    optimizer = keras_adam(0.001, 0.9, 0.999, eps, keras2_moments=keras2)
    weight = jnp.zeros((), jnp.float32)
    state = optimizer.init(weight)
    path = []
    for g in gradients:
        update, state = optimizer.update(jnp.float32(g), state)
        weight = weight + update
        path.append(float(weight))
    np.testing.assert_allclose(
        path, reference(gradients, 0.001, 0.9, 0.999, eps, keras2), rtol=1e-6, atol=1e-10
    )


def test_epsilon_sits_outside_the_square_root():
    """A tiny first gradient: Keras's step is alpha * g / (|g| + eps), not optax's form."""
    optimizer = keras_adam(1.0, 0.9, 0.999, 1e-3)
    update, _ = optimizer.update(jnp.float32(1e-3), optimizer.init(jnp.zeros(())))
    alpha = np.sqrt(1 - 0.999) / (1 - 0.9)
    expected = -alpha * (0.1 * 1e-3) / (np.sqrt(0.001 * 1e-6) + 1e-3)
    assert float(update) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("b1", "b2"), [(0.9, 0.999), (0.5, 0.99)])
def test_the_bias_correction_tables_are_pow_at_every_step(b1, b2):
    """Keras's step size factor sqrt(1 - b2^t) / (1 - b1^t), computed with float32 pow at
    every step as Keras (and this engine, before the tables) computes it, equals the tables'
    bit for bit, up to three times the tables' length: past their end it no longer changes."""
    table = bias_correction(b1, b2)
    steps = np.arange(1, 3 * len(table.root))
    step = jnp.asarray(steps, jnp.float32)
    with_pow = jax.jit(lambda t: 0.001 * jnp.sqrt(1 - b2**t) / (1 - b1**t))(step)
    clipped = np.minimum(steps, len(table.root) - 1)
    from_tables = np.float32(0.001) * table.root[clipped] / table.denominator[clipped]
    np.testing.assert_array_equal(np.asarray(with_pow), from_tables)
    assert table.root[-1] == table.denominator[-1] == 1.0
