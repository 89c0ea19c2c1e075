"""`statelab report`: which page a folder gets (by the command that wrote it), and writing it.

Each page (study.py, generalise.py) knows only its own folder's files and imports only the
toolkit; this module is the one place that chooses between them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from statelab import files, layout
from statelab.errors import StatelabError
from statelab.files import shown
from statelab.report import generalise, setup, study
from statelab.report.toolkit import damaged

REPORT_SUFFIXES = (".html", ".htm")
PAGES = {study.COMMAND: study, generalise.COMMAND: generalise, setup.COMMAND: setup}


def check_folder(folder: Path) -> str:
    """The command that wrote ``folder`` ("reproduce", "generalise" or "generalise --vary"),
    once it has every file the report needs."""
    found = files.lookup(folder, f"cannot read {shown(folder)}")
    if found is None:
        raise StatelabError(
            f"no such folder: {shown(folder)} (run `statelab reproduce --out {shown(folder)}` "
            "or `statelab generalise --out ...` first)"
        )
    if not stat.S_ISDIR(found.st_mode):
        raise StatelabError(
            f"{shown(folder)} is not a folder; give the one `reproduce` or `generalise` wrote"
        )
    generalised = not os.path.isfile(folder / layout.STUDY_JSON) and any(
        os.path.isfile(folder / name)
        for name in (layout.GENERALISE_JSON, layout.ACROSS, layout.PER_SERIES)
    )
    command = generalise.COMMAND if generalised else study.COMMAND
    if os.path.isfile(folder / layout.VARY_JSON):
        command = setup.COMMAND
    missing = [name for name in PAGES[command].NEEDED if not os.path.isfile(folder / name)]
    if missing:
        raise StatelabError(
            f"{shown(folder)} lacks {', '.join(missing)}: "
            f"run `statelab {command} --out {shown(folder)}` first"
        )
    return command


def build(folder: Path) -> str:
    """The report's HTML for a folder written by `statelab reproduce` or `generalise`."""
    return PAGES[check_folder(folder)].build(folder)


def check_out(folder: Path, target: Path) -> None:
    """The report goes to a regular file in an existing folder, never over the study's own
    files (only an .html name inside the study's folder, or inside its live set of files,
    where its names lead)."""
    real = files.resolve_target(target)
    own = {os.path.realpath(folder), os.path.realpath(folder / layout.OUTPUTS)}
    inside = str(real.parent) in own
    if inside and real.suffix.lower() not in REPORT_SUFFIXES:
        raise StatelabError(
            f"--out {shown(target)} would overwrite the study's own files in {shown(folder)}; "
            "give a name ending in .html"
        )


def write(folder: Path, target: Path | None = None) -> Path:
    """Build the report of ``folder`` and write it to ``target`` (default FOLDER/report.html)."""
    target = target or folder / layout.REPORT
    command = check_folder(folder)
    check_out(folder, target)
    try:
        html = PAGES[command].build(folder)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            ArithmeticError) as error:  # fmt: skip
        if isinstance(error, StatelabError):
            raise
        # What the checks above do not foresee still ends in one line, never a traceback.
        raise damaged(folder, "", f"{type(error).__name__}: {error}", command) from None
    return files.write_text(target, html)
