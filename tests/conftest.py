import os
import re
import tempfile
from pathlib import Path

import pytest

# Tests run on the CPU whatever the machine has; keep XLA from grabbing every core's memory.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# The tests' own compilation cache, apart from the user's (subprocesses inherit it).
os.environ.setdefault(
    "STATELAB_COMPILATION_CACHE",
    os.path.join(tempfile.gettempdir(), "statelab-tests-compilation-cache"),
)


DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"


@pytest.fixture(scope="session")
def design() -> dict[int, str]:
    """docs/design.md by section number (``## 1. The study`` -> 1): the tests that take their
    values from it check that it prints them."""
    parts = re.split(r"^## (\d+)\. ", DESIGN.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}
