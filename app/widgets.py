"""Widgets every view uses: an action button's guard, the architecture picture, and a live-throttled chart."""
from __future__ import annotations

import time

import streamlit as st

from enas.runs.store import StoreError
from enas.space import Architecture
from enas.teach import charts, draw

CHARTS_EVERY = 6.0   # seconds between redraws of a live run's curves and policy


def act(fn, *args):
    """Run a button's action; a refusal (busy run, bad file) becomes a message above the run."""
    try:
        fn(*args)
    except (StoreError, ValueError, OSError) as e:   # ValueError: ArchitectureError, a check's refusal
        st.session_state.flash = str(e)


def picture(arch: Architecture, ops, highlight=None):
    """The architecture as an inline SVG laid out by `draw.chain_svg`: the browser redraws it almost for free
    (graphviz's in-browser layout had cost 0.4 s of a core per redraw here)."""
    st.markdown(draw.chain_svg(arch, highlight, ops), unsafe_allow_html=True)


def plot(key: str, make, ticking: bool, signature=(), **kwargs):
    """`st.plotly_chart(make())`, without Plotly's toolbar (`charts.CONFIG`); while a run is live the figure is
    remade at most every CHARTS_EVERY seconds (or when `signature` changes) and re-sent unchanged in between: on a
    small machine the browser's full redraw of changed charts had cost the search much of the page's overhead
    (benchmarks/README.md)."""
    memo = st.session_state.setdefault("chart_memo", {})
    now, old = time.monotonic(), memo.get(key)
    if not ticking or old is None or old[1] != signature or now - old[0] >= CHARTS_EVERY:
        old = memo[key] = (now, signature, make())
    return st.plotly_chart(old[2], key=key, config=charts.CONFIG, **kwargs)


KEPT = "kept_fields"     # {(run, widget key): value}
OWNER = "kept_owner"     # {widget key: the run whose value the widget holds now}


def field(run: str, key: str, default, widget, *args, options=None, **kwargs):
    """`widget(*args, key=key, **kwargs)` showing what the user last entered in it for run `run`, or `default`
    (which may change, as the choices do after a derive) while they have entered nothing or what they entered is
    not one of `options`; returns its value."""
    kept, owner = st.session_state.setdefault(KEPT, {}), st.session_state.setdefault(OWNER, {})
    mine = (run, key)
    if options is not None and kept.get(mine, default) not in options:
        kept.pop(mine, None)
    if mine not in kept or key not in st.session_state or owner.get(key) != run:
        st.session_state[key] = kept.get(mine, default)
    owner[key] = run

    def changed():   # by the user: runs before the script
        kept[mine] = st.session_state[key]
    return widget(*args, key=key, on_change=changed, **kwargs)
