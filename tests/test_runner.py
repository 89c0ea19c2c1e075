"""The runner: tasks checked where they are made, one name per experiment and series, and
absurd repeat counts refused before anything is allocated."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import statelab
from statelab.execution import runner
from statelab.execution.calls import CallSizes


def test_two_experiments_with_one_name_are_refused_not_silently_merged():
    custom = [statelab.experiment(epochs=2), statelab.experiment(epochs=2, stateful=False)]
    assert custom[0].name == custom[1].name == "custom"
    with pytest.raises(statelab.StatelabError, match="both named 'custom'"):
        statelab.run_experiments(custom, statelab.shampoo(), repeats=2)


def test_experiments_with_their_own_names_both_come_back():
    given = [
        statelab.Experiment("a", statelab.Spec(epochs=2)),
        statelab.Experiment("b", statelab.Spec(epochs=2, stateful=False)),
    ]
    ran = statelab.run_experiments(given, statelab.shampoo(), repeats=2)
    assert set(ran) == {"a", "b"}
    assert not np.array_equal(ran["a"].rmse, ran["b"].rmse)


@pytest.mark.parametrize(
    ("repeats", "message"),
    [
        (0, "from 1 to 1,000,000"),
        (10**10, "from 1 to 1,000,000"),
        ([3, 3], "distinct"),
        ([-1], ">= 0"),
        ([], "non-empty"),
        ([2**33], "below 2\\*\\*32"),
    ],
)
def test_absurd_repeats_are_refused_before_any_work(repeats, message):
    with pytest.raises(statelab.StatelabError, match=message):
        runner.repeat_indices(repeats)


def test_repeat_indices_are_kept_as_given():
    np.testing.assert_array_equal(runner.repeat_indices([5, 2, 9]), [5, 2, 9])
    np.testing.assert_array_equal(runner.repeat_indices(3), [0, 1, 2])


def test_a_task_checks_its_data_where_it_is_made():
    short = statelab.shampoo()[:10]
    with pytest.raises(statelab.StatelabError, match="the split needs at least"):
        runner.task("stateful", statelab.Spec(), short, 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_initial_weights_must_be_finite(bad):
    given = {
        "kernel": np.full((1, 4), bad),
        "recurrent_kernel": np.zeros((1, 4)),
        "bias": np.zeros(4),
        "dense_kernel": np.zeros((1, 1)),
        "dense_bias": np.zeros(1),
    }
    with pytest.raises(statelab.StatelabError, match="kernel holds values that are not finite"):
        statelab.run(repeats=1, epochs=1, initial_weights=given)


def test_each_repeat_draws_from_its_own_key_whatever_is_drawn_beside_it():
    # Oracle: the engine's draw for one key alone, unblocked. draw() works in blocks of 256
    # at 4 units (304 keys); lanes 255 and 256 straddle blocks, 299 and 300 lie in the last,
    # padded; the third spec's repeats are the first's too (two series in one call group),
    # drawn once.
    specs = [statelab.Spec(neurons=4), statelab.Spec(neurons=4, seed_stream=1),
             statelab.Spec(neurons=4, epochs=7)]  # fmt: skip
    repeats = [np.arange(301), np.array([300, 7, 0]), np.array([256, 0, 7])]
    assert runner.draw_block(4) == 256
    weights, shuffle = runner.draw(11, specs, repeats)
    lane = 0
    for spec, indices in zip(specs, repeats, strict=True):
        for index in indices:
            if index in (0, 7, 255, 256, 299, 300):
                alone, alone_shuffle = runner.engine.initial_weights(
                    11, spec.seed_stream, np.array([index]), 1, 4
                )
                for drawn, oracle in zip(weights, alone, strict=True):
                    np.testing.assert_array_equal(drawn[lane], np.asarray(oracle)[0])
                np.testing.assert_array_equal(shuffle[lane], np.asarray(alone_shuffle)[0])
            lane += 1
    assert lane == len(weights.kernel) == len(shuffle) == 307


@pytest.mark.parametrize(("neurons", "block"), [(2, 256), (16, 32)])
def test_a_key_that_many_lanes_hold_is_drawn_once(monkeypatch, neurons, block):
    """Repeats 0-9 of 30 series (one call group of a collection) draw 10 keys in one call,
    not 300 lanes: of 256 keys for a small network, of 32 for a large one (its QR costs a
    lane more than a call costs)."""
    drawn_keys = []
    real = runner.engine.initial_weights

    def recording(seed, streams, indices, lags, neurons):
        drawn_keys.append(list(zip(np.broadcast_to(streams, indices.shape), indices, strict=True)))
        return real(seed, streams, indices, lags, neurons)

    monkeypatch.setattr(runner.engine, "initial_weights", recording)
    spec = statelab.Spec(neurons=neurons)
    weights, _ = runner.draw(1, [spec] * 30, [np.arange(10)] * 30)
    assert [len(call) for call in drawn_keys] == [block] and len(set(drawn_keys[0])) == 10
    assert len(weights.kernel) == 300
    np.testing.assert_array_equal(weights.kernel[3], weights.kernel[293])


def test_drawing_compiles_once_per_network_size_and_block_not_per_number_of_repeats():
    """A block of draw_block(3) keys, whatever their number, or of FEW_LANES for a group whose
    calls run that many (one repeat's); keys drawn in either block are the same bits."""
    spec = statelab.Spec(neurons=3)  # sizes no other test draws
    before = runner.engine.initial_weights._cache_size()
    many = runner.draw(1, [spec], [np.arange(300)])
    for count in (5, 17, 40):
        some = runner.draw(1, [spec], [np.arange(count)])
        for drawn, oracle in zip(jax.tree.leaves(some), jax.tree.leaves(many), strict=True):
            np.testing.assert_array_equal(drawn, oracle[:count])
    assert runner.engine.initial_weights._cache_size() == before + 1
    for repeats in ([7], [299, 0, 3, 256]):
        few = runner.draw(1, [spec], [np.array(repeats)], runner.FEW_LANES)
        for drawn, oracle in zip(jax.tree.leaves(few), jax.tree.leaves(many), strict=True):
            np.testing.assert_array_equal(drawn, oracle[repeats])
    assert runner.engine.initial_weights._cache_size() == before + 2
    # one repeat of a new size draws in blocks of 4: drawing 4 of that size compiles nothing
    statelab.run("stateful", repeats=1, epochs=1, neurons=5)
    assert runner.engine.initial_weights._cache_size() == before + 3
    runner.draw(1, [spec.replace(neurons=5)], [np.arange(2)], runner.FEW_LANES)
    assert runner.engine.initial_weights._cache_size() == before + 3


# The study's experiments that train alike: four differ only in how they forecast, and two
# more (never reset between epochs) likewise.
TWINS = ("stateful", "stateful_reset_test", "stateful_seed_train", "stateful_seed_train_resets")
NO_RESET_TWINS = ("stateful_noreset", "stateful_seed_train_no_resets")


def test_twins_train_once_and_each_gives_its_bits_alone():
    """Six experiments, one with repeats of its own: 2 networks for repeats 0-2 and one more
    for repeat 5, so 7 are trained for 18 repeats; each repeat is the same bits as its
    experiment run alone, and the twins' forecasts differ as they should."""
    given = [statelab.experiment(name, epochs=5) for name in TWINS + NO_RESET_TWINS]
    given[1] = given[1]._replace(repeats=[1, 2, 5])
    tasks = [runner.task(e.name, e.spec, statelab.shampoo(), e.repeats or 3) for e in given]
    (group,) = runner.call_groups(tasks, runner.Device("cpu", 2))
    assert (group.lanes, group.trained) == (18, 7)
    together = statelab.run_experiments(given, statelab.shampoo(), repeats=3, seed=4)
    for one in given:
        alone = statelab.run(one.name, repeats=one.repeats or 3, epochs=5, seed=4)
        mine = together[one.name]
        np.testing.assert_array_equal(mine.forecasts_scaled, alone.forecasts_scaled)
        np.testing.assert_array_equal(mine.losses, alone.losses)
        for a, b in zip(mine.weights, alone.weights, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        together["stateful"].losses, together["stateful_seed_train"].losses
    )
    assert not np.array_equal(
        together["stateful"].forecasts_scaled, together["stateful_seed_train"].forecasts_scaled
    )


def test_the_eleven_train_seven_networks_a_repeat():
    """On one series: the four twins, the two that never reset, stateful2 (its own seed
    stream), stateless, the shuffle and the two batch-12 experiments."""
    tasks = [
        runner.task(name, preset.spec.replace(epochs=2), statelab.shampoo(), 30)
        for name, preset in statelab.PRESETS.items()
    ]
    groups = runner.call_groups(tasks, runner.Device("cpu", 2))
    assert sum(g.lanes for g in groups) == 11 * 30
    assert sum(g.trained for g in groups) == 7 * 30
    # Only the shuffle's own call (270 batch-1 lanes: it runs apart) compiles the shuffle.
    shuffling = [g.shape.shuffles for g in groups for i in g.members if tasks[i].spec.shuffle]
    assert shuffling == [True] and sum(g.shape.shuffles for g in groups) == 1
    for group in groups:  # every lane forecasts from a network of its own repeat
        repeats = np.concatenate([tasks[i].repeats for i in group.members])
        np.testing.assert_array_equal(repeats[group.first][group.twin], repeats)


def test_twins_given_initial_weights_per_repeat_each_get_their_own():
    """Weights given one set per repeat go to a task's repeats in order, not by repeat index:
    twins with other repeat indices start from other weights, so they must not share."""
    rng = np.random.default_rng(3)
    given = {"kernel": rng.uniform(-0.5, 0.5, (3, 1, 4)).astype(np.float32),
             "recurrent_kernel": rng.uniform(-0.5, 0.5, (3, 1, 4)).astype(np.float32),
             "bias": np.zeros((3, 4), np.float32),
             "dense_kernel": rng.uniform(-0.5, 0.5, (3, 1, 1)).astype(np.float32),
             "dense_bias": np.zeros((3, 1), np.float32)}  # fmt: skip
    pair = [statelab.experiment("stateful", epochs=3),
            statelab.experiment("stateful_seed_train", epochs=3)._replace(repeats=[1, 2, 5])]  # fmt: skip
    together = statelab.run_experiments(pair, statelab.shampoo(), repeats=3, initial_weights=given)
    for one in pair:
        alone = statelab.run_experiments([one], statelab.shampoo(), repeats=3,
                                         initial_weights=given)[one.name]  # fmt: skip
        np.testing.assert_array_equal(together[one.name].losses, alone.losses)
        np.testing.assert_array_equal(together[one.name].forecasts_scaled, alone.forecasts_scaled)


def test_a_shuffling_experiment_shuffles_and_a_plain_one_does_not():
    """A call group compiles the shuffle only where a lane may shuffle (Shape.shuffles): from
    the same initial weights, stateless_shuffle trains differently from stateless, alone and
    beside other experiments, and stateless is the same bits in either program."""
    shuffled = statelab.run("stateless_shuffle", repeats=2, epochs=3, seed=2)
    plain = statelab.run("stateless", repeats=2, epochs=3, seed=2)
    assert not np.array_equal(shuffled.losses, plain.losses)
    both = statelab.run_experiments(
        [statelab.experiment(name, epochs=3) for name in ("stateless_shuffle", "stateless")],
        statelab.shampoo(), repeats=2, seed=2,
    )  # fmt: skip
    np.testing.assert_array_equal(both["stateless_shuffle"].losses, shuffled.losses)
    np.testing.assert_array_equal(both["stateless"].losses, plain.losses)


def test_a_runs_call_sizes_change_the_calls_not_the_bits():
    """Two experiments of one shape, 30 repeats each: alone their 60 networks run in one call
    of 64 lanes. A run that allows calls of 128 (to share another chunk's program,
    statelab.execution.plan.call_sizes) pads them into one call of 128; one that allows 40
    cuts them into two calls of 40. Sizes chosen for another kind of device are not used.
    Every repeat is the same bits."""
    spec = statelab.Spec(epochs=5)
    tasks = [runner.task(name, statelab.experiment(name, epochs=5).spec, statelab.shampoo(), 30)
             for name in ("stateful", "stateless")]  # fmt: skip
    key = (runner.shape_of(spec, (22, 12))._replace(shuffles=False), 5)
    given = (None, CallSizes("cpu", {key: (128,)}), CallSizes("gpu", {key: (128,)}),
             CallSizes("cpu", {key: (40,)}))  # fmt: skip
    runs = [runner.run_tasks(tasks, seed=3, sizes=sizes) for sizes in given]
    assert [run[0].provenance.lanes for run in runs] == [64, 128, 64, 80]
    for other in runs[1:]:
        for mine, alone in zip(other, runs[0], strict=True):
            np.testing.assert_array_equal(mine.forecasts_scaled, alone.forecasts_scaled)
            np.testing.assert_array_equal(mine.losses, alone.losses)
            for a, b in zip(mine.weights, alone.weights, strict=True):
                np.testing.assert_array_equal(a, b)


def test_two_chunks_that_need_a_program_at_once_compile_it_once(monkeypatch):
    """Chunks run side by side (backends.InProcess) and meet the same programs together: the
    second waits for the first's compiling, and its wait counts as compiling."""
    spec = statelab.Spec(epochs=3, neurons=7)  # a size no other test compiles
    one = runner.task("x", spec, statelab.shampoo(), [0])
    key = (runner.shape_of(spec, runner.compiled_rows(one)), 3, runner.FEW_LANES)
    compiled, real = [], runner.engine.compiled

    def slow(shape, epochs):  # holds the first thread inside compiling while the second arrives
        compiled.append(shape)
        time.sleep(1.0)
        return real(shape, epochs)

    monkeypatch.setattr(runner.engine, "compiled", slow)
    barrier = threading.Barrier(2)

    def compile_key():
        barrier.wait()
        return runner._compile(key)

    with ThreadPoolExecutor(2) as pool:
        timings = list(pool.map(lambda _: compile_key(), range(2)))
    assert len(compiled) == 1 and key in runner._COMPILED and not runner._COMPILING
    assert min(t.compile_s for t in timings) > 0.3  # the waiter waited
    assert runner._compile(key) == runner.Timings()  # compiled: nothing more


def test_a_compile_that_fails_fails_its_waiter_too_and_leaves_nothing_behind(monkeypatch):
    spec = statelab.Spec(epochs=3, neurons=6)  # a size no other test compiles
    one = runner.task("x", spec, statelab.shampoo(), [0])
    key = (runner.shape_of(spec, runner.compiled_rows(one)), 3, runner.FEW_LANES)

    calls = []

    def failing(shape, epochs):
        calls.append(shape)
        time.sleep(1.0)
        raise RuntimeError("XLA ran out of memory")

    monkeypatch.setattr(runner.engine, "compiled", failing)
    barrier, raised = threading.Barrier(2), []

    def compile_key():
        barrier.wait()
        try:
            runner._compile(key)
        except RuntimeError as error:
            raised.append(str(error))

    threads = [threading.Thread(target=compile_key, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:  # a waiter never told of the failure would wait for ever
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert raised == ["XLA ran out of memory"] * 2 and len(calls) == 1  # the second waited
    assert key not in runner._COMPILED and not runner._COMPILING
    with pytest.raises(RuntimeError, match="out of memory"):  # a failure is tried again
        runner._compile(key)
    assert len(calls) == 2


def test_read_back_gives_every_leaf_in_numpy_once_its_call_is_done():
    # A call long enough that JAX returns before it ends (asynchronous dispatch): a view
    # taken too early would hold what was in the output buffer before.
    power = jax.jit(lambda a: (jax.lax.fori_loop(0, 20, lambda _, b: b @ a / 256, a),
                               {"sum": a.sum(), "int": jnp.arange(3, dtype=jnp.uint32)}))  # fmt: skip
    a = np.random.default_rng(0).uniform(size=(256, 256)).astype(np.float32)
    ran = power(a)
    got, expected = runner.read_back(ran), jax.device_get(ran)
    assert jax.tree.structure(got) == jax.tree.structure(expected)
    for leaf, want in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        assert type(leaf) is np.ndarray and leaf.dtype == want.dtype
        np.testing.assert_array_equal(leaf, want)
