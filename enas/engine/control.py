"""Steering a run from another thread: pause, resume and stop requests, honoured by the engine between steps."""
from __future__ import annotations

import threading


class Stopped(Exception):
    """The user asked the run to stop."""


class Control:
    """Pause, resume and stop requests from other threads, honoured by the engine between steps."""

    def __init__(self):
        self._running = threading.Event()
        self._running.set()
        self.stop_requested = False

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        self.stop_requested = True
        self._running.set()

    def wait(self, on_pause=None, on_resume=None, heartbeat=None):
        """Return at once when running; block while paused; raise Stopped when a stop was asked."""
        if self.paused:
            if on_pause:
                on_pause()
            while not self._running.wait(1.0):
                if heartbeat:
                    heartbeat()
            if on_resume and not self.stop_requested:
                on_resume()
        if self.stop_requested:
            raise Stopped()
