"""A command's files as one set (statelab.execution.fileset): a reader sees the whole previous
set or the whole new one. Killed with SIGKILL while writing, before and after the switch; a
real full disk; a second run; a folder of the older layout taken over; leftovers tidied."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from statelab import layout
from statelab.cli import main
from statelab.errors import StatelabError
from statelab.execution import fileset
from statelab.files import write_atomic

STORE_FILES = {layout.STORE, f"{layout.STORE}-wal", f"{layout.STORE}-shm"}


def view(out: Path) -> dict[str, bytes]:
    """What a reader of the folder sees: every visible file by its name (through the links),
    the store apart."""
    return {
        path.name: path.read_bytes()
        for path in sorted(out.iterdir())
        if not path.name.startswith(".") and path.name not in STORE_FILES and path.is_file()
    }


def assert_tidy(out: Path) -> None:
    """One set's folder and its link, a link per file of the set, and no scratch name, staging
    folder or temporary anywhere."""
    live = os.readlink(out / layout.OUTPUTS)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".outputs", live]
    members = sorted(os.listdir(out / live))
    assert not [name for name in members if name.startswith(".")]
    links = sorted(p.name for p in out.iterdir() if p.is_symlink() and p.name != ".outputs")
    assert links == members
    assert all(os.readlink(out / name) == f".outputs/{name}" for name in links)


def writer(contents: dict[str, bytes]):
    def write(folder: Path) -> list[Path]:
        return [write_atomic(folder / name, lambda path, d=data: path.write_bytes(d))
                for name, data in contents.items()]  # fmt: skip

    return write


NAMES = ["a.csv", "b.png", "c.txt"]


def test_a_new_set_replaces_the_old_one_whole_and_drops_its_names(tmp_path):
    fileset.publish(tmp_path, writer({"a.csv": b"1", "b.png": b"2"}), NAMES)
    first = os.readlink(tmp_path / ".outputs")
    assert view(tmp_path) == {"a.csv": b"1", "b.png": b"2"}
    written = fileset.publish(tmp_path, writer({"a.csv": b"3", "c.txt": b"4"}), NAMES)
    assert written == [tmp_path / "a.csv", tmp_path / "c.txt"]
    assert view(tmp_path) == {"a.csv": b"3", "c.txt": b"4"}
    assert not os.path.lexists(tmp_path / "b.png")  # the new set has none: its link went too
    assert not os.path.exists(tmp_path / first)  # the old set's folder is deleted
    assert_tidy(tmp_path)
    live = tmp_path / os.readlink(tmp_path / ".outputs")
    assert live.stat().st_mode & 0o777 == 0o777 & ~current_umask()  # others may read it


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_writer_failing_midway_leaves_the_previous_set(tmp_path):
    fileset.publish(tmp_path, writer({"a.csv": b"old a", "b.png": b"old b"}), NAMES)
    before = view(tmp_path)

    def half_then_full_disk(folder: Path) -> list[Path]:
        writer({"a.csv": b"new a", "c.txt": b"new c"})(folder)
        raise StatelabError("cannot write b.png: No space left on device")

    with pytest.raises(StatelabError, match="No space left"):
        fileset.publish(tmp_path, half_then_full_disk, NAMES)
    assert view(tmp_path) == before
    assert not os.path.lexists(tmp_path / "c.txt")
    assert_tidy(tmp_path)  # the new set's folder is gone


def older_layout(out: Path) -> None:
    """A folder as the older release left it: regular files, a user's link to a file
    elsewhere, a temporary a killed write left, and a file of the user's own."""
    (out / "a.csv").write_bytes(b"old a")
    (out / "b.png").write_bytes(b"old b")  # a name the new set lacks
    (out / ".a.csv.k2j3h4g5.csv").write_bytes(b"half")
    (out / "elsewhere").mkdir()
    (out / "elsewhere" / "mine.txt").write_bytes(b"the user's")
    (out / "c.txt").symlink_to(Path("elsewhere") / "mine.txt")
    (out / "notes.txt").write_bytes(b"notes")


def test_ctrl_c_just_after_the_switch_keeps_the_new_set(tmp_path, monkeypatch):
    """Found in review: Ctrl-C landing after the switch, before publish's cleanup disarmed,
    removed the folder that had just become the live set, leaving every name dangling."""
    fileset.publish(tmp_path, writer({"a.csv": b"old a"}), NAMES)
    place = fileset._place_link

    def switch_then_ctrl_c(out, name, target):
        place(out, name, target)
        if name == fileset.LINK:
            raise KeyboardInterrupt

    monkeypatch.setattr(fileset, "_place_link", switch_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        fileset.publish(tmp_path, writer({"a.csv": b"new a"}), NAMES)
    assert view(tmp_path) == {"a.csv": b"new a"}
    monkeypatch.undo()
    fileset.tidy(tmp_path, NAMES)
    assert view(tmp_path) == {"a.csv": b"new a"}
    assert_tidy(tmp_path)


def test_a_folder_of_the_older_layout_is_taken_over(tmp_path):
    older_layout(tmp_path)
    fileset.tidy(tmp_path, NAMES)
    assert not (tmp_path / ".a.csv.k2j3h4g5.csv").exists()  # the older release's temporary
    fileset.publish(tmp_path, writer({"a.csv": b"new a", "c.txt": b"new c"}), NAMES)
    assert view(tmp_path) == {"a.csv": b"new a", "c.txt": b"new c", "notes.txt": b"notes"}
    assert not os.path.lexists(tmp_path / "b.png")
    assert (tmp_path / "elsewhere" / "mine.txt").read_bytes() == b"the user's"  # left as it was
    assert_tidy(tmp_path)


def test_the_move_from_the_older_layout_interrupted_midway_shows_the_old_files(
    tmp_path, monkeypatch
):
    """Killed between two names of the one-time move (here: the copy of the second file
    fails), every name still reads the older files; the next run completes the move."""
    older_layout(tmp_path)
    before = view(tmp_path)
    copy, copies = shutil.copyfile, []

    def copy_once(source, target):
        if copies:
            raise OSError(28, "No space left on device")
        copies.append(source)
        return copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", copy_once)
    with pytest.raises(StatelabError, match="No space left on device"):
        fileset.publish(tmp_path, writer({"a.csv": b"new a"}), NAMES)
    assert view(tmp_path) == before
    assert fileset.is_link(tmp_path, "a.csv") and not (tmp_path / "b.png").is_symlink()
    monkeypatch.undo()
    fileset.tidy(tmp_path, NAMES)
    assert view(tmp_path) == before
    fileset.publish(tmp_path, writer({"a.csv": b"new a"}), NAMES)
    assert view(tmp_path) == {"a.csv": b"new a", "notes.txt": b"notes"}
    assert_tidy(tmp_path)


def test_tidy_removes_what_a_killed_command_left_and_nothing_else(tmp_path):
    fileset.publish(tmp_path, writer({"a.csv": b"live"}), NAMES)
    live = os.readlink(tmp_path / ".outputs")
    (tmp_path / ".outputs-x1y2z3w4").mkdir()  # a set a killed command was writing
    (tmp_path / ".outputs-x1y2z3w4" / ".b.png.abcdefgh.png").write_bytes(b"half")
    (tmp_path / ".outputs-link").symlink_to(".outputs-x1y2z3w4")  # a scratch link
    (tmp_path / ".outputs-copy").write_bytes(b"half")  # a copy into the live set
    (tmp_path / "b.png").symlink_to(".outputs/b.png")  # made before a switch that never came
    (tmp_path / ".c.txt.abcdefgh.txt").write_bytes(b"half")  # the older release's temporary
    kept = {layout.STORE: b"store", "notes.txt": b"mine", ".hidden": b"mine", ".c.txt": b"mine"}
    for name, data in kept.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "mine").symlink_to("notes.txt")
    fileset.tidy(tmp_path, NAMES)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [".outputs", live, "a.csv", "mine", *kept]
    )  # fmt: skip
    assert (tmp_path / "a.csv").read_bytes() == b"live"
    assert all((tmp_path / name).read_bytes() == data for name, data in kept.items())


@pytest.mark.parametrize(
    "make",
    [lambda p: p.mkdir(), lambda p: p.write_text("x"), lambda p: p.symlink_to("elsewhere"),
     lambda p: p.symlink_to(".outputs-abc/def")],
    ids=["folder", "file", "link elsewhere", "link into a set"],
)  # fmt: skip
def test_an_outputs_name_statelab_did_not_make_is_refused(tmp_path, make):
    make(tmp_path / ".outputs")
    with pytest.raises(StatelabError, match="is not statelab's link to its files"):
        fileset.check(tmp_path)


# The real command. A study's store is filled once with 3 repeats, and its folder holds the
# set of a 2-repeat study (OLD); a 3-repeat study (NEW) then trains nothing and writes a new
# set, which differs from OLD in every file but the plot of the series.

OLD, NEW = "2", "3"


def reproduce(out: Path, repeats: str) -> list[str]:
    return ["reproduce", "--repeats", repeats, "--pool", "0", "--epochs", "1", "--out",
            str(out), "--quiet"]  # fmt: skip


def run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A folder holding the OLD set, and what readers see there after OLD and after NEW."""
    out = tmp_path_factory.mktemp("study")
    for repeats in (NEW, OLD):
        with pytest.raises(SystemExit) as exit_info:
            main(reproduce(out, repeats))
        assert exit_info.value.code == 0
        if repeats == NEW:
            new = view(out)
    old = view(out)
    changed = {name for name in old if old[name] != new[name]}
    assert old.keys() == new.keys() and {layout.STUDY_JSON, layout.VERDICTS} <= changed
    assert {layout.experiment_csv("stateful"), layout.experiment_csv("stateless")} <= changed
    return out, old, new


@pytest.fixture
def folder(sets, tmp_path) -> Path:
    """A copy of the folder holding the OLD set (links copied as links)."""
    return Path(shutil.copytree(sets[0], tmp_path / "study", symlinks=True))


# The command in a child process that kills itself with SIGKILL at the point it is given:
# halfway through the first text file of the set (a describe table, after the experiment
# files), or just before or just after the rename that switches the set.
KILLED = """
import os, runpy, signal, sys
from statelab.execution import fileset
from statelab.files import write_atomic
from statelab.outputs import study

point = sys.argv.pop(1)
kill = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
place = fileset._place_link

def half_then_killed(path, text):
    write_atomic(path, lambda temporary: (temporary.write_text(text[: len(text) // 2]), kill()))

def switch_and_kill(out, name, target):
    if name == fileset.LINK and point == "before the switch":
        kill()
    place(out, name, target)
    if name == fileset.LINK and point == "after the switch":
        kill()

if point == "writing":
    study.write_text = half_then_killed
fileset._place_link = switch_and_kill
sys.argv[0] = "statelab"
runpy.run_module("statelab", run_name="__main__")
"""


@pytest.mark.parametrize("point", ["writing", "before the switch", "after the switch"])
def test_killed_while_writing_the_previous_set_stays_whole_and_the_next_run_tidies(
    sets, folder, capsys, point
):
    _, old, new = sets
    live = os.readlink(folder / ".outputs")
    process = subprocess.run([sys.executable, "-c", KILLED, point, *reproduce(folder, NEW)],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert process.returncode == -signal.SIGKILL, process.stderr
    switched = point == "after the switch"
    assert view(folder) == (new if switched else old)  # byte for byte
    left = [p.name for p in folder.iterdir() if p.name.startswith(".outputs-")]
    assert len(left) == 2  # the old set and the new (a half-written one, for "writing")
    if point == "writing":
        staging = next(name for name in left if name != live)
        hidden = [p.name for p in (folder / staging).iterdir() if p.name.startswith(".")]
        assert len(hidden) == 1 and hidden[0].startswith(".table_")  # half written
    code, err = run_cli(capsys, reproduce(folder, NEW))
    assert code == 0, err
    assert view(folder) == new
    assert_tidy(folder)


# A real full disk: the command in a child process whose file size limit stops any file
# past 40,000 bytes (Python ignores SIGXFSZ, so the write fails with EFBIG). The store only
# needs reading (nothing is left to run), and the study's forecast plot is about 78 kB.
LIMITED = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000)); "
    "sys.argv[0] = 'statelab'; runpy.run_module('statelab', run_name='__main__')"
)


def test_a_full_disk_while_writing_is_one_line_and_keeps_the_previous_set(sets, folder):
    """Also: what a killed command left is removed at the start of the next one (the failed
    command never reaches the end of a switch), freeing its space before any work."""
    _, old, _ = sets
    (folder / ".outputs-k1113d00").mkdir()
    (folder / ".outputs-k1113d00" / "forecasts.png").write_bytes(b"\x89PNG" + bytes(30000))
    (folder / ".outputs-link").symlink_to(".outputs-k1113d00")
    (folder / ".verdicts.csv.k2j3h4g5.csv").write_text("expectation\n")  # an older release's
    environment = {**os.environ, "STATELAB_COMPILATION_CACHE": "0"}
    process = subprocess.run([sys.executable, "-c", LIMITED, *reproduce(folder, NEW)],
                             capture_output=True, text=True, timeout=600, env=environment)  # fmt: skip
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr
    assert len(lines) == 1 and lines[0].startswith("statelab: error: cannot write "), lines
    assert "File too large" in lines[0]
    assert view(folder) == old
    assert_tidy(folder)


def test_a_second_run_switches_to_the_new_set_and_report_reads_it(sets, folder, capsys):
    _, _, new = sets
    live = os.readlink(folder / ".outputs")
    assert run_cli(capsys, reproduce(folder, NEW))[0] == 0
    assert view(folder) == new
    assert os.readlink(folder / ".outputs") != live and not (folder / live).exists()
    assert_tidy(folder)
    assert run_cli(capsys, ["report", str(folder)])[0] == 0
    assert (folder / layout.REPORT).read_text().startswith("<!DOCTYPE html>")
    code, err = run_cli(capsys, ["report", str(folder), "--out", str(folder / layout.VERDICTS)])
    assert code == 2 and "would overwrite the study's own files" in err
    assert view(folder)[layout.VERDICTS] == new[layout.VERDICTS]


def test_a_folder_of_the_older_layout_is_taken_over_by_the_command(sets, folder, capsys):
    _, old, new = sets
    for name, data in old.items():  # each name a regular file, as the older release wrote
        (folder / name).unlink()
        (folder / name).write_bytes(data)
    shutil.rmtree(folder / os.readlink(folder / ".outputs"))
    (folder / ".outputs").unlink()
    (folder / ".experiment_stateful.csv.k2j3h4g5.csv").write_text("results\n1.0\n")  # killed
    assert run_cli(capsys, reproduce(folder, NEW))[0] == 0
    assert view(folder) == new
    assert_tidy(folder)
    assert all(fileset.is_link(folder, name) for name in new)


def test_a_live_set_removed_by_hand_does_not_block_the_next_run(sets, folder, capsys):
    _, _, new = sets
    shutil.rmtree(folder / os.readlink(folder / ".outputs"))  # every name now leads nowhere
    assert run_cli(capsys, reproduce(folder, NEW))[0] == 0
    assert view(folder) == new
    assert_tidy(folder)


def test_an_outputs_folder_of_the_users_is_refused_before_any_work(sets, folder, capsys):
    shutil.rmtree(folder / os.readlink(folder / ".outputs"))
    (folder / ".outputs").unlink()
    (folder / ".outputs").mkdir()
    (folder / ".outputs" / "mine.txt").write_text("mine")
    before = sorted(os.listdir(folder))
    code, err = run_cli(capsys, reproduce(folder, NEW))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "is not statelab's link to its files" in err
    assert sorted(os.listdir(folder)) == before
    assert (folder / ".outputs" / "mine.txt").read_text() == "mine"
