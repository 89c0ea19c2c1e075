"""The results store: one SQLite file (WAL mode, synchronous FULL), a row per finished repeat.

A repeat is keyed by experiment, settings hash, data hash, seed, repeat index and code
version, so a run resumes by asking which repeats are already there, and a repeat is never
stored twice. Each chunk is written in one transaction: an interruption at any moment
leaves every committed chunk whole and nothing half-written, and with synchronous FULL a
committed chunk survives a power loss too.

A row is small (about 280 bytes for the study's 12 test rows): keys, status, RMSE, final
loss, the forecasts as float32 (the engine's own output, in scaled units: the forecasts in
the series' units are rebuilt from them exactly), and the timings of its compiled call.
Settings and versions are stored once each, in tables of their own. Trained weights and loss
curves are kept only on request (``keep``). Every row carries a checksum of its values
(store_schema), checked on every read: a damaged row stops the command, naming the row; it is
never recomputed in silence.

One process at a time: a store's folder is locked (an advisory lock) while a command uses
it, and a second command on the same folder is refused at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from statelab import layout
from statelab.data.dataset import Dataset
from statelab.engine.lstm import LSTMWeights, weight_shapes
from statelab.errors import StatelabError
from statelab.execution import migrate
from statelab.execution.evaluate import mase, persistence_rmse
from statelab.execution.results import Provenance, Results, Timings, Versions, code_version
from statelab.execution.store_schema import (
    COLUMNS,
    PLACEHOLDERS,
    SCHEMA,
    SCHEMA_VERSION,
    StoredRepeat,
    blob,
    floats,
    sealed,
    unsealed,
)
from statelab.files import write_atomic
from statelab.spec import Spec

FILENAME = layout.STORE
LOSS_POINTS = 200  # a kept loss curve holds at most this many epochs (always the last)
KEEPABLE = ("weights", "loss")

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM repeats"
_KEY = "experiment=? AND settings_hash=? AND data_hash=? AND seed=? AND code=?"


def parse_keep(text: str | Iterable[str] | None) -> frozenset[str]:
    """``--keep weights,loss`` -> the optional parts to store."""
    if text is None:
        return frozenset()
    parts = text.split(",") if isinstance(text, str) else list(text)
    chosen = frozenset(part.strip() for part in parts if part.strip())
    unknown = sorted(chosen - set(KEEPABLE))
    if unknown:
        raise StatelabError(
            f"--keep takes {', '.join(KEEPABLE)} (comma-separated), not {', '.join(unknown)}"
        )
    return chosen


def downsample_epochs(epochs: int, points: int = LOSS_POINTS) -> np.ndarray:
    """1-based epochs kept of a loss curve: evenly spaced, always the first and the last."""
    if epochs <= points:
        return np.arange(1, epochs + 1)
    return np.unique(np.linspace(1, epochs, points).round().astype(int))


def _weights_blob(weights: LSTMWeights, k: int) -> bytes:
    return b"".join(blob(np.asarray(w[k]).ravel()) for w in weights)


def _weights_of(blobs: list[bytes], spec: Spec) -> LSTMWeights:
    """Kept weight blobs of N repeats -> Keras-layout arrays with a leading (N,) axis."""
    shapes = weight_shapes(spec.lags, spec.neurons)
    flat = np.stack([floats(kept) for kept in blobs])
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])
    parts = np.split(flat, ends[:-1], axis=1)
    return LSTMWeights(*(p.reshape(len(blobs), *s) for p, s in zip(parts, shapes, strict=True)))


def rows_of(result: Results, provenance: int, keep: frozenset[str]) -> list[StoredRepeat]:
    """A result's repeats as rows (``provenance``: the id of its versions and device), under
    the code version of the process that computed them."""
    code, now, timings = result.provenance.code, time.time(), result.provenance.timings
    epochs = None
    if "loss" in keep and result.losses is not None:
        epochs = downsample_epochs(len(result.loss_epochs))
    rows = []
    for k, repeat in enumerate(result.repeats):
        failure = str(result.failures[k])
        final_loss = float(result.final_loss[k])
        rows.append(StoredRepeat(
            experiment=result.name, series=result.series, settings_hash=result.spec.digest(),
            data_hash=result.data_hash, seed=result.seed, repeat=int(repeat), code=code,
            status="failed" if failure else "ok", reason=failure,
            rmse=None if failure else float(result.rmse[k]),
            relative_rmse=None if failure else float(result.relative_rmse[k]),
            mase=None if failure else float(result.mase[k]),
            final_loss=final_loss if np.isfinite(final_loss) else None,
            forecasts_scaled=blob(result.forecasts_scaled[k]),
            compile_s=timings.compile_s, run_s=timings.run_s, cache_hits=timings.cache_hits,
            lanes=result.provenance.lanes, stored_at=now, provenance=provenance,
            weights=(_weights_blob(result.weights, k)
                     if "weights" in keep and result.weights is not None else None),
            losses=None if epochs is None else blob(result.losses[k, epochs - 1]),
            loss_epochs=None if epochs is None else blob(result.loss_epochs[epochs - 1], np.int32),
        ))  # fmt: skip
    return rows


def _versions_text(found: Versions) -> str:
    return json.dumps(dict(found), sort_keys=True)


def _readable(path: Path) -> None:
    """Refuse a store file that cannot be one before SQLite touches it."""
    if not path.exists():
        return
    if not path.is_file():
        raise StatelabError(f"{path} is not a file: move it away, or give another --out folder")
    if path.stat().st_size == 0:
        raise StatelabError(
            f"{path} is empty (0 bytes): the store was truncated, and its results are lost; "
            "restore it from a copy, or delete it to start a new store"
        )


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite's errors as one-line StatelabErrors naming the store and what to do."""
    try:
        yield
    except sqlite3.OperationalError as error:
        text = str(error)
        if "disk is full" in text or "disk I/O error" in text:
            raise StatelabError(
                f"cannot write the store {path}: {text}; free some space and run the same "
                "command again (committed chunks are kept)"
            ) from None
        if "readonly" in text or "unable to open" in text:
            raise StatelabError(f"cannot write the store {path}: {text}") from None
        if "locked" in text or "busy" in text:
            raise StatelabError(
                f"another program has the store {path} open ({text}): close it and run the "
                "same command again"
            ) from None
        raise StatelabError(f"{path} is damaged ({text}): restore it from a copy") from None
    except sqlite3.DatabaseError as error:
        raise StatelabError(
            f"{path} is not a statelab store, or is damaged ({error}): restore it from a copy, "
            "or give another --out folder"
        ) from None


def _create(path: Path) -> None:
    """A new, empty store, made whole beside ``path`` and renamed into place: a store file
    is never seen half-made."""

    def build(temporary: Path) -> None:
        with _sqlite_errors(path):
            connection = sqlite3.connect(temporary)
            try:
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()

    write_atomic(path, build)


class Store:
    """Open the store in ``folder``, creating it if there is none, and lock it for this
    process until :meth:`close`."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        self.path = folder / FILENAME
        self._lock = _lock(folder)
        try:
            self.connection = self._open()
        except BaseException:
            os.close(self._lock)
            raise

    def _open(self) -> sqlite3.Connection:
        _readable(self.path)
        if not self.path.exists():
            _create(self.path)
        with _sqlite_errors(self.path):
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                check = connection.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"integrity check: {check}")
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version == 0 and migrate.is_first_layout(connection):
                    try:
                        migrate.migrate_first_layout(connection)  # all or nothing
                    except (ValueError, KeyError, TypeError) as error:  # JSON, shapes
                        raise StatelabError(
                            f"{self.path} is a store of the first release with a damaged "
                            f"row ({type(error).__name__}: {error}); it is left as it "
                            "was: restore it from a copy, or give another --out folder"
                        ) from None
                    version = SCHEMA_VERSION
                if version == 2 and migrate.is_layout_2(connection):
                    migrate.migrate_layout_2(connection)  # all or nothing
                    version = SCHEMA_VERSION
                if version > SCHEMA_VERSION:
                    raise StatelabError(
                        f"{self.path} was written by a newer statelab (store schema {version}); "
                        "upgrade statelab, or give another --out folder"
                    )
                columns = [r[1] for r in connection.execute("PRAGMA table_info(repeats)")]
                if version != SCHEMA_VERSION or tuple(columns) != COLUMNS:
                    raise StatelabError(
                        f"{self.path} is a store of another layout: give another --out folder"
                    )
                connection.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed chunk is on disk before the commit returns, power loss
                # included (NORMAL in WAL mode may lose the last commits).
                connection.execute("PRAGMA synchronous=FULL")
            except BaseException:
                connection.close()
                raise
        return connection

    def close(self) -> None:
        self.connection.close()
        os.close(self._lock)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stored(self, name: str, spec: Spec, data: str, seed: int) -> set[int]:
        """The repeat indices already stored for this experiment, settings, data and seed
        (their rows checked: a damaged one is never taken for missing and run again)."""
        return {row.repeat for row in self._rows(name, spec, data, seed)}

    def _rows(self, name: str, spec: Spec, data: str, seed: int) -> list[StoredRepeat]:
        """The rows stored by this code for an experiment, settings, data and seed, by
        repeat, each checked against its checksum."""
        with _sqlite_errors(self.path):
            found = self.connection.execute(
                f"{_SELECT} WHERE {_KEY} ORDER BY repeat",
                (name, spec.digest(), data, seed, code_version()),
            ).fetchall()
        rows = [unsealed(values) for values in found]
        damaged = [values for values, row in zip(found, rows, strict=True) if row is None]
        if damaged:
            first = StoredRepeat(*damaged[0][:-1])
            series = first.series or f"the series of data hash {first.data_hash}"  # 1st release
            others = f" (and {len(damaged) - 1} more of its rows)" if len(damaged) > 1 else ""
            raise StatelabError(
                f"{self.path} is damaged: the stored repeat {first.repeat} of {first.experiment} "
                f"on {series} (seed {first.seed}) does not match its checksum{others}; delete "
                "that file to compute the results anew, or restore it from a copy"
            )
        return rows

    def _provenance_id(self, found: Versions, device: str) -> int:
        text = _versions_text(found)
        self.connection.execute(
            "INSERT OR IGNORE INTO provenance (versions, device) VALUES (?, ?)", (text, device)
        )
        return self.connection.execute(
            "SELECT id FROM provenance WHERE versions=? AND device=?", (text, device)
        ).fetchone()[0]

    def add(self, results: Iterable[Results], keep: frozenset[str] = frozenset()) -> int:
        """Store every repeat of ``results`` in one transaction; returns rows inserted (a
        repeat already there is left as it was)."""
        with _sqlite_errors(self.path), self.connection:  # all of the chunk or none of it
            rows = []
            for result in results:
                self.connection.execute(
                    "INSERT OR IGNORE INTO settings VALUES (?, ?, ?)",
                    (result.spec.digest(), result.spec.profile,
                     json.dumps(result.spec.to_dict(), sort_keys=True)),
                )  # fmt: skip
                made = result.provenance
                provenance = self._provenance_id(made.versions[0], made.devices[0])
                rows.extend(rows_of(result, provenance, keep))
            inserted = self.connection.total_changes
            self.connection.executemany(
                f"INSERT OR IGNORE INTO repeats VALUES {PLACEHOLDERS}", map(sealed, rows)
            )
            return self.connection.total_changes - inserted

    def load(
        self,
        name: str,
        spec: Spec,
        dataset: Dataset,
        series: str,
        data: str,
        seed: int,
        repeats: np.ndarray,
    ) -> Results:
        """The stored repeats ``repeats`` of an experiment on a series, as :class:`Results`."""
        wanted = [int(k) for k in repeats]
        rows = self._rows(name, spec, data, seed)
        with _sqlite_errors(self.path):
            made = {
                id_: (versions_text, device)
                for id_, versions_text, device in self.connection.execute(
                    "SELECT id, versions, device FROM provenance"
                )
            }
        by_repeat = {row.repeat: row for row in rows}
        missing = [k for k in wanted if k not in by_repeat]
        if missing:
            raise StatelabError(f"the store lacks {len(missing)} repeats of {name}")
        rows = [by_repeat[k] for k in wanted]
        try:
            return results_of(rows, name, spec, dataset, series, made)
        except (ValueError, TypeError, KeyError) as error:  # a value edited or damaged
            raise StatelabError(
                f"{self.path} is damaged: a stored repeat of {name} cannot be read "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                "restore the store from a copy, or give another --out folder"
            ) from None

    def count(self) -> int:
        """Repeats stored by this code (all experiments, series and seeds)."""
        with _sqlite_errors(self.path):
            return self.connection.execute(
                "SELECT COUNT(*) FROM repeats WHERE code=?", (code_version(),)
            ).fetchone()[0]

    def count_of(self, wanted: Iterable[tuple[str, Spec, str, Iterable[int]]], seed: int) -> int:
        """Of the repeats wanted, (experiment, settings, data, repeat indices) each, how many
        this code has stored (read by key only, the rows unchecked: quick, for a message)."""
        counted = 0
        with _sqlite_errors(self.path):
            for name, spec, data, repeats in wanted:
                found = self.connection.execute(
                    f"SELECT repeat FROM repeats WHERE {_KEY}",
                    (name, spec.digest(), data, seed, code_version()),
                )
                counted += len({r for (r,) in found} & {int(k) for k in repeats})
        return counted


def results_of(
    rows: list[StoredRepeat],
    name: str,
    spec: Spec,
    dataset: Dataset,
    series: str,
    provenances: dict[int, tuple[str, str]],
) -> Results:
    """Stored rows of one experiment on one series -> :class:`Results` (forecasts in the
    series' units rebuilt from the stored float32 engine output, exactly as the run did)."""
    scaled = np.stack([floats(row.forecasts_scaled) for row in rows])
    if scaled.shape[1] != len(dataset.test_x):
        raise ValueError(f"{scaled.shape[1]} forecasts where the test has {len(dataset.test_x)}")
    forecasts = dataset.to_raw(scaled.astype(float))
    rmse, persistence = _column(rows, "rmse"), persistence_rmse(dataset)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # failed repeats
        relative = rmse / persistence
        scaled_errors = mase(dataset.test_actual, forecasts, dataset.naive_mae)
    pairs = _distinct(provenances[row.provenance] for row in rows)
    first = rows[0]
    kept_loss = all(row.losses is not None for row in rows)
    kept_weights = all(row.weights is not None for row in rows)
    return Results(
        name=name,
        spec=spec,
        series=series,
        data_hash=first.data_hash,
        seed=first.seed,
        repeats=np.array([row.repeat for row in rows]),
        rmse=rmse,
        # Both from what is stored exactly (RMSE, forecasts): the columns of the same name
        # are for readers of the store, and rows migrated from the first release lack them.
        relative_rmse=relative,
        mase=scaled_errors,
        forecasts=forecasts,
        forecasts_scaled=scaled,
        final_loss=_column(rows, "final_loss"),
        failures=np.array([row.reason for row in rows], dtype=object),
        dataset=dataset,
        persistence_rmse=persistence,
        provenance=Provenance(
            versions=tuple(_distinct(tuple(json.loads(v).items()) for v, _ in pairs)),
            devices=tuple(_distinct(device for _, device in pairs)),
            timings=Timings(first.compile_s, first.run_s, first.cache_hits),
            lanes=first.lanes,
        ),
        losses=np.stack([floats(row.losses) for row in rows]) if kept_loss else None,
        loss_epochs=(
            np.frombuffer(first.loss_epochs, dtype=np.int32).astype(int) if kept_loss else None
        ),  # fmt: skip
        weights=_weights_of([row.weights for row in rows], spec) if kept_weights else None,
    )


def _column(rows: list[StoredRepeat], name: str) -> np.ndarray:
    """A REAL column of the rows as float64, NULL as NaN."""
    values = [np.nan if v is None else v for v in (getattr(r, name) for r in rows)]
    return np.array(values, dtype=np.float64)  # a value that is not a number raises


def _distinct(values) -> list:
    """The different values, in order of first appearance."""
    return list(dict.fromkeys(values))


def _lock(folder: Path) -> int:
    """An exclusive advisory lock on the folder itself (no file is made for it), or a
    one-line error if another statelab process holds it; released when the process ends,
    however it ends."""
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise StatelabError(f"cannot use the folder {folder}: {error.strerror}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        raise StatelabError(
            f"another statelab command is using {folder}: wait for it to finish, "
            "or give another --out folder"
        ) from None
    return handle
