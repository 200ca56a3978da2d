"""Runs as Ray actors on a cluster (`RayExecutor`): each run's actor writes the run store itself, so the runs
folder must be shared (`RayExecutor.check_shared`); it claims the run before writing (one writer per run:
`RunStore.claim`) and takes pause, resume and stop as method calls on a spare thread (`RunActor`). Ray restarts
an actor whose process died, and it resumes. An actor imports the engine as it starts (`warm_up`);
`RayExecutor.prepare` creates one ahead of its run.
"""
from __future__ import annotations

import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from enas.engine.control import Control
from enas.runs.store import LIVE, STALE_S, Busy, RunStore, StoreError, run_path
from enas.scale.executor import (
    PHASES,
    Executor,
    ExecutorError,
    Job,
    announce,
    check_idle,
)

HEARTBEAT_S = 5.0    # an actor's heartbeat and ownership check; a queued run's heartbeat from its launcher
RESTARTS = 2         # times Ray restarts an actor whose process died; each restart resumes from the checkpoint
EXTRA = "pip install -e '.[ray]'"
MIN_GPUS = 0.0001    # the finest fraction of a resource Ray accounts
_connected = {"address": None}   # the cluster this process joined (Ray allows one per process)


class FolderError(ExecutorError):
    """A Ray node cannot see or write the runs folder the launching process uses."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"Ray is not installed: running on a Ray cluster needs the 'ray' extra ({EXTRA})") from None
    return ray


def ray_gpus(value=None) -> float:
    """The GPUs each Ray run asks for on a GPU cluster: `value` (--ray-gpus, the app's field: a number or its
    text; empty or None: not given), else ENAS_RAY_GPUS, else 1. A fraction in (0, 1] shares one GPU between runs
    (0.25: four on each GPU); above 1, whole numbers only (as Ray takes them). Whole values come back as ints."""
    if value is None or isinstance(value, str) and not value.strip():
        value = os.environ.get("ENAS_RAY_GPUS", "").strip() or 1
    try:
        gpus = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        gpus = math.nan
    if not (MIN_GPUS <= gpus <= 1 or 1 < gpus < math.inf and gpus.is_integer()):
        shown = value.strip() if isinstance(value, str) and not math.isnan(gpus) else repr(value)
        raise ExecutorError(f"GPUs per Ray run (--ray-gpus or ENAS_RAY_GPUS): {shown} is not allowed; use a "
                            f"fraction of a GPU from {MIN_GPUS:g} to 1 (e.g. 0.25: 4 runs on each GPU) or a whole "
                            "number, 1 or more")
    return int(gpus) if gpus.is_integer() else gpus


def ray_address(explicit: str | None = None) -> str | None:
    """The Ray cluster to run on: `explicit`, else ENAS_RAY_ADDRESS; None when neither names one (this process)."""
    text = explicit if explicit is not None else os.environ.get("ENAS_RAY_ADDRESS", "")
    return text.strip() or None


class RayExecutor(Executor):
    """Runs each run as a Ray actor on the cluster at `address` (auto, ray://HOST:10001, or local: a new one on
    this machine), asking for `gpus` GPUs and 1 CPU (device cuda, or auto on a cluster with GPUs; `ray_gpus`:
    default ENAS_RAY_GPUS, else 1; 0.25 packs 4 runs on each GPU) or else `cpus` CPUs (default ENAS_RAY_CPUS,
    else the run's `threads` field, else 1). A run's torch threads are its `threads` field; auto (0) becomes the
    CPUs it asks for (1 with a GPU), recorded in the run as it starts. Ray queues what the cluster cannot place
    yet; the run shows as queued."""

    def __init__(self, address: str, cpus: int | None = None, gpus: float | str | None = None):
        self.ray = import_ray()
        text = os.environ.get("ENAS_RAY_CPUS", "").strip()
        self.cpus = cpus if cpus is not None else (int(text) if text.isdigit() else 0) if text else None
        if self.cpus is not None and self.cpus < 1:
            given = cpus if cpus is not None else repr(text)
            raise ExecutorError(f"CPUs per Ray run (--ray-cpus or ENAS_RAY_CPUS): {given} is not allowed; use a whole "
                                "number, 1 or more")
        self.gpus = ray_gpus(gpus)
        connect(self.ray, address)
        self._checked: set = set()
        self._ready: dict = {}   # actors made by `prepare`, by their resources

    def resources(self, config) -> dict:
        gpu = config.device == "cuda" or config.device == "auto" and self.ray.cluster_resources().get("GPU", 0) > 0
        if gpu:   # one CPU beside its share of a GPU (`ray_gpus`: 0.25 packs 4 runs on each GPU)
            return {"num_cpus": 1, "num_gpus": self.gpus}
        return {"num_cpus": self.cpus or config.threads or 1, "num_gpus": 0}

    def threads(self, config) -> int:
        """The torch threads a run of `config` trains with on the cluster: its `threads` field, or for auto (0)
        the CPUs it asks for."""
        return config.threads or self.resources(config)["num_cpus"]

    def check_shared(self, runs_dir):
        """Every live node writes a probe file into `runs_dir` and this process must see it: else a clear error."""
        runs_dir = Path(runs_dir).resolve()
        if runs_dir in self._checked:
            return
        if not runs_dir.exists():
            runs_dir.mkdir(parents=True)
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        token, probe = uuid.uuid4().hex, ray.remote(num_cpus=0)(write_probe)
        try:
            refs = {n["NodeManagerHostname"]: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
                n["NodeID"], soft=False)).remote(str(runs_dir), n["NodeID"][:12], token)
                for n in ray.nodes() if n["Alive"]}
            for host, ref in refs.items():
                self._seen(host, ref, runs_dir, token)
        except ImportError as e:   # a ray:// client learns it here, a driver on the cluster from the task
            raise ExecutorError(f"the Ray cluster cannot import enas ({e}): install this project on every node "
                                f"({EXTRA} in a checkout of it; README, 'Many machines')") from None
        self._checked.add(runs_dir)

    def _seen(self, host: str, ref, runs_dir: Path, token: str):
        ray = self.ray
        try:
            path = Path(ray.get(ref, timeout=120))
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, ImportError) or "failed to import" in str(e.cause):   # Ray's RuntimeError
                raise ImportError(str(e.cause).splitlines()[0]) from None
            raise FolderError(f"Ray node {host} cannot write the runs folder {runs_dir} ({e.cause}): every node "
                              "must mount it read-write at the same path (README, 'Many machines')") from None
        except ray.exceptions.GetTimeoutError:
            raise FolderError(f"Ray node {host} did not answer the runs-folder check within 120 s") from None
        if not path.is_file() or path.read_text() != token:
            raise FolderError(f"Ray node {host} wrote {path.name} into {runs_dir}, but this machine does not see "
                              "it: the runs folder must be one shared file system, mounted at the same path on "
                              "every node (README, 'Many machines')")
        path.unlink()

    def prepare(self, config):
        """Create the actor for a run of `config` now: its process starts and imports the engine while this one
        checks the runs folder and writes the run; the next `start` of such a run takes it."""
        options = self.resources(config)
        key = tuple(sorted(options.items()))
        if key not in self._ready:
            self._ready[key] = self._actor(options)

    def _actor(self, options: dict):
        env = {k: os.environ[k] for k in ("ENAS_STORE_JOURNAL",) if k in os.environ}
        return self.ray.remote(RunActor).options(
            max_concurrency=4, max_restarts=RESTARTS, max_task_retries=RESTARTS,
            runtime_env={"env_vars": env} if env else None, **options).remote()

    def start(self, store: RunStore, phases) -> Job:
        phases = tuple(phases)
        if not set(phases) <= set(PHASES):
            raise ExecutorError(f"a Ray run takes the phases {', '.join(PHASES)}, not {phases}")
        check_idle(store)
        self.check_shared(store.path.parent)
        config = store.config()
        options = self.resources(config)
        if not config.threads:   # auto: the number it becomes is recorded, as the engine does in this process
            store.set_meta(config=config.replace(threads=self.threads(config)).to_dict())
        total = self.ray.cluster_resources()
        need = f"{options['num_gpus']:g} GPU" if options["num_gpus"] else f"{options['num_cpus']} CPU(s)"
        token = uuid.uuid4().hex
        announce(store, "queued", f"queued: waiting for the Ray cluster to free {need} (it has "
                 f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs)",
                 owner={"id": token, "kind": "launcher", "host": socket.gethostname(), "pid": os.getpid()})
        actor = self._ready.pop(tuple(sorted(options.items())), None) or self._actor(options)
        ref = actor.run.remote(str(store.path.parent), store.name, token, phases)
        return RayJob(self.ray, store, actor, ref, token)


    def standalone(self, items: list, epochs: int, kind: str) -> list:
        """Validation and test accuracy ({val_acc, test_acc}) of each (config, architecture) trained from scratch
        for `epochs` epochs with its run's recipe and seed, all at once as Ray tasks (each asking for what a run
        of that config asks for), in the order given. The tasks write nothing: the caller keeps the results."""
        task, refs = self.ray.remote(standalone_task), []
        for config, arch in items:
            options = self.resources(config)
            refs.append(task.options(max_retries=RESTARTS, **options).remote(
                config.replace(threads=self.threads(config)).to_dict(), str(arch), epochs, kind))
        return self.ray.get(refs)


def standalone_task(config: dict, arch: str, epochs: int, kind: str) -> dict:
    """On a Ray worker: `Engine.standalone_accuracy` of `arch` under `config` (same seeds and torch threads, the
    config's, so the same result as here)."""
    from enas.config import Config
    from enas.engine.search import Engine
    from enas.space import Architecture
    return Engine(Config.from_stored(config)).standalone_accuracy(Architecture.parse(arch), epochs, kind)


def connect(ray, address: str):
    """Join the cluster at `address` once per process; another address later is refused."""
    if ray.is_initialized():
        joined = _connected["address"]
        if joined is not None and joined != address:
            raise ExecutorError(f"this process already runs on the Ray cluster at {joined}; restart it to use "
                                f"{address}")
        return
    check_reachable(address)
    kwargs = {} if address.startswith("ray://") else {"log_to_driver": False}
    if address == "local":
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address, namespace="enas", **kwargs)
    except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError, ...
        raise ExecutorError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0] if str(e) else e!r}") \
            from None
    _connected["address"] = address


def check_reachable(address: str, timeout: float = 5.0):
    """A HOST:PORT (or ray://HOST:PORT) that nothing answers on is a clear error within `timeout` seconds: Ray
    itself would retry for minutes, printing warnings. `auto` and `local` are Ray's to resolve."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ExecutorError(f"cannot reach the Ray cluster at {address} ({e.strerror or type(e).__name__}): is "
                            "`ray start --head` running there, and is this the port it printed? (README, "
                            "'Many machines')") from None


def write_probe(runs_dir: str, node: str, token: str) -> str:
    """On one node: write `token` into a probe file in the runs folder; returns its path."""
    path = Path(runs_dir) / f".probe-{node}-{token}"
    path.write_text(token)
    return str(path)


def open_for_actor(runs_dir: str, name: str) -> RunStore:
    """The run store as a Ray worker sees it, or a FolderError that says what is wrong with the runs folder."""
    host, path = socket.gethostname(), run_path(runs_dir, name)
    if not (path / "run.db").is_file():
        raise FolderError(f"the Ray worker on {host} does not see run {name} at {path}: the runs folder must be one "
                          "shared file system, mounted at the same path on every node (README, 'Many machines')")
    try:
        return RunStore(path)
    except (StoreError, sqlite3.Error, OSError) as e:
        raise FolderError(f"the Ray worker on {host} cannot open {path}: {e}") from None


def warm_up():
    """Import what a run needs before its first step: torch, the engine, and torch._dynamo, which PyTorch imports
    when the first optimizer is built (about 3 s in all on a 2-core machine). An actor does it as it starts, so
    that a run sent to it while the launcher checks the runs folder (`RayExecutor.prepare`) finds it done."""
    import torch
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

    from enas.engine import search  # noqa: F401


class RunActor:
    """A Ray actor for one run: `run` drives the engine on one thread; `pause`, `resume` and `stop` arrive on
    another and set the `Control` the engine polls between two steps."""

    def __init__(self):
        self.control = Control()
        warm_up()

    def pause(self):
        self.control.pause()

    def resume(self):
        self.control.resume()

    def stop(self):
        self.control.stop()

    def run(self, runs_dir: str, name: str, token: str, phases) -> str:
        import ray

        from enas.engine.search import Engine
        store = open_for_actor(runs_dir, name)
        context, host = ray.get_runtime_context(), socket.gethostname()
        owner = {"id": token, "kind": "ray", "host": host, "pid": os.getpid(), "node": context.get_node_id(),
                 "actor": context.get_actor_id()}
        try:
            store.claim(owner, wait=STALE_S + 2 * HEARTBEAT_S)   # a dead holder elsewhere: until its heartbeat is stale
            announce(store, "running", f"starting on {host}: loading the data, building the model")
        except (sqlite3.Error, OSError) as e:
            raise FolderError(f"the Ray worker on {host} cannot write run {name} in {runs_dir}: {e}") from None
        beat = Heartbeat(store, owner)
        beat.start()
        try:   # the engine sets the run's torch threads (its config's, recorded by RayExecutor.start)
            return Engine(store.config(), store, [], self.control).run(phases)
        finally:
            beat.done.set()
            beat.join()
            store.close()


class Heartbeat(threading.Thread):
    """An actor's heartbeat every HEARTBEAT_S seconds, whatever the engine is doing (loading data, a long
    evaluation), so that readers on other machines do not take its run for dead. A process that finds its run
    claimed by another (it was taken for dead, and resumed elsewhere) exits at once: it must not write on."""

    def __init__(self, store: RunStore, owner: dict):
        super().__init__(daemon=True, name=f"enas-heartbeat-{store.name}")
        self.store, self.owner, self.done = store, owner, threading.Event()

    def run(self):
        while not self.done.wait(HEARTBEAT_S):
            holder = self.store.meta().get("owner") or {}
            if (holder.get("id"), holder.get("pid")) != (self.owner["id"], self.owner["pid"]):
                os.write(2, f"enas: run {self.store.name} is now held by process {holder.get('pid')} on "
                            f"{holder.get('host')}; this process exits without writing more\n".encode())
                os._exit(75)
            self.store.commit()


class RemoteControl:
    """`Control`'s interface for a run in a Ray actor: each request is a call of the actor's method."""

    def __init__(self, job: "RayJob"):
        self._job = job

    @property
    def paused(self) -> bool:
        return self._job.store.meta().get("status") == "paused"

    def pause(self):
        self._job.actor.pause.remote()

    def resume(self):
        self._job.actor.resume.remote()

    def stop(self):
        self._job.stop()


class RayJob(Job):
    """A run in a Ray actor. Its thread waits for the actor, vouching for the run while it is queued, and
    records how it ended; a run whose actor died for good (its node lost, restarts used up) is interrupted."""

    def __init__(self, ray, store: RunStore, actor, ref, token: str):
        super().__init__(store, RemoteControl(self))
        self.ray, self.actor, self.ref, self.token = ray, actor, ref, token
        self._stopping = False
        self.thread = threading.Thread(target=self._watch, daemon=True, name=f"enas-ray-{store.name}")
        self.thread.start()

    def stop(self):
        """Stop within a step; a run still queued is taken off the queue (its actor never started)."""
        self._stopping = True
        if self.store.meta().get("status") == "queued":
            self.ray.kill(self.actor, no_restart=True)
        else:
            self.actor.stop.remote()

    def _ours(self) -> bool:
        m = self.store.meta()
        return (m.get("owner") or {}).get("id") == self.token and m.get("status") in LIVE

    def _watch(self):
        ray = self.ray
        while not ray.wait([self.ref], timeout=HEARTBEAT_S)[0]:
            if self.store.meta().get("status") == "queued":
                self.store.set_meta(heartbeat=time.time())
        try:
            self.outcome = ray.get(self.ref)
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if e.cause is not None else e
            self.outcome, self.error = ("refused" if isinstance(cause, Busy) else "failed"), str(cause)
            if isinstance(cause, FolderError):   # the worker could not write it: say why here
                announce(self.store, "failed", str(cause))
        except ray.exceptions.RayActorError as e:
            self.error = str(e).splitlines()[0]
            if self._ours():
                stopped = self._stopping and self.store.meta().get("status") == "queued"
                announce(self.store, "stopped" if stopped else "interrupted",
                         "stopped while queued" if stopped else f"interrupted: its Ray actor died ({self.error}); "
                                                                "it can be resumed from its last checkpoint")
            self.outcome = self.store.status()
        finally:
            ray.kill(self.actor, no_restart=True)
