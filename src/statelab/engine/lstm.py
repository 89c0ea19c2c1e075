"""The JAX engine: LSTM(n) -> Dense(1) trained and forecast with Keras's state semantics.

One lane is one repeat of one experiment. Every regime (stateful or not, resets,
seeding, shuffling) is a per-lane boolean read inside one compiled program, so
lanes of different experiments with the same array shapes run side by side in
one compiled call. Lanes never interact: a lane's result does not depend on how
many lanes ran beside it.

Lanes are the LAST axis of every array (N below), written out rather than added
by ``vmap``: ``vmap`` puts the lane axis first, where XLA's CPU backend runs this
model's many tiny per-step ops with strided gate slices, about three times slower
than with lanes contiguous in memory. The backward pass is written out per lane
(:func:`_loss_and_grad`), and so are sums over rows (:func:`_sum`), so that nothing mixes
or reorders lanes.

Shapes: L lags, n units, b batch size, R training rows (padded to a multiple of
b), T test rows, f forecast batch (1 one-step, b batched), N lanes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from statelab.engine import shuffle
from statelab.engine.optim import KerasAdamState, keras_adam
from statelab.engine.profile import Profile

# Bumped whenever a change can alter a result's bits: the results store keys on it, so a
# resumed run never mixes repeats computed by different engines. 4: ragged lanes (per-lane
# Adam step counts, masked padding steps) moved results in their last digits.
ENGINE_REVISION = 4
# Epochs whose (shuffled) batches are drawn ahead of training on them (one epoch at a time,
# see train_epochs): more means fewer trips out of the compiled training loop, at 3
# (EPOCH_BLOCK, R, L, N) float arrays of memory. 50 was as fast as any larger block; 10 was
# slower at one repeat. (A program without a shuffling lane draws nothing: it makes its
# batches once; its epochs still run in blocks, which kept it as fast.)
EPOCH_BLOCK = 50
# ... and at most this many bytes of them, so memory stays bounded by the compiled shape.
EPOCH_BLOCK_BYTES = 256 * 2**20


def epoch_block(epochs: int, drawn: int) -> tuple[int, int]:
    """How a training call of ``epochs`` epochs, whose epochs' batches take ``drawn`` bytes
    each, runs them: (block, rest), ``epochs // block`` blocks of ``block`` epochs, one
    compiled block serving them all, then ``rest`` epochs in a block of their own. A block is
    at most EPOCH_BLOCK epochs and EPOCH_BLOCK_BYTES of batches; the largest such divisor
    of ``epochs``, so that nothing is left over.

    And at least two blocks of two epochs or more, wherever the epochs and bytes allow: XLA
    removes a loop of one trip, and the training loop left then updates the weights and
    Adam's moments by copying them every step (19 copies in its loops against 8 or 9; jax
    0.10, with the copy insertion's region analysis of statelab/_xla_flags.py). A call of 50
    epochs or fewer took 1.25 to 1.3 times as long at 8 to 32 units as one block (as long at
    1 and 4), with the same bits; so did 53 epochs, whose only divisor under 50 is 1, run in
    53 blocks of one (benchmarks/epoch_blocks.py). Such a count runs whole blocks and then
    the rest (53: two blocks of 26, then one epoch): the program holds the epoch loop twice."""
    at_most = min(EPOCH_BLOCK, max(1, epochs // 2), max(1, EPOCH_BLOCK_BYTES // drawn))
    block = largest_divisor(epochs, at_most)
    if block == 1 and at_most >= 2:  # no divisor but 1: blocks of at_most, and the rest
        return at_most, epochs % at_most
    return block, 0


class LSTMWeights(NamedTuple):
    """Keras layout (gates i, f, c, o in blocks of n columns), then the lane axis."""

    kernel: jax.Array  # (L, 4n, N)
    recurrent_kernel: jax.Array  # (n, 4n, N)
    bias: jax.Array  # (4n, N)
    dense_kernel: jax.Array  # (n, 1, N)
    dense_bias: jax.Array  # (1, N)


class LSTMState(NamedTuple):
    h: jax.Array  # (rows, n, N)
    c: jax.Array  # (rows, n, N)


class Regime(NamedTuple):
    """Per-lane booleans, each (N,), that select the state semantics."""

    stateful: jax.Array  # carry state from batch to batch (row j to row j)
    carry_across_epochs: jax.Array  # no reset after an epoch: it flows on, and into forecasting
    carry_across_predictions: jax.Array  # no reset after each forecast batch
    seed_state: jax.Array  # run the training rows through the model before the test
    shuffle: jax.Array  # permute the training rows anew every epoch


class Shape(NamedTuple):
    """The static part: lanes whose Shape agrees share one compilation."""

    lags: int
    neurons: int
    batch_size: int
    train_rows: int  # compiled rows (a lane's own may be fewer); padded to a multiple of b
    test_rows: int  # compiled test rows (a lane's own may be fewer)
    forecast_batch: int
    profile: Profile  # the recurrent activation and Adam's epsilon, betas and moment form
    trace: bool = False  # also return the state entering every step (tests, diagnostics)
    # Some lane may shuffle. Without, the program leaves the shuffle's code out and makes the
    # batches once (train_epochs): it traces and compiles in half to two thirds of the time,
    # and a lane's bits are the same (its rows keep their order).
    shuffles: bool = True

    @property
    def train_batches(self) -> int:
        return -(-self.train_rows // self.batch_size)

    @property
    def padded_rows(self) -> int:
        return self.train_batches * self.batch_size


class Lane(NamedTuple):
    """Everything the lanes need, as arrays with the lane axis last."""

    weights: LSTMWeights  # initial weights
    shuffle_key: jax.Array  # (2, N) uint32 key data; epoch e shuffles with fold_in(key, e)
    regime: Regime
    learning_rate: jax.Array  # (N,) float32
    train_x: jax.Array  # (R, L, N), the lane's own rows first, zeros after
    train_y: jax.Array  # (R, N)
    test_x: jax.Array  # (T, L, N)
    train_rows: jax.Array  # (N,) int32: the lane's own training rows (<= R)
    test_rows: jax.Array  # (N,) int32: the lane's own test rows (<= T)


class Carry(NamedTuple):
    """What training carries from one epoch (and one chunk of epochs) to the next."""

    weights: LSTMWeights
    opt_state: KerasAdamState
    state: LSTMState  # (b, n, N) each
    epoch: jax.Array  # () int32, epochs done


class TrainTrace(NamedTuple):
    state_in: LSTMState  # (E, B, b, n, N): the state each training batch started from


class Forecast(NamedTuple):
    forecasts_scaled: jax.Array  # (T, N)
    state_in: LSTMState  # (P, f, n, N): the state each prediction batch started from
    state_out: LSTMState  # (f, n, N): the state after the last prediction


def keras2_hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 2's hard_sigmoid, clip(0.2 x + 0.5, 0, 1) (Keras 3's is relu6(x + 3) / 6)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def weight_shapes(lags: int, neurons: int) -> LSTMWeights:
    """The Keras layout of one lane's weights, as shapes: the one place it is written."""
    return LSTMWeights(
        kernel=(lags, 4 * neurons),
        recurrent_kernel=(neurons, 4 * neurons),
        bias=(4 * neurons,),
        dense_kernel=(neurons, 1),
        dense_bias=(1,),
    )


def init_weights(key: jax.Array, lags: int, neurons: int) -> LSTMWeights:
    """One lane's weights (no lane axis) by Keras's initialisers: glorot_uniform kernels,
    orthogonal recurrent kernel, zero biases with the forget-gate block 1 (unit_forget_bias)."""
    k_kernel, k_recurrent, k_dense = jax.random.split(key, 3)
    glorot = jax.nn.initializers.glorot_uniform()
    shapes = weight_shapes(lags, neurons)
    return LSTMWeights(
        kernel=glorot(k_kernel, shapes.kernel, jnp.float32),
        recurrent_kernel=jax.nn.initializers.orthogonal()(
            k_recurrent, shapes.recurrent_kernel, jnp.float32
        ),
        bias=jnp.zeros(shapes.bias).at[neurons : 2 * neurons].set(1.0),
        dense_kernel=glorot(k_dense, shapes.dense_kernel, jnp.float32),
        dense_bias=jnp.zeros(shapes.dense_bias),
    )


def zero_state(rows: int, neurons: int, lanes: int) -> LSTMState:
    zeros = jnp.zeros((rows, neurons, lanes))
    return LSTMState(h=zeros, c=zeros)


def _keep(flag: jax.Array, state: LSTMState) -> LSTMState:
    """Per lane, the state if ``flag`` (N,), else zeros. ``where``, not a multiply, so a NaN
    state resets too."""
    return jax.tree.map(lambda s: jnp.where(flag, s, jnp.zeros_like(s)), state)


def _sum(a: jax.Array, axis: int) -> jax.Array:
    """Sum over a short static axis as explicit adds in index order. A reduce would leave
    the order to XLA, whose vectorised code for it depends on the lane count, and a lane's
    bits must not."""
    parts = [jax.lax.index_in_dim(a, k, axis, keepdims=False) for k in range(a.shape[axis])]
    return functools.reduce(jnp.add, parts)


def _matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """Per-lane (rows, k, N) @ (k, m, N) -> (rows, m, N), as a broadcast multiply-and-sum:
    for this model's tiny k and m it fuses with the gates around it, where a dot batched
    over lanes would run one tiny matrix at a time."""
    return _sum(a[:, :, None, :] * b[None], axis=1)


class Activations(NamedTuple):
    """One step's forward values, kept for the hand-written backward pass. (rows, n, N) each,
    but ``prediction`` (rows, N)."""

    z_i: jax.Array
    z_f: jax.Array
    z_o: jax.Array
    i: jax.Array
    f: jax.Array
    g: jax.Array  # tanh of the cell candidate
    o: jax.Array
    c: jax.Array
    tanh_c: jax.Array
    h: jax.Array
    prediction: jax.Array


def _forward(
    weights: LSTMWeights, state: LSTMState, x: jax.Array, hard_sigmoid: bool
) -> Activations:
    """One time step of LSTM -> Dense with Keras's gate layout, every intermediate kept."""
    recurrent_activation = keras2_hard_sigmoid if hard_sigmoid else jax.nn.sigmoid
    z = _matmul(x, weights.kernel) + _matmul(state.h, weights.recurrent_kernel) + weights.bias
    z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=1)
    i, f, o = (recurrent_activation(gate) for gate in (z_i, z_f, z_o))
    g = jnp.tanh(z_c)
    c = f * state.c + i * g
    tanh_c = jnp.tanh(c)
    h = o * tanh_c
    prediction = (_matmul(h, weights.dense_kernel) + weights.dense_bias)[:, 0, :]
    return Activations(z_i, z_f, z_o, i, f, g, o, c, tanh_c, h, prediction)


def lstm_step(
    weights: LSTMWeights, state: LSTMState, x: jax.Array, hard_sigmoid: bool
) -> tuple[jax.Array, LSTMState]:
    """One time step of LSTM -> Dense: x (rows, L, N) -> y (rows, N), new state."""
    step = _forward(weights, state, x, hard_sigmoid)
    return step.prediction, LSTMState(h=step.h, c=step.c)


def _optimizer(shape: Shape, lane: Lane) -> optax.GradientTransformation:
    profile = shape.profile
    return keras_adam(
        lane.learning_rate,
        profile.beta_1,
        profile.beta_2,
        profile.epsilon,
        keras2_moments=profile.keras2_moments,
    )


def start(shape: Shape, lane: Lane) -> Carry:
    """The carry before the first epoch: initial weights, zero moments, zero state."""
    lanes = lane.learning_rate.shape[0]
    return Carry(
        weights=lane.weights,
        opt_state=_optimizer(shape, lane).init(lane.weights),
        state=zero_state(shape.batch_size, shape.neurons, lanes),
        epoch=jnp.zeros((), jnp.int32),
    )


def _epoch_batches(shape: Shape, lane: Lane, epoch: jax.Array):
    """This epoch's rows in batch order: x (B, b, L, N), y (B, b, N), weight (B, b, N),
    weight 0 on padding."""
    rows, padded, lanes = shape.train_rows, shape.padded_rows, lane.learning_rate.shape[0]
    identity = jnp.broadcast_to(jnp.arange(rows)[:, None], (rows, lanes))

    def shuffled():
        bits = jax.vmap(
            lambda key, own: shuffle.draws(jax.random.fold_in(key, epoch), rows, own),
            out_axes=1,
        )(jax.random.wrap_key_data(lane.shuffle_key.T), lane.train_rows)
        return jnp.where(lane.regime.shuffle, shuffle.order_of_draws(bits), identity)

    # Padding rows (a lane's rows past its own, and a partial last batch, stateless only)
    # come after the lane's rows and weigh 0, which gives Keras's mean over the rows
    # actually in the batch; a batch of padding only is skipped (see train_epochs).
    padding = jnp.broadcast_to(jnp.arange(rows, padded)[:, None], (padded - rows, lanes))
    x = jnp.concatenate([lane.train_x, jnp.zeros((padded - rows, shape.lags, lanes))])
    y = jnp.concatenate([lane.train_y, jnp.zeros((padded - rows, lanes))])
    if shape.shuffles:
        order = jax.lax.cond(jnp.any(lane.regime.shuffle), shuffled, lambda: identity)  # (R, N)
        order = jnp.concatenate([order, padding])
        x = jnp.take_along_axis(x, order[:, None, :], axis=0)
        y = jnp.take_along_axis(y, order, axis=0)
    else:  # no lane shuffles: every lane's rows keep their order
        order = jnp.concatenate([identity, padding])
    weight = (order < lane.train_rows).astype(jnp.float32)
    batches = (shape.train_batches, shape.batch_size)
    return (
        x.reshape(*batches, shape.lags, lanes),
        y.reshape(*batches, lanes),
        weight.reshape(*batches, lanes),
    )


def largest_divisor(number: int, at_most: int) -> int:
    """The largest divisor of ``number`` that is at most ``at_most`` (and at least 1): a
    length that cuts ``number`` epochs into equal pieces, so one compiled length serves all."""
    return max(d for d in range(1, max(1, min(number, at_most)) + 1) if number % d == 0)


def _activation_grad(z: jax.Array, a: jax.Array, hard_sigmoid: bool) -> jax.Array:
    """d a / d z for the recurrent activation a = act(z), as JAX's autodiff computes it."""
    if not hard_sigmoid:
        return a * (1.0 - a)  # logistic's derivative from its output
    # clip(0.2 z + 0.5, 0, 1) is maximum then minimum; at a tie each passes half the
    # gradient (JAX's balanced rule), so the derivative is 0.2, 0.1 at the corners, else 0.
    u = 0.2 * z + 0.5
    below = jnp.where(u > 0.0, 1.0, jnp.where(u == 0.0, 0.5, 0.0))
    above = jnp.where(u < 1.0, 1.0, jnp.where(u == 1.0, 0.5, 0.0))
    return below * above * 0.2


def _tanh_grad(g: jax.Array, t: jax.Array) -> jax.Array:
    """g * d tanh / dz from t = tanh(z), in JAX's form (g + g t)(1 - t)."""
    return (g + g * t) * (1.0 - t)


def _loss_and_grad(weights: LSTMWeights, state: LSTMState, x, y, weight, hard_sigmoid):
    """One batch forward and backward by hand: (N,) losses, the gradient of each lane's
    loss (lane axis last, as the weights), the new state.

    Written out rather than by ``jax.grad`` so the forward's sigmoids and tanhs are
    computed once and reused: autodiff's backward, once XLA fuses it, recomputes them in
    many of its fusions; and so every sum over rows is :func:`_sum`'s, in a fixed order,
    where autodiff's are reductions whose order XLA picks by lane count (at batch size 12
    a repeat's bits then depended on the repeats beside it). The state is an input, not a
    parameter: no gradient flows into it (no backpropagation across batches). Tests check
    this against ``jax.grad`` and Keras."""
    step = _forward(weights, state, x, hard_sigmoid)
    error = step.prediction - y
    rows = jnp.maximum(_sum(weight, axis=0), 1.0)  # a batch of padding only has none
    losses = _sum(weight * jnp.square(error), axis=0) / rows

    d_prediction = (weight / rows) * (2.0 * error)  # (b, N)
    d_dense_kernel = _sum(step.h * d_prediction[:, None, :], axis=0)[:, None, :]  # (n, 1, N)
    d_dense_bias = _sum(d_prediction, axis=0)[None]  # (1, N)
    d_h = d_prediction[:, None, :] * weights.dense_kernel[None, :, 0, :]  # (b, n, N)
    d_o = d_h * step.tanh_c * _activation_grad(step.z_o, step.o, hard_sigmoid)
    d_c = _tanh_grad(d_h * step.o, step.tanh_c)
    d_i = d_c * step.g * _activation_grad(step.z_i, step.i, hard_sigmoid)
    d_f = d_c * state.c * _activation_grad(step.z_f, step.f, hard_sigmoid)
    d_g = _tanh_grad(d_c * step.i, step.g)
    d_z = jnp.concatenate([d_i, d_f, d_g, d_o], axis=1)  # (b, 4n, N)
    d_kernel = _sum(x[:, :, None, :] * d_z[:, None], axis=0)  # (L, 4n, N)
    d_recurrent = _sum(state.h[:, :, None, :] * d_z[:, None], axis=0)  # (n, 4n, N)
    d_bias = _sum(d_z, axis=0)  # (4n, N)
    grads = LSTMWeights(d_kernel, d_recurrent, d_bias, d_dense_kernel, d_dense_bias)
    return losses, grads, LSTMState(h=step.h, c=step.c)


def train_epochs(shape: Shape, lane: Lane, carry: Carry, epochs: int):
    """Run ``epochs`` epochs from ``carry``. Returns the carry, the (epochs, N) mean loss per
    epoch (Keras's history: batch losses weighted by their rows) and, with ``shape.trace``,
    a :class:`TrainTrace`."""
    optimizer = _optimizer(shape, lane)

    def batch_step(inner, batch):
        weights, opt_state, state, loss_sum = inner
        x, y, weight = batch
        state_in = _keep(lane.regime.stateful, state)
        losses, grads, state_out = _loss_and_grad(
            weights, state_in, x, y, weight, shape.profile.hard_sigmoid
        )
        updates, new_opt_state = optimizer.update(grads, opt_state, weights)
        new_weights = optax.apply_updates(weights, updates)
        # Summed in the carry, in batch order: a reduction over the batch axis would let XLA
        # pick an order that depends on the lane count.
        new_loss_sum = loss_sum + losses * _sum(weight, axis=0)
        # A batch of padding only (a lane shorter than the compiled rows) is an exact no-op:
        # weights, Adam's moments and step count, the state and the loss all stay as they were.
        real = _sum(weight, axis=0) > 0  # (N,)
        kept = jax.tree.map(
            lambda new, old: jnp.where(real, new, old),
            (new_weights, new_opt_state, state_out, new_loss_sum),
            (weights, opt_state, state, loss_sum),
        )
        return kept, state_in

    def epoch_step(carry: Carry, batches):
        x, y, weight = batches
        (weights, opt_state, state, loss_sum), states_in = jax.lax.scan(
            batch_step,
            (carry.weights, carry.opt_state, carry.state, jnp.zeros_like(lane.learning_rate)),
            (x, y, weight),
        )  # Not unrolled: once the loop is one kernel (see _xla_flags), unrolling gained nothing.
        state = _keep(lane.regime.carry_across_epochs, state)  # reset after the epoch
        carry = Carry(weights, opt_state, state, carry.epoch + 1)
        return carry, (loss_sum / lane.train_rows, states_in if shape.trace else None)

    lanes = lane.learning_rate.shape[0]
    drawn = shape.padded_rows * (shape.lags + 2) * lanes * 4  # bytes of one epoch's batches
    block, rest = epoch_block(epochs, drawn)
    # Without a shuffling lane, every epoch's batches are the same: made once, before the
    # loop. The program then compiles in less time (no loop drawing them), and as fast.
    fixed = None if shape.shuffles else _epoch_batches(shape, lane, carry.epoch)

    def block_step(carry: Carry, length: int):
        """``length`` epochs: (E, ...) losses and state traces."""
        if fixed is not None:
            return jax.lax.scan(lambda c, _: epoch_step(c, fixed), carry, None, length=length)
        # The block's batches are drawn before its epochs run, so that the loop over them
        # holds no sort (the shuffle's) and XLA can compile it into one kernel (see
        # statelab/_xla_flags.py). Epoch e still shuffles with fold_in(key, e).
        first = carry.epoch + jnp.arange(length)
        # One epoch at a time: drawn side by side, the block's epochs ran out of cache
        # (1.6x as long on 1000 lanes of 22 rows).
        batches = jax.lax.map(functools.partial(_epoch_batches, shape, lane), first)
        return jax.lax.scan(epoch_step, carry, batches)

    whole = epochs - rest
    carry, out = jax.lax.scan(lambda c, _: block_step(c, block), carry, None, whole // block)
    out = jax.tree.map(lambda a: a.reshape(whole, *a.shape[2:]), out)  # (blocks, block, ...)
    if rest:
        carry, more = block_step(carry, rest)
        out = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, more)
    losses, states_in = out
    return carry, losses, (TrainTrace(states_in) if shape.trace else None)


def forecast(shape: Shape, lane: Lane, weights: LSTMWeights, state: LSTMState) -> Forecast:
    """From the trained ``weights`` and the ``state`` training left (a :class:`Carry`'s),
    seed (optionally) on the lane's own training rows, then predict its test rows in
    batches of f, each from its true input. A stateful model's state advances with every
    prediction; a batch past the lane's own rows (padding) leaves the state as it was."""
    f, lanes = shape.forecast_batch, lane.learning_rate.shape[0]
    # Only stateless specs predict in batches of another size, and their state is zero.
    state = state if f == shape.batch_size else zero_state(f, shape.neurons, lanes)
    seed_rows = shape.train_rows if shape.train_rows % f == 0 else 0
    test_pad = -shape.test_rows % f  # stateless only: pad a partial last batch, drop it after
    x = jnp.concatenate(
        [lane.train_x[:seed_rows], lane.test_x, jnp.zeros((test_pad, shape.lags, lanes))]
    ).reshape(-1, f, shape.lags, lanes)
    steps = jnp.arange(x.shape[0])
    is_seed = steps < seed_rows // f
    first_row = jnp.where(is_seed, steps * f, (steps - seed_rows // f) * f)  # of its segment
    own = jnp.where(is_seed[:, None], lane.train_rows[None], lane.test_rows[None])  # (P, N)
    real = first_row[:, None] < own  # (P, N): the batch holds rows of the lane's own

    def predict_step(state, batch):
        x, seeding, real = batch
        state_in = _keep(lane.regime.stateful, state)
        y, state_out = lstm_step(weights, state_in, x, shape.profile.hard_sigmoid)
        state_out = _keep(lane.regime.carry_across_predictions, state_out)  # reset after it
        # Without seeding, the seeding batches leave the state untouched; so does padding.
        skip = (seeding & ~lane.regime.seed_state) | ~real
        state_out = jax.tree.map(lambda old, new: jnp.where(skip, old, new), state, state_out)
        return state_out, (y, state_in)

    state_out, (outputs, states_in) = jax.lax.scan(predict_step, state, (x, is_seed, real))
    outputs = outputs.reshape(-1, lanes)
    return Forecast(
        forecasts_scaled=outputs[seed_rows : seed_rows + shape.test_rows],
        state_in=states_in,
        state_out=state_out,
    )


@functools.lru_cache(maxsize=64)
def compiled(shape: Shape, epochs: int) -> tuple[Callable, Callable, Callable]:
    """Compiled start, train_epochs(epochs) and forecast for one Shape, cached."""
    return (
        jax.jit(functools.partial(start, shape)),
        jax.jit(functools.partial(train_epochs, shape, epochs=epochs)),
        jax.jit(functools.partial(forecast, shape)),
    )


@functools.partial(jax.jit, static_argnums=(3, 4))
def initial_weights(
    seed: int, streams: int | np.ndarray, repeats: np.ndarray, lags: int, neurons: int
) -> tuple[LSTMWeights, jax.Array]:
    """(N,) seed streams (or one for all) and repeat indices, each a uint32 -> initial weights
    with a leading (N,) axis, and the (N, 2) uint32 data of the shuffle keys. Repeat k of
    stream s always draws from the same key, whatever else is drawn:
    fold_in(fold_in(key(seed), s), k). One program draws the keys and the weights (two cost
    a one-repeat run a dispatch more)."""
    base = jax.random.key(seed)

    def one(stream, repeat):
        key = jax.random.fold_in(jax.random.fold_in(base, stream), repeat)
        init_key, shuffle_key = jax.random.split(key)
        return init_weights(init_key, lags, neurons), jax.random.key_data(shuffle_key)

    repeats = jnp.asarray(repeats, jnp.uint32)
    streams = jnp.broadcast_to(jnp.asarray(streams, jnp.uint32), repeats.shape)
    return jax.vmap(one)(streams, repeats)


# Host-side layout changes in NumPy: an eager jnp op would compile a small program of its
# own, and dozens of them cost seconds per run.
def lanes_last(tree):
    """Move a leading lane axis to the end of every leaf (the engine's layout)."""
    return jax.tree.map(lambda a: np.moveaxis(np.asarray(a), 0, -1), tree)


def lanes_first(tree):
    """The engine's trailing lane axis to the front (the public layout)."""
    return jax.tree.map(lambda a: np.moveaxis(np.asarray(a), -1, 0), tree)
