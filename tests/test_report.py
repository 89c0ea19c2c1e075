"""`statelab report`: one self-contained HTML file, checked in real headless Chromium."""

from __future__ import annotations

import re

import numpy as np
import pytest

from statelab.cli import main

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package; .ci/run installs it
HOSTILE = "<script>alert('x')</script>&sales"


def cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 0


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    data = folder / "series.csv"
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
        "Verdicts",
        "The data set",
        "Settings",
        "Versions and seeds",
        "How many repeats",
    ):
        assert section in html
    for key in ("E1", "E2", "E3", "E4", "E5", "E6"):
        assert f"<b>{key}</b>" in html


def test_report_renders_in_headless_chromium_with_every_figure(report):
    from playwright.sync_api import sync_playwright

    messages = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page()
        page.on("console", lambda message: messages.append((message.type, message.text)))
        page.on("pageerror", lambda error: messages.append(("error", str(error))))
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        title = page.title()
        verdict_spans = page.locator("span.supported, span.contradicted, span.identical, span.none")
        verdicts = verdict_spans.count()
        browser.close()
    assert title.startswith("statelab")
    assert len(images) == 7 and all(done and w > 100 and h > 100 for done, w, h in images)
    assert verdicts == 6
    assert not [m for m in messages if m[0] == "error"], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_report_of_a_missing_folder_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2
    assert "reproduce" in capsys.readouterr().err
