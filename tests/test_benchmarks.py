"""The benchmark scripts that read what the CLI prints still read it (benchmarks/ are run by
hand, so a reworded line would otherwise break them unseen)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from statelab.cli import main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduce_speed_parses_the_timing_line_the_cli_prints(capsys, tmp_path):
    reproduce_speed = load("reproduce_speed")
    with pytest.raises(SystemExit) as exit_info:
        main(reproduce_speed.command(str(tmp_path / "out"), 2, 0) + ["--epochs", "2"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    found = reproduce_speed.PRINTED.search(printed)
    assert found is not None, printed
    fill_s, compile_s, hits, run_s, outputs_s = (float(part) for part in found.groups())
    assert min(fill_s, compile_s, hits, run_s) >= 0 and outputs_s > 0
