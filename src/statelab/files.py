"""Atomic file writes: a reader never sees half a file, and a failure leaves the old one.

A target that is a symbolic link is written through (the link stays a link); a target that
exists but is not a regular file (a folder, a device such as /dev/null, a FIFO, a socket) is
refused, never replaced."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from statelab.errors import StatelabError

# What to do about an OSError while writing, by errno; anything else: write elsewhere.
FIXES = {
    errno.ENOSPC: "the disk is full; free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EFBIG: "past the file size limit (ulimit -f) or the file system's; write elsewhere",
    errno.EROFS: "a read-only file system; write elsewhere",
    errno.EACCES: "write elsewhere or change the permissions",
    errno.EPERM: "write elsewhere or change the permissions",
    errno.ENAMETOOLONG: "give a shorter name",
}


def shown(path: str | Path) -> str:
    """A path for a one-line message: control characters and undecodable bytes escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def reason(error: OSError) -> str:
    """An OSError as a short reason and its fix."""
    text = error.strerror or type(error).__name__
    return f"{text} ({FIXES.get(error.errno or 0, 'write elsewhere')})"


def lookup(path: str | Path, failing: str) -> os.stat_result | None:
    """os.stat of path (following links), or None where nothing is there; any other error
    (a name too long, a loop, no permission, a NUL in the name) is a StatelabError that
    begins ``failing``."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise StatelabError(f"{failing}: {error.strerror or type(error).__name__}") from None
    except ValueError as error:  # "embedded null byte"
        raise StatelabError(f"{failing}: {error}") from None


def resolve_target(path: str | Path) -> Path:
    """The file a write to ``path`` lands in: the link's target for a symbolic link. Raises
    StatelabError where it cannot be a regular file in an existing folder."""
    real = os.path.realpath(path)
    if os.path.islink(real):
        raise StatelabError(f"cannot write {shown(path)}: a symbolic link loop; give a file name")
    parent = os.path.dirname(real)
    folder = lookup(parent, f"cannot write {shown(path)}")
    if folder is None:
        raise StatelabError(f"cannot write {shown(path)}: folder {shown(parent)} does not exist")
    if not stat.S_ISDIR(folder.st_mode):
        raise StatelabError(f"cannot write {shown(path)}: {shown(parent)} is a file, not a folder")
    found = lookup(real, f"cannot write {shown(path)}")
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise StatelabError(f"cannot write {shown(path)}: it is a folder; give a file name")
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise StatelabError(
            f"cannot write {shown(path)}: it is not a regular file (a device, FIFO or socket); "
            "give a file name"
        )
    return Path(real)


def umask() -> int:
    """The process's umask (reading it means setting it: set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_affixes(name: str) -> tuple[str, str]:
    """How :func:`write_atomic` names the temporary file beside ``name``: this prefix, some
    random characters, this suffix (hidden, and shown as the same kind of file)."""
    return f".{name[:64]}.", Path(name).suffix[:16]


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` beside ``path``'s target, then rename it over the target.
    Any OSError becomes a StatelabError naming the file; the old file stays as it was."""
    real = resolve_target(path)
    prefix, suffix = temporary_affixes(real.name)
    try:
        handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=real.parent)
    except OSError as error:
        raise StatelabError(f"cannot write {shown(path)}: {reason(error)}") from None
    os.close(handle)
    try:
        os.chmod(temporary, 0o666 & ~umask())  # mkstemp's 0600 would hide results from others
        write(Path(temporary))
        os.replace(temporary, real)
    except OSError as error:
        raise StatelabError(f"cannot write {shown(path)}: {reason(error)}") from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(
        path,
        lambda temporary: temporary.write_text(text, encoding="utf-8", errors="backslashreplace"),
    )
