"""SIGINT/SIGTERM during a run: the first one finishes the current update (or JAX chunk), checkpoints and
stops; a second one stops at once (Interrupted with ``immediate``). Checkpoints are written under a
temporary name and renamed, so stopping mid-write leaves the complete ones as they were."""

from __future__ import annotations

import signal
import threading

from tandem.errors import Interrupted


class SignalFlag:
    """A context manager that records the first signal (``signum``) and raises on the second."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise Interrupted(signum, immediate=True)
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
