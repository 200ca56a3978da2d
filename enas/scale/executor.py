"""Where a run executes: in this process (`LocalExecutor`, a thread; the default, no Ray needed) or as a Ray
actor on a cluster (`enas.scale.ray_executor.RayExecutor`).

Both executors start a run from its store and return a `Job` (`control` as `Control`, `thread`, `stop()`,
`wait()`, `outcome`); `resume` continues a run with the phases it has not completed, from its newest checkpoint.
"""
from __future__ import annotations

import threading
import time

from enas.engine.control import Control
from enas.runs.store import CKPT_RE, LIVE, Busy, RunStore, StoreError

PHASES = ("search", "derive", "final")


class ExecutorError(StoreError):
    """A run that cannot be started where it was asked to: Ray missing, a cluster out of reach, no shared folder."""


def checkpoint_epoch(store: RunStore) -> int:
    """Search epochs completed by the newest checkpoint (0 without one)."""
    ckpts = store.checkpoints()
    return int(CKPT_RE.match(ckpts[-1].name).group(1)) if ckpts else 0


def remaining_phases(store: RunStore, phases=PHASES) -> tuple:
    """`phases` less those the run completed, in order: search (checkpoint of the last epoch), derive (a derived
    architecture after that), final (a final result after that)."""
    meta = store.meta()
    done = set()
    if checkpoint_epoch(store) >= store.config().epochs:
        done.add("search")
        if "best" in meta:
            done.add("derive")
            done |= {"final"} if "result" in meta else set()
    return tuple(p for p in phases if p not in done)


def announce(store: RunStore, status: str, message: str, **extra):
    """Set the run's status and log it as a status event, which readers replay."""
    store.set_status(status, message, **extra)
    store.log("status", {"status": status, "message": message})
    store.commit()


class Job:
    """One started run: steer it through `control` or `stop()`, watch `thread`; `outcome` once it ended
    (finished, stopped, failed, interrupted or refused) with `error` saying why for the last three."""

    def __init__(self, store: RunStore, control):
        self.store, self.control = store, control
        self.thread: threading.Thread | None = None
        self.outcome = self.error = None
        self.after_id = store.last_id()   # events newer than this are the job's

    def stop(self):
        self.control.stop()

    def wait(self, timeout: float | None = None) -> str | None:
        self.thread.join(timeout)
        return self.outcome


class Executor:
    parallel: int | None = None   # runs a sweep keeps going at once (None: all, and the cluster queues the rest)

    def threads(self, config) -> int:
        """The torch threads a run of `config` trains with here: its `threads` field, or what auto (0) becomes in
        this process (`enas.hardware.auto_threads`). The engine sets them and records auto's number in the run."""
        from enas.hardware import resolve_threads
        return resolve_threads(config.threads)

    def start(self, store: RunStore, phases) -> Job:
        raise NotImplementedError

    def resume(self, store: RunStore, phases=PHASES) -> Job | None:
        """Continue the run with the phases it has not completed, from its newest checkpoint; None if it is done."""
        check_idle(store)
        todo = remaining_phases(store, phases)
        if not todo:
            return None
        from enas.engine.search import SEARCH_EVENTS
        store.delete_events(SEARCH_EVENTS, checkpoint_epoch(store))   # as Engine.restore will: readers never see them
        return self.start(store, todo)


def check_idle(store: RunStore):
    status = store.status()
    if status in LIVE:
        raise Busy(f"run {store.name!r} is still {status} in another process")


class LocalExecutor(Executor):
    """Runs in this process, in a thread, one run at a time in a sweep (all the cores for each)."""
    parallel = 1

    def start(self, store: RunStore, phases) -> Job:
        check_idle(store)
        job = Job(store, Control())
        job.thread = threading.Thread(target=self._work, args=(job, tuple(phases)), daemon=True,
                                      name=f"enas-{store.name}")
        job.thread.start()
        return job

    @staticmethod
    def _work(job: Job, phases):
        from enas.engine.search import Engine
        try:
            job.outcome = Engine(job.store.config(), job.store, [], job.control).run(phases)
        except BaseException as e:  # noqa: BLE001 - the engine marked the run failed; the job says why
            job.outcome, job.error = "failed", f"{type(e).__name__}: {e}"


def follow(job: Job, listener, poll: float = 0.5) -> str | None:
    """Feed the job's new store events to `listener` until it ends; Ctrl-C stops it, waits, and re-raises."""
    last = job.after_id
    try:
        while True:
            alive = job.thread.is_alive()
            for ev in job.store.events(after_id=last):
                last = ev["id"]
                listener(ev)
            if not alive:
                return job.outcome
            time.sleep(poll)
    except KeyboardInterrupt:
        job.stop()
        job.wait()
        raise
