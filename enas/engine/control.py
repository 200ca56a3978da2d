"""Steering a run from another thread: pause, resume, stop and single steps, and steering requests, honoured by
the engine between steps."""
from __future__ import annotations

import collections
import threading


class Stopped(Exception):
    """The user asked the run to stop."""


class Control:
    """Requests from other threads, honoured by the engine between steps: pause, resume, stop, one step while
    paused (`step`), and steering requests (`steer`, applied by the engine through `poll`)."""

    def __init__(self):
        self._running = threading.Event()
        self._running.set()
        self._wake = threading.Event()
        self.stop_requested = False
        self._steps = 0            # single steps asked for while paused
        self._told = False         # the pause under way was announced (on_pause)
        self.requests = collections.deque()   # (request, who), taken by the engine

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self):
        self._running.clear()

    def resume(self):
        self._steps = 0
        self._running.set()
        self._wake.set()

    def stop(self):
        self.stop_requested = True
        self._running.set()
        self._wake.set()

    def step(self):
        """While paused: let the search run exactly one more child or controller step, then pause again."""
        self._steps += 1
        self._wake.set()

    def steer(self, request: dict, who: str = "app"):
        """Queue a steering request; the engine applies it before its next step, paused or not."""
        self.requests.append((request, who))
        self._wake.set()

    def wait(self, on_pause=None, on_resume=None, heartbeat=None, poll=None, step_point=False,
             on_the_way=False) -> bool:
        """Return at once when running; block while paused; raise Stopped when a stop was asked. `poll` runs
        first and while paused (steering). At a `step_point` (before a child or controller step) a single step
        asked for while paused lets it through and the run stays paused: returns True then, else False. A wait
        `on_the_way` to a step point (between two epochs) lets a pending single step pass on to it.
        `on_pause` runs once when a pause begins, `on_resume` once when it ends."""
        if poll:
            poll()
        while self.paused and not self.stop_requested:
            if not self._told:
                self._told = True
                if on_pause:
                    on_pause()
            if step_point and self._steps:
                self._steps -= 1
                return True
            if on_the_way and self._steps:
                return False
            self._wake.wait(1.0)
            self._wake.clear()
            if poll:
                poll()
            if heartbeat:
                heartbeat()
        if self.stop_requested:
            raise Stopped()
        if self._told:
            self._told = False
            if on_resume:
                on_resume()
        return False
