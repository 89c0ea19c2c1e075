"""A hostile new user: every case ends in a one-line error with status 2, or works; never a
traceback, and a failing command leaves every file as it was.

Each case is a Case: an id, an argv builder (given a fresh folder, it writes whatever files
the case needs there and returns the command line) and the expected outcome: OK, or a
fragment of the one-line error. Add cases to CASES; the test runs each in its own folder
(also the working directory), in process, through `statelab.cli.main`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from statelab.cli import main
from statelab.execution.store import Store
from statelab.files import resolve_target
from statelab.layout import STORE
from test_report import write_study_folder

OK = "ok"
Builder = Callable[[Path], str]


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Path], list[str]]
    expect: str = OK  # OK, or a fragment of the one-line error
    then: Callable[[Path], bool] | None = None  # a further check after the command


# Builders: each takes the case's folder and returns a command-line argument.


def argv(*parts: str | Builder) -> Callable[[Path], list[str]]:
    """A command line of plain strings and builders, the builders called in order."""
    return lambda folder: [part(folder) if callable(part) else part for part in parts]


def at(name: str) -> Builder:
    """A path in the case's folder; nothing is written there."""
    return lambda folder: str(folder / name)


def file(name: str, content: str | bytes) -> Builder:
    def make(folder: Path) -> str:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    return make


def names(name: str, content: str | bytes) -> Builder:
    """--data @NAME, NAME a file of names in the case's folder (the current folder)."""
    return lambda base: (file(name, content)(base), f"@{name}")[1]


def folder(name: str) -> Builder:
    def make(base: Path) -> str:
        (base / name).mkdir(parents=True, exist_ok=True)
        return str(base / name)

    return make


def link(name: str, to: str) -> Builder:
    """A symbolic link to ``to`` (in the case's folder; it need not exist)."""

    def make(base: Path) -> str:
        (base / name).symlink_to(base / to)
        return str(base / name)

    return make


def fifo(name: str) -> Builder:
    def make(base: Path) -> str:
        os.mkfifo(base / name)
        return str(base / name)

    return make


def unix_socket(name: str) -> Builder:
    def make(base: Path) -> str:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(base / name))
        server.close()
        return str(base / name)

    return make


def study(name: str = "study", change: Callable[[Path], None] | None = None) -> Builder:
    """A study folder as `reproduce` writes it (by hand), then ``change``d."""

    def make(base: Path) -> str:
        write_study_folder(base / name)
        if change is not None:
            change(base / name)
        return str(base / name)

    return make


def rewrite_study(folder: Path, key: str, value: object) -> None:
    study = json.loads((folder / "study.json").read_text())
    study[key] = value
    (folder / "study.json").write_text(json.dumps(study))


def write_in(name: str, content: str | bytes) -> Callable[[Path], None]:
    return lambda path: file(name, content)(path)


def is_png(name: str) -> Callable[[Path], bool]:
    return lambda base: (base / name).read_bytes().startswith(b"\x89PNG")


A = "results\n100.5\n\n101.25\n99.0\n102.0\n"  # repeat 2 failed
B = "results\n101.0\n103.5\n104.0\n\n102.5\n"  # repeat 4 failed
SHORT = "results\n101.0\n103.5\n104.0\n"
HTML_NAME = "<script>alert(1)<\\script>&.csv"


PLOT = at("p.png")


def compare(*files: Builder, plot: str | Builder = PLOT, extra: tuple = ()):
    return argv("compare", *files, "--plot", plot, *extra)


def run_out(out: str | Builder):
    return argv("run", "stateless", "--epochs", "2", "--repeats", "2", "--out", out)


def reproduce(
    *extra: str | Builder, out: str | Builder | None = None, setup: Builder | None = None
):
    """`reproduce` at the smallest size; ``setup`` prepares the case's folder first."""
    command = argv("reproduce", "--repeats", "2", "--pool", "0", "--epochs", "1", "--quiet",
                   "--out", out or at("study"), *extra)  # fmt: skip
    return lambda base: (setup(base) if setup else None, command(base))[1]


def store(content: bytes) -> Builder:
    """A study folder whose store file holds ``content``."""
    return file(f"study/{STORE}", content)


LONG_LIST = ",".join(f"m3:N{k}" for k in range(1402, 1702))  # 300 series, 2,699 characters


def ran_in_order(name: str, series: list[str], repeats: int) -> Callable[[Path], bool]:
    """The results file ``name`` holds ``repeats`` rows of each of ``series``, in order."""

    def check(base: Path) -> bool:
        rows = (base / name).read_text().splitlines()[1:]
        return [row.split(",")[1] for row in rows] == [s for s in series for _ in range(repeats)]

    return check


HELD: list = []  # stores held open by a case, as another statelab process would


def locked_study(base: Path) -> str:
    (base / "study").mkdir()
    HELD.append(Store(base / "study"))
    return str(base / "study")


CASES = [
    # compare: results files
    Case("compare ok", compare(file("a.csv", A), file("b.csv", B)), then=is_png("p.png")),
    Case("compare paired with failures", compare(file("a.csv", A), file("b.csv", B), extra=("--paired",))),
    Case("compare one file", compare(file("a.csv", A))),
    Case("compare missing file", compare(at("none.csv"), file("b.csv", B)), "results file not found"),
    Case("compare folder as a file", compare(folder("x.csv"), file("b.csv", B)), "is a folder; give a results CSV"),
    Case("compare a fifo", compare(fifo("a.csv"), file("b.csv", B)), "not a regular file"),
    Case("compare /dev/zero", compare(file("a.csv", A), "/dev/zero"), "not a regular file"),
    Case("compare a dangling symlink", compare(link("a.csv", "gone.csv"), file("b.csv", B)), "results file not found"),
    Case("compare a name too long", compare(at("x" * 300 + ".csv"), file("b.csv", B)), "File name too long"),
    Case("compare empty file", compare(file("a.csv", ""), file("b.csv", B)), "is empty"),
    Case("compare header only", compare(file("a.csv", "results\n"), file("b.csv", B)), "needs at least 2 RMSEs"),
    Case("compare one value", compare(file("a.csv", "results\n1.0\n"), file("b.csv", B)), "has 1"),
    Case("compare every repeat failed", compare(file("a.csv", "results\n\n\n\n"), file("b.csv", B)), "has 0 (3 failed)"),
    Case("compare binary garbage", compare(file("a.csv", bytes(range(256)) * 8), file("b.csv", B)), "a.csv"),
    Case("compare latin-1 text", compare(file("a.csv", "results\n1.0\n2.0 \xe9\n".encode("latin-1")), file("b.csv", B)), "not UTF-8"),
    Case("compare NUL in a cell", compare(file("a.csv", b"results\n1.0\x00\n2.0\n"), file("b.csv", B)), "line 2"),
    Case("compare no results column", compare(file("a.csv", "rmse\n1\n2\n"), file("b.csv", B)), "no 'results' column"),
    Case("compare text in a cell", compare(file("a.csv", "results\n1\nabc\n2\n"), file("b.csv", B)), "line 3: 'abc' is not a finite number"),
    Case("compare inf", compare(file("a.csv", "results\n1\n-inf\n2\n"), file("b.csv", B)), "'-inf' is not a finite number"),
    Case("compare past float64", compare(file("a.csv", "results\n1\n1e400\n2\n"), file("b.csv", B)), "is not a finite number"),
    Case("compare huge but finite", compare(file("a.csv", "results\n1e308\n1.5e308\n"), file("b.csv", B)), "too large to compare"),
    Case("compare True/False", compare(file("a.csv", "results\nTrue\nFalse\n"), file("b.csv", B)), "'True' is not a finite number"),
    Case("compare more cells than the header", compare(file("a.csv", "results\n1,2\n3,4\n"), file("b.csv", B)), "more cells than the header"),
    Case("compare ragged rows", compare(file("a.csv", "results\n1\n2,3\n"), file("b.csv", B)), "cannot read"),
    Case("compare unterminated quote", compare(file("a.csv", 'results\n"1\n2\n'), file("b.csv", B)), "cannot read"),
    Case("compare crlf and bom", compare(file("a.csv", "\ufeff" + A.replace("\n", "\r\n")), file("b.csv", B))),
    Case("compare negative and tiny values", compare(file("a.csv", "results\n-1e-300\n-2\n3\n"), file("b.csv", B))),
    Case("compare constant files", compare(file("a.csv", "results\n5\n5\n5\n"), file("b.csv", "results\n6\n6\n6\n"), extra=("--paired",))),
    Case("compare identical files", compare(file("a.csv", A), file("b.csv", A), extra=("--paired",))),
    Case("compare unicode names", compare(file("ünï 数据 🙂.csv", A), file("b.csv", B))),
    Case("compare names with html", compare(file(HTML_NAME, A), file("b.csv", B))),
    Case("compare a name with a newline", compare(at("new\nline.csv"), file("b.csv", B)), "new\\nline.csv"),
    Case("compare a name with an escape sequence", compare(at("\x1b[31mred.csv"), file("b.csv", B)), "\\x1b[31mred.csv"),
    Case("compare an undecodable name", compare(file(os.fsdecode(b"caf\xe9.csv"), A), file("b.csv", B), plot=at(os.fsdecode(b"p\xe9.png")))),
    Case("compare a tab and a newline in a name", compare(file("a\tb\nc.csv", A), file("b.csv", B))),
    Case("compare a file named .csv", compare(file(".csv", A), file("b.csv", B))),
    Case("compare the same file twice", compare(file("a.csv", A), at("a.csv")), "given twice"),
    Case("compare the same file by two paths", compare(file("a.csv", A), at("./a.csv")), "given twice"),
    Case("compare two files of one name", compare(file("a.csv", A), file("d/experiment_a.csv", B)), "two results files are named a"),
    Case("compare paired with different rows", compare(file("a.csv", A), file("b.csv", SHORT), extra=("--paired",)), "same number of rows"),
    Case("compare no files", argv("compare", "--plot", "p.png"), "Missing argument"),
    Case("compare unknown option", compare(file("a.csv", A), extra=("--colour",)), "No such option"),
    Case("compare twelve files", compare(*(file(f"f{i}.csv", A if i % 2 else B) for i in range(12)))),
    # compare --plot: where the figure goes
    Case("plot to a folder", compare(file("a.csv", A), file("b.csv", B), plot=folder("plots")), "is a folder; give a file name"),
    Case("plot to the current folder", compare(file("a.csv", A), file("b.csv", B), plot=""), "is a folder"),
    Case("plot to /dev/null", compare(file("a.csv", A), file("b.csv", B), plot="/dev/null"), "not a regular file"),
    Case("plot to a fifo", compare(file("a.csv", A), file("b.csv", B), plot=fifo("p.png")), "not a regular file"),
    Case("plot to a socket", compare(file("a.csv", A), file("b.csv", B), plot=unix_socket("p.png")), "not a regular file"),
    Case("plot to a symlink", compare(file("a.csv", A), file("b.csv", B), plot=link("p.png", "real.png")),
         then=lambda d: (d / "p.png").is_symlink() and is_png("real.png")(d)),
    Case("plot to a symlink to a folder", compare(file("a.csv", A), file("b.csv", B), plot=lambda d: folder("f")(d) and link("p.png", "f")(d)), "is a folder"),
    Case("plot to a dangling symlink", compare(file("a.csv", A), file("b.csv", B), plot=link("p.png", "later.png")), then=is_png("later.png")),
    Case("plot to a symlink loop", compare(file("a.csv", A), file("b.csv", B), plot=link("p.png", "p.png")), "symbolic link loop"),
    Case("plot under a missing folder", compare(file("a.csv", A), file("b.csv", B), plot=at("no/p.png")), "does not exist"),
    Case("plot under a file", compare(file("a.csv", A), file("b.csv", B), plot=at("a.csv/p.png")), "is a file, not a folder"),
    Case("plot under /proc", compare(file("a.csv", A), file("b.csv", B), plot="/proc/p.png"), "cannot write /proc/p.png"),
    Case("plot over a results file", compare(file("a.csv", A), file("b.csv", B), plot=at("b.csv")), "would overwrite the results file"),
    Case("plot over a results file by a link", compare(file("a.csv", A), file("b.csv", B), plot=link("p.png", "a.csv")), "would overwrite"),
    Case("plot with a very long name", compare(file("a.csv", A), file("b.csv", B), plot=at("p" * 300 + ".png")), "too long"),
    Case("plot with an html name", compare(file("a.csv", A), file("b.csv", B), plot=at("<b>p<\\b>.png")), then=is_png("<b>p<\\b>.png")),
    # report
    Case("report ok", argv("report", study()), then=lambda d: (d / "study" / "report.html").is_file()),
    Case("report on an empty folder", argv("report", folder("empty")), "lacks study.json, verdicts.csv"),
    Case("report on a missing folder", argv("report", at("nothing")), "no such folder"),
    Case("report on a name too long", argv("report", at("x" * 300)), "File name too long"),
    Case("report --out with a name too long", argv("report", study(), "--out", at("x" * 300 + ".html")), "File name too long"),
    Case("report on lone surrogates in study.json", argv("report", study(change=lambda d: rewrite_study(d, "series", {"name": "\udce9\ud800", "index": ["\udce9"], "values": [1.0]})))),
    Case("report on an undecodable folder name", argv("report", study(name=os.fsdecode(b"st\xe9")))),
    Case("report on a fifo", argv("report", fifo("f")), "is not a folder"),
    Case("report on a file", argv("report", file("x.csv", A)), "is not a folder"),
    Case("report without verdicts", argv("report", study(change=lambda d: (d / "verdicts.csv").unlink())), "lacks verdicts.csv"),
    Case("report with study.json a folder", argv("report", study(change=lambda d: ((d / "study.json").unlink(), (d / "study.json").mkdir()))), "lacks study.json"),
    Case("report on invalid json", argv("report", study(change=write_in("study.json", "{'seed': 1}"))), "not JSON"),
    Case("report on json null", argv("report", study(change=write_in("study.json", "null"))), "must be a JSON object, not null"),
    Case("report on garbage json", argv("report", study(change=write_in("study.json", bytes(range(256))))), "not UTF-8"),
    Case("report on string repeats", argv("report", study(change=write_in("study.json", '{"seed": 1, "repeats": "<b>"}'))), "'repeats' must be an integer"),
    Case("report on empty verdicts", argv("report", study(change=write_in("verdicts.csv", ""))), "verdicts.csv is damaged"),
    Case("report on verdicts without columns", argv("report", study(change=write_in("verdicts.csv", "expectation\nE1\n"))), "lacks column(s) claim"),
    Case("report on header-only verdicts", argv("report", study(change=write_in("verdicts.csv", "expectation,claim,explanation,a,b,mean_a,mean_b,mean_difference,ci_low,ci_high,welch_p,mann_whitney_p,wilcoxon_p,holm_p,cohens_d,cliffs_delta,verdict\n"))), "holds no rows"),
    Case("report on a study.json with an empty series", argv("report", study(change=lambda d: rewrite_study(d, "series", {"name": "x", "index": [], "values": []}))), "'series.index' is empty"),
    Case("report on html in verdicts", argv("report", study(change=write_in("verdicts.csv", "<i>,claim,explanation,a,b,mean_a,mean_b,mean_difference,ci_low,ci_high,welch_p,mann_whitney_p,wilcoxon_p,holm_p,cohens_d,cliffs_delta,verdict\n<script>,<b>,</p>&,<a,b>,,,,,,,,,,,,<span>\n"))),
         then=lambda d: "<script>" not in (d / "study" / "report.html").read_text()),
    Case("report on a text series.png", argv("report", study(change=write_in("series.png", "not a png"))), "not a PNG image"),
    Case("report on a garbage table", argv("report", study(change=write_in("table_a_vs_a.csv", b"\xff\x00" * 64))), "table_a_vs_a.csv is damaged"),
    Case("report on a hostile folder name", argv("report", study(name="<script>x<\\script>&'\"")),
         then=lambda d: (d / "<script>x<\\script>&'\"" / "report.html").is_file()),
    Case("report --out under a missing folder", argv("report", study(), "--out", at("no/r.html")), "does not exist"),
    Case("report --out to a folder", argv("report", study(), "--out", folder("r")), "is a folder"),
    Case("report --out to /dev/null", argv("report", study(), "--out", "/dev/null"), "not a regular file"),
    Case("report --out to a fifo", argv("report", study(), "--out", fifo("r.html")), "not a regular file"),
    Case("report --out over study.json", argv("report", study(), "--out", at("study/study.json")), "would overwrite the study's own files"),
    Case("report --out over the store", argv("report", study(change=write_in("statelab.sqlite", "db")), "--out", at("study/statelab.sqlite")), "would overwrite"),
    Case("report --out to a symlink", argv("report", study(), "--out", link("r.html", "real.html")),
         then=lambda d: (d / "r.html").is_symlink() and (d / "real.html").is_file()),
    Case("report --out under a file", argv("report", study(), "--out", at("study/study.json/r.html")), "is a file, not a folder"),
    # run --out
    Case("run --out ok", run_out(at("r.csv")), then=lambda d: (d / "r.csv").read_text().startswith("results\n")),
    Case("run --out to a folder", run_out(folder("r")), "is a folder"),
    Case("run --out under a missing folder", run_out(at("no/r.csv")), "does not exist"),
    Case("run --out to /dev/null", run_out("/dev/null"), "not a regular file"),
    Case("run --out to a fifo", run_out(fifo("r.csv")), "not a regular file"),
    Case("run --out to a symlink", run_out(link("r.csv", "real.csv")),
         then=lambda d: (d / "r.csv").is_symlink() and (d / "real.csv").is_file()),
    Case("run --out to a dangling symlink", run_out(link("r.csv", "later.csv")),
         then=lambda d: (d / "later.csv").read_text().startswith("results\n")),
    # reproduce and the store: refused before anything is allocated, started or stored
    Case("reproduce ok", reproduce(), then=is_png("study/forecasts.png")),
    Case("reproduce 1e10 repeats", reproduce("--repeats", "10000000000"), "repeats must be a whole number from 1"),
    Case("reproduce repeats as 1e10", reproduce("--repeats", "1e10"), "Invalid value for '--repeats'"),
    Case("reproduce 1e12 pool", reproduce("--pool", "1000000000000"), "--pool must be a whole number"),
    Case("reproduce negative pool", reproduce("--pool", "-3"), "--pool must be"),
    Case("reproduce 1e9 workers", reproduce("--workers", "1000000000"), "cores"),
    Case("reproduce 200 workers", reproduce("--workers", "200"), "cores"),
    Case("reproduce 0 workers", reproduce("--workers", "0"), "--workers must be from 1"),
    Case("reproduce workers and cluster", reproduce("--workers", "1", "--cluster", "tcp://127.0.0.1:9"), "not both"),
    Case("reproduce chunk 0", reproduce("--chunk", "0"), "--chunk must be"),
    Case("reproduce huge chunk", reproduce("--chunk", "99999999999"), "--chunk must be"),
    Case("reproduce keep nonsense", reproduce("--keep", "gradients"), "--keep takes"),
    Case("reproduce keep both", reproduce("--keep", "weights,loss")),
    Case("reproduce one repeat", reproduce("--repeats", "1"), "at least 2 repeats"),
    Case("reproduce zero epochs", reproduce("--epochs", "0"), "epochs must be"),
    Case("reproduce bad profile", reproduce("--profile", "keras1"), "unknown profile"),
    Case("reproduce huge seed", reproduce("--seed", "99999999999"), "seed must be"),
    Case("reproduce missing data", reproduce("--data", at("none.csv")), "not found"),
    Case("reproduce empty data", reproduce("--data", file("d.csv", "")), "empty"),
    Case("reproduce value column on shampoo", reproduce("--value-column", "x"), "only to --data"),
    Case("reproduce out is a file", reproduce(out=file("taken", "keep me")), "is a file"),
    Case("reproduce out under a file", reproduce(out=lambda d: file("f", "x")(d) + "/study"), "cannot create folder"),
    Case("reproduce out in /proc", reproduce(out="/proc/statelab-study"), "cannot create folder"),
    Case("reproduce store not sqlite", reproduce(setup=store(b"not a database" * 100)), "not a statelab store"),
    Case("reproduce store truncated", reproduce(setup=store(b"")), "empty (0 bytes)"),
    Case("reproduce store is a folder", reproduce(setup=folder(f"study/{STORE}")), "not a file"),
    Case("reproduce output name taken by a folder", reproduce(setup=folder("study/verdicts.csv")), "is a folder"),
    Case("reproduce output name a fifo", reproduce(setup=lambda d: (folder("study")(d), fifo("study/study.json")(d))), "not a regular file"),
    Case("reproduce store locked", reproduce(out=locked_study), "another statelab command is using"),
    Case("run learning rate inf", argv("run", "--learning-rate", "inf", "--epochs", "1"), "learning-rate must be"),
    Case("run learning rate 1e308", argv("run", "--learning-rate", "1e308", "--epochs", "1"), "learning-rate must be"),
    Case("run learning rate nan", argv("run", "--learning-rate", "nan", "--epochs", "1"), "learning-rate must be"),
    Case("run 1e10 repeats", argv("run", "--repeats", "10000000000", "--epochs", "1"), "repeats must be"),
    # --data: lists of any length, names from a file (@FILE)
    Case("run a list of 300 series", argv("run", "stateless", "--data", LONG_LIST, "--epochs", "2", "--repeats", "2", "--quiet", "--out", at("o")),
         then=ran_in_order("o/results.csv", LONG_LIST.split(","), 2)),
    Case("run one name from a file", argv("run", "stateless", "--data", names("n.txt", "# the documented one\n\nm3:N1402  # MICRO\n"), "--epochs", "2", "--repeats", "2", "--out", at("r.csv")),
         then=lambda d: len((d / "r.csv").read_text().splitlines()) == 3),
    Case("generalise a list of 300 series", argv("generalise", "--data", LONG_LIST, "--repeats", "1", "--out", at("g")), "at least 2 repeats"),
    Case("reproduce a list of 300 series", reproduce("--data", LONG_LIST), "holds 300 series; the study runs on one"),
    Case("run a data name too long", argv("run", "--data", "x" * 300 + ".csv", "--epochs", "1"), "File name too long"),
    Case("run names from a missing file", argv("run", "--data", "@none.txt", "--epochs", "1"), "file of names not found: none.txt"),
    Case("run names from an empty file", argv("run", "--data", names("n.txt", "\n# nothing yet\n"), "--epochs", "1"), "names no series"),
    Case("run an unknown name in a file", argv("run", "--data", names("n.txt", "m3:N1402\n\nm3:N99\n"), "--epochs", "1"), "n.txt line 3: m3 has no series 'N99'"),
    Case("run a CSV series as a file of names", argv("run", "--data", names("s.csv", "date,v\n2000-01,1\n"), "--epochs", "1"), "s.csv line 1: unknown data set 'date'"),
    Case("generalise a nested file of names", argv("generalise", "--data", names("n.txt", "m3:N1402\n@n.txt\n"), "--out", at("g")), "refused (no nesting)"),
    Case("generalise names from a folder", argv("generalise", "--data", lambda d: "@" + folder("names")(d), "--out", at("g")), "is a folder; give a text file"),
    Case("run a file of names with a NUL byte", argv("run", "--data", names("n.txt", b"m3:N1402\x00\n"), "--epochs", "1"), "holds a NUL byte"),
    Case("run a million repeats on a slice", argv("run", "--repeats", "1000000", "--data", "m3/yearly", "--epochs", "1", "--out", at("o")), "one command runs at most 50,000,000"),
]  # fmt: skip


def snapshot(base: Path) -> dict[str, str]:
    """Everything under base: each entry's type and content (a link's target, a hash)."""
    seen = {}
    for root, folders, names in os.walk(base):
        for name in folders + names:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                seen[path] = "link " + os.readlink(path)
            elif stat.S_ISREG(mode):
                seen[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                seen[path] = f"mode {stat.S_IFMT(mode)}"
    return seen


def test_cases_have_unique_ids():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    command = case.argv(tmp_path)
    if "/dev/null" in command:  # never let a regression replace the machine's /dev/null
        with pytest.raises(Exception, match="not a regular file"):
            resolve_target("/dev/null")
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(command)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if case.expect == OK:
        assert exit_info.value.code == 0, err
        assert case.then is None or case.then(tmp_path)
        return
    lines = err.strip().splitlines()
    assert exit_info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("statelab: error:"), err
    assert case.expect in lines[0], lines[0]
    assert snapshot(tmp_path) == before  # nothing damaged, nothing left behind
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.fixture(autouse=True)
def release_held_stores():
    yield
    while HELD:
        HELD.pop().close()
