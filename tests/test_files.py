"""Atomic writes: links written through, devices and FIFOs refused, a full disk a clean error."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from statelab.errors import StatelabError
from statelab.files import resolve_target, shown, write_atomic, write_text

OLD = "results\n1.0\n2.0\n"


def leftovers(folder: Path) -> list[str]:
    """Temporary files write_atomic might have left behind."""
    return [name for name in os.listdir(folder) if name.startswith(".")]


def test_writes_a_new_file_and_replaces_an_old_one(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "first")
    write_text(target, "second ü")
    assert target.read_text(encoding="utf-8") == "second ü"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert leftovers(tmp_path) == []


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "data.csv"
    real.write_text(OLD)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert write_text(link, "new") == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "later.csv")
    write_text(link, "new")
    assert link.is_symlink() and (tmp_path / "later.csv").read_text() == "new"


def test_a_symlink_loop_is_refused(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    with pytest.raises(StatelabError, match="symbolic link loop"):
        write_text(loop, "new")
    assert loop.is_symlink()


def special_files(folder: Path) -> dict[str, Path]:
    """A FIFO, a socket and (where this user may make one) a device node like /dev/null."""
    made = {"fifo": folder / "fifo"}
    os.mkfifo(made["fifo"])
    made["socket"] = folder / "socket"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(made["socket"]))
    server.close()
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made["device"] = folder / "null"
    except PermissionError:
        pass
    return made


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "link to fifo"])
def test_a_node_that_is_not_a_regular_file_is_refused_never_replaced(tmp_path, kind):
    made = special_files(tmp_path)
    made["link to fifo"] = tmp_path / "link"
    made["link to fifo"].symlink_to(made["fifo"])
    if kind not in made:
        pytest.skip("this user may not make device nodes")
    before = os.lstat(made[kind])
    with pytest.raises(StatelabError, match="not a regular file"):
        write_text(made[kind], "new")
    after = os.lstat(made[kind])
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert leftovers(tmp_path) == []


def test_dev_null_is_refused():
    before = os.stat("/dev/null")
    with pytest.raises(StatelabError, match="not a regular file"):
        resolve_target("/dev/null")
    assert os.stat("/dev/null").st_ino == before.st_ino


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda d: d, "is a folder"),
        (lambda d: d / "missing" / "x.csv", "does not exist"),
        (lambda d: d / "file.csv" / "x.csv", "is a file, not a folder"),
        (lambda d: d / ("x" * 300 + ".csv"), "too long"),
        (lambda d: Path("/proc/statelab.csv"), "cannot write /proc/statelab.csv"),
    ],
    ids=["folder", "missing folder", "under a file", "long name", "under /proc"],
)
def test_unwritable_targets_are_one_line_errors(tmp_path, where, message):
    (tmp_path / "file.csv").write_text(OLD)
    with pytest.raises(StatelabError, match=message) as error:
        write_text(where(tmp_path), "new")
    assert "\n" not in str(error.value)
    assert (tmp_path / "file.csv").read_text() == OLD
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES])
def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(tmp_path, code):
    target = tmp_path / "out.csv"
    target.write_text(OLD)

    def half_then_fail(temporary: Path) -> None:
        temporary.write_text("half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(StatelabError, match=f"cannot write .*out.csv: {os.strerror(code)}"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == OLD
    assert leftovers(tmp_path) == []


def test_shown_escapes_control_characters_and_undecodable_bytes():
    assert shown("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert shown(os.fsdecode(b"caf\xe9.csv")) == "caf\\udce9.csv"
    assert shown("ünïcødé 数据.csv") == "ünïcødé 数据.csv"


# A full disk for real: the CLI in a process whose file size limit (RLIMIT_FSIZE) is a few
# KB. Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as on a full disk.
# The child sets the limit itself before it starts statelab (a preexec_fn would run Python
# in a child forked from this process, which runs JAX's threads).
CHILD = (
    "import resource, runpy, sys; limit = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)) if limit >= 0 else None; "
    "sys.argv[0] = 'statelab'; runpy.run_module('statelab', run_name='__main__')"
)


def statelab(cwd: Path, *argv: str, limit: int = -1) -> subprocess.CompletedProcess:
    # Under a limit, the compilation cache is off: its entries are not what is tested here.
    environment = {**os.environ, **({"STATELAB_COMPILATION_CACHE": "0"} if limit >= 0 else {})}
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(limit), *argv], cwd=cwd, capture_output=True,
        text=True, timeout=600, env=environment,
    )  # fmt: skip


def assert_one_line_error(process: subprocess.CompletedProcess, message: str) -> None:
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("statelab: error:"), process.stderr
    assert message in lines[0], lines[0]


def results_files(folder: Path) -> list[str]:
    (folder / "a.csv").write_text("results\n100.5\n\n101.25\n99.0\n102.0\n")
    (folder / "b.csv").write_text("results\n101.0\n103.5\n104.0\n\n102.5\n")
    return ["a.csv", "b.csv"]


def test_compare_plot_on_a_full_disk_keeps_the_old_plot(tmp_path):
    (tmp_path / "p.png").write_bytes(b"old plot")
    process = statelab(tmp_path, "compare", *results_files(tmp_path), "--plot", "p.png",
                       limit=4096)  # fmt: skip
    assert_one_line_error(process, "cannot write p.png: File too large")
    assert (tmp_path / "p.png").read_bytes() == b"old plot"
    assert leftovers(tmp_path) == []


def test_run_out_on_a_full_disk_keeps_the_old_results(tmp_path):
    (tmp_path / "r.csv").write_text(OLD)
    process = statelab(tmp_path, "run", "stateless", "--epochs", "2", "--repeats", "2",
                       "--out", "r.csv", limit=16)  # fmt: skip
    assert_one_line_error(process, "cannot write r.csv: File too large")
    assert (tmp_path / "r.csv").read_text() == OLD
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [("a.csv/x.png", "a.csv is a file, not a folder"), ("/proc/x.png", "cannot write /proc/x.png")],
)
def test_compare_plot_to_an_unwritable_place(tmp_path, target, message):
    names = results_files(tmp_path)
    process = statelab(tmp_path, "compare", *names, "--plot", target)
    assert_one_line_error(process, message)
    assert (tmp_path / "a.csv").read_text().startswith("results\n100.5")
