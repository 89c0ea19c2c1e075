"""A command's files as one set, switched by one rename: a reader sees the whole previous set
or the whole new one, never a mix, and a kill, a full disk or a power loss while writing
leaves the previous set as it was.

An output folder OUT (the store and its lock stay where they are, outside the set)::

    OUT/statelab.sqlite                           the store
    OUT/.outputs -> .outputs-k2x9a0qe             the live set: one link
    OUT/.outputs-k2x9a0qe/verdicts.csv            the set's files
    OUT/verdicts.csv -> .outputs/verdicts.csv     a link per name, never changed

A new set is written into a fresh folder ``.outputs-XXXXXXXX`` and fsynced; the links its
new names need are made (they lead nowhere until the switch: the live set lacks those
files); then ``.outputs`` is replaced by a link to the new folder with one ``os.replace``
(rename(2) is atomic), which switches every name at once. After it the links of names the
new set lacks lead nowhere, and they go with the old folder. Why links rather than a
manifest: every path users, `statelab report` and `compare` already use (OUT/verdicts.csv)
keeps working, and no reader needs to know of the set.

What a killed command leaves (a half-written folder, a scratch link, a link to a file the
live set lacks, an older release's ``.NAME.XXXXXXXX`` temporaries) is removed by
:func:`tidy` at the start of the next command on the folder, under the store's lock; so no
two commands ever write a set at once, and the scratch names below can be fixed.

The one-time move from the older layout, where each name was a regular file (or a user's
link to one): before the first switch each such file is copied into the live set's folder
and its name replaced by a link to the copy, one name at a time. A reader sees the same
bytes under every name throughout, and a kill midway leaves regular files and links of the
same contents, which the next command completes. A user's own link is replaced by the
set's; the file it led to is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from statelab import layout
from statelab.errors import StatelabError
from statelab.files import reason, shown, temporary_affixes, umask

LINK = layout.OUTPUTS
FOLDER = f"{LINK}-"  # the prefix of a set's folder, and of the scratch names:
SCRATCH_LINK = f"{LINK}-link"  # a link being made, then renamed over its name
SCRATCH_COPY = f"{LINK}-copy"  # an older release's file being copied into the live set


def link_target(name: str) -> str:
    """What the link ``OUT/name`` holds: the name in the live set, relative."""
    return f"{LINK}/{name}"


def is_link(out: Path, name: str) -> bool:
    """Whether ``OUT/name`` is the set's link (replaced at a switch, never written through)."""
    try:
        return os.readlink(out / name) == link_target(name)
    except OSError:
        return False


def check(out: Path) -> None:
    """Before any work: ``OUT/.outputs`` is absent or the set's own link."""
    try:
        target = os.readlink(out / LINK)
    except FileNotFoundError:
        return
    except OSError:  # not a link
        target = ""
    if not target.startswith(FOLDER) or "/" in target:
        raise StatelabError(
            f"{shown(out / LINK)} is not statelab's link to its files: move it, or give "
            "another --out folder"
        )


def _live(out: Path) -> str | None:
    """The live set's folder (a name in ``out``), or None where there is none."""
    try:
        target = os.readlink(out / LINK)
    except OSError:
        return None
    return target if os.path.isdir(out / target) else None


def tidy(out: Path, names: Collection[str]) -> None:
    """Remove what a killed command left in ``out``: every set folder but the live one, the
    scratch names, links to files the live set lacks, and the temporaries an older release
    wrote beside ``names``."""
    live = _live(out)
    temporaries = [temporary_affixes(name) for name in names]
    with _writing(out), os.scandir(out) as scan:
        for entry in list(scan):
            name = entry.name
            if name.startswith(FOLDER) and name != live:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            elif any(name.startswith(p) and name.endswith(s) for p, s in temporaries) or (
                is_link(out, name) and not os.path.exists(entry.path)
            ):
                os.unlink(entry.path)


def publish(out: Path, write: Callable[[Path], list[Path]], names: Collection[str]) -> list[Path]:
    """Call ``write(folder)`` on a fresh folder in ``out``, then make what it wrote the live
    set; return the files as users see them, ``out / NAME``. ``names``: every name the writer
    may write (a regular file under one of them joins the live set before the switch, and
    loses its name at the switch if the new set lacks it). Any failure before the switch
    removes the new folder and leaves the live set as it was."""
    with _writing(out):
        staging = _new_folder(out)
    try:
        written = write(staging)
        with _writing(out):
            members = os.listdir(staging)
            for name in members:
                _fsync(staging / name)
            _fsync(staging)
            _adopt(out, {*names, *members})
            for name in members:
                if not is_link(out, name):
                    _place_link(out, name, link_target(name))
            _fsync(out)
            _place_link(out, LINK, staging.name)  # the switch
    except BaseException:
        if _live(out) != staging.name:  # not if it came after the switch: the set is live
            shutil.rmtree(staging, ignore_errors=True)
        raise
    with _writing(out):
        _fsync(out)
    tidy(out, names)  # the old set's folder, and the links of names the new set lacks
    return [out / path.relative_to(staging) for path in written]


def _adopt(out: Path, names: Collection[str]) -> None:
    """Names that are not the set's links yet (an older release's regular files, a user's
    link to one) join the live set: the file is copied into it, then the name replaced by
    the link to the copy."""
    live = _live(out)
    for name in sorted(names):
        path = out / name
        if not os.path.lexists(path) or is_link(out, name):
            continue
        if os.path.isfile(path):
            if live is None:
                live = _new_folder(out).name
                _fsync(out / live)
                _place_link(out, LINK, live)
            shutil.copyfile(path, out / SCRATCH_COPY)
            _fsync(out / SCRATCH_COPY)
            os.replace(out / SCRATCH_COPY, out / live / name)
            _fsync(out / live)
        _place_link(out, name, link_target(name))


def _new_folder(out: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=FOLDER, dir=out))
    os.chmod(folder, 0o777 & ~umask())  # mkdtemp's 0700 would hide results from others
    return folder


def _place_link(out: Path, name: str, target: str) -> None:
    """``out/name`` becomes a link to ``target`` in one rename (whatever it was before)."""
    scratch = out / SCRATCH_LINK
    with contextlib.suppress(FileNotFoundError):
        os.unlink(scratch)
    os.symlink(target, scratch)
    os.replace(scratch, out / name)


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise StatelabError(f"cannot write the files in {shown(out)}: {reason(error)}") from None
