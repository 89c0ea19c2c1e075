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
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def ignored() -> Iterator[None]:
    """SIGINT ignored while worker processes start (a local Dask cluster's, or the statistics'
    in statelab.execution.processes), so that they keep ignoring it: an ignored signal stays
    ignored in a new process, and Python installs its own SIGINT handler only where it finds
    the default. A terminal's Ctrl-C goes to every process of the group; this way only this
    one hears it, stops the run in one line and ends its workers, where each worker printed a
    traceback of its own. The price: Ctrl-C while they start is not heard. (Only the main
    thread may set a handler: elsewhere, nothing is changed.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        # None: a handler set outside Python, which Python cannot put back; leave the default.
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
