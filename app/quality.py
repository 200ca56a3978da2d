"""Is the search any good? The rank check's form and its scatter (shared-weight against stand-alone accuracy), and
the races (ENAS against random search) saved under the runs folder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import streamlit as st

from enas.space import Architecture

from . import charts, teach
from .widgets import act, field, picture, plot


def rank_view(registry, entry, ticking: bool, can_start: bool):
    """Start a rank check (when the run is idle and derived) and show the newest one, numbered as the rank-check
    banner above the run names it."""
    live = entry.live
    teach.explain("rankcheck", "What does the rank check measure?")
    if can_start and live.ranking():
        rank_form(registry, entry)
    result = live.rankcheck
    if not result:
        return
    key, pick = f"rank_{entry.name}", f"rank_pick_{entry.name}"

    def picked():
        points = st.session_state[key].selection.get("points", [])
        if points:
            arch = points[0].get("customdata")
            st.session_state[pick] = arch[0] if isinstance(arch, list) else arch

    selected = st.session_state.get(pick)
    plot(key, lambda: charts.rank_scatter(result["rows"], result["kendall_tau"], result["kendall_tau_95"], selected),
         ticking, (selected, live.rankchecks), on_select=picked, selection_mode="points")
    lo, hi = result["spearman_rho_95"]
    st.caption(f"Rank check {live.rankchecks}, the newest: {result['k']} architectures, each trained "
               f"{result['epochs']} epoch(s) from scratch; both accuracies over the whole validation split. Kendall "
               f"tau {_f(result['kendall_tau'])}, Spearman rho {_f(result['spearman_rho'])} (95% interval {_f(lo)} "
               f"to {_f(hi)}).")
    row = next((r for r in result["rows"] if r["arch"] == selected), None)
    if row:
        st.markdown(f"**`{row['arch']}`** · shared weights {row['shared_acc']:.4f} · stand-alone "
                    f"{row['standalone_acc']:.4f}")
        picture(Architecture.parse(row["arch"]), entry.config.ops)


def rank_form(registry, entry):
    """K and epochs, kept while not drawn, and the button: plain widgets, not st.form, which starts on Enter."""

    with st.container(border=True):
        c1, c2 = st.columns(2)
        with c1:
            k = field(entry.name, "rankcheck_k", 8, st.number_input, "architectures (K)", 2, 1000,
                      help="derive's top half of K, then a spread over the rest of its ranking")
        with c2:
            epochs = field(entry.name, "rankcheck_epochs", 1, st.number_input, "epochs each, from scratch", 1, 1000,
                           help="the run's final-training recipe; a stopped check keeps what it trained")
        if st.button("Run the rank check", key="rankcheck_go", icon=":material/leaderboard:"):
            act(registry.rankcheck, entry.name, int(k), int(epochs))
            st.rerun(scope="app")


def _f(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.2f}"


def races_view(runs_dir):
    """Every race under `<runs_dir>/races/` (made by `python -m enas race`): its chart and its verdict."""
    paths = sorted(Path(runs_dir, "races").glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not paths:
        return
    st.subheader("Races: ENAS against random search")
    teach.explain("race", "How is the race run?")
    for path in paths:
        try:
            result = json.loads(path.read_text())
            figure = charts.race_chart(result)
        except (OSError, ValueError, KeyError, TypeError) as e:
            st.error(f"cannot read the race {path}: {e}", icon=":material/error:")
            continue
        st.plotly_chart(figure, key=f"race_{path.stem}")
        st.markdown(f"**{result['verdict']}**")
