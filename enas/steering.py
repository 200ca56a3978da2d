"""Steering a live search: the constraints and settings in force, the changes users ask for, and their inbox.

A `Steering` is plain data: the `Constraints` the samplers obey and the values of the fields a user may change
while the search runs (`STEERABLE`). `Steering.change(request)` checks a request against the run's space and
every field's range and returns the new state with what changed (old and new), or raises a `SteerError` and
changes nothing. A request is a dict:

    {"constraints": ["ban maxpool3x3@3", "skip 3:1=on"], "set": {"temperature": 3.0}, "clear": False}

and a request from another process may also hold "control": "pause", "resume" or "step".

The engine applies requests between two steps and records each as a `steer` event with the full state after it,
so a resumed run replays them where they happened (`enas.engine.search`). Another process (the CLI's `steer`)
drops requests as JSON files into the run's `steer/` folder (`Inbox`).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from enas.config import SPECS, ConfigError, check_field
from enas.constraints import ConstraintError, Constraints

SCALE_RANGE = (0.0, 10.0)
STEERABLE = {   # field: what it changes, as the app and the CLI say it
    "controller_lr": "controller learning rate (Adam)",
    "entropy_weight": "entropy weight of the reward",
    "temperature": "temperature of the controller's logits",
    "tanh_constant": "tanh constant of the controller's logits",
    "child_lr_scale": "child learning rate x this scale (over its cosine schedule)",
    "controller_steps": "controller steps per epoch",
    "sampling": "child sampling (per-batch or per-epoch)",
}
CONTROLLER_ONLY = ("controller_lr", "temperature", "tanh_constant")


class SteerError(ValueError):
    """A steering request that cannot apply, with a message that says why; nothing was changed."""


def check_value(name: str, value, controller: str):
    """`value` checked for steerable field `name` (the config field's range; child_lr_scale in [0, 10])."""
    if name not in STEERABLE:
        raise SteerError(f"{name!r} cannot be changed while a run runs; steerable: {', '.join(STEERABLE)}")
    if controller != "enas" and name in CONTROLLER_ONLY:
        raise SteerError(f"{name}: this run is random search, which has no controller to change")
    if name == "child_lr_scale":
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SteerError(f"child_lr_scale: {value!r} is not a number") from None
        if not SCALE_RANGE[0] <= value <= SCALE_RANGE[1]:
            raise SteerError(f"child_lr_scale: {value:g} is outside [{SCALE_RANGE[0]:g}, {SCALE_RANGE[1]:g}]")
        return value
    try:
        return check_field(name, value)
    except ConfigError as e:
        raise SteerError(str(e)) from None


@dataclass(frozen=True)
class Steering:
    """The constraints and steerable values in force in one run."""
    constraints: Constraints
    values: dict = field(default_factory=dict)

    @classmethod
    def of(cls, config) -> "Steering":
        """A run's state before any steering: no constraints, its config's values, child_lr_scale 1."""
        return cls(Constraints(), {**{n: getattr(config, n) for n in STEERABLE if n in SPECS}, "child_lr_scale": 1.0})

    def change(self, request: dict, config) -> tuple:
        """(new Steering, changes [{what, old, new}]) after `request`; raises SteerError on any bad part."""
        if not isinstance(request, dict) or set(request) - {"constraints", "set", "clear"}:
            raise SteerError(f"a steering request has keys constraints, set and clear; got {request!r}")
        constraints, values, changes = self.constraints, dict(self.values), []
        try:
            if request.get("clear"):
                if constraints:
                    changes.append({"what": "lift every constraint", "old": constraints.describe(), "new": "none"})
                constraints = Constraints()
            for text in request.get("constraints", []):
                new = constraints.apply(text, config.nodes, config.ops)
                if new != constraints:
                    changes.append({"what": text, "old": constraints.describe(), "new": new.describe()})
                constraints = new
        except ConstraintError as e:
            raise SteerError(str(e)) from None
        for name, value in (request.get("set") or {}).items():
            value = check_value(name, value, config.controller)
            if name == "controller_steps" and not config.controller_steps:
                raise SteerError("controller_steps: this run never trains its controller (0 steps in its config)")
            if value != values[name]:
                changes.append({"what": name, "old": values[name], "new": value})
                values[name] = value
        return Steering(constraints, values), changes

    def describe(self, config) -> str:
        """What differs from the run's own config, e.g. 'temperature 3 (was 5); maxpool3x3 banned at 3'."""
        start = Steering.of(config).values
        parts = [f"{n} {v:g} (was {start[n]:g})" if isinstance(v, float) else f"{n} {v} (was {start[n]})"
                 for n, v in self.values.items() if v != start[n]]
        if self.constraints:
            parts.append(self.constraints.describe())
        return "; ".join(parts) or "none"

    def to_dict(self) -> dict:
        return {"constraints": self.constraints.to_dict(), "values": dict(self.values)}

    @classmethod
    def from_dict(cls, d: dict, config) -> "Steering":
        return cls(Constraints.from_dict(d.get("constraints")), {**cls.of(config).values, **d.get("values", {})})


def changes_label(changes: list) -> str:
    """A steer event's changes in a few words, e.g. 'ban maxpool3x3@3; temperature 3' (chart rules, slides)."""
    return "; ".join(f"{c['what']} {c['new']}" if c["what"] in STEERABLE else c["what"] for c in changes)


def steering_now(store, config) -> Steering:
    """The state in force in a stored run: the last `steer` event's (none: the config's)."""
    events = store.events("steer")
    return Steering.from_dict(events[-1]["state"], config) if events else Steering.of(config)


class Inbox:
    """Requests from other processes: one JSON file each in the run's `steer/` folder, read in name order."""

    def __init__(self, run_path: Path):
        self.path = Path(run_path) / "steer"

    def put(self, request: dict, who: str) -> str:
        """Drop a request (atomically: written aside, then renamed); returns its id."""
        self.path.mkdir(exist_ok=True)
        rid = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.path / f".{rid}.tmp"
        tmp.write_text(json.dumps({"id": rid, "who": who, "request": request}))
        os.replace(tmp, self.path / f"{rid}.json")
        return rid

    def take(self) -> list:
        """Every waiting request, oldest first (each with its `file`: `done` removes it once applied); an
        unreadable file becomes a request that is refused."""
        if not self.path.is_dir():
            return []
        taken = []
        for f in sorted(self.path.glob("*.json")):
            try:
                item = json.loads(f.read_text())
                if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
                    raise ValueError("no request in it")
            except (OSError, ValueError) as e:
                item = {"id": f.stem, "who": "?", "request": {}, "error": f"unreadable request {f.name}: {e}"}
            taken.append({**item, "file": f})
        return taken

    @staticmethod
    def done(item: dict):
        item["file"].unlink(missing_ok=True)

    def pending(self, rid: str) -> bool:
        return (self.path / f"{rid}.json").exists()
