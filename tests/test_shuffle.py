"""The shuffle's order of rows: a stable argsort of each lane's draws (NumPy's is the oracle),
whatever the rows, the lanes, the blocks of lanes sorted together and the padding."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from statelab.engine import shuffle


def stable_argsort(bits: np.ndarray) -> np.ndarray:
    return np.argsort(bits, axis=0, kind="stable").astype(np.int32)


order_of_draws = jax.jit(shuffle.order_of_draws)


@functools.partial(jax.jit, static_argnums=1)
def permutations(keys: jax.Array, rows: int, own: jax.Array) -> jax.Array:
    """(N,) keys and own rows -> (rows, N) orders, as the engine draws them."""
    bits = jax.vmap(lambda key, mine: shuffle.draws(key, rows, mine), out_axes=1)(keys, own)
    return shuffle.order_of_draws(bits)


def permutation(key: jax.Array, rows: int, own: int | None = None) -> np.ndarray:
    own = jnp.array([rows if own is None else own])
    return np.asarray(permutations(key[None], rows, own))[:, 0]


# By ranks up to RANK_ROWS rows, by the network above: rows either side of the switch and of
# powers of two (the network pads to one); lanes: one, a partial block of the network, two
# blocks of 64 (the last padded), one of 9 and three of 8.
@pytest.mark.parametrize(("rows", "lanes"), [(1, 1), (2, 3), (40, 9), (65, 130), (256, 17),
                                             (257, 5), (300, 70), (512, 8), (1030, 9),
                                             (4100, 20), (300, 0)])  # fmt: skip
def test_the_order_of_draws_is_a_stable_argsort_ties_included(rows, lanes):
    # Draws from a few values only, so most rows tie: only the rule "smaller draw first, on a
    # tie the smaller row" gives NumPy's stable argsort; the largest draw is the padding's.
    rng = np.random.default_rng(rows * 1000 + lanes)
    for values in ([0, 1, 2], [7, 0xFFFFFFFF], [3], np.arange(2**32 - 5, 2**32)):
        bits = rng.choice(np.array(values, dtype=np.uint32), size=(rows, lanes))
        order = np.asarray(order_of_draws(jnp.asarray(bits)))
        np.testing.assert_array_equal(order, stable_argsort(bits))
    bits = rng.integers(0, 2**32, size=(rows, lanes), dtype=np.uint32)  # distinct, or nearly
    np.testing.assert_array_equal(order_of_draws(jnp.asarray(bits)), stable_argsort(bits))


def test_the_network_sorts_blocks_of_lanes_that_fit_a_cores_cache_or_all_lanes_at_once():
    # On a CPU: 512 KiB of draws and row indices (8 bytes a row and lane), 8 to 64 lanes.
    assert [shuffle.lanes_a_block(size, 1000, "cpu") for size in (512, 1024, 2048, 4096, 8192,
                                                                 2**15)] == [64, 64, 32, 16, 8, 8]  # fmt: skip
    assert shuffle.lanes_a_block(512, 5, "cpu") == 5 and shuffle.lanes_a_block(512, 0, "cpu") == 1
    # Elsewhere, all of them: blocks would run one after another.
    assert shuffle.lanes_a_block(8192, 100_000, "gpu") == 100_000


def test_sorted_in_one_block_as_on_an_accelerator_the_order_is_the_same(monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    bits = np.random.default_rng(3).integers(0, 5, size=(301, 131), dtype=np.uint32)
    order = jax.jit(shuffle.order_of_draws)(jnp.asarray(bits))
    np.testing.assert_array_equal(order, stable_argsort(bits))


def test_a_shuffle_permutes_only_the_lanes_own_rows():
    key = jax.random.key(5)
    for own in (1, 7, 16):
        order = permutation(key, 20, own)
        assert sorted(order[:own]) == list(range(own))
        np.testing.assert_array_equal(order[own:], np.arange(own, 20))
        np.testing.assert_array_equal(order[:own], permutation(key, own))


def test_a_lanes_permutation_is_the_same_whatever_it_is_padded_to():
    # 200 own rows alone (sorted as 256) and among 300 (sorted as 512): the same order.
    key = jax.random.key(11)
    padded = permutation(key, 300, 200)
    alone = permutation(key, 200)
    np.testing.assert_array_equal(padded[:200], alone)
    assert sorted(padded) == list(range(300))


def test_random_permutation_is_uniform():
    keys = jax.vmap(jax.random.key)(jnp.arange(2400))
    draws = np.asarray(permutations(keys, 4, jnp.full(2400, 4))).T
    assert all(sorted(d) == [0, 1, 2, 3] for d in draws)
    counts = np.unique([tuple(d) for d in draws], axis=0, return_counts=True)[1]
    assert len(counts) == 24 and counts.min() > 50 and counts.max() < 150  # ~100 each
