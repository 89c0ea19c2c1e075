"""Per-repeat results of one experiment on one series, with the settings, seed, versions and
timings behind them: the one record that passes from the runner to the store and back."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, replace
from importlib import metadata
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.data.dataset import Dataset
from statelab.engine.lstm import LSTMWeights
from statelab.spec import Spec

Versions = tuple[tuple[str, str], ...]  # (package, version) pairs, sorted by package


def versions() -> Versions:
    """The versions a result is produced with (read once a process: it takes milliseconds,
    as long as a one-repeat run)."""
    return _versions()


@functools.cache
def _versions() -> Versions:
    names = ("statelab", "jax", "jaxlib", "optax", "numpy", "pandas")
    found = [("python", platform.python_version())]
    for name in names:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(sorted(found))


def code_version() -> str:
    """statelab's version and the engine revision: results of other engine code are never
    mixed with these (the store keys on it)."""
    from statelab.engine.lstm import ENGINE_REVISION

    return f"statelab {dict(versions())['statelab']} engine {ENGINE_REVISION}"


class Timings(NamedTuple):
    """Seconds of one compiled call (or summed over several): compiling it (tracing, XLA,
    loading it from the compilation cache, or waiting for another thread compiling it), and
    running it (a training call: until its outputs are read back; a forecast: until it is
    done)."""

    compile_s: float = 0.0
    run_s: float = 0.0
    cache_hits: int = 0  # executables loaded from the persistent compilation cache

    def __add__(self, other: Timings) -> Timings:  # type: ignore[override]
        return Timings(*(a + b for a, b in zip(self, other, strict=True)))


@dataclass(frozen=True)
class Provenance:
    """What produced a set of repeats: every distinct set of package versions and every device
    they were computed with (one each, unless a study was resumed after an upgrade or on
    another machine), the timings of their compiled calls, and how many lanes those had (every
    repeat one lane, padded to whole calls; twins, see runner.training_key, trained fewer)."""

    versions: tuple[Versions, ...]
    devices: tuple[str, ...]
    timings: Timings = Timings()
    lanes: int = 0
    call: str = ""  # the compiled call's own id: the tasks that shared it share it
    code: str = ""  # code_version() of the process that computed them (a worker's own)


def describe_with_failures(values: pd.Series) -> pd.Series:
    """describe() of the finite values, plus a ``failed`` row counting the NaNs."""
    described = values.describe()
    described["failed"] = float(values.isna().sum())
    return described


@dataclass(frozen=True)
class Results:
    """N repeats of one experiment on one series, T test rows.

    ``repeats`` (N,) repeat indices; ``rmse`` (N,) in the series' units; ``forecasts`` and
    ``forecasts_scaled`` (N, T); ``final_loss`` (N,) the last epoch's training loss;
    ``failures`` (N,) why a repeat diverged ("" if not). A failed repeat's RMSE is NaN:
    counted in every summary, never averaged in. Kept only on request once stored:
    ``losses`` (N, E) training loss at the 1-based epochs ``loss_epochs``, and ``weights``,
    the trained weights in Keras layout, each with a leading (N,) axis.
    """

    name: str
    spec: Spec
    series: str  # the series' name
    data_hash: str  # and its contents' hash (statelab.data.series.data_hash)
    seed: int
    repeats: np.ndarray
    rmse: np.ndarray
    relative_rmse: np.ndarray  # RMSE over the persistence RMSE on the same test rows
    mase: np.ndarray  # test MAE over the in-sample one-step naive MAE
    forecasts: np.ndarray
    forecasts_scaled: np.ndarray
    final_loss: np.ndarray
    failures: np.ndarray
    dataset: Dataset
    persistence_rmse: float
    provenance: Provenance
    losses: np.ndarray | None = None
    loss_epochs: np.ndarray | None = None
    weights: LSTMWeights | None = None

    def __post_init__(self) -> None:
        # A diverged repeat has no RMSE to average: NaN, counted apart.
        for name in ("rmse", "relative_rmse", "mase"):
            object.__setattr__(self, name, np.where(self.failed, np.nan, getattr(self, name)))

    @property
    def failed(self) -> np.ndarray:
        """(N,) bool: the repeats that diverged."""
        return np.asarray(self.failures != "", dtype=bool)

    def subset(self, keep: np.ndarray) -> Results:
        """The repeats where ``keep`` (N,) is true."""
        pick = lambda a: None if a is None else a[keep]  # noqa: E731
        weights = None if self.weights is None else LSTMWeights(*(w[keep] for w in self.weights))
        return replace(
            self,
            repeats=self.repeats[keep],
            rmse=self.rmse[keep],
            relative_rmse=self.relative_rmse[keep],
            mase=self.mase[keep],
            forecasts=self.forecasts[keep],
            forecasts_scaled=self.forecasts_scaled[keep],
            final_loss=self.final_loss[keep],
            failures=self.failures[keep],
            losses=pick(self.losses),
            weights=weights,
        )

    def summary(self) -> pd.Series:
        """pandas ``describe()`` of the RMSEs of the repeats that finished (count, mean, std,
        min, 25%, 50%, 75%, max), then ``failed``: how many diverged."""
        return describe_with_failures(pd.Series(self.rmse, name=self.name))

    def to_frame(self) -> pd.DataFrame:
        """One row per repeat: experiment, series, seed, repeat, rmse, relative_rmse, mase,
        final_loss, failure, then the forecasts."""
        frame = pd.DataFrame(
            {
                "experiment": self.name,
                "series": self.series,
                "seed": self.seed,
                "repeat": self.repeats,
                "rmse": self.rmse,
                "relative_rmse": self.relative_rmse,
                "mase": self.mase,
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
