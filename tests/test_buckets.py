"""Buckets: the fewest compiled lengths whose padding stays under the bound, each partition
the best for its count (checked against brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from statelab.execution import buckets


def brute_force_padding(lengths, weights, k) -> float:
    """The least padding over every way to cut the sorted distinct lengths into k groups."""
    distinct = sorted(set(lengths))
    per = {v: sum(w for x, w in zip(lengths, weights, strict=True) if x == v) for v in distinct}
    best = np.inf
    for cuts in itertools.combinations(range(1, len(distinct)), k - 1):
        edges = [0, *cuts, len(distinct)]
        padding = sum(
            per[v] * (distinct[b - 1] - v)
            for a, b in itertools.pairwise(edges)
            for v in distinct[a:b]
        )
        best = min(best, padding)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_each_partition_pads_least_for_its_count(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 60, size=25).tolist()
    weights = rng.integers(1, 9, size=25).tolist()
    for k, ends in enumerate(buckets._best_partitions(
        np.array(sorted(set(lengths))),
        np.array([sum(w for x, w in zip(lengths, weights, strict=True) if x == v)
                  for v in sorted(set(lengths))], dtype=float), 5), start=1):  # fmt: skip
        distinct = sorted(set(lengths))
        bucket = {}
        start = 0
        for end in ends:
            for v in distinct[start:end]:
                bucket[v] = distinct[end - 1]
            start = end
        padding = sum(w * (bucket[x] - x) for x, w in zip(lengths, weights, strict=True))
        assert padding == brute_force_padding(lengths, weights, k)


def test_the_fewest_buckets_under_the_bound():
    lengths = [10] * 50 + [11] * 50 + [100] * 50
    # one bucket pads 100 of 150 lanes by ~90 rows: far over 10%; two buckets (11, 100) pad
    # 50 lanes by 1 row: 50 / (100*11 + 50*100) < 1%
    assert sorted(set(buckets.assign(lengths))) == [11, 100]
    assert set(buckets.assign([7, 7, 7])) == {7}


def test_the_bound_is_kept():
    rng = np.random.default_rng(3)
    lengths = rng.integers(20, 130, size=400)
    for waste in (0.02, 0.05, 0.15):
        compiled = buckets.assign(lengths, waste=waste)
        capped = len(set(compiled)) == buckets.MAX_BUCKETS  # past the cap, the best 16
        assert buckets.efficiency(lengths, compiled) >= 1 - waste or capped
        assert all(c >= length for c, length in zip(compiled, lengths, strict=True))


def test_buckets_are_multiples_of_the_batch_size():
    compiled = buckets.assign([22, 23, 40, 47], multiple=12)
    assert all(c % 12 == 0 for c in compiled) and compiled[0] >= 22


def test_lanes_weigh_the_choice():
    # the same lengths, but the short series has many lanes: padding it costs more
    few = buckets.assign([10, 12], lanes=[1, 1], waste=0.2)
    many = buckets.assign([10, 12], lanes=[100, 1], waste=0.05)
    assert few == [12, 12] and many == [10, 12]
