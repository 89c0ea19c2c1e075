"""JAX's persistent compilation cache: a second process loads what the first compiled, the
results are the same bits, and the cache can be moved or turned off."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from statelab import layout
from statelab.execution import cache


def reproduce(out: Path, cache_setting: str) -> tuple[int, float, str]:
    """A fresh `statelab reproduce` process: its cache hits, compile seconds, results."""
    environment = {**os.environ, cache.ENVIRONMENT: cache_setting}
    process = subprocess.run(
        [sys.executable, "-m", "statelab", "reproduce", "--repeats", "3", "--pool", "0",
         "--epochs", "7", "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    found = re.search(r"compile ([\d.]+) s \((\d+) from the compilation cache\)", process.stdout)
    results = "".join(
        (out / layout.experiment_csv(name)).read_text() for name in ("stateful", "stateless")
    )
    return int(found[2]), float(found[1]), results


def test_a_second_process_loads_the_compiled_programs_from_the_cache(tmp_path):
    folder = tmp_path / "cache"
    first_hits, _, first = reproduce(tmp_path / "one", str(folder))
    assert first_hits == 0 and any(folder.iterdir())
    second_hits, _, second = reproduce(tmp_path / "two", str(folder))
    assert second_hits >= 6  # start, train and forecast of the two shapes at least
    assert second == first


def test_the_cache_can_be_turned_off(tmp_path):
    hits, _, off = reproduce(tmp_path / "off", "0")
    assert hits == 0
    _, _, on = reproduce(tmp_path / "on", str(tmp_path / "cache"))
    assert off == on  # the same bits with and without the cache


def test_the_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENVIRONMENT, str(tmp_path / "mine"))
    assert cache.folder() == tmp_path / "mine"
    monkeypatch.setenv(cache.ENVIRONMENT, "off")
    assert cache.folder() is None
    monkeypatch.delenv(cache.ENVIRONMENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.folder() == tmp_path / "xdg" / "statelab" / "jax"
