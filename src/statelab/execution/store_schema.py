"""The store's layout: its tables, the row, the byte codec of its arrays and the row's checksum.

A module of its own so that the store and the migrations both import it and neither imports
the other.

Layout 3 seals every row with a checksum of all its values, checked whenever a row is read:
SQLite checks its pages, not the values in them, so a changed RMSE or a flipped byte of a
forecast passes SQLite's checks, and only the checksum tells the row is not what was stored.
"""

from __future__ import annotations

import hashlib
import re
import struct
from operator import itemgetter
from typing import NamedTuple

import numpy as np

SCHEMA_VERSION = 3  # PRAGMA user_version; 0 is the first release's JSON layout, 2 lacks checksums

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
    checksum BLOB NOT NULL,
    PRIMARY KEY (experiment, settings_hash, data_hash, seed, repeat, code)
) WITHOUT ROWID
"""
SET_VERSION = f"PRAGMA user_version = {SCHEMA_VERSION}"
# A new store's statements, in order (each run on its own: a migration runs them in its
# transaction, which executescript would commit).
SCHEMA = (SETTINGS_TABLE, PROVENANCE_TABLE, REPEATS_TABLE, SET_VERSION)


class StoredRepeat(NamedTuple):
    """One row of ``repeats``, its checksum aside: what goes into the store and what comes
    out."""

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


COLUMNS = (*StoredRepeat._fields, "checksum")  # the columns of ``repeats``, in order
PLACEHOLDERS = f"({', '.join('?' * len(COLUMNS))})"  # INSERT INTO repeats VALUES {PLACEHOLDERS}

# Each column's declared type, read from the table itself: a row is encoded by them.
_TYPES = dict(re.findall(r"^ +(\w+) (TEXT|INTEGER|REAL|BLOB)\b", REPEATS_TABLE, re.MULTILINE))
_TEXTS, _INTEGERS, _REALS, _BLOBS = (
    itemgetter(*(k for k, name in enumerate(StoredRepeat._fields) if _TYPES[name] == kind))
    for kind in ("TEXT", "INTEGER", "REAL", "BLOB")
)  # fmt: skip
_LENGTHS_AND_NUMBERS = struct.Struct(
    "<" + "".join(f"{len(part(StoredRepeat._fields))}{code}" for part, code in
                  ((_TEXTS, "Q"), (_INTEGERS, "q"), (_REALS, "d"), (_BLOBS, "q")))
)  # fmt: skip
_NAN = float("nan")  # one NaN, whatever the bits of the NaN written


def _encoded(values: tuple) -> bytes:
    """The row's values as bytes, one encoding per row as SQLite keeps it, by each column's
    declared type: the lengths of the texts and blobs (-1 for NULL), the integers, the reals
    (an int as a float, -0.0 as 0.0, and NaN as NULL, as SQLite stores them), then the texts
    and blobs themselves; so no two different rows encode alike. A value of a type its column
    cannot hold (as an edit can leave) raises TypeError, AttributeError or struct.error.
    Hand-written: hashlib hashes bytes, and neither pickle (its memo follows object
    identity) nor JSON (no bytes; 1 and 1.0 differ) gives one encoding per stored row."""
    texts = [text.encode() for text in _TEXTS(values)]
    blobs = _BLOBS(values)
    head = _LENGTHS_AND_NUMBERS.pack(
        *map(len, texts),
        *_INTEGERS(values),
        *[_NAN if x is None or x != x else x + 0.0 for x in _REALS(values)],
        *[-1 if b is None else len(b) for b in blobs],
    )
    return b"".join((head, *texts, *[b for b in blobs if b is not None]))


def checksum(row: StoredRepeat) -> bytes:
    """The row's checksum: BLAKE2b of its values, 8 bytes. Against accidental damage and edits,
    not forgery (whoever can edit the file can recompute it): 64 bits leave a damaged row
    unnoticed with odds of 2^-64, where CRC-32's 2^-32 is thin for stores of millions of
    rows, and BLAKE2b costs under a microsecond a row, in C."""
    return hashlib.blake2b(_encoded(row), digest_size=8).digest()


def sealed(row: StoredRepeat) -> tuple:
    """The row's values and its checksum: a row of ``repeats`` as inserted."""
    return (*row, checksum(row))


def unsealed(values: tuple) -> StoredRepeat | None:
    """A row of ``repeats`` as read -> its values, or None if they do not match its checksum
    (or one of them is of a type its column cannot hold)."""
    row = StoredRepeat(*values[:-1])
    try:
        return row if checksum(row) == values[-1] else None
    except (TypeError, AttributeError, struct.error):
        return None


def blob(array, dtype=np.float32) -> bytes:
    """An array as stored: its values in ``dtype``, one after another."""
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def floats(blob: bytes) -> np.ndarray:
    """A stored float32 array."""
    if not isinstance(blob, bytes):
        raise TypeError(f"a float32 array is stored as {type(blob).__name__}, not bytes")
    return np.frombuffer(blob, dtype=np.float32)
