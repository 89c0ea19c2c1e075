"""Buckets: series of many lengths grouped into a few compiled shapes.

Every distinct compiled shape costs a compilation (about 2 s on a CPU, once per machine
with the compilation cache) and calls of its own; every padded step costs as much as a
real one. The policy: the fewest buckets whose padding wastes at most ``waste`` of the
steps (10% by default), each bucket as long as its longest member. For a given number of
buckets, the partition of the sorted lengths that pads least is found exactly by dynamic
programming (lengths are few: at most a few hundred distinct values), so the buckets are
the best ones for their count, not a rule of thumb such as powers of two.

Written here because no library we use partitions lengths for padding; it is a small,
exact dynamic programme.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WASTE = 0.10  # at most this share of all steps may be padding
MAX_BUCKETS = 16  # past this, take the best partition into this many, whatever it wastes


def _best_partitions(lengths: np.ndarray, weights: np.ndarray, most: int) -> list[list[int]]:
    """For k = 1..most, the end indices (exclusive) of the k contiguous groups of the sorted
    distinct ``lengths`` (with ``weights`` lanes each) that pad least."""
    m = len(lengths)
    cumulative_weight = np.concatenate([[0], np.cumsum(weights)])
    cumulative_steps = np.concatenate([[0], np.cumsum(weights * lengths)])

    def padding(i: int, j: int) -> float:  # group lengths[i:j], padded to lengths[j - 1]
        total = (cumulative_weight[j] - cumulative_weight[i]) * lengths[j - 1]
        return float(total - (cumulative_steps[j] - cumulative_steps[i]))

    cost = np.full((most + 1, m + 1), np.inf)
    cut = np.zeros((most + 1, m + 1), dtype=int)
    cost[0, 0] = 0.0
    for k in range(1, most + 1):
        for j in range(1, m + 1):
            for i in range(k - 1, j):
                candidate = cost[k - 1, i] + padding(i, j)
                if candidate < cost[k, j]:
                    cost[k, j], cut[k, j] = candidate, i
    partitions = []
    for k in range(1, most + 1):
        ends, j = [], m
        for level in range(k, 0, -1):
            ends.append(j)
            j = cut[level, j]
        partitions.append(sorted(ends))
    return partitions


def assign(
    lengths: Sequence[int],
    lanes: Sequence[int] | None = None,
    multiple: int = 1,
    waste: float = WASTE,
) -> list[int]:
    """The compiled length for each of ``lengths`` (with ``lanes`` lanes each, 1 if not
    given): the fewest buckets whose padding is at most ``waste`` of all steps, each a
    multiple of ``multiple`` (the batch size)."""
    lengths = np.asarray(lengths, dtype=int)
    if len(lengths) == 0:
        return []
    weights = np.ones(len(lengths)) if lanes is None else np.asarray(lanes, dtype=float)
    rounded = -(-lengths // multiple) * multiple
    distinct, inverse = np.unique(rounded, return_inverse=True)
    per_length = np.bincount(inverse, weights=weights)
    useful = float(np.sum(weights * lengths))
    most = min(MAX_BUCKETS, len(distinct))
    chosen = None
    for ends in _best_partitions(distinct, per_length, most):
        bucket_of = np.repeat([distinct[e - 1] for e in ends], np.diff([0, *ends]))
        padded = float(np.sum(per_length * bucket_of))
        chosen = bucket_of
        if padded - useful <= waste * padded:
            break
    return [int(chosen[k]) for k in inverse]


def efficiency(lengths: Sequence[int], compiled: Sequence[int], lanes=None) -> float:
    """Useful steps over compiled steps."""
    weights = np.ones(len(lengths)) if lanes is None else np.asarray(lanes, dtype=float)
    return float(np.sum(weights * np.asarray(lengths)) / np.sum(weights * np.asarray(compiled)))
