"""Is the search any good? The rank checks' forms and scatters (shared-weight against stand-alone accuracy: of
derive's architectures, and of the fixed reference set), and the races (ENAS against random search) saved under
the runs folder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import streamlit as st

from enas.space import Architecture, space_size
from enas.teach import charts

from . import teach
from .widgets import act, field, picture, plot


def rank_view(registry, entry, ticking: bool, can_start: bool):
    """Start a rank check (when the run is idle and derived) and show the newest one, numbered as the rank-check
    banner above the run names it; then the reference check (`reference_view`)."""
    live = entry.live
    teach.explain("rankcheck", "What does the rank check measure?")
    if can_start and live.ranking():
        rank_form(registry, entry)
    result = live.rankcheck
    if result:
        scatter(entry, "rank", result, ticking, live.rankchecks)
        lo, hi = result["spearman_rho_95"]
        st.caption(f"Rank check {live.rankchecks}, the newest: {result['k']} architectures, each trained "
                   f"{result['epochs']} epoch(s) from scratch; both accuracies over the whole validation split. "
                   f"Kendall tau {_f(result['kendall_tau'])}, Spearman rho {_f(result['spearman_rho'])} (95% "
                   f"interval {_f(lo)} to {_f(hi)}).")
        picked_row(entry, "rank", result)
    reference_view(registry, entry, ticking, can_start)


def scatter(entry, prefix: str, result: dict, ticking: bool, signature):
    """The check's scatter (`charts.rank_scatter`); a click on a point picks its architecture."""
    key, pick = f"{prefix}_{entry.name}", f"{prefix}_pick_{entry.name}"

    def picked():
        points = st.session_state[key].selection.get("points", [])
        if points:
            arch = points[0].get("customdata")
            st.session_state[pick] = arch[0] if isinstance(arch, list) else arch

    selected = st.session_state.get(pick)
    plot(key, lambda: charts.rank_scatter(result["rows"], result["kendall_tau"], result["kendall_tau_95"], selected),
         ticking, (selected, signature), on_select=picked, selection_mode="points")


def picked_row(entry, prefix: str, result: dict):
    """The architecture picked on the check's scatter, with its two accuracies and its picture."""
    selected = st.session_state.get(f"{prefix}_pick_{entry.name}")
    row = next((r for r in result["rows"] if r["arch"] == selected), None)
    if row:
        st.markdown(f"**`{row['arch']}`** · shared weights {row['shared_acc']:.4f} · stand-alone "
                    f"{row['standalone_acc']:.4f}")
        picture(Architecture.parse(row["arch"]), entry.config.ops)


def rank_form(registry, entry):
    """K and epochs of a rank check of derive's architectures, and its button."""
    check_form(registry.rankcheck, entry, "rankcheck", "architectures (K)", 2, 1000,
               "derive's top half of K, then a spread over the rest of its ranking",
               "the run's final-training recipe; a stopped check keeps what it trained",
               "Run the rank check", ":material/leaderboard:")


def check_form(action, entry, key: str, k_label: str, k_min: int, k_max: int, k_help: str, epochs_help: str,
               label: str, icon: str):
    """K and epochs, kept while not drawn, and the button that runs `action(run, K, epochs)`: plain widgets, not
    st.form, which starts on Enter."""
    with st.container(border=True):
        c1, c2 = st.columns(2)
        with c1:
            k = field(entry.name, f"{key}_k", 8, st.number_input, k_label, k_min, k_max, help=k_help)
        with c2:
            epochs = field(entry.name, f"{key}_epochs", 1, st.number_input, "epochs each, from scratch", 1, 1000,
                           help=epochs_help)
        if st.button(label, key=f"{key}_go", icon=icon):
            act(action, entry.name, int(k), int(epochs))
            st.rerun(scope="app")


def reference_view(registry, entry, ticking: bool, can_start: bool):
    """Start a reference check (when the run is idle and has a checkpoint; no derive needed) and show the stored
    one: its scatter and its statistics in words."""
    if can_start:
        reference_form(registry, entry)
    result = entry.store.meta().get("refcheck")
    if not result:
        return
    scatter(entry, "ref", result, ticking, result["key"])
    k, top = result["top_k"], result["top_k_agreement"]
    st.markdown(
        f"**Reference check** of {result['k']} random architectures, the same for every run of this space and "
        f"recipe: each trained {result['epochs']} epoch(s) from scratch twice, with two seeds, its stand-alone "
        "accuracy the mean of the two; both accuracies over the whole validation split.\n"
        f"- **Kendall tau {_f(result['kendall_tau'])}** ({_interval(result['kendall_tau_95'])}): of all pairs of "
        "these architectures, the share the shared weights order as training alone does, minus the share they "
        "order the other way (1: the same order; 0: no better than chance).\n"
        f"- **Spearman rho {_f(result['spearman_rho'])}** ({_interval(result['spearman_rho_95'])}): the "
        "correlation of the two rankings.\n"
        f"- **Top-{k} agreement {top:.2f}** ({_interval(result['top_k_agreement_95'])}): {round(top * k)} of the "
        f"{k} best architectures trained alone are also among the {k} best by shared weights.\n"
        f"- **Ceiling: Kendall tau {_f(result['ceiling_tau'])}** ({_interval(result['ceiling_tau_95'])}): how "
        "well the two seeds' trainings of the same architectures agree with each other. The stand-alone ranking "
        "is itself this noisy: a tau near the ceiling is as good as this measurement can show.")
    picked_row(entry, "ref", result)


def reference_form(registry, entry):
    """K and epochs of a reference check, and its button."""
    check_form(registry.refcheck, entry, "refcheck", "reference architectures (K)", 4,
               min(1000, space_size(entry.config.nodes, entry.config.ops)),
               "uniformly random, the same for every run of this space and recipe",
               "trained once with two seeds, kept in the data folder and reused by every run",
               "Run the reference check", ":material/fact_check:")


def _interval(interval) -> str:
    lo, hi = interval
    return f"95% interval {_f(lo)} to {_f(hi)}"


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
