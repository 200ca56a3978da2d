"""The process-wide registry of runs: searches running in background threads and runs opened from disk.

One `Registry` per runs folder lives in `st.cache_resource`, so page reloads, other tabs and reruns see the
same searches. Worker threads only drive an `Engine` and feed its `LiveRun`; they never call Streamlit.
"""
from __future__ import annotations

import collections
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from enas.config import Config
from enas.live import LiveRun
from enas.store import RunStore, StoreError, new_run_name


def engine_threads() -> int:
    """Torch threads of a search run by the app: one core fewer than the machine has, left to the page."""
    return max(1, (os.cpu_count() or 2) - 1)


OPENED_CAP = 8          # finished runs kept open (replayed) at once
FOLLOW_EVERY = 0.5      # seconds between reads of a run that another process is writing


@dataclass
class Entry:
    """One run as the app holds it: its store, live view, and (while this process runs it) control and thread."""
    name: str
    store: RunStore
    live: LiveRun
    control: object = None
    thread: threading.Thread | None = None
    job: str = ""                    # what the thread runs: search, derive, final, rankcheck
    follow: bool = False             # another process writes this run: replay new events on each look
    _read: float = field(default=0.0, repr=False)

    @property
    def config(self) -> Config:
        return self.live.config

    @property
    def label(self) -> str:
        return run_label(self.name, self.config.controller)

    @property
    def running_here(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def run_label(name: str, controller: str | None) -> str:
    kind = {"enas": "ENAS controller", "random": "random search"}.get(controller, "?")
    return f"{name} · {kind}"


class Registry:
    """Starts, steers and opens runs under `runs_dir`; thread-safe."""

    def __init__(self, runs_dir):
        self.runs_dir = Path(runs_dir)
        self._lock = threading.RLock()
        self._entries: collections.OrderedDict = collections.OrderedDict()

    # --- starting work ---------------------------------------------------------------------------
    def start(self, config: Config, name: str | None = None, phases=("search",)) -> str:
        """Create a run and start searching it in a background thread; returns its name."""
        store = RunStore.create(self.runs_dir, name or new_run_name(config.controller), config)
        entry = Entry(store.name, store, LiveRun(config))
        with self._lock:
            self._entries[entry.name] = entry
        self._launch(entry, tuple(phases), job="search")
        return entry.name

    def resume(self, name: str) -> None:
        """Continue an interrupted, stopped or failed search from its newest checkpoint."""
        with self._lock:
            entry = self._idle_entry(name)
            entry.live = LiveRun(entry.store.config())   # rebuilt after the engine drops events past the checkpoint
            entry.follow = False
            self._launch(entry, ("search",), job="search", resume=True)

    def derive(self, name: str, samples: int | None = None, recheck: int = 0, recheck_epochs: int = 1) -> None:
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: engine.derive(samples, recheck, recheck_epochs),),
                         job="derive")

    def rankcheck(self, name: str, k: int, epochs: int) -> None:
        from enas.rankcheck import rank_check
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: rank_check(engine, k, epochs),), job="rankcheck")

    def train(self, name: str, arch=None, mode: str | None = None, epochs: int | None = None) -> None:
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: engine.train_final(arch, mode, epochs),),
                         job="final")

    def _idle_entry(self, name: str) -> Entry:
        """The run, if nothing runs it now (called under the lock, so two clicks cannot both start it)."""
        entry = self.view(name)
        if entry.running_here or entry.follow or entry.store.status() in ("running", "paused"):
            raise StoreError(f"run {name!r} is busy: it is still running")
        return entry

    def _launch(self, entry: Entry, phases, job: str, resume: bool = False):
        from enas.control import Control
        entry.control, entry.job = Control(), job
        entry.live({"kind": "status", "status": "starting", "t": time.time(),
                    "message": f"starting {job}: loading the data, building the model"})
        entry.thread = threading.Thread(target=self._work, args=(entry, phases, resume), daemon=True,
                                        name=f"enas-{entry.name}")
        entry.thread.start()

    @staticmethod
    def _work(entry: Entry, phases, resume: bool):
        """The worker thread: build the engine, run the phases; every failure ends in a failed status."""
        store, live = entry.store, entry.live
        try:
            import torch
            from enas.search import Engine
            torch.set_num_threads(engine_threads())
            engine = Engine(store.config(), store, [], entry.control)
            if resume:
                engine.restore()
                live.replay(store)
                live.interrupted("resuming")
            engine.listeners.append(live)
            phases = [(lambda p=p: p(engine)) if callable(p) else p for p in phases]
        except BaseException as e:  # noqa: BLE001 - shown in the app, kept in the run folder
            store.fail(e)
            live.fail(f"{type(e).__name__}: {e}", "".join(traceback.format_exception(e)))
            return
        try:
            engine.run(phases)
        except BaseException as e:  # noqa: BLE001 - Engine.run marked the store failed; show it
            live.fail(f"{type(e).__name__}: {e}", store.meta().get("traceback"))

    # --- steering --------------------------------------------------------------------------------
    def pause(self, name: str):
        self._control(name).pause()

    def unpause(self, name: str):
        self._control(name).resume()

    def stop(self, name: str):
        self._control(name).stop()

    def _control(self, name: str):
        entry = self._entries.get(name)
        if entry is None or not entry.running_here:
            raise StoreError(f"run {name!r} is not running in this app")
        return entry.control

    # --- looking ---------------------------------------------------------------------------------
    def view(self, name: str) -> Entry:
        """The run `name`: from memory, or opened from disk (all its events replayed); a run that another
        process is writing is followed (new events are read at most every FOLLOW_EVERY seconds)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                store = RunStore.open(self.runs_dir, name)
                entry = Entry(store.name, store, LiveRun(store.config()))
                entry.live.replay(store)
                self._settle(entry)
                self._entries[name] = entry
                self._evict()
            self._entries.move_to_end(name)
        if entry.follow and time.monotonic() - entry._read > FOLLOW_EVERY:
            entry._read = time.monotonic()
            entry.live.replay(entry.store)
            self._settle(entry)
        return entry

    @staticmethod
    def _settle(entry: Entry):
        """Match a replayed run's status to its store: followed while another process runs it, else final."""
        status = entry.store.status()
        entry.follow = status in ("running", "paused")
        if status == "interrupted":
            entry.live.interrupted()
        elif status == "failed" and entry.live.status != "failed":
            meta = entry.store.meta()
            entry.live.fail(meta.get("message", "failed"), meta.get("traceback"))

    def _evict(self):
        idle = [n for n, e in self._entries.items() if not (e.running_here or e.follow)]
        for name in idle[: max(len(idle) - OPENED_CAP, 0)]:
            self._entries.pop(name).store.close()

    def active(self) -> list:
        """Names of the runs this process is running, newest first."""
        with self._lock:
            return [n for n, e in reversed(self._entries.items()) if e.running_here]

    def loaded(self) -> list:
        with self._lock:
            return list(reversed(self._entries))


@st.cache_resource(show_spinner=False)
def get_registry(runs_dir: str) -> Registry:
    """The registry of `runs_dir`, shared by every session of this server process."""
    return Registry(runs_dir)
