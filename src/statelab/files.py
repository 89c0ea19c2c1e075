"""Atomic file writes: a reader never sees half a file, and a failure leaves the old one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from statelab.errors import StatelabError


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` beside ``path``, then rename it over ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise StatelabError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise StatelabError(f"cannot write {path}: it is a folder; give a file name")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent
        )
    except OSError as error:
        raise StatelabError(f"cannot write {path}: {error.strerror}") from None
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would hide results from others
        write(Path(temporary))
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise StatelabError(f"cannot write {path}: {error.strerror}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda temporary: temporary.write_text(text))
