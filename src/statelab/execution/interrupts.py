"""Ctrl-C, heard wherever it lands.

Python raises KeyboardInterrupt in whatever Python code runs when SIGINT arrives, and
swallows it when that code is a garbage-collector callback (JAX has one): the interrupt is
printed as "Exception ignored" and the command runs on. The handler here raises as usual
and also sets an event, which the pipeline checks between chunks and the CLI checks at the
end, so a swallowed Ctrl-C still stops the command.
"""

from __future__ import annotations

import gc
import signal
import threading

PRESSED = threading.Event()


def _handler(signum, frame) -> None:
    PRESSED.set()
    if frame is not None and any(
        getattr(c, "__code__", None) is frame.f_code for c in gc.callbacks
    ):
        return  # inside a GC callback Python would print and drop it: the event stops us
    raise KeyboardInterrupt


def install() -> None:
    """Handle Ctrl-C from now on (in the main thread only, where signals are delivered)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
