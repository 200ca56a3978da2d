"""A finished run as it was after search epoch k: the events up to that moment, fed to a fresh `LiveRun`.

Epochs count from 1 here as everywhere a person reads them: "after epoch k" holds every search event of
epochs 1..k (stored with 0-based epoch numbers 0..k-1); k = `epochs(events)` + 1 adds derive and final.
"""
from __future__ import annotations

from enas.runs.live import PHASE, LiveRun


def cuts(events: list) -> list:
    """cuts[k - 1]: how many of `events` (in store order) there are up to the end of search epoch k."""
    out: list = []
    for i, ev in enumerate(events):
        if PHASE.get(ev["kind"]) != "search" or ev["epoch"] is None:
            continue
        e = ev["epoch"]
        while len(out) <= e:
            out.append(out[-1] if out else 0)
        out[e] = i + 1
    return out


def live_at(config, events: list, k: int, marks: list | None = None) -> LiveRun:
    """The run's `LiveRun` after search epoch k (1-based); k past the last epoch gives the whole run."""
    marks = cuts(events) if marks is None else marks
    if k < 1:
        raise ValueError(f"epoch {k}: replay starts after epoch 1")
    end = marks[k - 1] if k <= len(marks) else len(events)
    live = LiveRun(config)
    for ev in events[:end]:
        live(ev)
    if k <= len(marks):
        live.hold("replay", f"the run as it was after search epoch {k} of {len(marks)}")
    return live
