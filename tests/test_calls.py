"""The lanes per compiled call, chosen for the device: the policy by device kind, and a group
cut into several calls giving the same bits as the lanes alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.execution import runner
from statelab.execution.calls import (
    CPU_BYTES,
    FEW_LANES,
    LANE_BLOCK,
    VECTOR_LANES,
    CallSizes,
    Device,
    call_size,
    call_us,
    lanes_per_call,
    this_device,
    weight_count,
)
from statelab.execution.runner import shape_of

CPU2, GPU = Device("cpu", cores=2), Device("gpu", cores=1)


def test_weight_count_is_keras_count():
    # LSTM(1) on 1 input: 4 gates x (1 input + 1 recurrent + 1 bias), then Dense(1): 1 + 1
    assert weight_count(1, 1) == 14
    # LSTM(16) on 3 inputs: 64 x (3 + 16 + 1) = 1280, Dense: 16 + 1
    assert weight_count(3, 16) == 1297


@pytest.mark.parametrize(
    ("device", "lanes", "weights", "expected"),
    [
        # A GPU takes a whole collection at once, up to 100,000 lanes a call: 471,570 networks
        # (M3 monthly) in 5 calls of 94,314 lanes, rounded up to whole blocks of 8.
        (GPU, 471_570, 14, 94_320),
        (GPU, 1000, 14, 1000),
        # ... within 8 GiB: 64 units, 16,961 weights, 542,752 bytes a lane: 15,826 lanes fit,
        # so 100,000 lanes take 7 calls of 14,286, rounded up to 14,288.
        (GPU, 100_000, weight_count(1, 64), 14_288),
        # On a CPU a few lanes run in a call of 4, 5 to 8 in one block of 8; a GPU's
        # smallest call is one block.
        (CPU2, 1, 14, 4),
        (CPU2, 4, 14, 4),
        (Device("cpu", cores=1), 3, weight_count(1, 64), 4),
        (CPU2, 5, 14, 8),
        (GPU, 3, 14, 8),
        # A CPU: 1000 lanes of LSTM(1) are cut in two, one per core, of 500 rounded up to
        # whole vectors of 16, 512; on one core they stay one call, 1008.
        (CPU2, 1000, 14, 512),
        (Device("cpu", cores=1), 1000, 14, 1008),
        # too few lanes to share: 100 lanes stay one call (1 a core needs 64), 7 vectors
        (CPU2, 100, 14, 112),
        # ... and at most 1024 lanes a call: 4096 lanes in 4 calls
        (CPU2, 4096, 14, 1024),
        # bigger networks: as many lanes as fit 512 KiB at 32 bytes a weight, in equal calls
        # LSTM(16): 14 lanes fit; 1000 lanes in 72 calls of 14, rounded up to 16
        (CPU2, 1000, 1169, 16),
        # LSTM(32): 3 fit, but a call has at least one block
        (CPU2, 1000, 4385, 8),
    ],
)
def test_lanes_per_call_by_device(device, lanes, weights, expected):
    assert lanes_per_call(device, lanes, weights) == expected


@pytest.mark.parametrize("device", [CPU2, GPU, Device("cpu", 16)])
@pytest.mark.parametrize("lanes", [1, 7, 8, 9, 63, 64, 65, 129, 1000, 5000, 333_333])
@pytest.mark.parametrize("neurons", [1, 4, 16, 64])
def test_every_call_is_whole_blocks_and_the_calls_cover_the_lanes_with_little_padding(
    device, lanes, neurons
):
    per_call = lanes_per_call(device, lanes, weight_count(1, neurons))
    calls = -(-lanes // per_call)
    if device.kind == "cpu" and lanes <= FEW_LANES:  # a few lanes: one call of 4
        assert (calls, per_call) == (1, FEW_LANES)
        return
    # a block; on a CPU past one block, whole 512-bit vectors
    unit = VECTOR_LANES if device.kind == "cpu" and per_call > LANE_BLOCK else LANE_BLOCK
    assert per_call % unit == 0
    assert calls * per_call >= lanes
    assert calls * per_call - lanes < calls * unit  # each call padded by under a unit
    if device.kind == "cpu" and per_call > LANE_BLOCK:  # within the cache budget, give or take
        assert per_call - unit < CPU_BYTES // (32 * weight_count(1, neurons))


def test_this_machine_is_a_cpu_with_its_cores():
    device = this_device()
    assert device.kind == "cpu" and device.cores >= 1


def test_a_group_cut_into_calls_gives_each_lane_its_bits_alone():
    """40 repeats of LSTM(16): 14 fit a CPU call, so 3 calls of 16 lanes; each repeat is the
    same bits as alone (one call of 4 lanes)."""
    many = statelab.run("stateful", repeats=40, epochs=3, neurons=16, seed=5)
    assert many.provenance.lanes == 48  # 3 calls of 16: the group was cut
    for k in (0, 17, 39):  # in the first, second and last call
        alone = statelab.run("stateful", repeats=[k], epochs=3, neurons=16, seed=5)
        assert alone.provenance.lanes == FEW_LANES
        np.testing.assert_array_equal(alone.forecasts_scaled[0], many.forecasts_scaled[k])
        np.testing.assert_array_equal(alone.losses[0], many.losses[k])
        np.testing.assert_array_equal(alone.weights.kernel[0], many.weights.kernel[k])


@pytest.mark.parametrize(("lags", "neurons"), [(1, 1), (3, 4)])
def test_a_few_lanes_give_the_same_bits_in_a_call_of_4_as_of_8(lags, neurons):
    """Every preset (each regime, both Keras profiles, batch sizes 1 and 12, shuffling), one
    repeat each, run as it runs alone (a call of 4 lanes) and forced into a call of 8 (a
    run's allowed sizes): the same bits. One lane alone (a lane axis of size 1) failed this at
    4 units: XLA compiled some reductions otherwise."""
    for name, preset in statelab.PRESETS.items():
        one = [runner.task(name, preset.spec.replace(epochs=3, lags=lags, neurons=neurons),
                           statelab.shampoo(), [2])]  # fmt: skip
        (group,) = runner.call_groups(one, CPU2)
        (alone,) = runner.run_tasks(one, seed=3)
        assert group.per_call == alone.provenance.lanes == FEW_LANES
        sizes = CallSizes("cpu", {(group.shape, group.epochs): (8,)})
        (wide,) = runner.run_tasks(one, seed=3, sizes=sizes)
        assert wide.provenance.lanes == 8
        np.testing.assert_array_equal(alone.forecasts_scaled, wide.forecasts_scaled)
        np.testing.assert_array_equal(alone.losses, wide.losses)
        for a, b in zip(alone.weights, wide.weights, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_chunk_holds_about_the_devices_lanes():
    """A chunk stays the unit of storage and resume, sized for the device: 40 series of 2
    experiments x 50 repeats (100 lanes a series): 40 series a chunk (4096 // 100) on a CPU,
    room for 1,000 (100,000 // 100) on a GPU; a slice run's chunk is at most 100 repeats
    (4096 // 80 tasks = 51 on a CPU)."""
    from statelab.execution import plan as plans

    given = [pd.Series(100 + np.cumsum(np.random.default_rng(k).normal(1, 10, 40)),
                       name=f"s{k}") for k in range(40)]  # fmt: skip
    spec = statelab.Spec(epochs=1)
    made = plans.make_plan([("a", spec, 50), ("b", spec.replace(stateful=False), 50)], given,
                           [12] * 40, seed=1)  # fmt: skip
    assert plans.series_per_chunk(made, CPU2) == 40
    assert plans.series_per_chunk(made, GPU) == 1000
    assert plans.repeats_per_chunk(made, device=CPU2) == 51
    assert plans.repeats_per_chunk(made, device=GPU) == 100


def test_chunks_at_once_one_a_core_and_two_on_an_accelerator():
    from statelab.execution.backends import InProcess
    from statelab.execution.calls import chunks_at_once

    assert chunks_at_once(Device("cpu", 16)) == 16
    assert chunks_at_once(GPU) == 2  # one trains while the other is set up or stored
    assert InProcess().parallel == this_device().cores  # this machine is a CPU


def test_a_group_takes_the_cheapest_allowed_size_but_never_fewer_calls_than_its_own():
    """LSTM(1) on 22 rows, 1000 epochs, on 2 CPU cores (statelab.execution.calls.call_size)."""
    shape = shape_of(statelab.Spec(), (22, 12))
    # 120 networks, alone one call of 128 (whole vectors): a call of 240 (padded) is allowed.
    assert call_size(CPU2, shape, 1000, 120) == 128
    assert call_size(CPU2, shape, 1000, 120, (240,)) == 240
    # 480, alone two calls of 240 (one a core): one call of 480 would leave a core idle.
    assert call_size(CPU2, shape, 1000, 480) == 240
    assert call_size(CPU2, shape, 1000, 480, (480,)) == 240  # its own: no allowed size fits
    assert call_size(CPU2, shape, 1000, 480, (480, 120)) == 120  # four calls
    # The same 128 lanes in one call of 128, not two of 64 (a call's steps cost once).
    assert call_us(shape, 1000, 128, "cpu") < 2 * call_us(shape, 1000, 64, "cpu")
    assert call_size(CPU2, shape, 1000, 120, (64, 128)) == 128
    # 200 networks, alone two calls of 112: of 104 and 128 (two calls each), 104 pads less.
    assert call_size(CPU2, shape, 1000, 200, (128, 104)) == 104


def test_an_allowed_size_stays_within_the_budget_and_an_accelerator_never_splits():
    # LSTM(16), 1,169 weights: 524,288 bytes // (1,169 x 32) = 14 lanes a call at most, so
    # whole blocks of at most 16; 64 would overflow the core's cache.
    big = shape_of(statelab.Spec(neurons=16), (22, 12))
    assert call_size(CPU2, big, 1000, 8, (64,)) == 8
    assert call_size(CPU2, big, 1000, 8, (16,)) == 16
    # A GPU wants its lanes in as few calls as they fit: 100,000 networks stay one call, not
    # eight of another chunk's 12,504; 12,500 may run padded in a call of 100,000.
    shape = shape_of(statelab.Spec(), (22, 12))
    assert call_size(GPU, shape, 1000, 100_000) == 100_000
    assert call_size(GPU, shape, 1000, 100_000, (12_504,)) == 100_000
    assert call_size(GPU, shape, 1000, 12_500, (100_000,)) == 100_000
