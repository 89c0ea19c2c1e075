"""Each epoch's order of a lane's training rows: row i draws 32 random bits from (key, i), and
the rows go in the order of their draws, ties by row index (a stable argsort).

The order is integer work, exact, so how it is computed cannot move a result's bits, only its
speed. Hand-written, lanes last, because XLA's CPU sort (``jnp.argsort``), run per lane and per
epoch, sorts one lane at a time and costs several times the training it shuffles for: six
times at 22 rows, eight at 300. Two ways, by the number of rows:

- up to RANK_ROWS rows, each row's place is its rank among the draws: a loop over the rows,
  each pass comparing one row's draw with all, across all lanes at once (rows x rows work,
  plain vector work; as a rows x rows array it ran out of cache);
- above, Batcher's bitonic sorting network: log2(P)(log2(P) + 1) / 2 passes (P: the rows
  rounded up to a power of two), each comparing every row with one partner row, across a
  block of lanes. A loop over the passes, not unrolled: unrolled it ran twice as fast but took
  3 s more to compile, in every program that can shuffle.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Rows up to which the order comes from ranks; above, from the network. The two cross near
# here: drawing and ordering a lane's rows for an epoch took 5.8 us by ranks and 7.4 by the
# network at 200 rows (padded to 256), 9.4 and 8.1 at 256 (one core, 512 lanes).
RANK_ROWS = 256
# On a CPU the network sorts a block of lanes at a time: as many lanes as keep the block's
# draws and row indices within SORT_BYTES, in a core's own cache (at 5,000 rows blocks of 8
# lanes ran 2.3x as fast as blocks of 64), from 8 to 64 lanes. An accelerator sorts all of a
# call's lanes at once: blocks, one after another, would leave it idle (unmeasured: no GPU
# was at hand).
SORT_BYTES = 512 * 2**10
SORT_LANES = (8, 64)
LAST = np.uint32(0xFFFFFFFF)  # the largest draw: padding goes after every row of a lane's own


def draws(key: jax.Array, rows: int, own: jax.Array | int | None = None) -> jax.Array:
    """The (rows,) uint32 draws of one lane's rows; from row ``own`` on (padding), the largest
    draw, so padding goes last, in order. Row i's draw depends only on (key, i), so a lane's
    order is the same whatever it is padded to."""
    bits = jax.random.bits(key, (rows,), jnp.uint32)
    if own is None:
        return bits
    return jnp.where(jnp.arange(rows) < own, bits, LAST)


def order_of_draws(bits: jax.Array) -> jax.Array:
    """(rows, N) uint32 draws, lanes last -> (rows, N) int32: each lane's rows in the order of
    their draws, ties by row index (NumPy's stable argsort of each column)."""
    return _by_ranks(bits) if bits.shape[0] <= RANK_ROWS else _by_network(bits)


def _by_ranks(bits: jax.Array) -> jax.Array:
    rows, lanes = bits.shape
    index = jnp.arange(rows, dtype=jnp.int32)[:, None]

    def count(j, rank):  # the rows j goes before: a larger draw, or a tie and a larger index
        return rank + jnp.where(j < index, bits[j] <= bits, bits[j] < bits).astype(jnp.int32)

    rank = jax.lax.fori_loop(0, rows, count, jnp.zeros((rows, lanes), jnp.int32))
    # The ranks are a permutation, so the order is its inverse, a scatter: row i goes to place
    # rank[i]. (Inverted by a second rows x rows pass, it took twice as long.)
    lane = jnp.broadcast_to(jnp.arange(lanes), (rows, lanes))
    order = jnp.zeros((rows, lanes), jnp.int32)
    return order.at[rank, lane].set(jnp.broadcast_to(index, (rows, lanes)), unique_indices=True)


def lanes_a_block(size: int, lanes: int, platform: str) -> int:
    """How many of ``lanes`` lanes the network sorts at once, at ``size`` rows (a power of
    two), on JAX's ``platform`` ("cpu", "gpu", ...)."""
    if platform != "cpu":
        return max(1, lanes)
    return max(1, min(lanes, SORT_LANES[1], max(SORT_LANES[0], SORT_BYTES // (8 * size))))


def _by_network(bits: jax.Array) -> jax.Array:
    rows, lanes = bits.shape
    size = 1 << (rows - 1).bit_length()
    width = lanes_a_block(size, lanes, jax.default_backend())
    blocks = -(-lanes // width)
    # Rows past the lane's own and lanes past the last block are padding: the largest draw and
    # a larger row index than any real row, so they sort after every real row.
    keys = jnp.pad(bits, ((0, size - rows), (0, blocks * width - lanes)), constant_values=LAST)
    order = jax.lax.map(_bitonic, keys.reshape(size, blocks, width).transpose(1, 0, 2))
    return order.transpose(1, 0, 2).reshape(size, blocks * width)[:rows, :lanes]


def _bitonic(keys: jax.Array) -> jax.Array:
    """The order of the (size, width) ``keys`` down the rows (size a power of two, at least 2)
    by Batcher's bitonic network. Pairs (key, row index) are distinct, so the order is the
    stable argsort."""
    size, width = keys.shape
    index = jnp.broadcast_to(jnp.arange(size, dtype=jnp.int32)[:, None], (size, width))
    # Pass by pass: sorted runs of `merge` rows are made from runs of merge / 2, comparing rows
    # `apart` apart (apart = merge / 2, merge / 4, ..., 1).
    passes = [(merge, merge >> k) for merge in (2 ** p for p in range(1, size.bit_length()))
              for k in range(1, merge.bit_length())]  # fmt: skip
    table = jnp.asarray(np.array(passes, np.int32))
    row = jnp.arange(size, dtype=jnp.int32)

    def compare(step, pair):
        keys, index = pair
        merge, apart = table[step, 0], table[step, 1]
        partner = row ^ apart
        their_keys, their_index = keys[partner], index[partner]
        # Row i keeps the smaller of the pair if it is the pair's first row in an ascending
        # run (i & merge == 0) or its second in a descending one; else the larger.
        smaller = ((row & apart) == 0) == ((row & merge) == 0)
        mine_first = (keys < their_keys) | ((keys == their_keys) & (index < their_index))
        keep = mine_first == smaller[:, None]
        return jnp.where(keep, keys, their_keys), jnp.where(keep, index, their_index)

    return jax.lax.fori_loop(0, len(passes), compare, (keys, index))[1]
