"""The store's layout: its tables, the row and the byte codec of its arrays.

A module of its own so that the store and the migrations both import it and neither imports
the other.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SCHEMA_VERSION = 2  # PRAGMA user_version; 0 is the first release's JSON layout (migrated)

SETTINGS_TABLE = """
CREATE TABLE settings (
    settings_hash TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    settings TEXT NOT NULL
) WITHOUT ROWID
"""
PROVENANCE_TABLE = """
CREATE TABLE provenance (
    id INTEGER PRIMARY KEY,
    versions TEXT NOT NULL,
    device TEXT NOT NULL,
    UNIQUE (versions, device)
)
"""
REPEATS_TABLE = """
CREATE TABLE repeats (
    experiment TEXT NOT NULL,
    series TEXT NOT NULL,
    settings_hash TEXT NOT NULL REFERENCES settings,
    data_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    repeat INTEGER NOT NULL,
    code TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason TEXT NOT NULL,
    rmse REAL,
    relative_rmse REAL,
    mase REAL,
    final_loss REAL,
    forecasts_scaled BLOB NOT NULL,
    compile_s REAL NOT NULL,
    run_s REAL NOT NULL,
    cache_hits INTEGER NOT NULL,
    lanes INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    provenance INTEGER NOT NULL REFERENCES provenance,
    weights BLOB,
    losses BLOB,
    loss_epochs BLOB,
    PRIMARY KEY (experiment, settings_hash, data_hash, seed, repeat, code)
) WITHOUT ROWID
"""
SET_VERSION = f"PRAGMA user_version = {SCHEMA_VERSION}"
# A new store's statements, in order (each run on its own: a migration runs them in its
# transaction, which executescript would commit).
SCHEMA = (SETTINGS_TABLE, PROVENANCE_TABLE, REPEATS_TABLE, SET_VERSION)


class StoredRepeat(NamedTuple):
    """One row of ``repeats``: what goes into the store and what comes out."""

    experiment: str
    series: str
    settings_hash: str
    data_hash: str
    seed: int
    repeat: int
    code: str
    status: str  # ok or failed
    reason: str  # why it failed; "" when ok
    rmse: float | None
    relative_rmse: float | None  # RMSE over the persistence RMSE on the same test rows
    mase: float | None  # test MAE over the in-sample one-step naive MAE
    final_loss: float | None
    forecasts_scaled: bytes  # float32 (T,)
    compile_s: float
    run_s: float
    cache_hits: int
    lanes: int
    stored_at: float
    provenance: int  # -> provenance.id: package versions and device
    weights: bytes | None  # float32, the Keras layout's arrays one after another (kept on request)
    losses: bytes | None  # float32 loss at loss_epochs (kept on request)
    loss_epochs: bytes | None  # int32 1-based epochs


COLUMNS = StoredRepeat._fields  # the columns of ``repeats``, in order
PLACEHOLDERS = f"({', '.join('?' * len(COLUMNS))})"  # INSERT INTO repeats VALUES {PLACEHOLDERS}


def blob(array, dtype=np.float32) -> bytes:
    """An array as stored: its values in ``dtype``, one after another."""
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def floats(blob: bytes) -> np.ndarray:
    """A stored float32 array."""
    if not isinstance(blob, bytes):
        raise TypeError(f"a float32 array is stored as {type(blob).__name__}, not bytes")
    return np.frombuffer(blob, dtype=np.float32)
