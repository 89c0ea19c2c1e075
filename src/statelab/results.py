"""Per-repeat results of one experiment, with the settings, seed and versions behind them."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd

from statelab.dataset import Dataset
from statelab.engine import LSTMWeights
from statelab.spec import Spec

DESCRIBE_ROWS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def versions() -> dict[str, str]:
    """The versions a stored result was produced with."""
    names = ("statelab", "jax", "jaxlib", "optax", "numpy", "pandas")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@dataclass(frozen=True)
class Results:
    """N repeats, T test rows, E epochs.

    ``repeats`` (N,) repeat indices; ``rmse`` (N,) in the series' units; ``forecasts`` and
    ``forecasts_scaled`` (N, T); ``final_loss`` (N,) and ``losses`` (N, E) training loss per
    epoch; ``weights`` trained weights in Keras layout, each with a leading (N,) axis.
    """

    name: str
    spec: Spec
    seed: int
    repeats: np.ndarray
    rmse: np.ndarray
    forecasts: np.ndarray
    forecasts_scaled: np.ndarray
    losses: np.ndarray
    weights: LSTMWeights
    dataset: Dataset
    persistence_rmse: float
    provenance: dict[str, object] = field(default_factory=dict)

    @property
    def final_loss(self) -> np.ndarray:
        return self.losses[:, -1]

    def summary(self) -> pd.Series:
        """pandas ``describe()`` of the RMSEs: count, mean, std, min, 25%, 50%, 75%, max."""
        return pd.Series(self.rmse, name=self.name).describe()

    def to_frame(self) -> pd.DataFrame:
        """One row per repeat: name, seed, repeat, rmse, final_loss, then the forecasts."""
        frame = pd.DataFrame(
            {
                "experiment": self.name,
                "seed": self.seed,
                "repeat": self.repeats,
                "rmse": self.rmse,
                "final_loss": self.final_loss,
            }
        )
        labels = [str(label) for label in self.dataset.test_index]
        forecasts = pd.DataFrame(self.forecasts, columns=[f"forecast[{x}]" for x in labels])
        return pd.concat([frame, forecasts], axis=1)

    def study_csv(self) -> pd.DataFrame:
        """The study's results file: a single column ``results``, one RMSE per row."""
        return pd.DataFrame({"results": self.rmse})
