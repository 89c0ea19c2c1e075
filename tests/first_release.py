"""Stores as the first release (statelab 0.1.0) wrote them: one table, arrays as JSON text,
trained weights and 200-point loss curves in every row. The migration test builds one with
this, and benchmarks/store_speed.py measures it beside today's store."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np

from statelab.engine.lstm import LSTMWeights
from statelab.execution.results import Results
from statelab.execution.store import downsample_epochs

# The code version every row of the first release carries.
FIRST_RELEASE_CODE = "statelab 0.1.0 engine 3"

FIRST_LAYOUT = """
CREATE TABLE IF NOT EXISTS repeats (
    experiment TEXT NOT NULL, code_version TEXT NOT NULL, settings_hash TEXT NOT NULL,
    data_hash TEXT NOT NULL, seed INTEGER NOT NULL, repeat INTEGER NOT NULL,
    profile TEXT NOT NULL, settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), reason TEXT NOT NULL, rmse REAL,
    forecasts TEXT NOT NULL, forecasts_scaled TEXT NOT NULL, loss_epochs TEXT NOT NULL,
    losses TEXT NOT NULL, final_loss REAL, weights TEXT NOT NULL, chunk_compile_s REAL NOT NULL,
    chunk_run_s REAL NOT NULL, chunk_lanes INTEGER NOT NULL, stored_at REAL NOT NULL,
    versions TEXT NOT NULL, device TEXT NOT NULL,
    PRIMARY KEY (experiment, code_version, settings_hash, data_hash, seed, repeat)
)
"""


def _json(array) -> str:
    return json.dumps(np.asarray(array, dtype=float).tolist())


def rows(result: Results, code: str = FIRST_RELEASE_CODE) -> list[tuple]:
    """``result``'s repeats as the first release stored them (under ``code``: a test of the
    conversion alone may file them under today's code, so they read back)."""
    epochs = downsample_epochs(result.losses.shape[1])
    made = result.provenance
    out = []
    for k, repeat in enumerate(result.repeats):
        weights = {n: np.asarray(getattr(result.weights, n)[k]).tolist()
                   for n in LSTMWeights._fields}  # fmt: skip
        failure = str(result.failures[k])
        out.append((
            result.name, code, result.spec.digest(), result.data_hash, result.seed,
            int(repeat), result.spec.profile, json.dumps(result.spec.to_dict(), sort_keys=True),
            "failed" if failure else "ok", failure, None if failure else float(result.rmse[k]),
            _json(result.forecasts[k]), _json(result.forecasts_scaled[k]), _json(epochs),
            _json(result.losses[k, epochs - 1]), float(result.losses[k, -1]), json.dumps(weights),
            made.timings.compile_s, made.timings.run_s, made.lanes, time.time(),
            json.dumps(dict(made.versions[0])), made.devices[0],
        ))  # fmt: skip
    return out


def write_first_layout(path: Path, results: list[Results], code: str = FIRST_RELEASE_CODE) -> None:
    """A store file in the first release's layout holding ``results``, in one transaction
    with the first release's pragmas (WAL, synchronous NORMAL)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(FIRST_LAYOUT)
    with connection:
        for result in results:
            connection.executemany(f"INSERT INTO repeats VALUES ({', '.join('?' * 23)})",
                                   rows(result, code))  # fmt: skip
    connection.close()


def read_first_layout(path: Path) -> int:
    """Read every row back as the first release did (JSON decoded); returns the count."""
    connection = sqlite3.connect(path)
    found = 0
    for row in connection.execute(
        "SELECT repeat, reason, rmse, forecasts, forecasts_scaled, loss_epochs, losses, weights "
        "FROM repeats ORDER BY repeat"
    ):
        [json.loads(text) for text in row[3:]]
        found += 1
    connection.close()
    return found
