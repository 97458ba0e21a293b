"""Ctrl-C (SIGINT) and SIGTERM (schedulers, `timeout`) during training: stop after this batch.

The first signal asks for a stop (the trainer finishes its batch, saves and returns); a
second one raises KeyboardInterrupt at once, without saving.  Handlers can be set only in
the main thread; elsewhere (a sweep's worker thread) signals keep their usual meaning.
"""
from __future__ import annotations

import contextlib
import signal
import threading

# signal -> the stop reason it asks for
STOP_SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


@contextlib.contextmanager
def signals_ask_to_stop(ask):
    """Within the block, the first SIGINT / SIGTERM calls `ask(reason)`; the next one raises
    KeyboardInterrupt.  The previous handlers are restored on exit."""
    asked = []

    def handle(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(STOP_SIGNALS[signum])
        ask(STOP_SIGNALS[signum])

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
