"""How many lanes one compiled call runs, chosen for the device.

A call's lanes run in lockstep, step by step. A GPU needs about 10^5 of them to be busy, and
each lane costs it memory. A CPU core runs one call at a time (XLA's CPU loop is
sequential), so a large group of lanes is cut into calls, at least one per core, each small
enough that its working set stays in the core's own cache: a call of 1000 lanes at 16 units
ran at a third of the speed per lane of one of 32 lanes. A lane's result is the same bits in
a call of any size (lanes are independent and padded to whole blocks), so the choice changes
only the speed. A chunk stays the unit of storage and resume; this only cuts a chunk's work.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import jax

from statelab.engine.lstm import weight_shapes

# Lanes run in whole blocks. XLA's CPU code handles the elements of a vector in SIMD
# registers and a ragged remainder one by one, and its tanh and exp differ in the last
# bit between the two paths; padding keeps every lane on the SIMD path, so a repeat's
# result does not depend on how many ran beside it. (With 512-bit vectors, see _xla_flags.py,
# a block is half a vector: the compiled code runs such a remainder as a vector too.)
LANE_BLOCK = 8

# A chunk (the unit of work, storage and resume) holds about this many lanes on a CPU: few
# enough that it finishes in seconds and memory stays small, many enough to fill the cores'
# calls. On an accelerator it holds one call's worth: a smaller chunk would starve the device.
CPU_CHUNK_LANES = 4096
# An accelerator's call: about this many lanes (issue 16, one H200: 0.033 ms a repeat at
# 10^4 lanes, 0.011 ms at 10^5), and at most this many bytes of lanes' working set.
ACCELERATOR_LANES = 100_000
ACCELERATOR_BYTES = 8 * 2**30
# A CPU call: at most this many lanes, and this many bytes of working set (a core's own
# cache is 1 to 2 MiB on today's x86 servers; half of it is left to everything else) ...
CPU_LANES = 1024
CPU_BYTES = 512 * 2**10
# ... and a group of lanes is cut for the other cores only from this many lanes a call (a
# call costs a dispatch and an epoch loop of its own, worth it only with lanes to share).
CPU_SPLIT_LANES = 64
# A lane's working set per weight: the weight, its gradient, Adam's two moments and their
# new values, float32.
BYTES_PER_WEIGHT = 32


class Device(NamedTuple):
    """What the policy needs to know of the device the calls run on."""

    kind: str  # JAX's platform name: "cpu", "gpu", "tpu", ...
    cores: int  # calls that run side by side (a CPU's cores; one accelerator: 1)


def this_device() -> Device:
    """The device JAX runs this process's calls on."""
    kind = jax.devices()[0].platform
    return Device(kind, len(os.sched_getaffinity(0)) if kind == "cpu" else 1)


def lanes_per_call(device: Device, lanes: int, weights: int) -> int:
    """The lanes of each of the calls that run a group of ``lanes`` lanes whose networks have
    ``weights`` weights each: a multiple of LANE_BLOCK. Every call of the group gets as many
    (the last padded), so they share one compiled program."""
    budget = ACCELERATOR_BYTES if device.kind != "cpu" else CPU_BYTES
    most = ACCELERATOR_LANES if device.kind != "cpu" else CPU_LANES
    fit = max(LANE_BLOCK, min(most, budget // (weights * BYTES_PER_WEIGHT)))
    calls = -(-lanes // fit)
    if device.kind == "cpu":  # every core gets a call, where there are lanes enough
        calls = max(calls, min(device.cores, lanes // CPU_SPLIT_LANES))
    return _blocks(-(-lanes // max(1, calls)))


def lanes_per_chunk(device: Device) -> int:
    """About how many lanes a chunk holds when its size is not given."""
    return CPU_CHUNK_LANES if device.kind == "cpu" else ACCELERATOR_LANES


def chunks_at_once(device: Device) -> int:
    """Chunks a run in this process keeps going at once: one a CPU core; on an accelerator
    two, one training while the other is set up or stored, so memory holds two calls."""
    return device.cores if device.kind == "cpu" else 2


def _blocks(lanes: int) -> int:
    """``lanes`` rounded up to whole blocks (at least one)."""
    return max(1, -(-lanes // LANE_BLOCK)) * LANE_BLOCK


def weight_count(lags: int, neurons: int) -> int:
    """Weights of one lane's network (Keras's count)."""
    return sum(math.prod(shape) for shape in weight_shapes(lags, neurons))
