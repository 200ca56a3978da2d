"""`LiveRun`: what a view needs of one run, kept in memory with bounded size while the engine runs.

The engine calls a `LiveRun` (a listener) from its worker thread with every event; views read copies made
under a lock. Every series is decimated (at most `cap` points: when full, every other point is dropped and
only every 2nd, 4th, ... new point is kept), and so are the history of sampled architectures and the policy
snapshots; the table of unique architectures keeps at most `unique_cap` rows. Memory stays flat over long
runs; the full record is the run store's (`RunStore.events`), from which `replay` rebuilds a LiveRun.

Health: a `HealthCheck` fed with the same controller steps, epochs and policies as the engine's keeps each warning's
state as of the newest event (`health`): the engine alerts once per run, a banner shows whether it still holds, and
when. A policy's `moved` (each node's distance from the untrained controller's op probabilities) is the engine's;
policy events of runs made before it have none: there it is measured from the run's first policy (`from_first`).
"""
from __future__ import annotations

import collections
import math
import threading
import time

from enas.steering import changes_label
from enas.constraints import Constraints
from enas.quality.health import HealthCheck, policy_moved

CAP = 2000            # points per series, samples in the history
POLICY_CAP = 200      # policy snapshots
UNIQUE_CAP = 5000     # rows of the unique-architecture table
ALERT_CAP = 50

# event kind -> (series prefix, x field, metric fields); series are named "prefix.field"
SERIES = {
    "child_step": ("child", "step", ("loss", "acc", "lr", "images_per_s")),
    "controller_step": ("controller", "ctrl_step",
                        ("reward", "accuracy", "baseline", "entropy", "entropy_bonus", "controller_loss", "skip_count",
                         "skip_penalty")),
    "epoch": ("epoch", "epoch", ("train_loss", "train_acc", "val_acc", "random_val_acc")),
    "derive_child": ("derive", "step", ("val_acc",)),
    "final_step": ("final", "step", ("loss", "acc")),
    "final_epoch": ("final", "epoch", ("val_acc",)),
}
PHASE = {"child_step": "search", "controller_step": "search", "sample": "search", "policy": "search",
         "epoch": "search", "derive_child": "derive", "derive_result": "derive", "final_start": "final",
         "final_step": "final", "final_epoch": "final", "final_result": "final"}
ACTIVE = ("starting", "queued", "running", "paused")


class Decimated:
    """At most `cap` items of a stream, evenly spaced: item k of the stream is kept while k % stride == 0."""

    def __init__(self, cap: int = CAP):
        self.cap, self.items, self.stride, self.seen, self.last = cap, [], 1, 0, None

    def add(self, item):
        if self.seen % self.stride == 0:
            self.items.append(item)
            if len(self.items) > self.cap:
                del self.items[1::2]
                self.stride *= 2
        self.seen += 1
        self.last = item

    def list(self) -> list:
        """The kept items and, if it was not kept, the latest one."""
        if self.last is not None and (not self.items or self.items[-1] is not self.last):
            return self.items + [self.last]
        return list(self.items)


def _signed(x) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.2f}"


def _xy(points: list) -> tuple:
    """(xs, ys) of a series' (x, y) points."""
    return [p[0] for p in points], [p[1] for p in points]


class LiveRun:
    """A thread-safe listener that keeps one run's curves, samples, policy, status and progress, bounded."""

    def __init__(self, config=None, cap: int = CAP, policy_cap: int = POLICY_CAP, unique_cap: int = UNIQUE_CAP,
                 clock=time.time):
        self.config, self.cap, self.unique_cap, self.clock = config, cap, unique_cap, clock
        self._lock = threading.Lock()
        self._series: dict = {}
        self._history = Decimated(cap)       # sampled architectures, in order
        self._tally: dict = {}               # arch -> [count, reward sum, best reward, last sample number]
        self._dropped = 0                    # rare architectures dropped from the tally to bound it
        self._policies = Decimated(policy_cap)
        self._derive: dict = {}              # arch -> derive validation accuracy (at most unique_cap)
        self._ranking: list = []
        self.best = None
        self.result = None
        self._trainings: list = []           # final trainings: {arch, mode, epochs, result, series {name: Decimated}}
        self.rankcheck = None                # the newest rank check's result
        self._alerts = collections.deque(maxlen=ALERT_CAP)
        self._check = HealthCheck.of(config) if config is not None and config.controller == "enas" else None
        self._step = None                    # the controller step whose samples are arriving: [epoch, entropy, archs]
        self._first_op_probs = None          # the first policy's, where events lack `moved` (older runs)
        self._ctrl_epoch, self._ctrl_epochs = None, 0   # the newest epoch with controller steps; epochs with any
        self._health: dict = {}              # check code -> its state (see `health`), once it has held
        self.rankchecks = 0                  # rank checks finished
        self._search_epoch = 0               # the newest search event's epoch (0-based)
        self._steers: list = []              # interventions: steer events, with where they land on each chart
        self.steering = None                 # the newest steer event's state (None: the config's, unsteered)
        self.step_detail = None              # the newest single step's detail (a paused run stepped once)
        self.refused = None                  # the newest refused steering request
        self.status, self.message, self.error, self.traceback = "starting", "", None, None
        self.phase = None
        self.version = 0                     # events seen; views redraw when it changes
        self.last_id = 0                     # last store event id replayed
        self._arch = None
        self._now = {"epoch": 0, "step": 0, "ctrl_step": 0, "progress": 0.0, "images_per_s": None,
                     "final_epoch": 0, "final_step": 0, "epochs": config.epochs if config else None,
                     "final_epochs": config.final_epochs if config else None}
        self._active, self._run_since, self._last_t = 0.0, None, None
        self._phase_mark = None              # (active seconds, fraction) when this phase was first seen running

    # --- input -----------------------------------------------------------------------------------
    def __call__(self, event: dict):
        with self._lock:
            self._add(event)

    def replay(self, store, chunk: int = 5000) -> int:
        """Feed the store's events newer than the last replayed one; returns how many were read."""
        total = 0
        while True:
            events = store.events(after_id=self.last_id, limit=chunk)
            with self._lock:
                for ev in events:
                    self._add(ev)
                    self.last_id = ev["id"]
            total += len(events)
            if len(events) < chunk:
                return total

    def interrupted(self, message: str = "interrupted: its process ended without finishing; it can be resumed"):
        """Mark a replayed run whose process died: the clock stops at its last event."""
        self.hold("interrupted", message)

    def hold(self, status: str, message: str):
        """Show `status` with the clock stopped at the last event (a dead run, or a replay's moment)."""
        with self._lock:
            self._stop_clock(self._last_t)
            self.status, self.message = status, message

    def fail(self, message: str, traceback: str | None = None):
        """Mark the run failed (for errors raised outside `Engine.run`, e.g. while loading the data)."""
        with self._lock:
            self._stop_clock(self.clock())
            self.status, self.message, self.error, self.traceback = "failed", message, message, traceback
            self.version += 1

    def _add(self, ev: dict):
        kind, t = ev["kind"], ev.get("t") or self.clock()
        self.version += 1
        self._last_t = t
        now = self._now
        if kind == "final_start" or (kind == "final_step" and self._final_restarted(ev)):
            self._trainings.append({"arch": ev.get("arch"), "mode": ev.get("mode"), "epochs": ev.get("epochs"),
                                    "result": None, "series": {}})
            for name in [n for n in self._series if n.startswith("final.")]:
                del self._series[name]           # `series` holds the newest training's curves
        if kind in SERIES:
            prefix, xfield, fields = SERIES[kind]
            x = ev.get(xfield)
            if kind in ("epoch", "final_epoch"):
                x = ev["epoch"] + 1
            for f in fields:
                if ev.get(f) is not None:
                    line = self._series.setdefault(f"{prefix}.{f}", Decimated(self.cap))
                    line.add((x, ev[f]))
                    if prefix == "final" and self._trainings:
                        self._trainings[-1]["series"][f"{prefix}.{f}"] = line
        if kind in PHASE:
            self._enter_phase(PHASE[kind])
            if PHASE[kind] == "search" and ev.get("epoch") is not None:
                self._search_epoch = ev["epoch"]
        if kind not in ("sample", "alert"):   # a controller step's samples (and alerts) follow it
            self._end_step()
        if kind == "status":
            self._status(ev, t)
        elif kind == "alert":
            self._alert(ev, t)
        elif kind == "child_step":
            now.update(epoch=ev["epoch"], step=ev["step"], progress=ev.get("progress", 0.0))
            self._speed(ev.get("images_per_s"))
            self._arch = ev.get("arch", self._arch)
        elif kind == "controller_step":
            now["ctrl_step"] = ev.get("ctrl_step", now["ctrl_step"])
            if ev["epoch"] != self._ctrl_epoch:
                self._ctrl_epoch, self._ctrl_epochs = ev["epoch"], self._ctrl_epochs + 1
            if self._check is not None and ev.get("entropy") is not None:
                self._step = [ev["epoch"], ev["entropy"], []]
        elif kind == "sample":
            self._sample(ev)
            if self._step is not None:
                self._step[2].append(ev["arch"])
        elif kind == "policy":
            self._policy(ev)
        elif kind == "steer":
            self._steer(ev)
        elif kind == "steer_refused":
            self.refused = {k: ev.get(k) for k in ("who", "message", "t")}
        elif kind == "step_detail":
            self.step_detail = {k: v for k, v in ev.items() if k not in ("id", "kind")}
        elif kind == "epoch":
            now.update(epoch=ev["epoch"] + 1, progress=0.0, epochs=ev.get("epochs", now["epochs"]))
            if self._check is not None and ev.get("val_acc") is not None and ev.get("random_val_acc") is not None:
                self._held(self._check.epoch_conditions(ev["val_acc"], ev["random_val_acc"]),
                           f"search epoch {ev['epoch'] + 1}")
        elif kind == "derive_child":
            now["progress"] = ev.get("progress", 0.0)
            if ev["arch"] in self._derive or len(self._derive) < self.unique_cap:
                self._derive[ev["arch"]] = ev["val_acc"]
        elif kind == "derive_result":
            self._ranking, self.best = ev["ranking"][: self.cap], ev["best"]
            for r in self._ranking:
                self._derive.setdefault(r["arch"], r["val_acc"])
        elif kind == "final_step":
            now.update(final_epoch=ev["epoch"], final_step=ev["step"], progress=ev.get("progress", 0.0))
            self._speed(ev.get("images_per_s"))
        elif kind == "final_start":
            now.update(final_epoch=0, final_step=0, progress=0.0, final_epochs=ev["epochs"], images_per_s=None)
        elif kind == "final_epoch":
            now.update(final_epoch=ev["epoch"] + 1, progress=0.0, final_epochs=ev.get("epochs", now["final_epochs"]))
        elif kind == "final_result":
            self.result = {k: v for k, v in ev.items() if k not in ("id", "kind", "t", "step", "epoch")}
            if self._trainings:
                training = self._trainings[-1]
                training["result"] = self.result
                for k in ("arch", "mode", "epochs"):
                    training[k] = training[k] or self.result.get(k)
        elif kind in ("rankcheck_child", "recheck_child", "refcheck_child"):
            now["progress"] = ev.get("progress", 0.0)
        elif kind == "rankcheck_result":
            self.rankcheck = {k: v for k, v in ev.items() if k not in ("id", "kind", "t", "step", "epoch")}
            self.rankchecks += 1   # its warning, if any, is the alert that follows
            message = (f"Kendall tau {_signed(ev['kendall_tau'])} between shared-weight and stand-alone accuracy "
                       f"({ev['k']} architectures, {ev['epochs']} epoch(s) each).")
            self._held({"rank": (False, message)}, f"rank check {self.rankchecks}")

    def _alert(self, ev: dict, t: float):
        """A health warning sets its check's state (unless the check here follows that condition itself); any
        other alert is kept, labelled with the moment it describes."""
        code, epoch = ev.get("check"), ev.get("epoch")
        at = f"search epoch {(self._search_epoch if epoch is None else epoch) + 1}"
        if self.phase in ("derive", "final"):
            at = {"derive": "derive", "final": "final training"}[self.phase]
        if code == "rank":
            self._held({code: (True, ev.get("message", ""))}, f"rank check {self.rankchecks}")
        elif code is None:
            self._alerts.append({"level": ev.get("level", "info"), "message": ev.get("message", ""), "t": t,
                                 "at": at})
        elif self._check is None:
            self._held({code: (True, ev.get("message", ""))}, at)

    def _steer(self, ev: dict):
        """An intervention: where it lands on the step, controller-step, epoch and sample axes, and its label."""
        now = self._now
        label = changes_label(ev.get("changes", []))
        self._steers.append({"step": ev.get("step"), "ctrl_step": ev.get("ctrl_step"),
                             "epoch": ev.get("epoch"), "epoch_x": (ev.get("epoch") or 0) + now["progress"]
                             if self.phase in (None, "search") else ev.get("epoch"),
                             "sample": self._history.seen, "who": ev.get("who"), "label": label,
                             "changes": ev.get("changes", []), "t": ev.get("t")})
        self.steering = ev.get("state")
        if self._check is not None and self.config is not None and self.steering:   # as the engine's does
            self._check.steer(Constraints.from_dict(self.steering["constraints"]), self.config.nodes,
                              self.config.ops)

    def _policy(self, ev: dict):
        """Keep a policy snapshot with its `moved`; check it as the engine does."""
        moved = ev.get("moved")
        from_first = moved is None
        if from_first:
            self._first_op_probs = self._first_op_probs or ev["op_probs"]
            moved = policy_moved(ev["op_probs"], self._first_op_probs)
        self._policies.add({"epoch": ev["epoch"], "ops": ev["ops"], "op_probs": ev["op_probs"],
                            "skip_probs": ev["skip_probs"], "moved": moved, "from_first": from_first,
                            "constraints": ev.get("constraints")})
        if self._check is not None:
            self._held(self._check.policy_conditions(moved, self._ctrl_epochs), f"search epoch {ev['epoch'] + 1}")

    def _end_step(self):
        """The controller step whose samples have all arrived: its health conditions, as the engine checked them."""
        if self._step is not None:
            epoch, entropy, archs = self._step
            self._step = None
            self._held(self._check.step_conditions(entropy, archs), f"search epoch {epoch + 1}")

    def _held(self, conditions: dict, at: str):
        """Record {code: (holds, message)} checked at moment `at`; a condition that never held has no state."""
        for code, (holds, message) in conditions.items():
            state = self._health.get(code)
            if holds:
                self._health[code] = {"code": code, "holds": True, "message": message, "at": at, "warned": at}
            elif state is not None:
                state.update(holds=False, message=message, at=at)

    def _final_restarted(self, ev: dict) -> bool:
        """A final training logged before `final_start` existed: a new one starts when its step count drops."""
        if not self._trainings:
            return True
        line = self._trainings[-1]["series"].get("final.loss")
        return line is not None and line.last is not None and ev["step"] <= line.last[0]

    def _speed(self, ips):
        now = self._now
        if ips is not None:
            now["images_per_s"] = ips if now["images_per_s"] is None else 0.8 * now["images_per_s"] + 0.2 * ips

    def _status(self, ev: dict, t: float):
        status = ev["status"]
        self.status, self.message = status, ev.get("message", "")
        if status == "running":
            if self._run_since is None:
                self._run_since = t
            self.error = self.traceback = None
        else:
            self._stop_clock(t)
        if status == "failed":
            self.error = self.message
            self.traceback = ev.get("traceback", self.traceback)

    def _stop_clock(self, t):
        if self._run_since is not None and t is not None:
            self._active += max(t - self._run_since, 0.0)
        self._run_since = None

    def _enter_phase(self, phase: str):
        if phase != self.phase:
            self.phase = phase
            self._now["progress"] = 0.0
            self._phase_mark = None

    def _sample(self, ev: dict):
        arch, reward = ev["arch"], ev["reward"]
        n = self._history.seen
        self._history.add({"n": n, "epoch": ev.get("epoch"), "step": ev.get("step"), "ctrl_step": ev.get("ctrl_step"),
                           "arch": arch, "reward": reward, "accuracy": ev.get("accuracy")})
        self._arch = arch
        row = self._tally.get(arch)
        if row is None:
            self._tally[arch] = [1, reward, reward, n]
            if len(self._tally) > self.unique_cap:
                self._prune()
        else:
            row[0] += 1
            row[1] += reward
            row[2] = max(row[2], reward)
            row[3] = n

    def _prune(self):
        """Drop the least-sampled, least-recent quarter of the tally."""
        keep = self.unique_cap * 3 // 4
        order = sorted(self._tally, key=lambda a: (self._tally[a][0], self._tally[a][3]))
        for arch in order[: len(order) - keep]:
            del self._tally[arch]
            self._dropped += 1

    # --- snapshots (copies, taken under the lock) ------------------------------------------------
    def series(self, *names) -> dict:
        """{name: (xs, ys)} for the given series names (all when none are given); missing ones are empty."""
        with self._lock:
            names = names or tuple(self._series)
            return {name: _xy(self._series[name].list() if name in self._series else []) for name in names}

    def arch(self) -> str | None:
        """The architecture most recently sampled by the controller."""
        with self._lock:
            return self._arch

    def history(self) -> list:
        """Sampled architectures (decimated when long): dicts n, epoch, step, ctrl_step, arch, reward, accuracy."""
        with self._lock:
            return [dict(h) for h in self._history.list()]

    def samples_seen(self) -> int:
        with self._lock:
            return self._history.seen

    def table(self) -> list:
        """Unique sampled architectures: arch, count, mean and best reward, derive validation accuracy."""
        with self._lock:
            return [{"arch": a, "count": c, "mean_reward": s / c, "best_reward": b, "val_acc": self._derive.get(a)}
                    for a, (c, s, b, _) in self._tally.items()]

    def tally_dropped(self) -> int:
        with self._lock:
            return self._dropped

    def count(self, arch: str) -> int | None:
        """How often `arch` was sampled (None if it was dropped from the bounded tally)."""
        with self._lock:
            row = self._tally.get(arch)
            return row[0] if row else (None if self._dropped else 0)

    def derive_acc(self, arch: str):
        with self._lock:
            return self._derive.get(arch)

    def ranking(self) -> list:
        with self._lock:
            return [dict(r) for r in self._ranking]

    def trainings(self) -> list:
        """Every final training, oldest first: arch, mode, epochs, result (None until it ends) and its curves."""
        with self._lock:
            return [{**{k: v for k, v in t.items() if k != "series"},
                     "series": {n: _xy(line.list()) for n, line in t["series"].items()}} for t in self._trainings]

    def policies(self) -> list:
        """Policy snapshots: epoch, ops, op_probs, skip_probs, moved (per node), from_first (moved is measured from
        the first policy, not the untrained controller's)."""
        with self._lock:
            return list(self._policies.list())

    def interventions(self) -> list:
        """Every steering change, oldest first: step, ctrl_step, epoch (completed epochs when it was made), epoch_x
        (where it falls on an epoch axis), sample (samples before it), who, label, changes."""
        with self._lock:
            return [dict(s) for s in self._steers]

    def alerts(self) -> list:
        """The engine's alerts other than health warnings: level, message, t and `at` (the moment it describes)."""
        with self._lock:
            return list(self._alerts)

    def health(self) -> list:
        """Each health warning that has held, as of the newest event: code, holds (now), message (the newest
        check's, with its figures), at (that check: "search epoch 12", "rank check 2"), warned (when it last held)."""
        with self._lock:
            return [dict(h) for h in self._health.values()]

    def progress(self) -> dict:
        """Phase, epoch, step, images/s, the phase's done fraction, elapsed (running) seconds and ETA seconds."""
        with self._lock:
            now = dict(self._now)
            elapsed = self._active + (self.clock() - self._run_since if self._run_since is not None else 0.0)
            frac = self._fraction(now)
            eta = None
            if frac is not None and self.status == "running":
                if self._phase_mark is None:
                    self._phase_mark = (elapsed, frac)
                spent, done = elapsed - self._phase_mark[0], frac - self._phase_mark[1]
                if done > 0 and spent > 0:
                    eta = spent / done * (1.0 - frac)
            return {**now, "phase": self.phase, "fraction": frac, "elapsed": elapsed, "eta": eta,
                    "status": self.status, "samples": self._history.seen}

    def _fraction(self, now: dict):
        if self.phase == "search" and now["epochs"]:
            return min((now["epoch"] + now["progress"]) / now["epochs"], 1.0)
        if self.phase == "derive":
            return 1.0 if self.best is not None else now["progress"]
        if self.phase == "final" and now["final_epochs"]:
            return 1.0 if self.result else min((now["final_epoch"] + now["progress"]) / now["final_epochs"], 1.0)
        return None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
