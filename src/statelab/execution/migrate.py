"""Stores of earlier layouts migrated in place to the current one (store_schema), each in one
transaction: all of it or none of it, so an interrupted migration leaves the store as it was.

- Layout 0, the first release's: one table, arrays as JSON text. The first release kept every
  repeat's trained weights and loss curve, so the migrated rows keep them too. Each row keeps
  the code version it was computed with: the first release's engine (revision 3) is not
  today's, so its rows stay in the store, readable, but are never reused; the study runs anew
  beside them.
- Layout 2, statelab 0.2.0's: today's rows without their checksum. Each row is sealed with the
  checksum of its values as they are found: damage done before the migration cannot be told.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import numpy as np

from statelab.engine.lstm import LSTMWeights
from statelab.execution.store_schema import (
    PLACEHOLDERS,
    REPEATS_TABLE,
    SCHEMA,
    SET_VERSION,
    StoredRepeat,
    blob,
    checksum,
    sealed,
)

FIRST_COLUMNS = (
    "experiment", "code_version", "settings_hash", "data_hash", "seed", "repeat", "profile",
    "settings", "status", "reason", "rmse", "forecasts", "forecasts_scaled", "loss_epochs",
    "losses", "final_loss", "weights", "chunk_compile_s", "chunk_run_s", "chunk_lanes",
    "stored_at", "versions", "device",
)  # fmt: skip


def _row(old: dict, provenance: int) -> StoredRepeat:
    weights = json.loads(old["weights"])
    flat = np.concatenate([np.ravel(weights[name]) for name in LSTMWeights._fields])
    final_loss = old["final_loss"]
    return StoredRepeat(
        experiment=old["experiment"],
        series="",  # the first release did not record the series' name; its hash is kept
        settings_hash=old["settings_hash"],
        data_hash=old["data_hash"],
        seed=old["seed"],
        repeat=old["repeat"],
        code=old["code_version"],
        status=old["status"],
        reason=old["reason"],
        rmse=old["rmse"],
        relative_rmse=None,  # set from the data when the study is read back (see store)
        mase=None,
        final_loss=final_loss if final_loss is not None and np.isfinite(final_loss) else None,
        forecasts_scaled=blob(json.loads(old["forecasts_scaled"])),
        compile_s=old["chunk_compile_s"],
        run_s=old["chunk_run_s"],
        cache_hits=0,
        lanes=old["chunk_lanes"],
        stored_at=old["stored_at"],
        provenance=provenance,
        weights=blob(flat),
        losses=blob(json.loads(old["losses"])),
        loss_epochs=blob(json.loads(old["loss_epochs"]), np.int32),
    )


def is_first_layout(connection: sqlite3.Connection) -> bool:
    """Whether this is a store of the first release: its one table, with its columns."""
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = tuple(r[1] for r in connection.execute("PRAGMA table_info(repeats)"))
    return tables == {"repeats"} and columns == FIRST_COLUMNS


def is_layout_2(connection: sqlite3.Connection) -> bool:
    """Whether this is a store of layout 2: its version, and today's rows without a checksum."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    columns = tuple(r[1] for r in connection.execute("PRAGMA table_info(repeats)"))
    return version == 2 and columns == StoredRepeat._fields


def migrate_first_layout(connection: sqlite3.Connection) -> int:
    """Rewrite a first-release store in the current layout; returns the rows migrated."""
    return _in_one_transaction(connection, _first_layout_rows)


def migrate_layout_2(connection: sqlite3.Connection) -> int:
    """Rewrite a layout-2 store in the current layout, every row sealed with its checksum;
    returns the rows migrated."""
    return _in_one_transaction(connection, _layout_2_rows)


def _in_one_transaction(
    connection: sqlite3.Connection, rewrite: Callable[[sqlite3.Connection], int]
) -> int:
    """Run ``rewrite`` and set the current layout's version in one transaction: all or
    nothing, however it ends."""
    isolation = connection.isolation_level
    connection.isolation_level = None  # explicit BEGIN/COMMIT around DDL and DML alike
    try:
        connection.execute("BEGIN IMMEDIATE")
        migrated = rewrite(connection)
        connection.execute(SET_VERSION)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.isolation_level = isolation
    return migrated


def _layout_2_rows(connection: sqlite3.Connection) -> int:
    """The rows of ``repeats`` copied into a table of the current layout with their
    checksums (settings and provenance are as they were)."""
    connection.execute("ALTER TABLE repeats RENAME TO repeats_layout_2")
    connection.execute(REPEATS_TABLE)
    columns = ", ".join(StoredRepeat._fields)
    connection.create_function(  # SQLite streams the rows through it, none held in memory
        "row_checksum", len(StoredRepeat._fields), lambda *values: checksum(StoredRepeat(*values))
    )
    migrated = connection.execute(
        f"INSERT INTO repeats SELECT {columns}, row_checksum({columns}) FROM repeats_layout_2"
    ).rowcount
    connection.execute("DROP TABLE repeats_layout_2")
    return migrated


def _first_layout_rows(connection: sqlite3.Connection) -> int:
    """The first release's one table rewritten as the current layout's three."""
    connection.execute("ALTER TABLE repeats RENAME TO repeats_first_layout")
    for statement in SCHEMA:
        connection.execute(statement)
    rows, ids = [], {}
    for values in connection.execute(
        f"SELECT {', '.join(FIRST_COLUMNS)} FROM repeats_first_layout"
    ).fetchall():
        old = dict(zip(FIRST_COLUMNS, values, strict=True))
        connection.execute(
            "INSERT OR IGNORE INTO settings VALUES (?, ?, ?)",
            (old["settings_hash"], old["profile"], old["settings"]),
        )
        made = (json.dumps(json.loads(old["versions"]), sort_keys=True), old["device"])
        if made not in ids:
            connection.execute(
                "INSERT OR IGNORE INTO provenance (versions, device) VALUES (?, ?)", made
            )
            ids[made] = connection.execute(
                "SELECT id FROM provenance WHERE versions=? AND device=?", made
            ).fetchone()[0]
        rows.append(_row(old, ids[made]))
    connection.executemany(f"INSERT INTO repeats VALUES {PLACEHOLDERS}", map(sealed, rows))
    connection.execute("DROP TABLE repeats_first_layout")
    return len(rows)
