"""The frames of a run's slides, as plain data: one per finished epoch, with the epoch (from 1), the mean
validation reward of that epoch's controller samples, the architecture sampled last by then and the policy at
its end; and the shading both the GIF (`enas.teach.slides_gif`) and the HTML page (`enas.teach.slides`) use.
"""
from __future__ import annotations

from dataclasses import dataclass

from enas.space import Architecture
from enas.steering import changes_label

CHUNK = 20_000      # sample events read at a time (an enas-paper run records 310,000)
MAX_FPS = 50.0      # GIF frame delays below 20 ms are not honoured by viewers


class SlidesError(ValueError):
    """Slides that cannot be made (no epoch yet, a bad setting, an unwritable file), saying why."""


@dataclass(frozen=True)
class Frame:
    """One epoch: `epoch` counts from 1; `policy` is {ops, op_probs, skip_probs} or None if none was recorded."""

    epoch: int
    epochs: int
    arch: str
    source: str         # what `arch` is, for its label
    reward: float | None
    policy: dict | None
    steered: str = ""   # the steering changes made during this epoch (`enas.steering`), if any


def last_samples(store) -> dict:
    """{epoch (from 0): architecture string} of the last sample of each epoch that has samples."""
    last, after = {}, 0
    while True:
        events = store.events("sample", after_id=after, limit=CHUNK)
        for ev in events:
            last[ev["epoch"]] = ev["arch"]
        if len(events) < CHUNK:
            return last
        after = events[-1]["id"]


def frames(store, every: int = 1) -> list:
    """The run's frames: every `every`-th finished epoch, and the last one. Raises SlidesError without epochs."""
    if not isinstance(every, int) or every < 1:
        raise SlidesError(f"--every {every}: must be a whole number, at least 1")
    epochs = {ev["epoch"]: ev for ev in store.events("epoch")}      # a resumed epoch: its last record
    if not epochs:
        raise SlidesError(f"run {store.name!r} has no finished epoch yet: slides need at least one")
    policies = {ev["epoch"]: ev for ev in store.events("policy")}
    steered = {}
    for ev in store.events("steer"):
        steered.setdefault(ev["epoch"], []).append(changes_label(ev["changes"]))
    samples = last_samples(store)
    total = store.config().epochs
    out, arch, sampled_in = [], None, None
    for e in sorted(epochs):
        if e in samples:
            arch, sampled_in = samples[e], e
        pol = policies.get(e)
        pol = pol and {k: pol[k] for k in ("ops", "op_probs", "skip_probs")}
        if arch is not None:
            text, source = arch, (f"the controller's last sample in epoch {sampled_in + 1}" if sampled_in == e else
                                  f"the controller's last sample, from epoch {sampled_in + 1}")
        elif pol is not None:
            text = str(Architecture.most_likely(pol["ops"], pol["op_probs"], pol["skip_probs"]))
            source = "the policy's most likely architecture (nothing sampled yet)"
        else:
            continue
        out.append(Frame(e + 1, max(total, e + 1), text, source, epochs[e].get("val_acc"), pol,
                         "; ".join(steered.get(e, []))))
    if not out:
        raise SlidesError(f"run {store.name!r} has no sampled architecture or policy yet")
    kept = out[::every]
    return kept if kept[-1] is out[-1] else kept + [out[-1]]


def check_fps(fps: float) -> float:
    if not 0 < fps <= MAX_FPS:
        raise SlidesError(f"--fps {fps:g}: must be above 0 and at most {MAX_FPS:g} frames per second")
    return float(fps)


def reward_text(frame: Frame) -> str:
    if frame.reward is None:
        return "validation reward: none (the controller was not trained this epoch)"
    return f"validation reward {frame.reward:.3f} (mean accuracy of this epoch's samples on validation minibatches)"


def steered_text(frame: Frame) -> str:
    return f"steered in this epoch: {frame.steered}" if frame.steered else ""


def ramp(p: float, hi: tuple) -> tuple:
    """White blended towards `hi` by p in [0, 1], in 32 steps (so that a GIF palette holds every shade)."""
    t = round(max(0.0, min(1.0, p)) * 31) / 31
    return tuple(round(255 + (c - 255) * t) for c in hi)


OP_HEAT, SKIP_HEAT = (8, 81, 156), (84, 39, 143)    # the darkest shades of the op and skip heatmaps
