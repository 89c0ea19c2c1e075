"""The code is ruff-clean (lint and format), checked by the same suite CI runs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_lint_and_format():
    for args in (["check"], ["format", "--check"]):
        process = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "src", "tests", "benchmarks"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert process.returncode == 0, process.stdout + process.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    test_command = next(line.strip() for line in readme[:20] if "scripts/test.sh" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text()
