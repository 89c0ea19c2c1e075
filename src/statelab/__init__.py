"""statelab: how the way an LSTM keeps and resets its state changes its forecasts."""

# First: XLA reads its flags when JAX starts its backend (see _xla_flags).
from statelab import _xla_flags  # noqa: F401
from statelab.api import experiment, load_series, run
from statelab.data import shampoo
from statelab.engine import LSTMWeights
from statelab.errors import StatelabError
from statelab.results import Results
from statelab.runner import Experiment, run_experiments
from statelab.spec import PRESETS, Preset, Spec

__all__ = [
    "PRESETS",
    "Experiment",
    "LSTMWeights",
    "Preset",
    "Results",
    "Spec",
    "StatelabError",
    "experiment",
    "load_series",
    "run",
    "run_experiments",
    "shampoo",
]
