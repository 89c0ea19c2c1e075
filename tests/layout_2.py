"""Stores as statelab 0.2.0 wrote them: layout 2, today's rows without their checksum, made
with that release's own schema and statements. The migration test builds one with this."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from statelab.execution.results import Results
from statelab.execution.store import rows_of

LAYOUT_2 = """
CREATE TABLE settings (
    settings_hash TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    settings TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE provenance (
    id INTEGER PRIMARY KEY,
    versions TEXT NOT NULL,
    device TEXT NOT NULL,
    UNIQUE (versions, device)
);
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
) WITHOUT ROWID;
PRAGMA user_version = 2;
"""


def write_layout_2(path: Path, results: list[Results], keep: frozenset[str] = frozenset()) -> None:
    """A store file in layout 2 holding ``results`` (the rows 0.2.0 made: today's, less the
    checksum), with 0.2.0's pragmas and statements."""
    connection = sqlite3.connect(path)
    connection.executescript(LAYOUT_2)
    connection.execute("PRAGMA journal_mode=WAL")
    with connection:
        for result in results:
            connection.execute(
                "INSERT OR IGNORE INTO settings VALUES (?, ?, ?)",
                (result.spec.digest(), result.spec.profile,
                 json.dumps(result.spec.to_dict(), sort_keys=True)),
            )  # fmt: skip
            made = (json.dumps(dict(result.provenance.versions[0]), sort_keys=True),
                    result.provenance.devices[0])  # fmt: skip
            connection.execute(
                "INSERT OR IGNORE INTO provenance (versions, device) VALUES (?, ?)", made
            )
            provenance = connection.execute(
                "SELECT id FROM provenance WHERE versions=? AND device=?", made
            ).fetchone()[0]
            connection.executemany(
                f"INSERT OR IGNORE INTO repeats VALUES ({', '.join('?' * 23)})",
                rows_of(result, provenance, keep),
            )
    connection.close()
