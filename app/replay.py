"""Replay a run that is not running: play/pause, speed, and a scrubber over its search epochs that drives
every view of the run together (the sampled architecture, the curves up to that moment, the policy); and the
recorded demos shipped in assets/ (`DEMOS`)."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from enas.runs import replay


class Demo(NamedTuple):
    """A recording in ASSETS that the app offers, read-only; its run's name (in the picker and in the page's
    address, `?demo=NAME`) is its file's name without `.json.gz`."""
    file: str
    title: str
    teaches: str

    @property
    def name(self) -> str:
        return self.file.removesuffix(".json.gz")

    @property
    def path(self) -> Path:
        return ASSETS / self.file


ASSETS = Path(__file__).resolve().parent.parent / "assets"
# the demos in the order the run picker offers them; assets/README.md says how each was recorded
DEMOS = (
    Demo("cifar10-laptop-demo.json.gz", "CIFAR-10, laptop preset: the controller learns",
         "What a learning controller looks like: the policy heatmaps sharpen, How far the policy moved rises, and "
         "the controller's samples pull ahead of random architectures on the same shared weights."),
    Demo("cifar10-demo.json.gz", "CIFAR-10, seed report's settings: the controller barely moves",
         "With the seed report's settings the controller barely moves: after 100 epochs every op probability is "
         "still between 0.19 and 0.21, and from search epoch 20 the app warns that the controller is not learning."),
)


def shipped() -> list:
    """The DEMOS whose file is in ASSETS: one not recorded yet is not offered."""
    return [d for d in DEMOS if d.path.is_file()]

SPEEDS = {"0.5 epoch/s": 0.5, "1 epoch/s": 1.0, "2 epochs/s": 2.0, "5 epochs/s": 5.0}   # search epochs per second
DEFAULT_SPEED = "1 epoch/s"
END = "derive & final"


@st.cache_resource(max_entries=4, show_spinner=False)
def _events(_store, path: str, last_id: int) -> tuple:
    """The run's events and replay.cuts, read once per (run folder, newest event)."""
    events = _store.events()
    return events, replay.cuts(events)


@st.cache_resource(max_entries=24, show_spinner=False)
def _live_at(_store, path: str, last_id: int, k: int):
    events, marks = _events(_store, path, last_id)
    return replay.live_at(_store.config(), events, k, marks)


def replay_bar(entry):
    """The replay controls of a run that is not running; returns the entry to draw: as it was at the chosen
    moment while replaying, else `entry` itself. A recorded (read-only) run starts in replay, at epoch 1."""
    ss, name = st.session_state, entry.name
    events, marks = _events(entry.store, str(entry.store.path), entry.live.last_id)
    if len(marks) < 2:
        return entry
    if not st.toggle("Replay the search epoch by epoch", value=entry.read_only, key=f"replay_on_{name}",
                     help="scrub or play through the search: every view below shows the run as it was then"):
        ss.pop(f"replay_play_{name}", None)
        return entry
    steps = list(range(1, len(marks) + 1)) + ([END] if len(events) > marks[-1] else [])
    at_key, play_key, due_key = f"replay_at_{name}", f"replay_play_{name}", f"replay_due_{name}"
    at = ss.setdefault(at_key, steps[0])
    playing = ss.get(play_key, False)

    def play():
        if not ss.get(play_key) and ss[at_key] == steps[-1]:
            ss[at_key] = steps[0]          # play again from the start
        rate = SPEEDS[ss.get(speed_key, DEFAULT_SPEED)]
        ss[play_key], ss[due_key] = not ss.get(play_key), time.monotonic() + 1 / rate   # the next epoch's time

    def moved(key: str, shown):
        if ss.get(key, shown) == shown:   # a slider of an earlier position, reported late (a busy machine)
            return                        # by the browser: not a move, and playback goes on
        ss[at_key] = ss[key]
        ss[play_key] = False

    row = st.container(horizontal=True, vertical_alignment="center")   # fixed columns cut "Play" at 1024 px
    row.button("Pause" if playing else "Play", key=f"replay_btn_{name}", width="content", on_click=play,
               icon=":material/pause:" if playing else ":material/play_arrow:")
    speed_key = f"replay_speed_{name}"
    speed = row.selectbox("speed", list(SPEEDS), index=list(SPEEDS).index(DEFAULT_SPEED), key=speed_key, width=150,
                          label_visibility="collapsed", help="replay speed: search epochs shown per second")
    slider_key = f"replay_slider_{name}_{at}"   # a fresh slider per position: playback never writes a widget
    row.container(width="stretch").select_slider(
        "search epoch", steps, value=at, key=slider_key, on_change=moved, args=(slider_key, at),
        format_func=lambda k: k if k == END else f"after epoch {k} of {len(marks)}", label_visibility="collapsed")
    steered = entry.live.interventions()
    if steered:   # where the scrubber passes a steering change
        st.caption("Steered: " + "; ".join(f"in epoch {m['epoch'] + 1}, {m['label']} ({m['who']})" for m in steered))
    if playing:
        _ticker(at_key, play_key, due_key, steps, SPEEDS[speed])
    k = len(marks) + 1 if at == END else at
    return dataclasses.replace(entry, live=_live_at(entry.store, str(entry.store.path), entry.live.last_id, k))


def advance(i: int, last: int, due: float, now: float, rate: float) -> tuple:
    """Playback at `rate` epochs per second from position `i`, the next epoch due at time `due`: at time `now`, the
    position (every epoch due by then, at most `last`) and when the one after it is due. A redraw slower than the
    rate skips epochs, so the rate holds."""
    if now < due:
        return i, due
    n = 1 + int((now - due) * rate)
    return min(i + n, last), due + n / rate


def _ticker(at_key: str, play_key: str, due_key: str, steps: list, rate: float):
    """While playing: a timer that advances to the epoch due by now (`advance`) and redraws the page. A timer, not a
    wait at the end of the page: a click (Pause, the scrubber) during a wait would be lost."""
    @st.fragment(run_every=1 / rate)
    def tick():
        ss = st.session_state
        if not ss.get(play_key):
            return
        i = steps.index(ss[at_key])
        j, ss[due_key] = advance(i, len(steps) - 1, ss.get(due_key, 0.0), time.monotonic(), rate)
        if j == i:
            return
        ss[at_key] = steps[j]
        if j == len(steps) - 1:
            ss[play_key] = False
        st.rerun(scope="app")
    tick()
