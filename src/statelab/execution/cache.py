"""JAX's persistent compilation cache, shared by every statelab process on a machine: a second
run, and every Dask worker after the first, loads the engine's executables instead of
compiling them again (about 2 s a shape).

The folder is ``$STATELAB_COMPILATION_CACHE`` if set, else ``statelab/jax`` under the
user's cache directory (``$XDG_CACHE_HOME``, or ``~/.cache``). ``STATELAB_COMPILATION_CACHE=0``
turns the cache off. JAX keys every entry on the program, the JAX and XLA versions and the
compile options, so a stale entry is never used; cached and compiled executables give the
same bits.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import jax

ENVIRONMENT = "STATELAB_COMPILATION_CACHE"
_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_hits = threading.local()  # per thread: programs compile side by side, each in its thread
_folder: Path | None = None
_enabled = False


def folder() -> Path | None:
    """Where the cache lives, or None when it is turned off."""
    chosen = os.environ.get(ENVIRONMENT, "")
    if chosen.strip().lower() in ("0", "off", "false", "no"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "statelab" / "jax"


def _count_hit(event: str, **_: object) -> None:
    if event == _HIT_EVENT:  # JAX records it in the thread that compiled
        _hits.count = hits() + 1


def enable() -> Path | None:
    """Point JAX at the cache folder (once a process); the folder, or None when off or when
    it cannot be created (then every run compiles, as without a cache)."""
    global _enabled, _folder
    if _enabled:
        return _folder
    _enabled = True
    # A cache entry that cannot be read or written (a full disk, a damaged file) only means
    # compiling again: not worth a warning on every command's output.
    warnings.filterwarnings("ignore", message="Error (reading|writing) persistent compilation")
    jax.monitoring.register_event_listener(_count_hit)
    chosen = folder()
    if chosen is None:
        return None
    try:
        chosen.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(chosen))
    # Cache every executable: the engine's compile in well under JAX's default 1 s floor.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _folder = chosen
    return chosen


def hits() -> int:
    """Executables this thread has loaded from the cache so far."""
    return getattr(_hits, "count", 0)
