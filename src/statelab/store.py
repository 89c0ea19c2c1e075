"""The results store: one SQLite file (WAL mode), a row per finished repeat.

A repeat is keyed by experiment, settings hash, data hash, seed and repeat index, so
a run can resume by asking which repeats are already there, and a repeat can never
be stored twice. Each chunk of repeats is written in one transaction: an interruption
at any moment leaves every committed chunk whole and nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from statelab.dataset import Dataset
from statelab.engine import ENGINE_REVISION, LSTMWeights
from statelab.errors import StatelabError
from statelab.results import Results, versions
from statelab.spec import Spec

FILENAME = "statelab.sqlite"
LOSS_POINTS = 200  # a stored loss curve keeps at most this many epochs (always the last)

SCHEMA = """
CREATE TABLE IF NOT EXISTS repeats (
    experiment TEXT NOT NULL,
    code_version TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    repeat INTEGER NOT NULL,
    profile TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason TEXT NOT NULL,
    rmse REAL,
    forecasts TEXT NOT NULL,
    forecasts_scaled TEXT NOT NULL,
    loss_epochs TEXT NOT NULL,
    losses TEXT NOT NULL,
    final_loss REAL,
    weights TEXT NOT NULL,
    chunk_compile_s REAL NOT NULL,
    chunk_run_s REAL NOT NULL,
    chunk_lanes INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    versions TEXT NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (experiment, code_version, settings_hash, data_hash, seed, repeat)
)
"""


COLUMNS = [line.split()[0] for line in SCHEMA.strip().splitlines()[1:-2]]


def code_version() -> str:
    """statelab's version and the engine revision: repeats from other code are not reused."""
    return f"statelab {versions()['statelab']} engine {ENGINE_REVISION}"


def data_hash(series: pd.Series) -> str:
    """A stable hash of a series' labels and values."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(x) for x in series.index]).encode())
    digest.update(np.asarray(series, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def _json(array) -> str:
    return json.dumps(np.asarray(array, dtype=float).tolist())


def downsample_epochs(epochs: int, points: int = LOSS_POINTS) -> np.ndarray:
    """1-based epochs kept of a loss curve: evenly spaced, always the first and the last."""
    if epochs <= points:
        return np.arange(1, epochs + 1)
    return np.unique(np.linspace(1, epochs, points).round().astype(int))


def _distinct(values) -> list:
    """The different values among the rows, in order of first appearance."""
    unique = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


class Store:
    """Open (creating if need be) the store in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILENAME
        try:
            self.connection = sqlite3.connect(self.path, timeout=30)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute(SCHEMA)
            columns = [row[1] for row in self.connection.execute("PRAGMA table_info(repeats)")]
        except sqlite3.DatabaseError as error:
            raise StatelabError(f"{self.path} is not a statelab store: {error}") from None
        if columns != COLUMNS:
            self.connection.close()
            raise StatelabError(
                f"{self.path} is a store of another layout (an older statelab): "
                "give a new --out folder"
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stored(self, name: str, spec: Spec, data: str, seed: int) -> set[int]:
        """The repeat indices already stored for this experiment, settings, data and seed."""
        rows = self.connection.execute(
            "SELECT repeat FROM repeats WHERE experiment=? AND code_version=? AND settings_hash=? "
            "AND data_hash=? AND seed=?",
            (name, code_version(), spec.digest(), data, seed),
        )
        return {row[0] for row in rows}

    def add(self, results: Iterable[Results], data: str) -> int:
        """Store every repeat of ``results`` in one transaction; returns rows inserted (a
        repeat already there is left as it was)."""
        rows, code = [], code_version()
        for result in results:
            epochs = downsample_epochs(result.losses.shape[1])
            timings = result.provenance.get("timings", {})
            for k, repeat in enumerate(result.repeats):
                weights = {n: np.asarray(getattr(result.weights, n)[k]).tolist()
                           for n in LSTMWeights._fields}  # fmt: skip
                failure = str(result.failures[k])
                rows.append((
                    result.name, code, result.spec.digest(), data, result.seed, int(repeat),
                    result.spec.profile, json.dumps(result.spec.to_dict(), sort_keys=True),
                    "failed" if failure else "ok", failure,
                    None if failure else float(result.rmse[k]),
                    _json(result.forecasts[k]), _json(result.forecasts_scaled[k]),
                    _json(epochs), _json(result.losses[k, epochs - 1]),
                    float(result.losses[k, -1]), json.dumps(weights),
                    timings.get("compile_s", 0.0), timings.get("run_s", 0.0),
                    int(result.provenance.get("lanes_in_call", 0)), time.time(),
                    json.dumps(result.provenance.get("versions", {})),
                    str(result.provenance.get("device", "")),
                ))  # fmt: skip
        with self.connection:  # one transaction: all of the chunk or none of it
            before = self.connection.total_changes
            self.connection.executemany(
                f"INSERT OR IGNORE INTO repeats VALUES ({', '.join('?' * 23)})", rows
            )
            return self.connection.total_changes - before

    def load(
        self,
        name: str,
        spec: Spec,
        dataset: Dataset,
        data: str,
        seed: int,
        repeats: np.ndarray,
        persistence: float,
    ) -> Results:
        """The stored repeats ``repeats`` of an experiment, as :class:`Results`."""
        placeholders = ", ".join("?" * len(repeats))
        rows = self.connection.execute(
            "SELECT repeat, reason, rmse, forecasts, forecasts_scaled, loss_epochs, losses, "
            "weights, versions, device, chunk_compile_s, chunk_run_s FROM repeats "
            f"WHERE experiment=? AND code_version=? AND settings_hash=? AND data_hash=? "
            f"AND seed=? AND repeat IN ({placeholders}) ORDER BY repeat",
            (name, code_version(), spec.digest(), data, seed, *map(int, repeats)),
        ).fetchall()
        if len(rows) != len(repeats):
            raise StatelabError(f"the store lacks {len(repeats) - len(rows)} repeats of {name}")
        weights = [json.loads(row[7]) for row in rows]
        return Results(
            name=name,
            spec=spec,
            seed=seed,
            repeats=np.array([row[0] for row in rows]),
            rmse=np.array([np.nan if row[2] is None else row[2] for row in rows]),
            forecasts=np.array([json.loads(row[3]) for row in rows]),
            forecasts_scaled=np.array([json.loads(row[4]) for row in rows], dtype=np.float32),
            losses=np.array([json.loads(row[6]) for row in rows], dtype=np.float32),
            loss_epochs=np.array(json.loads(rows[0][5]), dtype=int),
            weights=LSTMWeights(
                **{n: np.array([w[n] for w in weights], np.float32) for n in LSTMWeights._fields}
            ),
            dataset=dataset,
            persistence_rmse=persistence,
            failures=np.array([row[1] for row in rows], dtype=object),
            provenance={
                # every distinct set of versions and device the repeats were computed with
                # the first repeat's versions and device; every distinct set beside them, so a
                # study resumed after an upgrade or on another machine says so
                "versions": json.loads(rows[0][8]),
                "device": rows[0][9],
                "all_versions": _distinct(json.loads(row[8]) for row in rows),
                "all_devices": _distinct(row[9] for row in rows),
                "timings": {"compile_s": rows[0][10], "run_s": rows[0][11]},
                "settings": spec.to_dict(),
                "settings_hash": spec.digest(),
                "store": str(self.path),
            },
        )

    def count(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM repeats").fetchone()[0]
