import os
import tempfile

# Tests run on the CPU whatever the machine has; keep XLA from grabbing every core's memory.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# The tests' own compilation cache, apart from the user's (subprocesses inherit it).
os.environ.setdefault(
    "STATELAB_COMPILATION_CACHE",
    os.path.join(tempfile.gettempdir(), "statelab-tests-compilation-cache"),
)
