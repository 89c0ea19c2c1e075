"""Keras's Adam as an Optax gradient transformation.

Hand-written because ``optax.adam`` divides the bias-corrected moments
(m_hat / (sqrt(v_hat) + eps)), while Keras folds the bias correction into the
step size, ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``, and adds epsilon to the
uncorrected sqrt(v). The two differ early in training, exactly where a
state-reset study is sensitive, so fidelity needs Keras's form.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class KerasAdamState(NamedTuple):
    count: jax.Array  # int32 steps taken: () or, with a learning rate per lane, (N,)
    mu: optax.Params  # first moments, same tree as the params
    nu: optax.Params  # second moments


def keras_adam(
    learning_rate: float | jax.Array,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float | jax.Array = 1e-7,
    keras2_moments: bool = False,
) -> optax.GradientTransformation:
    """Adam as Keras computes it: ``w -= alpha * m / (sqrt(v) + eps)``.

    ``keras2_moments`` writes the moment updates as Keras 2 did (``b1 * m + (1 - b1) * g``);
    Keras 3 writes ``m + (g - m) * (1 - b1)``. Equal in exact arithmetic, not in float32.
    """

    def init(params: optax.Params) -> KerasAdamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        count = jnp.zeros(jnp.shape(learning_rate), jnp.int32)  # one per lane, if lanes
        return KerasAdamState(count=count, mu=zeros, nu=zeros)

    def update(grads, state: KerasAdamState, params=None):
        del params
        count = state.count + 1
        step = count.astype(jnp.float32)
        if keras2_moments:
            # Keras 2 kept b1 and b2 in float32 variables: 1 - b1 is a float32 subtraction.
            f1, f2 = jnp.float32(b1), jnp.float32(b2)
            mu = jax.tree.map(lambda m, g: f1 * m + (1 - f1) * g, state.mu, grads)
            nu = jax.tree.map(lambda v, g: f2 * v + (1 - f2) * jnp.square(g), state.nu, grads)
        else:
            mu = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), state.mu, grads)
            nu = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), state.nu, grads)
        alpha = learning_rate * jnp.sqrt(1 - b2**step) / (1 - b1**step)
        updates = jax.tree.map(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + eps), mu, nu)
        return updates, KerasAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)
