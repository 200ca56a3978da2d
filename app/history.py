"""The Architectures tab: every sampled architecture to click through, outlined against a reference the user
picks, the samples as CSV, slides, and the table of unique architectures. The sample and the reference are in the
page's address (`urlstate`)."""
from __future__ import annotations

import bisect
import csv
import functools
import io

import streamlit as st

from enas.runs import export
from enas.space import Architecture
from enas.teach import charts, draw

from . import slides, teach, urlstate
from .widgets import picture, plot

CLASSES = 10       # classes assumed for parameter counts and FLOPs (CIFAR-10 and shapes have 10)
TABLE_ROWS = 300


def history_view(entry, ticking: bool):
    live, ss = entry.live, st.session_state
    history = live.history()
    if not history:
        st.info(empty_note(entry.config))
        return
    ns = [h["n"] for h in history]
    sel_key = f"sel_{entry.name}"
    moment = ss.get(f"replay_at_{entry.name}") if ss.get(f"replay_on_{entry.name}") else None
    if ss.get(f"{sel_key}_moment") != moment:   # a new replayed moment: show its newest sample, as every view does
        ss[sel_key], ss[f"{sel_key}_moment"] = None, moment
    asked = urlstate.wish(entry.name, urlstate.ARCH)
    if asked in ns:
        ss[sel_key] = asked
    elif asked is not None:
        urlstate.refuse(urlstate.ARCH, asked, f"run {entry.name} shows no sample {asked} here (samples {ns[0]} to "
                        f"{ns[-1]}{', evenly spaced' if live.samples_seen() > len(ns) else ''})")
    sel = ss.get(sel_key)
    pos = len(ns) - 1 if sel is None else min(bisect.bisect_left(ns, sel), len(ns) - 1)
    h = history[pos]

    def choose(n):
        ss[sel_key] = n

    def picked():
        points = ss[f"pick_{entry.name}"].selection.get("points", [])
        if points:
            n = points[0].get("customdata")
            choose(n[0] if isinstance(n, list) else n)

    marks = entry.live.interventions()   # steering changes, at the sample number where each was made
    plot(f"pick_{entry.name}", lambda: charts.mark_interventions(charts.reward_scatter(history, h["n"]), marks,
                                                                 "sample"), ticking, (sel, len(marks)),
         on_select=picked, selection_mode="points")
    # one row of buttons as wide as their labels, then the slider in what is left (fixed columns had cut the
    # labels to "P..", "Ne..." at 1024 px)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button("Previous", key="hist_prev", icon=":material/chevron_left:", disabled=pos == 0,
               on_click=choose, args=(ns[max(pos - 1, 0)],))
    row.button("Next", key="hist_next", icon=":material/chevron_right:", disabled=pos == len(ns) - 1,
               on_click=choose, args=(ns[min(pos + 1, len(ns) - 1)],))
    row.button("Latest", key="hist_last", icon=":material/last_page:", on_click=choose, args=(None,),
               help="follow the newest sample")
    c4 = row.container(width="stretch")
    if len(ns) > 1:
        # a fresh slider whenever the choice changes elsewhere (or, following, a sample arrives): its value is
        # never set from here, so a redraw racing a user's move cannot undo either
        key = f"pos_{entry.name}_{sel}_{len(ns) if sel is None else ''}"
        c4.slider("sample", 0, len(ns) - 1, pos, key=key, label_visibility="collapsed",
                  on_change=lambda: choose(_n_at(live, ss[key])))
    if live.samples_seen() > len(ns):
        st.caption(f"showing {len(ns):,} of {live.samples_seen():,} samples, evenly spaced; the full record is "
                   "in the run folder (download it below)")
    arch_card(entry, Architecture.parse(h["arch"]), reference(live, history, pos, entry.name), h)
    urlstate.publish()   # the sample and the reference, changed in this fragment
    teach.explain("history", "About this history")
    row = st.container(horizontal=True)
    row.download_button("All samples (CSV)", functools.partial(samples_csv, entry.store), f"{entry.name}-samples.csv",
                        "text/csv", key="dl_samples", icon=":material/download:",
                        help="every sampled architecture with its epoch, step and reward, read from the run folder")
    for fmt, mime in (("CSV", "text/csv"), ("Parquet", "application/vnd.apache.parquet")):
        name = f"{entry.name}-events.{fmt.lower()}"
        row.download_button(f"Every event of this run, whole run ({fmt})", functools.partial(events_file, entry.store,
                            name), name, mime, key=f"dl_events_{fmt.lower()}", icon=":material/download:",
                            help="every event of the run folder, one row each (steps, samples, epochs, policies, "
                            "derive, final training, steering), epochs from 1; the whole run, also while a replay "
                            "shows an earlier moment")
    slides.slides_buttons(entry.store, entry.name)
    unique_table(live)


def events_file(store, name: str) -> bytes:
    """Every event of the run store as file `name`, CSV or Parquet by its suffix (made when the download is clicked):
    the whole run, whatever moment a replay shows; epochs from 1 (`enas.runs.export`)."""
    return export.events_bytes(store.events(), name)


def samples_csv(store) -> str:
    """Every `sample` event of the run store as CSV (made when the download is clicked). Epochs count from 1, as
    everywhere in the app (the events store them from 0)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["epoch (from 1)", "step", "ctrl_step", "arch", "accuracy", "reward"])
    for ev in store.events("sample"):
        epoch = None if ev["epoch"] is None else ev["epoch"] + 1
        writer.writerow([epoch, ev["step"], ev.get("ctrl_step"), ev["arch"], ev["accuracy"], ev["reward"]])
    return out.getvalue()


def _n_at(live, pos: int):
    """The sample number at position `pos` of the history as it is now."""
    history = live.history()
    return history[min(pos, len(history) - 1)]["n"]


def empty_note(config) -> str:
    """What the Architectures tab says before the first sample: when the samples begin (the engine's schedule:
    every `controller_every`-th epoch after the `warmup_epochs`)."""
    if not config.controller_steps:
        return "No architectures sampled: this run takes no controller steps (controller_steps = 0)."
    first = config.warmup_epochs + config.controller_every
    if first == 1:
        return "No architectures sampled yet: the controller samples after the first epoch's child training."
    warm = (f"the shared weights warm up on uniformly random children for the first {config.warmup_epochs} epochs; "
            if config.warmup_epochs else "")
    return f"No architectures sampled yet: {warm}the controller first samples in epoch {first}."


def reference(live, history: list, pos: int, run: str):
    """The architecture the user compares sample `pos` of run `run` with (its differing nodes are outlined), or
    None."""
    h = history[pos]
    policy = [p for p in live.policies() if p["epoch"] < (h["epoch"] or 0) + 1]
    refs = {"previous": ("the previous sample", Architecture.parse(history[pos - 1]["arch"]) if pos > 0 else None)}
    if live.best:
        refs["best"] = ("the derived best", Architecture.parse(live.best))
    if policy:
        p = policy[-1]
        refs["likely"] = (f"the policy's most likely (after epoch {p['epoch'] + 1})",
                          Architecture.most_likely(p["ops"], p["op_probs"], p["skip_probs"]))
    asked = urlstate.wish(run, urlstate.REF)
    if asked in refs:
        st.session_state.diff_ref = asked
    elif asked is not None:
        urlstate.refuse(urlstate.REF, asked, f"sample {h['n']} of run {run} can be compared with: {', '.join(refs)}")
    if st.session_state.get("diff_ref") not in refs:   # e.g. the derived best, at a replayed moment before derive
        st.session_state.pop("diff_ref", None)
    choice = st.radio("Outline in red the nodes that differ from", list(refs), horizontal=True, key="diff_ref",
                      format_func=lambda k: refs[k][0],   # the choice holds while its label names a new epoch
                      help="a node differs when its op or its skips differ; with a new sample every minibatch, "
                           "nearly every node differs from the previous one")
    return refs[choice][1]


def arch_card(entry, arch: Architecture, prev, h: dict):
    """One architecture: its graph (nodes that differ from `prev` outlined), string, cost and how it fared."""
    c = entry.config
    picture(arch, c.ops, highlight=draw.diff_nodes(arch, prev))
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**Sample {h['n']}** · epoch {(h['epoch'] or 0) + 1} · step {h['step']}")
        st.code(str(arch), language="text")
    with right:
        f = draw.facts(arch)
        count = entry.live.count(str(arch))
        derived = entry.live.derive_acc(str(arch))
        rows = {"reward": f"{h['reward']:.4f}", "validation-batch accuracy": f"{h['accuracy']:.4f}",
                "times sampled": "n/a" if count is None else str(count),
                "derive validation accuracy (whole split, BN recalibrated)": "n/a" if derived is None
                else f"{derived:.4f}",
                "parameters": f"{arch.param_count(c.channels, CLASSES, c.first_node_bn, c.bn):,}",
                "FLOPs per image": f"{arch.flops(c.channels, c.image_size, CLASSES, c.bn):,}",
                "skip connections": str(f["skips"]), "ops on the deepest / shallowest path": f"{f['depth']} / "
                f"{f['shortest']}", "stem-to-tail paths": str(f["paths"])}
        st.table({"": list(rows), "value": list(rows.values())}, border="horizontal")


def unique_table(live):
    rows = live.table()
    st.markdown(f"**Unique architectures sampled: {len(rows):,}**")
    order = st.radio("sort by", ["count", "mean reward", "best reward"], horizontal=True, key="table_sort")
    field = {"count": "count", "mean reward": "mean_reward", "best reward": "best_reward"}[order]
    rows.sort(key=lambda r: (r[field], r["count"]), reverse=True)
    st.dataframe(rows[:TABLE_ROWS], hide_index=True, key="unique_table", column_config={
        "arch": "architecture", "mean_reward": st.column_config.NumberColumn("mean reward", format="%.4f"),
        "best_reward": st.column_config.NumberColumn("best reward", format="%.4f"),
        "val_acc": st.column_config.NumberColumn("derive val. acc.", format="%.4f")})
    if live.tally_dropped():
        st.caption(f"{live.tally_dropped():,} rarely sampled architectures were left out to bound memory.")
