"""The views of one run: status and controls, live curves and policy, architecture history, derive and final."""
from __future__ import annotations

import bisect
import csv
import functools
import io
import shutil

import streamlit as st

from enas import draw
from enas.health import WHY
from enas.space import MAX_STRING, Architecture, ArchitectureError
from enas.store import StoreError

from . import charts, quality, teach
from .registry import run_label
from .widgets import CHARTS_EVERY, act, picture, plot

STATUS_COLORS = {"starting": "gray", "running": "blue", "paused": "orange", "stopped": "gray", "finished": "green",
                 "failed": "red", "interrupted": "orange", "created": "gray"}
CLASSES = 10       # classes assumed for parameter counts and FLOPs (CIFAR-10 and shapes have 10)
TABLE_ROWS = 300
LIVE_EVERY = 2.0     # seconds between redraws of a live run: header, current sample, open Architectures or Derive tab


def seconds(s) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def run_view(registry, name: str, others: list):
    """Everything about run `name`. While it runs, two fragments redraw it: every LIVE_EVERY seconds the header,
    the current sample and the open Architectures or Derive tab; every CHARTS_EVERY seconds the curves and the
    policy. Each redraw costs the browser a re-render of the whole page, so there are only these
    (benchmarks/README.md)."""
    entry = registry.view(name)
    ticking = entry.live.active or entry.follow
    head = st.container()
    tabs = st.tabs(["Live", "Architectures", "Derive & final"], key=f"tabs-{name}", on_change="rerun")
    shown = [tab.open or not ticking for tab in tabs]   # while a run is live, only the open tab is built
    if shown[0]:
        with tabs[0]:
            sample_box, curves_box, policy_box = live_layout(name, others)

    @st.fragment(run_every=LIVE_EVERY if ticking else None)
    def live_parts():
        entry = registry.view(name)
        if ticking and not (entry.live.active or entry.follow):
            st.rerun()   # it just ended: redraw the page once, without the timers
        with head:
            header(registry, entry)
        if shown[0]:
            with sample_box:
                sample_view(entry)
        if shown[1]:
            with tabs[1]:
                history_view(entry, ticking)
        if shown[2]:
            with tabs[2]:
                final_view(registry, entry, ticking)

    @st.fragment(run_every=CHARTS_EVERY if ticking else None)
    def charts_now():
        entry = registry.view(name)
        with curves_box:
            curves_view(registry, entry, ticking)
        with policy_box:
            policy_view(entry.live, name, ticking)

    live_parts()
    if shown[0]:
        charts_now()


# --- header: status, error, controls, progress ----------------------------------------------------
def header(registry, entry):
    live = entry.live
    c1, c2 = st.columns([3, 2])
    c1.subheader(entry.label)
    with c2:
        st.badge(live.status, color=STATUS_COLORS.get(live.status, "gray"))
        if live.message and live.status != "failed":
            st.caption(live.message)
    if "flash" in st.session_state:
        st.warning(st.session_state.pop("flash"), icon=":material/block:")
    if live.status == "failed":
        st.error(f"This run failed: {live.error}", icon=":material/error:")
        if live.traceback:
            with st.expander("Traceback"):
                st.code(live.traceback, language="text")
    controls(registry, entry)
    progress(live)
    alerts = list({(a["level"], a["message"]): a for a in live.alerts()}.values())   # each message once
    shown = [a for a in alerts if a["level"] in ("error", "warning")][-3:]
    for alert in shown:
        (st.error if alert["level"] == "error" else st.warning)(alert["message"])
    if any(a["message"].endswith(WHY + ".") for a in shown):
        teach.explain("health", "Is the search healthy?")
    notes = [a["message"] for a in alerts if a["level"] not in ("error", "warning")]
    if notes:
        with st.expander(f"Notes from the engine ({len(notes)})", icon=":material/info:"):
            st.markdown("\n".join(f"- {n}" for n in notes))


def controls(registry, entry):
    name, live = entry.name, entry.live
    cols = st.columns(4)
    if entry.running_here:
        paused = entry.control.paused
        cols[0].button("Pause", key="pause", disabled=paused, icon=":material/pause:", width="stretch",
                       on_click=act, args=(registry.pause, name))
        cols[1].button("Resume", key="unpause", disabled=not paused, icon=":material/play_arrow:", width="stretch",
                       on_click=act, args=(registry.unpause, name))
        cols[2].button("Stop", key="stop", icon=":material/stop:", width="stretch", on_click=act,
                       args=(registry.stop, name), help="stops within a step; the run can be resumed later")
    elif entry.follow:
        cols[0].caption("another process is running this search; its progress is read from its run folder")
    elif live.status in ("interrupted", "stopped", "failed") and live.phase in (None, "search"):
        if cols[0].button("Resume run", key="resume_run", icon=":material/play_arrow:", width="stretch",
                          help="continue from its newest checkpoint"):
            act(registry.resume, name)
            st.rerun()


def progress(live):
    p = live.progress()
    if p["fraction"] is not None:
        st.progress(p["fraction"], text=f"{p['phase']}: {p['fraction']:.0%}")
    cols = st.columns(6)
    if p["phase"] == "final":
        cols[0].metric("Final epoch", f"{p['final_epoch']}/{p['final_epochs']}")
    else:
        cols[0].metric("Epoch", f"{p['epoch']}/{p['epochs']}")
    cols[1].metric("Step", p["final_step"] if p["phase"] == "final" else p["step"])
    cols[2].metric("Samples", p["samples"])
    cols[3].metric("Images/s", "-" if p["images_per_s"] is None else f"{p['images_per_s']:,.0f}")
    cols[4].metric("Elapsed", seconds(p["elapsed"]))
    cols[5].metric("ETA", seconds(p["eta"]))


# --- live: graph, policy, curves ------------------------------------------------------------------
def live_layout(name: str, others: list):
    """The Live tab's fixed parts; returns the containers that the fragments fill: sample, curves, policy."""
    sample_box = st.container()
    teach.explain("sample", "What does the controller sample?")
    options = [n for n in others if n != name]
    chosen = st.session_state.get("compare", [])
    if any(n not in options for n in chosen):   # drop runs that are gone (set only then: no race with a click)
        st.session_state.compare = [n for n in chosen if n in options]
    st.multiselect("Overlay the curves of other runs", options, key="compare")
    curves_box = st.container()
    left, right = st.columns(2)
    with left:
        teach.explain("shared", "Why are the weights shared?")
    with right:
        teach.explain("reward", "What are the reward and the baseline?")
    policy_box = st.container()
    teach.explain("policy", "What is the policy?")
    return sample_box, curves_box, policy_box


def sample_view(entry):
    st.markdown("**The controller's current sample**")
    arch = entry.live.arch()
    if arch is None:
        st.info("No architecture sampled yet: the first appears after the first training step.")
        return
    a = Architecture.parse(arch)
    picture(a, entry.config.ops)
    st.code(arch, language="text")
    f = draw.facts(a)
    st.caption(f"{f['skips']} skip connections · {f['paths']} paths from stem to tail, passing "
               f"{f['shortest']} to {f['depth']} ops")


def curves_view(registry, entry, ticking: bool):
    runs = [(run_label(entry.name, entry.config.controller), entry.live.series)]
    for other in st.session_state.get("compare", []):
        try:
            e = registry.view(other)
        except StoreError as err:
            st.warning(f"cannot overlay {other}: {err}")
            continue
        runs.append((e.label, e.live.series))
    signature = (entry.name, *st.session_state.get("compare", []))
    for k in range(len(charts.SEARCH_CHARTS)):
        if k % 2 == 0:
            cols = st.columns(2)
        with cols[k % 2]:
            plot(f"curve_{k}", functools.partial(search_curves, k, runs), ticking, signature)


def search_curves(k: int, runs):
    """Search chart k of the runs [(label, their LiveRun's `series`)]."""
    title, xtitle, lines = charts.SEARCH_CHARTS[k]
    names = [name for name, _ in lines]
    return charts.curves(title, xtitle, lines, [(label, series(*names)) for label, series in runs])


def policy_view(live, name: str, ticking: bool):
    st.markdown("**The controller's policy**")
    policies = live.policies()
    if not policies:
        st.info("The controller's policy is shown after the first epoch.")
    else:
        k = len(policies) - 1
        if len(policies) > 1:
            k = st.slider("policy snapshot", 0, len(policies) - 1, len(policies) - 1, key="policy_at")
        pol = policies[k]
        st.caption(f"after epoch {pol['epoch'] + 1}")
        left, right = st.columns(2)
        with left:
            plot("op_heat", lambda: charts.op_heatmap(pol), ticking, (name, pol["epoch"]))
        if len(pol["skip_probs"]) > 1:
            with right:
                plot("skip_heat", lambda: charts.skip_heatmap(pol), ticking, (name, pol["epoch"]))


# --- history: click-through of sampled architectures ----------------------------------------------
def history_view(entry, ticking: bool):
    live, ss = entry.live, st.session_state
    history = live.history()
    if not history:
        st.info("No architectures sampled yet: the controller samples after the first epoch's child training.")
        return
    ns = [h["n"] for h in history]
    sel_key = f"sel_{entry.name}"
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

    plot(f"pick_{entry.name}", lambda: charts.reward_scatter(history, h["n"]), ticking, (sel,), on_select=picked,
         selection_mode="points")
    c1, c2, c3, c4 = st.columns([1, 1, 1, 5])
    c1.button("Previous", key="hist_prev", icon=":material/chevron_left:", disabled=pos == 0,
              on_click=choose, args=(ns[max(pos - 1, 0)],))
    c2.button("Next", key="hist_next", icon=":material/chevron_right:", disabled=pos == len(ns) - 1,
              on_click=choose, args=(ns[min(pos + 1, len(ns) - 1)],))
    c3.button("Latest", key="hist_last", on_click=choose, args=(None,), help="follow the newest sample")
    if len(ns) > 1:
        # a fresh slider whenever the choice changes elsewhere (or, following, a sample arrives): its value is
        # never set from here, so a redraw racing a user's move cannot undo either
        key = f"pos_{entry.name}_{sel}_{len(ns) if sel is None else ''}"
        c4.slider("sample", 0, len(ns) - 1, pos, key=key, label_visibility="collapsed",
                  on_change=lambda: choose(_n_at(live, ss[key])))
    if live.samples_seen() > len(ns):
        st.caption(f"showing {len(ns):,} of {live.samples_seen():,} samples, evenly spaced; the full record is "
                   "in the run folder (download it below)")
    prev = Architecture.parse(history[pos - 1]["arch"]) if pos > 0 else None
    arch_card(entry, Architecture.parse(h["arch"]), prev, h)
    teach.explain("history", "About this history")
    st.download_button("All samples (CSV)", functools.partial(samples_csv, entry.store), f"{entry.name}-samples.csv",
                       "text/csv", key="dl_samples", icon=":material/download:",
                       help="every sampled architecture with its epoch, step and reward, read from the run folder")
    unique_table(live)


def samples_csv(store) -> str:
    """Every `sample` event of the run store as CSV (made when the download is clicked)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["epoch", "step", "ctrl_step", "arch", "accuracy", "reward"])
    for ev in store.events("sample"):
        writer.writerow([ev["epoch"], ev["step"], ev.get("ctrl_step"), ev["arch"], ev["accuracy"], ev["reward"]])
    return out.getvalue()


def _n_at(live, pos: int):
    """The sample number at position `pos` of the history as it is now."""
    history = live.history()
    return history[min(pos, len(history) - 1)]["n"]


def arch_card(entry, arch: Architecture, prev, h: dict):
    """One architecture: its graph (changes from `prev` outlined), string, cost and how it fared."""
    c = entry.config
    left, right = st.columns([3, 2])
    with left:
        picture(arch, c.ops, highlight=draw.diff_nodes(arch, prev))
    with right:
        st.markdown(f"**Sample {h['n']}** · epoch {(h['epoch'] or 0) + 1} · step {h['step']}")
        st.code(str(arch), language="text")
        f = draw.facts(arch)
        count = entry.live.count(str(arch))
        derived = entry.live.derive_acc(str(arch))
        rows = {"reward": f"{h['reward']:.4f}", "validation-batch accuracy": f"{h['accuracy']:.4f}",
                "times sampled": "n/a" if count is None else str(count),
                "derive validation accuracy (whole split, BN recalibrated)": "n/a" if derived is None
                else f"{derived:.4f}",
                "parameters": f"{arch.param_count(c.channels, CLASSES, c.first_node_bn):,}",
                "FLOPs per image": f"{arch.flops(c.channels, c.image_size, CLASSES):,}",
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


# --- derive and final training --------------------------------------------------------------------
def final_view(registry, entry, ticking: bool):
    live, c = entry.live, entry.config
    teach.explain("derive", "What are derive and final training?")
    busy = entry.running_here or entry.follow or live.status == "starting"
    has_ckpt = bool(entry.store.checkpoints())
    if busy:
        st.caption("Derive and final training can start when this run is not running.")
    elif not has_ckpt:
        st.caption("Derive and final training need a checkpoint: finish at least one search epoch first.")
    else:
        d1, d2 = st.columns([1, 1])
        with d1, st.form("derive_form", border=True):
            samples = st.number_input("children to sample", 1, 100_000, c.derive_samples, key="derive_samples")
            recheck = st.number_input("re-check the top K from scratch (0: no)", 0, 1000, 0, key="derive_recheck",
                                      help="train derive's top K stand-alone from scratch briefly and keep the "
                                           "best by that: the shared-weight ranking can be wrong")
            recheck_epochs = st.number_input("re-check epochs", 1, 1000, 1, key="derive_recheck_epochs")
            if st.form_submit_button("Derive the best child", icon=":material/search:"):
                act(registry.derive, entry.name, int(samples), int(recheck), int(recheck_epochs))
                st.rerun(scope="app")
        with d2:
            train_form(registry, entry)
    xs, ys = live.series("derive.val_acc")["derive.val_acc"]
    ranking = live.ranking()
    if xs:
        plot("derive", lambda: charts.derive_scatter(xs, ys, ranking[0]["val_acc"] if ranking else None), ticking,
             (entry.name,))
    if ranking:
        st.markdown(f"**Best derived child:** `{live.best}`")
        st.dataframe(ranking[:20], hide_index=True, key="ranking", column_config={
            "arch": "architecture", "count": "times sampled",
            "val_acc": st.column_config.NumberColumn("shared weights: val. acc. (whole split, BN recalibrated)",
                                                     format="%.4f"),
            "recheck_acc": st.column_config.NumberColumn("re-checked: val. acc. after training from scratch",
                                                         format="%.4f")})
    quality.rank_view(registry, entry, ticking, not busy and has_ckpt)
    series = live.series("final.loss", "final.acc", "final.val_acc")
    if series["final.loss"][0]:
        cols = st.columns(len(charts.FINAL_CHARTS))
        for k, (title, xtitle, lines) in enumerate(charts.FINAL_CHARTS):
            with cols[k]:
                plot(f"final_{k}", functools.partial(charts.curves, title, xtitle, lines, [("", series)]), ticking,
                     (entry.name,))
    result_view(entry)


def train_form(registry, entry):
    c, live = entry.config, entry.live
    best = live.best or entry.store.meta().get("best")
    with st.form("train_form", border=True):
        sources = (["derived best"] if best else []) + ["paste a string", "upload a JSON file"]
        source = st.radio("architecture", sources, horizontal=True, key="train_source")
        text = st.text_input("architecture string", key="train_text", placeholder="e.g. c3 c5:1 mp:01")
        upload = st.file_uploader("architecture JSON", type=["json"], key="train_file")
        mode = st.selectbox("mode", ["finetune", "scratch"], index=["finetune", "scratch"].index(c.final_mode),
                            key="train_mode")
        epochs = st.number_input("epochs", 0, 10_000, c.final_epochs, key="train_epochs",
                                 help="0 with finetune: evaluate the child as it inherits the shared weights")
        if st.form_submit_button("Train the child", icon=":material/model_training:"):
            try:
                arch = read_arch(source, best, text, upload).check_space(c.nodes, c.ops)
            except ArchitectureError as e:
                st.error(str(e), icon=":material/error:")
                return
            if mode == "scratch" and epochs == 0:
                st.error("training from scratch needs at least 1 epoch (0 epochs is for finetune: it evaluates "
                         "the inherited child)", icon=":material/error:")
                return
            act(registry.train, entry.name, arch, mode, int(epochs))
            st.rerun(scope="app")


def read_arch(source: str, best, text: str, upload) -> Architecture:
    """The architecture chosen in the training form, validated (size-limited for uploads)."""
    if source == "derived best":
        return Architecture.parse(best)
    if source == "paste a string":
        return Architecture.parse(text)
    if upload is None:
        raise ArchitectureError("choose a JSON file to upload")
    if upload.size > MAX_STRING:
        raise ArchitectureError(f"{upload.name} is too large for an architecture file ({upload.size:,} bytes; "
                                f"at most {MAX_STRING:,})")
    try:
        return Architecture.from_json(upload.getvalue().decode("utf-8"))
    except UnicodeDecodeError:
        raise ArchitectureError(f"{upload.name} is not a UTF-8 text file") from None


def result_view(entry):
    """The final result, and downloads of the architecture (JSON, string, DOT, SVG) and trained weights."""
    live, path = entry.live, entry.store.path
    result = live.result
    text = result["arch"] if result else live.best
    if text is None:
        return
    arch = Architecture.parse(text)
    if result:
        derived = live.derive_acc(result["arch"])
        trained = f"{result['epochs']} epoch(s), {result['mode']}"
        cols = st.columns(5)
        cols[0].metric("Validation accuracy at derive", "-" if derived is None else f"{derived:.4f}",
                       help="whole validation split, shared weights, BN statistics recalibrated: the child as "
                            "final training received it")
        cols[1].metric("Validation accuracy", f"{result['val_acc']:.4f}",
                       help=f"whole validation split, after final training ({trained}); eval-mode BN statistics")
        cols[2].metric("Test accuracy", "-" if result["test_acc"] is None else f"{result['test_acc']:.4f}",
                       help=f"whole test split, after final training ({trained})")
        cols[3].metric("Parameters", f"{result['params']:,}")
        cols[4].metric("FLOPs", f"{result['flops']:,}")
    st.markdown(f"**Download `{arch}`**")
    cols = st.columns(5)
    cols[0].download_button("JSON", arch.to_json() + "\n", "architecture.json", "application/json", key="dl_json")
    cols[1].download_button("String", str(arch) + "\n", "architecture.txt", "text/plain", key="dl_txt")
    cols[2].download_button("DOT", draw.to_dot(arch).source, "architecture.dot", "text/vnd.graphviz", key="dl_dot")
    if shutil.which("dot"):   # made only when clicked
        cols[3].download_button("SVG", functools.partial(draw.to_svg, arch), "architecture.svg", "image/svg+xml",
                                key="dl_svg")
    else:
        cols[3].caption("SVG needs graphviz's `dot` program (apt-get install graphviz)")
    weights = path / "final.pt"
    if result and weights.is_file():
        cols[4].download_button("Weights", functools.partial(weights.read_bytes), "final.pt",
                                "application/octet-stream", key="dl_pt")
