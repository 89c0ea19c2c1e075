"""The engine's contract: independence of repeats, shared compilation, study behaviour."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import statelab
from statelab.data.dataset import prepare
from statelab.engine import lstm as engine
from statelab.execution import runner
from statelab.execution.evaluate import persistence_rmse


def test_persistence_baseline_is_the_study_figure():
    dataset = prepare(statelab.shampoo(), statelab.Spec())
    assert persistence_rmse(dataset) == pytest.approx(136.761, abs=5e-4)


def test_a_repeat_is_the_same_alone_or_among_a_thousand():
    many = statelab.run("stateful", repeats=1000, epochs=8, seed=3)
    for k in (0, 537, 999):
        alone = statelab.run("stateful", repeats=[k], epochs=8, seed=3)
        np.testing.assert_array_equal(alone.forecasts_scaled[0], many.forecasts_scaled[k])
        np.testing.assert_array_equal(alone.losses[0], many.losses[k])


def test_a_repeat_is_the_same_beside_other_experiments():
    experiments = [
        statelab.experiment(name, epochs=6) for name in ("stateless_shuffle", "stateful_noreset")
    ]
    together = statelab.run_experiments(experiments, statelab.shampoo(), repeats=4, seed=2)
    alone = statelab.run("stateful_noreset", repeats=4, epochs=6, seed=2)
    np.testing.assert_array_equal(together["stateful_noreset"].forecasts, alone.forecasts)


def test_a_repeat_is_the_same_alone_or_among_many_at_batch_12():
    """Batches of 12 rows: every sum over rows is in a fixed order, whatever the lanes."""
    many = statelab.run("stateless_batch12", repeats=1000, epochs=2, seed=3)
    for k in (0, 999):
        alone = statelab.run("stateless_batch12", repeats=[k], epochs=2, seed=3)
        np.testing.assert_array_equal(alone.losses[0], many.losses[k])
        np.testing.assert_array_equal(alone.forecasts_scaled[0], many.forecasts_scaled[k])


@pytest.mark.parametrize("hard_sigmoid", [False, True])
@pytest.mark.parametrize(("lags", "neurons", "rows"), [(1, 1, 1), (3, 2, 4)])
def test_hand_written_gradient_is_autodiffs(hard_sigmoid, lags, neurons, rows):
    lanes, rng = 8, np.random.default_rng(0)
    draw = lambda *shape: jnp.asarray(rng.normal(size=(*shape, lanes)), jnp.float32)  # noqa: E731
    weights = engine.LSTMWeights(
        draw(lags, 4 * neurons),
        draw(neurons, 4 * neurons),
        draw(4 * neurons),
        draw(neurons, 1),
        draw(1),
    )
    if hard_sigmoid:  # gate inputs on the hard sigmoid's corners, where it is not smooth
        corners = jnp.where(jnp.arange(4 * neurons) % 2 == 0, 2.5, -2.5)[:, None]
        weights = weights._replace(
            kernel=0 * weights.kernel,
            recurrent_kernel=0 * weights.recurrent_kernel,
            bias=jnp.broadcast_to(corners, weights.bias.shape),
        )
    state = engine.LSTMState(draw(rows, neurons), draw(rows, neurons))
    x, y = draw(rows, lags), draw(rows)
    weight = jnp.ones((rows, lanes)).at[-1, :3].set(0.0 if rows > 1 else 1.0)

    def total_loss(weights):
        prediction, _ = engine.lstm_step(weights, state, x, hard_sigmoid)
        losses = jnp.sum(weight * jnp.square(prediction - y), axis=0) / jnp.sum(weight, axis=0)
        return jnp.sum(losses)

    expected = jax.grad(total_loss)(weights)
    _, grads, _ = engine._loss_and_grad(weights, state, x, y, weight, hard_sigmoid)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_seed_and_repeat_index_determine_the_initial_weights():
    weights, _ = engine.initial_weights(1, 0, np.array([0, 1, 0]), 1, 1)
    np.testing.assert_array_equal(weights.kernel[0], weights.kernel[2])
    assert not np.array_equal(weights.kernel[0], weights.kernel[1])
    other_stream, _ = engine.initial_weights(1, 1, np.array([0]), 1, 1)
    assert not np.array_equal(other_stream.kernel[0], weights.kernel[0])


def test_a_repeat_draws_from_the_documented_key():
    """docs/design.md: repeat k of stream s under seed S draws from
    fold_in(fold_in(key(S), s), k), split into its initial weights' key and its shuffle key.
    Oracle: that formula written out in jax.random, one repeat at a time."""
    seed, streams, repeats = 7, np.array([0, 3, 3, 1]), np.array([5, 0, 2**31, 2**32 - 1])
    weights, shuffle_keys = engine.initial_weights(seed, streams, repeats, 2, 3)
    for lane, (stream, repeat) in enumerate(zip(streams, repeats, strict=True)):
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), stream), repeat)
        init_key, shuffle_key = jax.random.split(key)
        np.testing.assert_array_equal(shuffle_keys[lane], jax.random.key_data(shuffle_key))
        for got, want in zip(weights, engine.init_weights(init_key, 2, 3), strict=True):
            np.testing.assert_array_equal(got[lane], want)


def test_initial_weights_follow_keras_initialisers():
    weights, _ = engine.initial_weights(0, 0, np.arange(200), 1, 3)
    assert weights.kernel.shape == (200, 1, 12) and weights.recurrent_kernel.shape == (200, 3, 12)
    limit = np.sqrt(6 / (1 + 12))
    assert np.abs(weights.kernel).max() <= limit and np.abs(weights.kernel).max() > 0.9 * limit
    bias = np.asarray(weights.bias[0])
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    # orthogonal: the 3 x 12 recurrent kernel has orthonormal rows
    u = np.asarray(weights.recurrent_kernel[5])
    np.testing.assert_allclose(u @ u.T, np.eye(3), atol=1e-5)


def test_explicit_weights_in_keras_layout_round_trip():
    given = {
        "kernel": np.full((2, 8), 0.1),
        "recurrent_kernel": np.full((2, 8), -0.2),
        "bias": np.zeros(8),
        "dense_kernel": np.ones((2, 1)),
        "dense_bias": np.zeros(1),
    }
    result = statelab.run(repeats=2, epochs=1, lags=2, neurons=2, initial_weights=given)
    assert result.weights.kernel.shape == (2, 2, 8)
    # trained for one epoch: moved, but not far (22 Adam steps of at most ~lr each)
    moved = np.abs(result.weights.kernel - 0.1).max()
    assert 0 < moved < 22 * 0.001 * 1.01


def test_bad_initial_weights_are_named():
    with pytest.raises(statelab.StatelabError, match="recurrent_kernel"):
        statelab.run(
            repeats=1,
            epochs=1,
            initial_weights={
                "kernel": np.zeros((1, 4)),
                "recurrent_kernel": np.zeros((2, 4)),
                "bias": np.zeros(4),
                "dense_kernel": np.zeros((1, 1)),
                "dense_bias": np.zeros(1),
            },
        )


def test_shuffle_draws_a_new_order_every_epoch_and_only_where_asked():
    """The rows a shuffling lane sees in epochs 0, 1 and 2 differ; a plain lane's never do."""
    experiments = [statelab.experiment(n, epochs=3) for n in ("stateless_shuffle", "stateless")]
    series = statelab.shampoo()
    datasets = [prepare(series, e.spec) for e in experiments]
    shape = runner.shape_of(experiments[0].spec, (22, 12))
    lanes = [
        runner._lanes(e.spec, d, 1, np.arange(1), None)
        for e, d in zip(experiments, datasets, strict=True)
    ]
    lane = jax.tree.map(lambda *parts: np.concatenate(parts, axis=-1), *lanes)
    orders = [
        np.asarray(engine._epoch_batches(shape, lane, jnp.int32(e))[1])[:, 0, :] for e in range(3)
    ]
    shuffled = [o[:, 0] for o in orders]  # (22,) targets in batch order, shuffling lane
    plain = [o[:, 1] for o in orders]
    assert not np.array_equal(shuffled[0], shuffled[1]) and not np.array_equal(
        shuffled[1], shuffled[2]
    )
    for order in shuffled:  # a permutation of the same rows
        np.testing.assert_array_equal(
            np.sort(order), np.sort(datasets[0].train_y.astype(np.float32))
        )
    for order in plain:
        np.testing.assert_array_equal(order, datasets[1].train_y.astype(np.float32))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch-size"),
        (
            {"batch_size": 4, "forecast": "batched", "test_rows": 12, "stateful": True},
            "22 training rows",
        ),
        ({"batch_size": 5, "forecast": "batched"}, "test rows"),
        ({"profile": "keras1"}, "profile"),
        ({"learning_rate": 0.0}, "learning-rate"),
        ({"colour": "red"}, "unknown setting"),
    ],
)
def test_impossible_settings_get_clear_errors(settings, message):
    with pytest.raises(statelab.StatelabError, match=message):
        statelab.run(repeats=1, epochs=1, **settings) if "epochs" not in settings else statelab.run(
            repeats=1, **settings
        )


def test_repeats_below_one_is_an_error():
    with pytest.raises(statelab.StatelabError, match="repeats"):
        statelab.run(repeats=0, epochs=1)


def test_the_study_shape_at_1000_epochs():
    """keras3: stateless near 95 with a small spread; stateful worse and noisier."""
    experiments = [statelab.experiment(name) for name in ("stateful", "stateless")]
    results = statelab.run_experiments(experiments, statelab.shampoo(), repeats=30, seed=1)
    stateless, stateful = results["stateless"].rmse, results["stateful"].rmse
    assert 94 <= stateless.mean() <= 96 and stateless.std(ddof=1) < 3
    assert stateful.mean() > stateless.mean() + 2
    assert stateful.std(ddof=1) > 2 * stateless.std(ddof=1)
    assert (stateless < results["stateless"].persistence_rmse).all()


def test_training_reads_none_of_the_forecast_only_lane_fields():
    """The runner trains twins once (runner.training_key): it may only because training reads
    neither the two forecasting flags nor the test rows. Lanes that differ in nothing else
    must leave training with the same bits; a rule that read any of them would differ here."""
    spec = statelab.Spec(epochs=3, reset_after_epoch=False)
    dataset = prepare(statelab.shampoo(), spec)
    shape = runner.shape_of(spec, (len(dataset.train_y), len(dataset.test_x)))
    lanes = runner._lanes(spec, dataset, 1, np.arange(8), None)
    flipped = lanes._replace(
        regime=lanes.regime._replace(
            carry_across_predictions=~lanes.regime.carry_across_predictions,
            seed_state=~lanes.regime.seed_state,
        ),
        test_x=np.asarray(lanes.test_x) + 1.0,
        test_rows=np.asarray(lanes.test_rows) - 5,
    )
    start, train, _ = engine.compiled(shape, 3)
    (carry, losses, _), (other, other_losses, _) = (
        train(one, start(one)) for one in (lanes, flipped)
    )
    np.testing.assert_array_equal(np.asarray(losses), np.asarray(other_losses))
    for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(other), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "settings",
    [{"reset_after_epoch": False}, {"stateful": False, "batch_size": 4}],
    ids=["stateful_noreset", "stateless_batch4"],
)
def test_a_program_without_the_shuffle_trains_as_one_with_it(settings, monkeypatch):
    """Without a shuffling lane, a program makes its batches once, before the epoch loop, and
    leaves the shuffle out. Its non-shuffling lanes must train as in a program that draws
    orders every epoch: same losses, carry and state trace, bit for bit, over two segments of
    two epoch blocks each (engine.EPOCH_BLOCK monkeypatched to 2), with rows past a lane's
    own (compiled with 31 training rows; shampoo has 22)."""
    monkeypatch.setattr(engine, "EPOCH_BLOCK", 2)  # read when traced; no other test has this shape
    spec = statelab.Spec(epochs=4, **settings)
    dataset = prepare(statelab.shampoo(), spec)
    lanes = runner._lanes(spec, dataset, 1, np.arange(8), None, (31, 12))
    results = []
    for shuffles in (True, False):
        shape = runner.shape_of(spec, (31, 12), trace=True)._replace(shuffles=shuffles)
        start, train, _ = engine.compiled(shape, 4)
        carry, first, trace = train(lanes, start(lanes))
        carry, second, more = train(lanes, carry)
        results.append((carry, first, second, trace, more))
    for a, b in zip(*(jax.tree.leaves(r) for r in results), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batches = -(-31 // spec.batch_size)  # (epochs, batches, batch size, units, lanes)
    assert np.asarray(results[1][3].state_in.h).shape == (4, batches, spec.batch_size, 1, 8)
    # a stateful lane's trace holds its states; a stateless lane's, zeros
    assert np.asarray(results[1][4].state_in.h).any() == spec.stateful


@pytest.mark.parametrize(
    ("epochs", "blocks"),
    [(1, (1, 0)), (2, (1, 0)), (3, (1, 0)), (20, (10, 0)), (50, (25, 0)), (53, (26, 1)),
     (100, (50, 0)), (101, (50, 1)), (1000, (50, 0))],
)  # fmt: skip
def test_a_call_runs_two_epoch_blocks_or_more_of_two_epochs_or_more(epochs, blocks):
    assert engine.epoch_block(epochs, drawn=1000) == blocks


def test_a_small_epoch_block_budget_still_divides_the_epochs():
    assert engine.epoch_block(1000, drawn=engine.EPOCH_BLOCK_BYTES // 7) == (5, 0)


def _training_program(epochs: int, neurons: int):
    """The study's stateful lanes at ``neurons`` units: (shape, lanes, carry at the start)."""
    spec = statelab.Spec(epochs=epochs, neurons=neurons)
    dataset = prepare(statelab.shampoo(), spec)
    lanes = runner._lanes(spec, dataset, 1, np.arange(8), None)
    shape = runner.shape_of(spec, (len(dataset.train_y), len(dataset.test_x)))
    shape = shape._replace(shuffles=False)
    return shape, lanes, engine.compiled(shape, epochs)[0](lanes)


def _train(shape, epochs: int):
    """The training program, traced afresh (engine.compiled caches its programs)."""
    return jax.jit(functools.partial(engine.train_epochs, shape, epochs=epochs))


@pytest.mark.parametrize("epochs", [20, 53])
def test_the_training_loop_updates_the_weights_in_place(epochs):
    """A loop of one trip (a call of one epoch block) left XLA copying the weights and Adam's
    moments every step; two blocks keep them in place (with statelab's XLA options, on in
    every test: the copy insertion's region analysis). Read from the compiled program: no
    copy of an array the size of the recurrent kernel, (n, 4n, lanes), in its loops."""
    shape, lanes, carry = _training_program(epochs=epochs, neurons=4)
    program = _train(shape, epochs).lower(lanes, carry).compile().as_text()
    loops = program[: program.index("\nENTRY")]  # XLA prints the call's own computation last
    assert "f32[4,16,8]" in loops  # the recurrent kernel, Adam's moments
    assert not re.findall(r"f32\[4,16,8\]\{[\d,]*\} copy\(", loops)


@pytest.mark.parametrize("epochs", [20, 53])
def test_one_epoch_block_or_several_train_the_same_bits(epochs, monkeypatch):
    """Blocks, and blocks then the rest (53 epochs: two of 26, then one), against one block of
    every epoch: the same losses, carry and state trace, bit for bit, for lanes that shuffle
    (each epoch draws its own order, by its number) and lanes that do not."""
    experiments = [statelab.experiment(name, epochs=epochs, neurons=2)
                   for name in ("stateless_shuffle", "stateful")]  # fmt: skip
    dataset = prepare(statelab.shampoo(), experiments[0].spec)
    parts = [runner._lanes(e.spec, dataset, 1, np.arange(4), None) for e in experiments]
    lanes = jax.tree.map(lambda *a: np.concatenate(a, axis=-1), *parts)
    shape, other = (runner.shape_of(e.spec, (22, 12), trace=True) for e in experiments)
    assert shape == other  # one program for both
    carry = engine.compiled(shape, epochs)[0](lanes)
    blocks = _train(shape, epochs)(lanes, carry)
    monkeypatch.setattr(engine, "epoch_block", lambda epochs, drawn: (epochs, 0))  # one block
    one = _train(shape, epochs)(lanes, carry)
    for a, b in zip(jax.tree.leaves(blocks), jax.tree.leaves(one), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.asarray(blocks[1]).shape == (epochs, 8)
