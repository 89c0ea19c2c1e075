"""Keras's Adam as an Optax gradient transformation.

Hand-written because ``optax.adam`` divides the bias-corrected moments
(m_hat / (sqrt(v_hat) + eps)), while Keras folds the bias correction into the
step size, ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``, and adds epsilon to the
uncorrected sqrt(v). The two differ early in training, exactly where a
state-reset study is sensitive, so fidelity needs Keras's form.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Once b**t is below 2**-BITS, 1 - b**t rounds to exactly 1 in float32 (from 2**-25 on, one bit
# below the spacing of floats under 1; 26 leaves a bit to spare): the bias correction is done.
BITS = 26


class KerasAdamState(NamedTuple):
    count: jax.Array  # int32 steps taken: () or, with a learning rate per lane, (N,)
    mu: optax.Params  # first moments, same tree as the params
    nu: optax.Params  # second moments


class BiasCorrection(NamedTuple):
    """Keras's bias correction by step count t (index 0 unused), as float32 tables:
    ``alpha = lr * root[t] / denominator[t]`` with root = sqrt(1 - b2**t) and denominator =
    1 - b1**t, each computed in float32 as Keras computes it. From the tables' last entry on
    both are exactly 1, so a step count t indexes min(t, length - 1)."""

    root: np.ndarray
    denominator: np.ndarray


@functools.lru_cache(maxsize=8)
def bias_correction(b1: float, b2: float) -> BiasCorrection:
    """The tables for betas ``b1`` and ``b2``, computed once a process.

    Keras computes ``pow(b, t)`` in float32 every step, and so did this engine, once per lane
    and step: a call into the C library's powf for each (XLA has no vectorised pow), which
    cost a third of a step. The tables hold the same powf's results, computed once on the
    default device by the same float32 operations, so the engine's bits do not change (on
    Linux, glibc's powf is also TensorFlow's: Keras's own values, all 17,320 of them at
    b2 = 0.999; a table rounded from float64 differs from them in 95)."""
    steps = max(math.ceil(BITS * math.log(2) / -math.log(b)) for b in (b1, b2)) + 1
    with jax.ensure_compile_time_eval():
        step = jnp.arange(steps, dtype=jnp.float32)
        root = jnp.sqrt(1 - jnp.float32(b2) ** step)
        denominator = 1 - jnp.float32(b1) ** step
    return BiasCorrection(np.asarray(root), np.asarray(denominator))


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
        if keras2_moments:
            # Keras 2 kept b1 and b2 in float32 variables: 1 - b1 is a float32 subtraction.
            f1, f2 = jnp.float32(b1), jnp.float32(b2)
            mu = jax.tree.map(lambda m, g: f1 * m + (1 - f1) * g, state.mu, grads)
            nu = jax.tree.map(lambda v, g: f2 * v + (1 - f2) * jnp.square(g), state.nu, grads)
        else:
            mu = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), state.mu, grads)
            nu = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), state.nu, grads)
        root, denominator = (
            jnp.take(table, count, mode="clip") for table in bias_correction(b1, b2)
        )
        alpha = learning_rate * root / denominator
        updates = jax.tree.map(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + eps), mu, nu)
        return updates, KerasAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)
