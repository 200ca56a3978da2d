"""The process-wide registry of runs: searches running in background threads and runs opened from disk.

One `Registry` per runs folder lives in `st.cache_resource`, so page reloads, other tabs and reruns see the
same searches. Worker threads only drive an `Engine` and feed its `LiveRun`; they never call Streamlit.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from enas.config import Config
from enas.data.check import check_dataset
from enas.hardware import auto_threads, resolve_threads, threads_text
from enas.runs.listing import delete_run, new_run_name
from enas.runs.live import LiveRun
from enas.runs.store import LIVE, RunStore, StoreError, failure


def engine_threads() -> int:
    """Torch threads of a search run by the app with threads auto: `enas.hardware.auto_threads` (one CPU fewer
    than the machine has, left to the page; the engine sets the run's `threads` field itself)."""
    return auto_threads()


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
    read_only: bool = False          # a recorded run (the demo): watched and replayed, never run
    _read: float = field(default=0.0, repr=False)

    @property
    def config(self) -> Config:
        return self.live.config

    @property
    def label(self) -> str:
        return run_label(self.name, self.config.controller) + (" · recorded, read-only" if self.read_only else "")

    @property
    def threads(self) -> str:
        """The torch threads the run trains with, as the header shows them."""
        return threads_text(self.config.threads)

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
        self.recorded: dict = {}         # name -> runs folder of a read-only run rebuilt from a recording
        self._executors: dict = {}       # (Ray cluster address, GPUs per run) -> its RayExecutor
        self._gpus: dict = {}            # run name -> the GPUs per run it was started with on Ray (its Resume's)
        self._owners: dict = {}          # run name -> the owner token of the browser session that started it

    def add_recording(self, name: str, runs_dir) -> None:
        """Offer the read-only run `name` of `runs_dir` (see enas.runs.recording.materialize) beside this folder's."""
        with self._lock:
            self.recorded[name] = Path(runs_dir)

    # --- starting work ---------------------------------------------------------------------------
    def start(self, config: Config, name: str | None = None, phases=("search",), ray: str | None = None,
              owner: str | None = None, gpus=None) -> str:
        """Create a run and start searching it in a background thread, or as an actor on the Ray cluster at
        `ray` (asking for `gpus` GPUs per run on a GPU cluster: `ray_gpus`), recorded as `owner`'s
        (`app.access.me`; None: the teacher's); returns its name. A dataset that cannot be loaded
        (`check_dataset`) raises DataError and creates no run, and so does a cluster that cannot be used
        (ExecutorError). Threads auto becomes a number here, stored with the run (the CLI does the same: one
        seed, one result)."""
        check_dataset(config)
        executor = self._ray(ray, gpus)
        config = config.replace(threads=executor.threads(config) if executor is not None
                                else resolve_threads(config.threads))
        if executor is not None:
            executor.check_shared(self.runs_dir)
        store = RunStore.create(self.runs_dir, name or new_run_name(config.controller), config)
        entry = Entry(store.name, store, LiveRun(config))
        with self._lock:
            self._entries[entry.name] = entry
            if owner is not None:
                self._owners[entry.name] = owner
            if executor is not None:
                self._gpus[entry.name] = executor.gpus
                self._follow_job(entry, executor.start(store, phases))
            else:
                self._launch(entry, tuple(phases), job="search")
        return entry.name

    def resume(self, name: str, ray: str | None = None, phases=("search",), gpus=None) -> None:
        """Continue an interrupted, stopped or failed run from its newest checkpoint with the `phases` it has not
        completed, here or as an actor on the Ray cluster at `ray` (`gpus`: else what it was started with)."""
        from enas.scale.executor import remaining_phases
        executor = self._ray(ray, gpus if gpus is not None else self._gpus.get(name))
        with self._lock:
            entry = self._idle_entry(name)
            todo = remaining_phases(entry.store, phases)
            if not todo:
                raise StoreError(f"run {name!r} has nothing left to resume: {', '.join(phases)} completed")
            entry.live = LiveRun(entry.store.config())   # rebuilt after the engine drops events past the checkpoint
            entry.follow = False
            if executor is not None:
                self._follow_job(entry, executor.resume(entry.store, todo))
            else:
                self._launch(entry, todo, job="search", resume=True)

    def _ray(self, address: str | None, gpus=None):
        """The RayExecutor of `address` asking for `gpus` GPUs per run (`ray_gpus`; one per pair, kept), or None
        for this process."""
        if not address:
            return None
        from enas.scale.ray_executor import RayExecutor, ray_gpus
        key = (address, ray_gpus(gpus))
        with self._lock:
            if key not in self._executors:
                self._executors[key] = RayExecutor(address, gpus=key[1])
            return self._executors[key]

    @staticmethod
    def _follow_job(entry: Entry, job):
        """Steer a Ray run through its job; its LiveRun is fed by replaying the store, which its actor writes."""
        entry.control, entry.thread, entry.job, entry.follow = job.control, job.thread, "search", True

    def derive(self, name: str, samples: int | None = None, recheck: int = 0, recheck_epochs: int = 1) -> None:
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: engine.derive(samples, recheck, recheck_epochs),),
                         job="derive")

    def rankcheck(self, name: str, k: int, epochs: int) -> None:
        from enas.quality.rankcheck import rank_check
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: rank_check(engine, k, epochs),), job="rankcheck")

    def refcheck(self, name: str, k: int, epochs: int) -> None:
        """The rank check against the reference set of K random architectures (enas.quality.reference)."""
        from enas.data.splits import data_root
        from enas.quality.reference import check_reference, reference_check
        with self._lock:
            entry = self._idle_entry(name)
            check_reference(entry.store, entry.config, k, epochs)
            cache = Path(data_root(entry.config.data_dir)) / "cache"
            self._launch(entry, (lambda engine: reference_check(engine, k, epochs, cache),), job="refcheck")

    def train(self, name: str, arch=None, mode: str | None = None, epochs: int | None = None) -> None:
        with self._lock:
            self._launch(self._idle_entry(name), (lambda engine: engine.train_final(arch, mode, epochs),),
                         job="final")

    def _idle_entry(self, name: str) -> Entry:
        """The run, if nothing runs it now (called under the lock, so two clicks cannot both start it)."""
        entry = self.view(name)
        if entry.read_only:
            raise StoreError(f"run {name!r} is a read-only recording: start your own run to train")
        if entry.running_here or entry.follow or entry.store.status() in LIVE:
            raise StoreError(f"run {name!r} is busy: it is still running")
        return entry

    def _launch(self, entry: Entry, phases, job: str, resume: bool = False):
        from enas.engine.control import Control
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
            from enas.engine.search import (
                Engine,  # it sets the run's torch threads (its config's) on this thread
            )
            engine = Engine(store.config(), store, [], entry.control)
            if resume:
                engine.restore()
                live.replay(store)
                live.interrupted("resuming")
            engine.listeners.append(live)
            phases = [(lambda p=p: p(engine)) if callable(p) else p for p in phases]
        except BaseException as e:  # noqa: BLE001 - shown in the app, kept in the run folder
            store.fail(e)
            live.fail(*failure(e))
            return
        try:
            engine.run(phases)
        except BaseException as e:  # noqa: BLE001 - Engine.run marked the store failed; show it
            live.fail(*failure(e))

    # --- steering --------------------------------------------------------------------------------
    def pause(self, name: str):
        self._control(name).pause()

    def unpause(self, name: str):
        self._control(name).resume()

    def stop(self, name: str):
        self._control(name).stop()

    def delete(self, name: str) -> None:
        """Delete run `name` and its files (`enas.runs.listing.delete_run`), unless it is running or a recording."""
        with self._lock:
            entry = self._entries.get(name)
            if name in self.recorded:
                raise StoreError(f"run {name!r} is a read-only recording: it cannot be deleted")
            if entry is not None and (entry.running_here or entry.follow):
                raise StoreError(f"run {name!r} is running: stop it before deleting it")
            if entry is not None:
                self._entries.pop(name).store.close()
            delete_run(self.runs_dir, name)
            self._owners.pop(name, None)

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
                store = RunStore.open(self.recorded.get(name, self.runs_dir), name)
                entry = Entry(store.name, store, LiveRun(store.config()), read_only=name in self.recorded)
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
        """Match a replayed run's status to its store: followed while another process (or a Ray actor this app
        started, between two phases too) runs it, else final."""
        status = entry.store.status()
        entry.follow = status in LIVE or entry.follow and entry.running_here
        if status == "interrupted":
            entry.live.interrupted()
        elif status == "failed" and entry.live.status != "failed":
            meta = entry.store.meta()
            entry.live.fail(meta.get("message", "failed"), meta.get("traceback"))

    def _evict(self):
        idle = [n for n, e in self._entries.items() if not (e.running_here or e.follow)]
        for name in idle[: max(len(idle) - OPENED_CAP, 0)]:
            self._entries.pop(name).store.close()

    def owner(self, name: str) -> str | None:
        """The owner token of the session that started run `name` here, or None (the teacher's, or from disk)."""
        with self._lock:
            return self._owners.get(name)

    def working(self, owner: str) -> list:
        """Names of `owner`'s runs that are working now: run by this process, or followed while another runs them."""
        with self._lock:
            return [n for n, o in self._owners.items() if o == owner and n in self._entries
                    and (self._entries[n].running_here or self._entries[n].follow)]

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
