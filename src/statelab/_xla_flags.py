"""XLA options for the engine's CPU code, set before JAX starts its backend.

The engine trains for 22,000 strictly sequential steps of tiny elementwise work, so on
CPU its speed is the cost per step of XLA's runtime, not arithmetic. Two options of
XLA's CPU backend (jax 0.7 and later) cut that cost several-fold, and do not change
what is computed:

- ``xla_cpu_small_while_loop_byte_threshold``: XLA compiles a while loop whose buffers
  total under this many bytes (1 kB by default) into one native kernel; above it, every
  op of every iteration is dispatched by the runtime, costing far more than the op.
  Raised, the training loop becomes one kernel. (It cannot hold a sort, which is why
  the engine draws shuffles outside it.)
- ``xla_cpu_disable_loop_unrolling``: with it, LLVM keeps the loop over the lanes a
  loop and vectorises it; unrolled, a block of 8 lanes became scalar code.

And one of XLA's debug options, ``xla_cpu_copy_insertion_use_region_analysis``: a finer
analysis of which buffers a loop may update in place. It made a training step of LSTM(1)
1.3 to 1.4 times faster, with the same results. And ``xla_cpu_prefer_vector_width=512``:
XLA asks LLVM for 256-bit vectors by default, half of an AVX-512 register, where the
engine's loops run over lanes contiguous in memory (on a CPU without AVX-512 it changes
nothing). Elementwise float32 arithmetic gives the same bits at any vector width. A call's
lanes come in blocks of 8 (execution/calls.py), half a 512-bit vector, or 4 for a call of
a few, but the compiled kernels hold no scalar float arithmetic (read from their object
code with objdump; a call of 4 runs 128-bit vectors, read from LLVM's IR in XLA's dump),
so a remainder of 8 lanes runs as a vector too; tests compare each lane of a call of 4 or
8 with the same lane in calls of 8 or 16 (tests/test_api.py, tests/test_calls.py), and the
results files did not move. Both set only with jaxlib 0.5 or later: an older XLA may not
know them, and XLA ends the process on a flag it does not know.

Each is appended to ``XLA_FLAGS`` only when it does not set that flag itself, and only
when ``STATELAB_XLA_OPTIONS`` is not ``0`` (the opt-out for a process whose other JAX work
should keep XLA's defaults),
and only takes effect if JAX's CPU backend has not started yet (importing ``jax`` first is
fine; running JAX code first is not, and leaves the engine correct but slower).
"""

import os
from importlib import metadata

OPTIONS = "xla_cpu_small_while_loop_byte_threshold=1000000000,xla_cpu_disable_loop_unrolling"
FLAGS = {"xla_backend_extra_options": OPTIONS}


def _jaxlib() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in metadata.version("jaxlib").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return (0,)


if _jaxlib() >= (0, 5):
    FLAGS["xla_cpu_copy_insertion_use_region_analysis"] = "true"
    FLAGS["xla_cpu_prefer_vector_width"] = "512"

_flags = os.environ.get("XLA_FLAGS", "")
if os.environ.get("STATELAB_XLA_OPTIONS", "1") != "0":
    _added = [f"--{name}={value}" for name, value in FLAGS.items() if name not in _flags]
    os.environ["XLA_FLAGS"] = " ".join([_flags, *_added]).strip()
