import os

# Tests run on the CPU whatever the machine has; keep XLA from grabbing every core's memory.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
