"""statelab: how the way an LSTM keeps and resets its state changes its forecasts.

The public names load on first use, so `import statelab` (and the command line's start)
stays light until JAX and pandas are needed.
"""

import importlib

# First: XLA reads its flags when JAX starts its backend (see _xla_flags).
from statelab import _xla_flags  # noqa: F401

_EXPORTS = {
    "PRESETS": "statelab.spec",
    "Experiment": "statelab.execution.runner",
    "LSTMWeights": "statelab.engine.lstm",
    "Preset": "statelab.spec",
    "Results": "statelab.execution.results",
    "Setup": "statelab.spec",
    "Spec": "statelab.spec",
    "StatelabError": "statelab.errors",
    "Execution": "statelab.execution.pipeline",
    "GeneraliseSettings": "statelab.studies.generalise",
    "StudySettings": "statelab.studies.study",
    "VarySettings": "statelab.studies.setup",
    "AdviseSettings": "statelab.studies.advice",
    "advise": "statelab.api",
    "experiment": "statelab.api",
    "generalise": "statelab.api",
    "moderators": "statelab.api",
    "reproduce": "statelab.api",
    "reproduce_vary": "statelab.api",
    "estimate": "statelab.api",
    "load_series": "statelab.api",
    "run": "statelab.api",
    "vary": "statelab.api",
    "run_experiments": "statelab.execution.runner",
    "shampoo": "statelab.data.series",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'statelab' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
