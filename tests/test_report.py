"""`statelab report`: one self-contained HTML file, checked in real headless Chromium."""

from __future__ import annotations

import ast
import contextlib
import json
import re
import struct
import subprocess
import sys
import zlib
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from statelab.cli import main
from statelab.report import toolkit

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package; .ci/run installs it
HOSTILE = "<script>alert('x')</script>&sales"


def cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 0


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    # A series is named as it was selected: by its path, here "...<script>...</script>&..."
    hostile = folder / HOSTILE.split("/")[0]
    hostile.mkdir()
    data = hostile / (HOSTILE.split("/", 1)[1] + ".csv")
    values = 200 + np.cumsum(np.random.default_rng(0).normal(5, 30, 40))
    rows = "\n".join(f"{2001 + m // 12}-{m % 12 + 1:02d},{v:.2f}" for m, v in enumerate(values))
    data.write_text(f'date,"{HOSTILE}"\n{rows}\n')
    out = folder / "study"
    cli("reproduce", "--repeats", "4", "--epochs", "3", "--pool", "30", "--data", str(data),
        "--out", str(out), "--quiet")  # fmt: skip
    cli("report", str(out))
    return out / "report.html"


def test_report_is_self_contained_and_escapes_user_names(report):
    html = report.read_text()
    assert "<script" not in html.lower()  # the hostile column name arrives escaped
    assert "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)  # no network resources
    assert html.count('src="data:image/png;base64,') == 7
    for section in (
        "The six expectations",
        "The tests behind each verdict",
        "The data set",
        "Settings",
        "Versions and seeds",
        "How many repeats",
    ):
        assert section in html
    for key in ("E1", "E2", "E3", "E4", "E5", "E6"):
        assert f"<b>{key}</b>" in html


@contextlib.contextmanager
def opened(html: Path):
    """``html`` loaded in headless Chromium: yields (page, messages, requests), the console's
    messages and the page's errors as (type, text), and every URL the page asked for."""
    from playwright.sync_api import sync_playwright

    messages, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on("console", lambda message: messages.append((message.type, message.text)))
            page.on("pageerror", lambda error: messages.append(("error", str(error))))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            yield page, messages, requests
        finally:
            browser.close()


def test_report_renders_in_headless_chromium_with_every_figure(report):
    with opened(report) as (page, messages, requests):
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        title = page.title()
        verdicts = page.locator("#summary .badge").count()
        summary_rows = page.locator("#summary tr").count()
    assert title.startswith("statelab")
    assert len(images) == 7 and all(done and w > 100 and h > 100 for done, w, h in images)
    assert verdicts == 6 and summary_rows == 7  # E1-E6 under a header
    assert not [m for m in messages if m[0] == "error"], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_the_reproduced_page_fits_the_width_and_its_summary_the_first_screen(report):
    assert layout_problems(report) == []


def test_the_layout_check_sees_a_table_too_wide_and_a_summary_too_tall(report, tmp_path):
    """The check above, against pages broken on purpose: tables that may not wrap, and a
    summary padded past the first screen."""
    html = report.read_text()
    unwrapped = tmp_path / "nowrap.html"
    unwrapped.write_text(html.replace("</style>", "td, th { white-space: nowrap !important; "
                                      "overflow-wrap: normal !important; } </style>"))  # fmt: skip
    assert [p for p in layout_problems(unwrapped) if p.startswith("390x844: table")]
    tall = tmp_path / "tall.html"
    tall.write_text(html.replace("</style>", "#summary td { padding: 3em; } </style>"))
    assert [p for p in layout_problems(tall) if "below the first screen" in p]
    wrapped = tmp_path / "wrapped.html"
    wrapped.write_text(html.replace("</style>", ".nowrap { white-space: normal; } "
                                    "#summary table { width: 20em; } </style>"))  # fmt: skip
    assert [p for p in layout_problems(wrapped) if p.endswith("wraps")]


# The screens the layout is checked on: a laptop's, and a phone's (390 x 844 CSS pixels, the
# viewport of an iPhone 12 to 15). The summary must end within the first screen of each.
SCREENS = ((1280, 800), (390, 844))
FIRST_SCREEN = """() => {
  const summary = document.querySelector('#summary');
  if (!summary) return ['no #summary'];
  const problems = [];
  const bottom = summary.getBoundingClientRect().bottom;
  if (bottom > window.innerHeight) {
    problems.push(`the summary ends at ${bottom} px, below the first screen`);
  }
  for (const span of summary.querySelectorAll('.nowrap')) {
    if (span.getClientRects().length > 1) problems.push(`"${span.textContent}" wraps`);
  }
  return problems;
}"""
WIDTHS = """() => {
  const problems = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) {
    problems.push(`the page is ${page.scrollWidth} px wide in ${page.clientWidth}`);
  }
  document.querySelectorAll('table').forEach((table, i) => {
    const box = table.parentElement;
    if (table.scrollWidth > box.clientWidth || box.scrollWidth > box.clientWidth) {
      const head = table.rows[0].textContent.slice(0, 40);
      problems.push(`table ${i} (${head}) is ${table.scrollWidth} px wide in ${box.clientWidth}`);
    }
  });
  return problems;
}"""


def layout_problems(html: Path) -> list[str]:
    """What does not fit in ``html`` as real Chromium lays it out on each of SCREENS: with
    every section folded, the summary below the first screen or an interval in it wrapping;
    with every section unfolded, a table wider than its container (scrollWidth > clientWidth)
    or a page wider than the screen."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        for width, height in SCREENS:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            found = page.evaluate(FIRST_SCREEN)
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            found += page.evaluate(WIDTHS)
            problems += [f"{width}x{height}: {problem}" for problem in found]
            page.close()
        browser.close()
    return problems


def test_report_of_a_missing_folder_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2
    assert "reproduce" in capsys.readouterr().err


# A study folder written by hand, independent of `reproduce`: plain, or with hostile HTML in
# every string of study.json and every CSV cell, column name and index label.

VERDICT_HEADER = ["claim", "explanation", "a", "b", "mean_a", "mean_b", "mean_difference", "ci_low",
                  "ci_high", "welch_p", "mann_whitney_p", "wilcoxon_p", "holm_p", "cohens_d",
                  "cliffs_delta", "verdict"]  # fmt: skip
PLAIN_VERDICTS = ("contradicted", "supported", "identical", "contradicted", "supported",
                  "no detectable difference")  # fmt: skip
FIGURES = ("series.png", "se_curve.png", "forecasts.png") + tuple(
    f"box_{key}.png" for key in ("a_vs_a", "stateful_vs_stateless", "batch12", "resets")
)
TABLES = tuple(
    f"table_{key}.csv" for key in ("a_vs_a", "stateful_vs_stateless", "batch12", "resets")
)


def png(width: int = 120, height: int = 120) -> bytes:
    """A valid PNG, one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x20\x60\xa0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


class Marks:
    """Values for the hand-written folder: plain, or each made hostile and unique, recorded
    when the report shows it (so the test can find it, escaped)."""

    def __init__(self, hostile: bool) -> None:
        self.hostile = hostile
        self.shown: list[str] = []

    def __call__(self, plain: str, shown: bool = True) -> str:
        if not self.hostile:
            return plain
        value = f"{plain}<script>alert({len(self.shown)})</script>\"'&<img src=x onerror=alert(1)>"
        if shown:
            self.shown.append(value)
        return value


def study_json(mark: Marks) -> dict:
    names = [mark(name) for name in ("stateful", "stateless", "stateful2")]
    index = [f"2001-{m:02d}" for m in range(1, 13)]
    index[0], index[-1] = mark(index[0]), mark(index[-1])
    return {
        "seed": 1,
        "repeats": 3,
        "pool": {"experiment": mark("stateful"), "repeats": 5},
        "versions": {mark("python"): mark("3.11.7"), "statelab": "0.1.0"},
        "device": mark("cpu:0"),
        "persistence_rmse": 136.76131884905664,
        "series": {"name": mark("sales"), "index": index, "values": [float(v) for v in range(12)]},
        "experiments": {
            name: {
                "settings": {mark("stateful"): mark("True"), "epochs": 2, "train_window": None},
                "settings_hash": mark("329222f956ea746f"),
                "seed_stream": 0,
                "failed": 0,
                "versions": [{"python": mark("3.11.7", shown=False)}],
                "timings": {"compile_s": 1.0, "run_s": mark("0.1", shown=False)},
            }
            for name in names
        },
    }


def verdicts_frame(mark: Marks) -> pd.DataFrame:
    rows, key = [], mark("expectation", shown=False)  # the page names its own columns
    for i, verdict in enumerate(PLAIN_VERDICTS, 1):
        rows.append(
            {key: mark(f"E{i}"),
             "claim": mark("stateful beats stateless"), "a": mark("stateful"),
             "b": mark("stateless"), "n_a": 3, "n_b": 3,
             "mean_a": 146.4, "mean_b": 149.5,
             "mean_difference": -3.08, "ci_low": -4.6, "ci_high": -0.46, "welch_p": 0.79,
             "mann_whitney_p": 0.7, "wilcoxon_p": float("nan"), "cohens_d": -0.24,
             "cliffs_delta": -0.33, "identical": False, "primary_p": 0.25, "holm_p": 1.0,
             "verdict": mark(verdict),
             # Not shown: its numbers are in the tables, its p-value in the study's own words.
             "explanation": mark("stateful mean RMSE 146.40", shown=False)}
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.set_index(key)


def describe_frame(mark: Marks) -> pd.DataFrame:
    rows = ["count", "mean", "std", "min", "25%", "50%", "75%", "max", "failed"]
    frame = pd.DataFrame(
        {mark("stateful"): [3.0, 146.4, 11.9, 135.8, 140.0, 144.2, 151.7, 159.3, 0.0],
         mark("stateless"): [3.0, 149.5, 14.3, 136.2, 142.2, 148.2, 156.4, 164.6, 0.0]},
        index=[mark(row) if row == "mean" else row for row in rows],
    ).astype(object)  # fmt: skip
    frame.iloc[2, 0] = mark("11.9")
    return frame


def write_study_folder(folder: Path, hostile: bool = False) -> list[str]:
    """Every file `report` reads, written directly; returns the hostile values it shows."""
    mark = Marks(hostile)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.json").write_text(json.dumps(study_json(mark), indent=2))
    verdicts_frame(mark).to_csv(folder / "verdicts.csv")
    for name in TABLES:
        describe_frame(mark).to_csv(folder / name)
    # Numbers only in the tables of numbers: a cell edited to text is refused by the table's
    # schema (test_a_damaged_folder...), so hostile text lives in the text cells.
    se_curve = pd.DataFrame({"repeats": [5], "bootstrap_se": [6.2], "formula_se": [6.9],
                             "ci95_half_width": [12.1]})  # fmt: skip
    se_curve.to_csv(folder / "se_curve.csv")
    power = pd.DataFrame({"rmse_difference": [1.0, 2.0], "effect_size_d": [0.07, 0.13],
                          "repeats_needed": [3704, 927]})  # fmt: skip
    power.to_csv(folder / "power.csv")
    for name in FIGURES:
        (folder / name).write_bytes(png())
    return mark.shown


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b",
                "span", "table", "tr", "th", "td", "img", "section", "details", "summary",
                "small", "br"}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_no_markup_from_files(html: str) -> None:
    """Only the report's own elements and attributes: nothing a file could have injected."""
    parser = Tags()
    parser.feed(html)
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS
    for tag, attrs in parser.tags:
        assert not [name for name, _ in attrs if name.startswith("on")], (tag, attrs)
        if tag == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")


def test_a_hand_written_folder_reports_like_a_reproduced_one(tmp_path):
    write_study_folder(tmp_path)
    cli("report", str(tmp_path))
    html = (tmp_path / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 7
    assert (
        '<td class="text"><b>E1</b> stateful beats stateless<br><small>a: stateful, '
        'b: stateless</small></td><td class="text"><span class="badge contradicted">'
        "contradicted</span></td>"
    ) in html
    assert "<td>3704</td>" in html and "<td>136.761" not in html  # counts stay integers
    assert "persistence RMSE 136.761" in html
    assert_no_markup_from_files(html)


def test_every_value_from_the_files_arrives_escaped(tmp_path):
    shown = write_study_folder(tmp_path, hostile=True)
    cli("report", str(tmp_path))
    html = (tmp_path / "report.html").read_text()
    assert_no_markup_from_files(html)
    assert "<script" not in html.lower() and "<img src=x" not in html
    missing = [value for value in shown if escape(value) not in html]
    assert not missing, missing
    assert len(shown) > 40


def test_a_hostile_folder_runs_no_script_in_headless_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    write_study_folder(tmp_path, hostile=True)
    cli("report", str(tmp_path))
    dialogs, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((tmp_path / "report.html").as_uri())
        page.wait_for_load_state("load")
        scripts = page.evaluate("document.scripts.length")
        images = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        browser.close()
    assert dialogs == [] and errors == [] and scripts == 0
    assert len(images) == 7 and all(width == 120 for width in images)


def test_blank_cells_in_verdicts_still_report(tmp_path):
    write_study_folder(tmp_path)
    frame = pd.read_csv(tmp_path / "verdicts.csv", index_col=0).astype(object)
    # Every cell a file can leave blank (numbers not computed, text): the counts and the
    # identical flag are always written, and a blank one is damage (verdicts.csv's schema).
    blank = [c for c in frame.columns if c not in ("n_a", "n_b", "identical")]
    frame.loc[frame.index[0], blank] = float("nan")
    frame.to_csv(tmp_path / "verdicts.csv")
    cli("report", str(tmp_path))
    html = (tmp_path / "report.html").read_text()
    summary = html[html.index('id="summary"') : html.index("</section>")]
    assert summary.count("<tr>") == 7  # the blank row still has its line
    blank = '<b>E1</b> <br><small>a: , b: </small></td><td class="text"><span class="badge none">'
    assert blank in summary


def edit_csv(path: Path, column: str, value: str | None) -> None:
    """Set ``column`` of the first row to ``value`` as text, or drop the column (None)."""
    frame = pd.read_csv(path, index_col=0).astype(object)
    if value is None:
        frame = frame.drop(columns=[column])
    else:
        frame.iloc[0, frame.columns.get_loc(column)] = value
    frame.to_csv(path)


def rewrite_study(folder: Path, change) -> None:
    study = json.loads((folder / "study.json").read_text())
    change(study)
    (folder / "study.json").write_text(json.dumps(study))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "study.json").write_text("{"), "study.json is damaged or was edited (not JSON"),
        (lambda d: (d / "study.json").write_text("[1, 2]"), "must be a JSON object, not list"),
        (lambda d: (d / "study.json").write_bytes(b"\xff\xfe{}"), "not UTF-8"),
        (lambda d: (d / "study.json").write_text("[" * 100_000), "not JSON"),
        (lambda d: (d / "study.json").write_text('{"seed": 1' + "0" * 5000 + "}"), "not JSON"),
        (lambda d: rewrite_study(d, lambda s: s.pop("repeats")), "'repeats' is missing"),
        (lambda d: rewrite_study(d, lambda s: s.update(repeats="3")), "'repeats' must be an integer, not str"),
        (lambda d: rewrite_study(d, lambda s: s.update(seed=True)), "'seed' must be an integer, not bool"),
        (lambda d: rewrite_study(d, lambda s: s.update(persistence_rmse=None)), "'persistence_rmse' must be a number"),
        (lambda d: rewrite_study(d, lambda s: s.update(pool=[])), "'pool' must be an object"),
        (lambda d: rewrite_study(d, lambda s: s["series"].pop("index")), "'series.index' is missing"),
        (lambda d: rewrite_study(d, lambda s: s.update(experiments=[])), "'experiments' must be an object"),
        (lambda d: rewrite_study(d, lambda s: s["experiments"].update({"x.y": 3})), "'experiments.x.y' must be an object, not int"),
        (lambda d: rewrite_study(d, lambda s: s["experiments"]["stateful"].update(versions={})), "'experiments.stateful.versions' must be a list"),
        (lambda d: rewrite_study(d, lambda s: s.update(versions="3.11")), "'versions' must be an object"),
        (lambda d: rewrite_study(d, lambda s: s["series"].update(index=[], values=[])), "'series.index' is empty"),
        (lambda d: rewrite_study(d, lambda s: s["series"].update(index=[])), "'series.index' is empty"),
        (lambda d: rewrite_study(d, lambda s: s["series"]["values"].pop()), "'series.values' holds 11 values for 12 dates"),
        (lambda d: rewrite_study(d, lambda s: s["series"]["index"].append("2002-01")), "'series.values' holds 12 values for 13 dates"),
        (lambda d: rewrite_study(d, lambda s: s["series"]["values"].__setitem__(3, "4")), "'series.values' must hold finite numbers only"),
        (lambda d: rewrite_study(d, lambda s: s["series"]["values"].__setitem__(3, float("nan"))), "'series.values' must hold finite numbers only"),
        (lambda d: rewrite_study(d, lambda s: s.update(experiments={})), "'experiments' is empty"),
        (lambda d: rewrite_study(d, lambda s: s.update(persistence_rmse=float("inf"))), "'persistence_rmse' must be a finite number"),
        (lambda d: (d / "verdicts.csv").write_text(",".join(["expectation", *VERDICT_HEADER]) + "\n"), "verdicts.csv is damaged or was edited (holds no rows)"),
        (lambda d: (d / "verdicts.csv").write_text(""), "verdicts.csv is damaged or was edited"),
        (lambda d: (d / "verdicts.csv").write_bytes(bytes(range(256)) * 4), "verdicts.csv is damaged"),
        (lambda d: (d / "verdicts.csv").write_text("expectation,claim\nE1,x\n"), "lacks column(s) a, b, mean_a"),
        (lambda d: (d / "verdicts.csv").write_text('expectation,claim\nE1,"x\n'), "verdicts.csv is damaged"),
        (lambda d: (d / "se_curve.csv").write_bytes(b"\x00\xff" * 100), "se_curve.csv is damaged"),
        (lambda d: edit_csv(d / "verdicts.csv", "mean_a", "146.4<b>"), "column 'mean_a' is not of its kind: '146.4<b>'"),
        (lambda d: edit_csv(d / "se_curve.csv", "repeats", "five"), "column 'repeats' is not of its kind"),
        (lambda d: edit_csv(d / "power.csv", "effect_size_d", None), "power.csv is damaged or was edited (lacks column(s) effect_size_d)"),
        (lambda d: (d / "table_resets.csv").write_text(""), "table_resets.csv is damaged"),
        (lambda d: (d / "series.png").write_text("<svg onload=alert(1)>"), "series.png is damaged or was edited (not a PNG image)"),
        (lambda d: (d / "box_batch12.png").write_bytes(b""), "box_batch12.png is damaged"),
    ],
)  # fmt: skip
def test_a_damaged_folder_is_a_one_line_error_and_nothing_is_written(
    tmp_path, capsys, damage, message
):
    write_study_folder(tmp_path)
    damage(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert f"run `statelab reproduce --out {tmp_path}` again" in err
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("name", ["study.json", "verdicts.csv", "statelab.sqlite", "series.png"])
def test_out_never_overwrites_the_studys_own_files(tmp_path, capsys, name):
    write_study_folder(tmp_path)
    (tmp_path / "statelab.sqlite").write_bytes(b"SQLite format 3\x00")
    before = (tmp_path / name).read_bytes()
    link = tmp_path.parent / f"{tmp_path.name}-link"
    link.symlink_to(tmp_path / name)
    for out in (tmp_path / name, link):
        with pytest.raises(SystemExit) as exit_info:
            main(["report", str(tmp_path), "--out", str(out)])
        assert exit_info.value.code == 2
        assert "would overwrite the study's own files" in capsys.readouterr().err
    assert (tmp_path / name).read_bytes() == before


def test_out_to_another_html_name_and_through_a_link(tmp_path):
    write_study_folder(tmp_path / "study")
    cli("report", str(tmp_path / "study"), "--out", str(tmp_path / "study" / "second.html"))
    (tmp_path / "real.html").write_text("old")
    (tmp_path / "link.html").symlink_to(tmp_path / "real.html")
    cli("report", str(tmp_path / "study"), "--out", str(tmp_path / "link.html"))
    assert (tmp_path / "link.html").is_symlink()
    assert (tmp_path / "real.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "study" / "second.html").read_text().startswith("<!DOCTYPE html>")


def test_report_on_a_full_disk_keeps_the_old_report(tmp_path):
    write_study_folder(tmp_path)
    (tmp_path / "report.html").write_text("old report")
    process = statelab_with_file_size_limit(4096, "report", str(tmp_path))
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert process.stderr.count("\n") == 1 and "File too large" in process.stderr
    assert (tmp_path / "report.html").read_text() == "old report"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def statelab_with_file_size_limit(limit: int, *argv: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh process whose file size limit (RLIMIT_FSIZE) is ``limit`` bytes:
    Python ignores SIGXFSZ, so a write past it fails with EFBIG, as on a full disk. The limit
    is set in the child itself (no preexec_fn: this process runs JAX's threads)."""
    code = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "sys.argv = ['statelab', *sys.argv[1:]]; runpy.run_module('statelab', run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300
    )


# --- p-values, against values worked by hand ------------------------------------------------


@pytest.mark.parametrize(
    ("p", "shown", "phrase"),
    [
        (0.0, "&lt; 1e-300", "p &lt; 1e-300"),  # underflowed to 0
        (5e-324, "&lt; 1e-300", "p &lt; 1e-300"),  # the smallest subnormal
        (9.9e-301, "&lt; 1e-300", "p &lt; 1e-300"),
        (1e-300, "1e-300", "p = 1e-300"),
        (0.012345, "0.0123", "p = 0.0123"),
        (1.0, "1", "p = 1"),
        (float("nan"), "&ndash;", "p = &ndash;"),  # a test not run
        ("0<b>", "0&lt;b&gt;", "p = 0&lt;b&gt;"),  # an edited cell, escaped
    ],
)
def test_a_p_value_that_underflowed_shows_as_below_1e_300_never_0(p, shown, phrase):
    assert toolkit.p_value(p) == shown
    assert toolkit.p_phrase(p) == phrase


def test_underflowed_p_values_in_the_reproduced_page(tmp_path):
    write_study_folder(tmp_path)
    frame = pd.read_csv(tmp_path / "verdicts.csv", index_col=0)
    frame["holm_p"] = [0.0, 1e-320, 0.04, 1.0, 0.5, 0.5]
    frame["welch_p"] = 0.0
    frame.to_csv(tmp_path / "verdicts.csv")
    cli("report", str(tmp_path))
    html = (tmp_path / "report.html").read_text()
    summary = html[html.index('id="summary"') : html.index("</section>")]
    holm = re.findall(r"<td>([^<]*)</td></tr>", summary)  # the last cell of each row
    assert holm == ["&lt; 1e-300", "&lt; 1e-300", "0.04", "1", "0.5", "0.5"]
    # Below, Welch's p (0 on every row) and Holm's on two rows, never as 0.
    assert html.count("<td>&lt; 1e-300</td>") == 2 + 6 + 2


# --- The toolkit's bar, settings, and the report's own imports ---------------------------


def test_the_split_of_verdicts_is_a_bar_of_shares_with_every_count_in_its_title():
    bar = toolkit.split_bar([("identical", 0), ("supported", 6), ("contradicted", 2),
                             ("practically equivalent", 1), ("no detectable difference", 1),
                             ("untested", float("nan"))])  # fmt: skip
    widths = re.findall(r'class="(\w+)" style="width:([\d.]+)%">(\d*)<', bar)
    assert widths == [("supported", "60.000", "6"), ("contradicted", "20.000", "2"),
                      ("equivalent", "10.000", ""), ("none", "10.000", "")]  # fmt: skip
    assert ('title="6 supported, 2 contradicted, 1 practically equivalent, '
            '1 no detectable difference"') in bar  # fmt: skip
    assert toolkit.split_bar([("supported", 0)]) == ""  # nothing to show, no empty bar
    assert "<script" not in toolkit.split_bar([("<script>", 3)])


def test_settings_show_the_first_experiment_whole_and_the_others_by_their_differences():
    settings = {"stateful": {"stateful": True, "batch_size": 1, "window": None},
                "stateless": {"stateful": False, "batch_size": 1, "window": None},
                "batched": {"stateful": True, "batch_size": 12, "window": 12}}  # fmt: skip
    first, differences = toolkit.settings_tables(settings, {"stateless": {"failed": 2}})
    assert re.findall(r'<td class="text">([^<]*)</td>', first) == [
        "stateful", "True", "batch_size", "1", "window", "none"]  # fmt: skip
    rows = re.findall(r"<tr>(.*?)</tr>", differences)[1:]
    assert [re.findall(r"<td[^>]*>([^<]*)</td>", row)[:2] for row in rows] == [
        ["stateful", ""], ["stateless", "stateful False"],
        ["batched", "batch_size 12, window 12"]]  # fmt: skip
    assert rows[1].endswith("<td>2</td>") and rows[0].endswith("<td>&ndash;</td>")


def test_no_page_imports_another_page():
    """report/: a toolkit, one page per result kind, and the dispatch; a page imports only
    the toolkit (of the report's modules), and nothing but the dispatch imports a page."""
    folder = Path(toolkit.__file__).parent
    imported = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        imported[path.stem] = {n.split(".")[2] for n in names if n.startswith("statelab.report.")}
    assert imported["toolkit"] == set()
    assert imported["study"] == imported["generalise"] == imported["setup"] == {"toolkit"}
    assert imported["write"] == {"study", "generalise", "setup", "toolkit"}
    assert imported["__init__"] == set()
