"""Slides of the open run for download: an animated GIF and a self-contained HTML page (`enas.teach.slides`), built only
when asked (a "Prepare slides" click: a run of a hundred epochs takes a second or two), then kept for the session."""
from __future__ import annotations

import time

import streamlit as st

from enas.runs.store import RunStore, StoreError
from enas.teach.slides import SlidesError, frames, html_text
from enas.teach.slides_gif import gif_bytes


def build(store) -> dict:
    """Both files of `store`'s slides, with what they hold."""
    start = time.perf_counter()
    fr = frames(store)
    gif, page = gif_bytes(fr, store.name), html_text(fr, store.name, store.config().ops).encode()
    return {"epochs": fr[-1].epoch, "frames": len(fr), "gif": gif, "html": page,
            "seconds": time.perf_counter() - start}


def prepare(store_or_runs_dir, name: str) -> dict:
    """Build the slides of run `name`, given its open RunStore or the folder of runs."""
    if isinstance(store_or_runs_dir, RunStore):
        return build(store_or_runs_dir)
    store = RunStore.open(store_or_runs_dir, name)
    try:
        return build(store)
    finally:
        store.close()


def slides_buttons(store_or_runs_dir, name: str):
    """A "Prepare slides" button; once clicked, "Slides (GIF)" and "Slides (HTML)" downloads of run `name`."""
    key = f"slides_{name}"
    row = st.container(horizontal=True, vertical_alignment="center")   # buttons as wide as their labels
    if row.button("Prepare slides", key=f"slides_prepare_{name}", icon=":material/slideshow:",
                  help="draw the sampled architecture and the policy of every finished epoch, one frame each"):
        try:
            st.session_state[key] = prepare(store_or_runs_dir, name)
        except (SlidesError, StoreError, OSError) as e:
            st.warning(str(e), icon=":material/block:")
    made = st.session_state.get(key)
    if made is None:
        return
    row.download_button("Slides (GIF)", lambda: made["gif"], f"{name}-slides.gif", "image/gif",
                        key=f"slides_gif_{name}", icon=":material/download:")
    row.download_button("Slides (HTML)", lambda: made["html"], f"{name}-slides.html", "text/html",
                        key=f"slides_html_{name}", icon=":material/download:")
    row.container(width="stretch").caption(
        f"epochs 1 to {made['epochs']}: {made['frames']} frames · GIF {size(made['gif'])}, HTML "
        f"{size(made['html'])} · made in {made['seconds']:.1f} s; prepare again for newer epochs")


def size(data: bytes) -> str:
    return f"{len(data) / 1e6:.1f} MB" if len(data) >= 1e6 else f"{len(data) / 1e3:.0f} kB"
