"""Slides of a run: how the sampled architecture and the controller's policy evolved, one frame per epoch, as an
animated GIF (`enas.teach.slides_gif`, drawn with Pillow) or as one self-contained HTML file with a small player.

A frame shows the epoch (counting from 1, as the app does), the mean validation reward of that epoch's
controller samples, the architecture the controller sampled last by the end of that epoch (with the epoch it
was sampled in; before the first sample, the policy's most likely architecture, labelled so) and the policy
recorded at the end of the epoch: op probabilities per node and skip probabilities.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

from enas.space import Architecture
from enas.teach.draw import chain_svg
from enas.teach.frames import (
    OP_HEAT,
    SKIP_HEAT,
    Frame,
    SlidesError,
    check_fps,
    frames,
    ramp,
    reward_text,
    steered_text,
)


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % rgb


def _table(caption: str, cols: list, rows: list, hi: tuple) -> str:
    """A heatmap as an HTML table: rows are (label, [p or None]); a cell's colour and number show p."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for label, ps in rows:
        cells = "".join("<td></td>" if p is None else
                        f'<td style="background:{_hex(ramp(p, hi))};color:{"#fff" if p > 0.55 else "#000"}">'
                        f"{p:.2f}</td>" for p in ps)
        body.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return (f'<table class="heat"><caption>{html.escape(caption)}</caption><tr><th></th>{head}</tr>'
            f'{"".join(body)}</table>')


def policy_tables(policy: dict | None) -> str:
    if policy is None:
        return '<p class="note">No policy was recorded for this epoch.</p>'
    n = len(policy["op_probs"])
    out = _table("Op probabilities per node", policy["ops"],
                 [(f"node {i}", row) for i, row in enumerate(policy["op_probs"])], OP_HEAT)
    if n > 1:
        out += _table("Skip probabilities: node i adds node j's output", [f"from {j}" for j in range(n - 1)],
                      [(f"node {i}", [row[j] if j < i else None for j in range(n - 1)])
                       for i, row in enumerate(policy["skip_probs"]) if i], SKIP_HEAT)
    return out


def frame_html(frame: Frame, ops) -> str:
    arch = Architecture.parse(frame.arch)
    steered = f'<p class="steered">{html.escape(steered_text(frame))}</p>' if frame.steered else ""
    return (f'<h2>Epoch {frame.epoch} / {frame.epochs}</h2><p class="reward">{html.escape(reward_text(frame))}</p>'
            f"{steered}"
            f'<p>Architecture ({html.escape(frame.source)}): <code class="arch">{html.escape(frame.arch)}</code></p>'
            f'{chain_svg(arch, ops=ops)}<div class="policy">{policy_tables(frame.policy)}</div>')


PLAYER = """
const frames = [...document.querySelectorAll("template.frame")];
const stage = document.getElementById("stage"), pos = document.getElementById("pos");
const play = document.getElementById("play"), speed = document.getElementById("speed");
const label = document.getElementById("label");
let at = 0, timer = null;
function show(k) {
  at = k; pos.value = k; label.textContent = frames[k].dataset.label;
  stage.replaceChildren(frames[k].content.cloneNode(true));
}
function stop() { clearInterval(timer); timer = null; play.textContent = "Play"; }
function start() {
  if (at >= frames.length - 1) show(0);
  timer = setInterval(() => at >= frames.length - 1 ? stop() : show(at + 1), 1000 / (FPS * speed.value));
  play.textContent = "Pause";
}
play.onclick = () => timer ? stop() : start();
pos.oninput = () => { stop(); show(+pos.value); };
speed.onchange = () => { if (timer) { stop(); start(); } };
document.onkeydown = (e) => {
  if (e.key === "ArrowRight" && at < frames.length - 1) { stop(); show(at + 1); }
  else if (e.key === "ArrowLeft" && at > 0) { stop(); show(at - 1); }
  else if (e.key === " " && e.target.tagName !== "BUTTON") { e.preventDefault(); play.click(); }
};
show(0);
"""

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #252525; }
h1 { font-size: 26px; margin: 0 0 8px; } h2 { font-size: 24px; margin: 12px 0 4px; }
#controls { display: flex; gap: 12px; align-items: center; font-size: 16px; }
#pos { flex: 1; } button, select { font-size: 16px; }
p.steered { color: #b35806; font-weight: bold; }
code.arch { font-size: 18px; background: #f0f0f0; padding: 2px 6px; }
.policy { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
table.heat { border-collapse: collapse; font-size: 15px; }
table.heat caption { font-weight: bold; text-align: left; padding: 6px 0; }
table.heat td { width: 64px; height: 30px; text-align: center; border: 1px solid #fff; }
table.heat th { font-weight: normal; padding: 0 8px; }
"""


def html_text(frames_: list, name: str, ops, fps: float = 2.0) -> str:
    """One self-contained HTML page: every frame in an inert <template>, a player (play/pause, slider, speed)."""
    check_fps(fps)
    speeds = "".join(f'<option value="{s}"{" selected" if s == 1 else ""}>{s}x</option>' for s in (0.25, 0.5, 1, 2, 4))
    templates = "".join(
        f'<template class="frame" data-epoch="{f.epoch}" data-arch="{html.escape(f.arch)}" '
        f'data-label="{html.escape(f"epoch {f.epoch} / {f.epochs}")}">{frame_html(f, ops)}</template>'
        for f in frames_)
    title = html.escape(f"ENAS search {name}: architecture and policy by epoch")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
            f'<div id="controls"><button id="play" type="button">Play</button>'
            f'<input id="pos" type="range" min="0" max="{len(frames_) - 1}" value="0" aria-label="epoch">'
            f'<span id="label"></span><label>speed <select id="speed">{speeds}</select></label></div>'
            f'<div id="stage">{frame_html(frames_[0], ops)}</div>{templates}'
            f"<script>const FPS = {json.dumps(float(fps))};{PLAYER}</script></body></html>\n")


def check_writable(path) -> Path:
    """`path`, if a file can be written there (its folder exists and is writable); else SlidesError."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise SlidesError(f"cannot write {path}: no folder {folder}")
    if path.is_dir():
        raise SlidesError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise SlidesError(f"cannot write {path}: {folder} is not writable")
    return path


def write_atomic(path, data: bytes):
    """Write to a temporary file beside `path`, flushed to disk, then renamed over it; no partial file is left."""
    path = check_writable(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise SlidesError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)


def export(store, gif=None, html_path=None, every: int = 1, fps: float = 2.0) -> dict:
    """Write the run's slides to `gif` and/or `html_path`; returns {"frames": count, "files": {path: bytes}}."""
    from enas.teach.slides_gif import gif_bytes
    check_fps(fps)
    for path in (gif, html_path):
        if path is not None:
            check_writable(path)     # before the work, not after it
    fr = frames(store, every)
    ops, written = store.config().ops, {}
    if gif is not None:
        data = gif_bytes(fr, store.name, fps)
        write_atomic(gif, data)
        written[str(gif)] = len(data)
    if html_path is not None:
        data = html_text(fr, store.name, ops, fps).encode()
        write_atomic(html_path, data)
        written[str(html_path)] = len(data)
    return {"frames": len(fr), "files": written}
