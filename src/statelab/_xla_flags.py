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

Appended to ``XLA_FLAGS`` only when it sets no ``xla_backend_extra_options`` of its own
and ``STATELAB_XLA_OPTIONS`` is not ``0`` (the opt-out for a process whose other JAX work
should keep XLA's defaults),
and only takes effect if JAX's CPU backend has not started yet (importing ``jax`` first is
fine; running JAX code first is not, and leaves the engine correct but slower).
"""

import os

OPTIONS = "xla_cpu_small_while_loop_byte_threshold=1000000000,xla_cpu_disable_loop_unrolling"

_flags = os.environ.get("XLA_FLAGS", "")
if os.environ.get("STATELAB_XLA_OPTIONS", "1") != "0" and "xla_backend_extra_options" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_extra_options={OPTIONS}".strip()
