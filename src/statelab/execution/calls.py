"""How many lanes one compiled call runs, chosen for the device.

A call's lanes run in lockstep, step by step. A GPU needs about 10^5 of them to be busy, and
each lane costs it memory. A CPU core runs one call at a time (XLA's CPU loop is
sequential), so a large group of lanes is cut into calls, at least one per core, each small
enough that its working set stays in the core's own cache: a call of 1000 lanes at 16 units
ran at a third of the speed per lane of one of 32 lanes. A lane's result is the same bits in
a call of any size (lanes are independent and padded to whole blocks, or to 4 lanes on a
CPU), so the choice changes only the speed. A chunk stays the unit of storage and resume;
this only cuts a chunk's work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax

from statelab.engine.lstm import Shape, weight_shapes
from statelab.execution.processes import cpu_cores

# Lanes run in whole blocks. XLA's CPU code handles the elements of a vector in SIMD
# registers and a ragged remainder one by one, and its tanh and exp differ in the last
# bit between the two paths; padding keeps every lane on the SIMD path, so a repeat's
# result does not depend on how many ran beside it. (With 512-bit vectors, see _xla_flags.py,
# a block is half a vector: the compiled code runs such a remainder as a vector too.)
LANE_BLOCK = 8
# ... and on a CPU a call of more lanes than one block runs whole 512-bit vectors, 16 float32
# lanes (the width _xla_flags.py asks for): the compiled loop over lanes runs a remainder of 8
# as a vector of its own, so a call of 16k + 8 lanes took as long as one of 16k + 16
# (benchmarks/lane_blocks.py). A call of one block stays one block: 8 lanes step quicker
# than 16, their steps bound by latency. (On a CPU without AVX-512 a vector
# holds 8: 16 lanes are two, and cost only a little padding.)
VECTOR_LANES = 16
# ... and on a CPU a call of at most this many lanes (one repeat, or a few) runs this many: a
# 128-bit vector of 4 float32 lanes, half a block. Such a call's steps are bound by their
# latency, and a call of 4 lanes took 1.19 to 1.65 times less than one of 8 at 1 to 32 units
# (benchmarks/lane_blocks.py). Its compiled code is the same vector code, 4 wide (LLVM's IR
# read from XLA's dump): elementwise float32 arithmetic, the same bits (tests/test_calls.py).
# An accelerator keeps blocks of 8: nothing was measured there.
# Not fewer: one lane makes the lane axis a dimension of size 1, which XLA removes, and it
# then compiled some reductions otherwise (other bits at 4 units and batch size 12); two
# lanes took longer than four.
FEW_LANES = 4

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


# The cost model of a compiled call (the dry run's estimate, statelab.execution.plan, and the
# run's choice of call sizes, below), one for a CPU and one for an accelerator (Costs): two
# terms, each a call's time on one core (or one device). Every
# step of a call (epochs x compiled training rows / batch size; its lanes advance in
# lockstep) costs step_us of overhead whatever its lanes: the call's small fused loops and
# copies. Every lane's row of a step costs row_us plus row_weight_us per weight of the
# lane's network (weight_count: the forward and backward pass and Adam are linear in
# the weights at a given batch size, so the weights stand for the FLOPs; row_us is what a row
# costs beside them: the loss, masks, the shuffle). The calls are the runner's own
# (runner.call_groups, on the chunks the pipeline cuts), and they share the cores evenly
# (but a call runs on one core: no run is shorter than its longest call);
# each distinct program adds compile_s (less when the compilation cache has it).
#
# CPU: measured on this 2-core x86 CPU, both cores busy, by benchmarks/estimate_accuracy.py (its
# first table: engine_speed's cases, 1000 repeats of LSTM(n) on Shampoo, 22 rows, 1000
# epochs, extrapolated from two shorter runs above 1 unit): 0.25, 1.34, 4.54, 12.8 and 47.1 ms
# a repeat at 1, 4, 8, 16 and 32 units (14 to 4,385 weights), 23, 122, 413, 1,166 and 4,278
# ns of a core a lane-row: 0.95 ns a weight from 8 units on, and 12 ns a row beside them
# (the model is within 0.8-1.16x of each, and was of one repeat alone, 6.9 ms, then a call of
# 8 lanes bound by its steps' latency: step_us, kept from the earlier fit, one figure whatever
# the lanes; one repeat's call of 4 lanes now takes 3.6-4.8 ms, which the model's 5.7 ms
# overstates). An earlier fit, 2.2 ns a weight and 5 a row, came from engine_speed's figures
# before it extrapolated (each short run's once-only costs scaled up
# with its epochs) and from runs without statelab's XLA options (estimate_accuracy started JAX
# before importing statelab): twice the time at 16 and 32 units. A program compiles in 1 to 2 s at
# 1000 epochs (the compile seconds runs report over their programs: 0.9 to 2.0 in
# estimate_accuracy's runs, 1.4 in the full M3 monthly run, 1.9 in a cold `--sample 20`), less
# when the compilation cache has it: COMPILE_S 2 (3 before, which overstated the dry run's
# compiling 1.5 to 3 times).
#
# Accelerator: fitted to the figures issue 16 measured on one NVIDIA H200 (jax 0.11.2, LSTM(n)
# on Shampoo, 22 rows, 1000 epochs, 22,000 steps), not measured since. One lane took 188 ms
# a call: 8.5 us a step, 53 times a CPU core's, the lanes costing next to nothing; 100,000
# lanes of LSTM(1) took 1.07 s (0.40 ns a lane-row beside the steps), 10,000 of LSTM(16)
# 3.7 s (16 ns), so 0.21 ns a row and 0.0135 ns a weight. Every figure is 1.0 to 1.8 times
# what this gives (10,000 lanes of LSTM(1), LSTM(4) and LSTM(64): 1.2-1.8, 1.26 and 1.44;
# 1,000 of LSTM(1), 0.25 ms a repeat: 1.28), so it leans optimistic. The CPU's model put a
# lane-row at 60 to 70 times this, so that on a GPU a run compiled a program for each chunk's
# group size, to save padding that the device runs in a second or two: 17 programs for the
# full M3 monthly study (5 chunks of up to 100,000 lanes), against 6 by this model, one a
# shape, where no other call size saves more than a program's compiling (at 1.2 times the
# row costs a seventh would; tests/test_plan.py; benchmarks/gpu_check.sh would show the
# compile seconds). COMPILE_S as
# on a CPU: issue 16's `--sample 20 --epochs 100` compiled for 10.4 s, about as many
# programs as the CPU's 6.


class Costs(NamedTuple):
    """One device kind's cost model (above): a call's microseconds a step, a lane-row and a
    weight of a lane-row, and a program's seconds of compiling."""

    step_us: float
    row_us: float
    row_weight_us: float
    compile_s: float


COMPILE_S = 2.0
CPU_COSTS = Costs(0.16, 0.012, 0.00095, COMPILE_S)
ACCELERATOR_COSTS = Costs(8.5, 0.00021, 0.0000135, COMPILE_S)


def costs(kind: str) -> Costs:
    """The cost model for a device of ``kind`` (JAX's platform name): the CPU's, or for any
    other kind the one fitted to an H200's figures."""
    return CPU_COSTS if kind == "cpu" else ACCELERATOR_COSTS


class Device(NamedTuple):
    """What the policy needs to know of the device the calls run on."""

    kind: str  # JAX's platform name: "cpu", "gpu", "tpu", ...
    cores: int  # calls that run side by side (a CPU's cores; one accelerator: 1)


def this_device() -> Device:
    """The device JAX runs this process's calls on."""
    kind = jax.devices()[0].platform
    return Device(kind, cpu_cores() if kind == "cpu" else 1)


def lanes_per_call(device: Device, lanes: int, weights: int) -> int:
    """The lanes of each of the calls that run a group of ``lanes`` lanes whose networks have
    ``weights`` weights each (:func:`padded_lanes`). Every call of the group gets as many
    (the last padded), so they share one compiled program."""
    fit = _most_lanes(device, weights)
    calls = call_count(lanes, fit)
    if device.kind == "cpu":  # every core gets a call, where there are lanes enough
        calls = max(calls, min(device.cores, lanes // CPU_SPLIT_LANES))
    return padded_lanes(-(-lanes // max(1, calls)), device.kind)


def _most_lanes(device: Device, weights: int) -> int:
    """The most lanes of networks of ``weights`` weights one call on ``device`` may hold."""
    budget = ACCELERATOR_BYTES if device.kind != "cpu" else CPU_BYTES
    most = ACCELERATOR_LANES if device.kind != "cpu" else CPU_LANES
    return max(LANE_BLOCK, min(most, budget // (weights * BYTES_PER_WEIGHT)))


def call_count(lanes: int, per_call: int) -> int:
    """The calls of ``per_call`` lanes each that run ``lanes`` lanes (the last padded)."""
    return -(-lanes // per_call)


def call_us(shape: Shape, epochs: int, lanes: int, kind: str) -> float:
    """A compiled call's time on one core of a device of ``kind``, in microseconds, by the cost
    model above."""
    model = costs(kind)
    steps = epochs * -(-shape.train_rows // shape.batch_size)
    row_us = model.row_us + model.row_weight_us * weight_count(shape.lags, shape.neurons)
    return steps * model.step_us + lanes * epochs * shape.train_rows * row_us


class CallSizes(NamedTuple):
    """The call sizes a whole run allows each of its programs, (shape, epochs) -> lanes a
    call, chosen once for all its chunks (statelab.execution.plan.call_sizes) for a device of
    ``kind``. A chunk's group of a few networks then runs in a call the size of another
    chunk's, padded, rather than compiling a program of its own: on a CPU, compiling a program
    costs as much as training thousands of LSTM(1) networks for 1000 epochs on Shampoo (the
    cost model above: 2 s against 0.56 ms a network)."""

    kind: str  # JAX's platform name of the device they were chosen for
    sizes: Mapping[tuple[Shape, int], tuple[int, ...]]


def call_size(
    device: Device, shape: Shape, epochs: int, trained: int, allowed: Sequence[int] = ()
) -> int:
    """The lanes of each call of a group of ``trained`` networks of ``shape`` on ``device``:
    its own size (:func:`lanes_per_call`) or, of the ``allowed`` sizes (a run's
    :class:`CallSizes`), the one whose calls cost least by the cost model. An allowed size is
    used only within the device's memory budget, and only where it cuts the group into as
    many calls as its own size would or, on a CPU, more (there a call a core, where there are
    lanes enough; an accelerator wants its lanes in as few calls as they fit)."""
    weights = weight_count(shape.lags, shape.neurons)
    own = lanes_per_call(device, trained, weights)
    least = call_count(trained, own)

    def usable(size: int) -> bool:
        calls = call_count(trained, size)
        more = calls >= least if device.kind == "cpu" else calls == least
        return more and size <= padded_lanes(_most_lanes(device, weights), device.kind)

    fit = sorted(size for size in set(allowed) if usable(size))
    if not fit:
        return own
    return min(
        fit, key=lambda size: call_count(trained, size) * call_us(shape, epochs, size, device.kind)
    )


def lanes_per_chunk(device: Device) -> int:
    """About how many lanes a chunk holds when its size is not given."""
    return CPU_CHUNK_LANES if device.kind == "cpu" else ACCELERATOR_LANES


def chunks_at_once(device: Device) -> int:
    """Chunks a run in this process keeps going at once: one a CPU core; on an accelerator
    two, one training while the other is set up or stored, so memory holds two calls."""
    return device.cores if device.kind == "cpu" else 2


def padded_lanes(lanes: int, kind: str) -> int:
    """The lanes a call of ``lanes`` lanes runs on a device of ``kind``: whole blocks (at
    least one); on a CPU, past one block, whole vectors (VECTOR_LANES), and at most FEW_LANES
    lanes, FEW_LANES."""
    if kind == "cpu" and lanes <= FEW_LANES:
        return FEW_LANES
    unit = VECTOR_LANES if kind == "cpu" and lanes > LANE_BLOCK else LANE_BLOCK
    return max(1, -(-lanes // unit)) * unit


def weight_count(lags: int, neurons: int) -> int:
    """Weights of one lane's network (Keras's count)."""
    return sum(math.prod(shape) for shape in weight_shapes(lags, neurons))
