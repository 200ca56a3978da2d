"""Sweeps (`python -m enas sweep`) in *All runs*, each as a group of runs: the search curves of its runs overlaid
(a colour per group), a box plot of final accuracy per group, mean ± std per group, and Resume for its
unfinished runs (in this app's process, or on the Ray cluster chosen in Run settings)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from enas.runs.store import LIVE, RunStore, StoreError
from enas.scale.executor import PHASES
from enas.scale.sweep import list_plans, run_config, summary
from enas.teach import charts

from . import access
from .sidebar import ray_address


def sweeps_view(registry):
    plans = list_plans(registry.runs_dir)
    if not plans:
        return
    st.subheader("Sweeps")
    for p in plans:
        try:
            s = summary(p, registry.runs_dir)
        except (KeyError, TypeError, ValueError) as e:   # a plan written by hand, or by another version
            st.error(f"cannot read the sweep {p.get('name', '?')}: {e!r}", icon=":material/error:")
            continue
        counts = {}
        for r in s["rows"]:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        with st.container(border=True):
            st.markdown(f"**Sweep {p['name']}**: {len(p['runs'])} runs, {len(p['groups'])} group(s) x "
                        f"{len(p['seeds'])} seed(s) · " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
            c1, c2 = st.columns(2)
            c1.plotly_chart(curves(p, registry.runs_dir), key=f"sweep_curves_{p['name']}")
            c2.plotly_chart(box(s), key=f"sweep_box_{p['name']}")
            st.dataframe([{"group": g["group"], "finished runs": g["runs"],
                           "validation mean ± std": _pm(g["val_mean"], g["val_std"]),
                           "test mean ± std": _pm(g["test_mean"], g["test_std"])} for g in s["groups"]],
                         hide_index=True, key=f"sweep_groups_{p['name']}")
            st.caption("Accuracy of each run's derived architecture after final training, whole splits; std: the "
                       "sample standard deviation over seeds.")
            with st.expander(f"Every run of {p['name']}"):
                st.dataframe(s["rows"], hide_index=True, key=f"sweep_rows_{p['name']}")
            todo = [r["run"] for r in s["rows"] if r["val_acc"] is None and r["status"] not in LIVE]
            refused = next(filter(None, (access.work_refusal(registry, n) for n in todo)), None)
            if todo and refused:
                st.caption(refused)
            elif todo and st.button(f"Resume {len(todo)} unfinished run(s)", key=f"sweep_resume_{p['name']}",
                                    icon=":material/play_arrow:", help="each from its newest checkpoint, here or "
                                    "on the Ray cluster of Run settings; runs never started are started"):
                try:
                    resume_sweep(registry, p, todo, ray_address())
                except (StoreError, OSError) as e:
                    st.error(f"could not resume sweep {p['name']}: {e}", icon=":material/error:")


def resume_sweep(registry, p: dict, names: list, ray: str | None):
    """Start, or resume with the phases it has not completed, each named run of sweep plan `p`."""
    plan_runs = {r["run"]: r for r in p["runs"]}
    for name in names:
        try:
            RunStore.open(registry.runs_dir, name).close()
        except StoreError:
            registry.start(run_config(p, plan_runs[name]), name, PHASES, ray)
        else:
            registry.resume(name, ray, PHASES)


def curves(p: dict, runs_dir) -> go.Figure:
    """Every run's search curve (the controller's samples' validation-minibatch accuracy per epoch), by group."""
    fig, shown = go.Figure(), set()
    for run in p["runs"]:
        try:
            store = RunStore.open(runs_dir, run["run"])
        except StoreError:
            continue
        try:
            points = [(e["epoch"] + 1, e["val_acc"]) for e in store.events("epoch") if e.get("val_acc") is not None]
        finally:
            store.close()
        k = run["group"]
        label = p["groups"][k]["label"]
        fig.add_trace(go.Scatter(x=[x for x, _ in points], y=[y for _, y in points], mode="lines",
                                 name=label, legendgroup=label, showlegend=label not in shown,
                                 line=dict(color=charts.RUN_COLORS[k % len(charts.RUN_COLORS)]),
                                 hovertemplate=f"{run['run']}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>"))
        shown.add(label)
    fig = charts._layout(fig, f"Sweep {p['name']}: controller's samples, validation minibatches", "epoch")
    fig.update_layout(hovermode="closest")
    return fig


def box(s: dict) -> go.Figure:
    """Final accuracy per group: test accuracy, or validation accuracy where the data has no test split."""
    metric = "test_acc" if any(r["test_acc"] is not None for r in s["rows"]) else "val_acc"
    fig = go.Figure()
    for k, g in enumerate(s["groups"]):
        ys = [r[metric] for r in s["rows"] if r["group"] == g["group"] and r[metric] is not None]
        fig.add_trace(go.Box(y=ys, name=g["group"], boxpoints="all", marker_color=charts.RUN_COLORS[
            k % len(charts.RUN_COLORS)]))
    title = "test accuracy" if metric == "test_acc" else "validation accuracy"
    fig = charts._layout(fig, f"Final {title} per group (whole split, after final training)", "")
    fig.update_layout(showlegend=False, hovermode="closest")
    fig.update_yaxes(title_text=title)
    return fig


def _pm(mean, std) -> str:
    return "-" if mean is None else f"{mean:.4f} ± {std:.4f}"
