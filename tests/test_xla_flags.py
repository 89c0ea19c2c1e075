"""The XLA options statelab sets on import: added where the user set none, never overriding
the user's own, and none with STATELAB_XLA_OPTIONS=0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def flags_after_import(**env: str) -> str:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "STATELAB_XLA_OPTIONS")
    }
    environment.update(env, PYTHONPATH=str(SRC))
    code = "import os, statelab; print(os.environ.get('XLA_FLAGS', ''))"
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_options_are_added_where_the_user_set_none():
    flags = flags_after_import().split()
    assert "--xla_cpu_copy_insertion_use_region_analysis=true" in flags
    assert "--xla_cpu_prefer_vector_width=512" in flags
    assert any(f.startswith("--xla_backend_extra_options=xla_cpu_small_while_loop") for f in flags)


def test_the_users_own_setting_is_kept():
    own = "--xla_cpu_copy_insertion_use_region_analysis=false"
    flags = flags_after_import(XLA_FLAGS=own).split()
    assert flags[0] == own and "--xla_cpu_copy_insertion_use_region_analysis=true" not in flags
    assert any(f.startswith("--xla_backend_extra_options=") for f in flags)


def test_none_with_the_opt_out():
    assert (
        flags_after_import(STATELAB_XLA_OPTIONS="0", XLA_FLAGS="--xla_dump_to=x")
        == "--xla_dump_to=x"
    )
