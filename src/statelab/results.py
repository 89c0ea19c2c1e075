"""Per-repeat results of one experiment, with the settings, seed and versions behind them."""

from __future__ import annotations

import functools
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
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    # Reading package metadata takes milliseconds, as long as a one-repeat run: once a process.
    names = ("statelab", "jax", "jaxlib", "optax", "numpy", "pandas")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def describe_with_failures(values: pd.Series) -> pd.Series:
    """describe() of the finite values, plus a ``failed`` row counting the NaNs."""
    described = values.describe()
    described["failed"] = float(values.isna().sum())
    return described


@dataclass(frozen=True)
class Results:
    """N repeats, T test rows, E epochs.

    ``repeats`` (N,) repeat indices; ``rmse`` (N,) in the series' units; ``forecasts`` and
    ``forecasts_scaled`` (N, T); ``final_loss`` (N,) and ``losses`` (N, E) training loss per
    epoch (or at ``loss_epochs`` when downsampled); ``weights`` trained weights in Keras
    layout, each with a leading (N,) axis; ``failures`` (N,) why a repeat diverged ("" if not).
    A failed repeat's RMSE is NaN: counted in every summary, never averaged in.
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
    failures: np.ndarray | None = None
    loss_epochs: np.ndarray | None = None
    provenance: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.failures is None:
            object.__setattr__(self, "failures", np.full(len(self.repeats), "", dtype=object))
        # A diverged repeat has no RMSE to average: NaN, counted apart.
        rmse = np.where(self.failed, np.nan, self.rmse)
        object.__setattr__(self, "rmse", rmse)

    @property
    def failed(self) -> np.ndarray:
        """(N,) bool: the repeats that diverged."""
        return np.asarray(self.failures != "", dtype=bool)

    @property
    def final_loss(self) -> np.ndarray:
        return self.losses[:, -1]

    def summary(self) -> pd.Series:
        """pandas ``describe()`` of the RMSEs of the repeats that finished (count, mean, std,
        min, 25%, 50%, 75%, max), then ``failed``: how many diverged."""
        return describe_with_failures(pd.Series(self.rmse, name=self.name))

    def to_frame(self) -> pd.DataFrame:
        """One row per repeat: name, seed, repeat, rmse, final_loss, failure, then the
        forecasts."""
        frame = pd.DataFrame(
            {
                "experiment": self.name,
                "seed": self.seed,
                "repeat": self.repeats,
                "rmse": self.rmse,
                "final_loss": self.final_loss,
                "failure": self.failures,
            }
        )
        labels = [str(label) for label in self.dataset.test_index]
        forecasts = pd.DataFrame(self.forecasts, columns=[f"forecast[{x}]" for x in labels])
        return pd.concat([frame, forecasts], axis=1)

    def study_csv(self) -> pd.DataFrame:
        """The study's results file: a single column ``results``, one RMSE per row (empty for
        a repeat that diverged)."""
        return pd.DataFrame({"results": self.rmse})
