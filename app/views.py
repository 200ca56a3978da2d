"""The views of one run: status and controls, the replay bar, the live sample, curves and policy; the
Architectures tab is in history.py, the Derive & final tab in final.py."""
from __future__ import annotations

import functools

import streamlit as st

from enas.constraints import Constraints
from enas.quality.health import WHY, title
from enas.runs.store import StoreError
from enas.space import Architecture
from enas.teach import charts, draw

from . import access, arch_io, final, history, replay, steer, teach, urlstate
from .delete import delete_button
from .registry import run_label
from .sidebar import ray_address
from .widgets import CHARTS_EVERY, act, picture, plot

STATUS_COLORS = {"starting": "gray", "running": "blue", "paused": "orange", "stopped": "gray", "finished": "green",
                 "failed": "red", "interrupted": "orange", "created": "gray", "replay": "violet",
                 "queued": "violet"}
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
    moment = None if ticking else replay.replay_bar(entry)   # the run as it was at a replayed moment
    head = st.container()

    def look():
        return moment or registry.view(name)
    tabs = st.tabs(["Live", "Architectures", "Derive & final"], key=f"tabs-{name}", on_change="rerun")
    shown = [tab.open or not ticking for tab in tabs]   # while a run is live, only the open tab is built
    if shown[0]:
        with tabs[0]:
            steer_box = steer.steer_panel(registry, entry)
            sample_box, curves_box, policy_box = live_layout(name, others)

    @st.fragment(run_every=LIVE_EVERY if ticking else None)
    def live_parts():
        entry = look()
        if ticking and not (entry.live.active or entry.follow):
            st.rerun()   # it just ended: redraw the page once, without the timers
        with head:
            header(registry, entry)
        if shown[0]:
            with steer_box:
                steer.steer_status(entry)
            with sample_box:
                sample_view(entry)
        if shown[1]:
            with tabs[1]:
                history.history_view(entry, ticking)
        if shown[2]:
            with tabs[2]:
                final.final_view(registry, entry, ticking)

    @st.fragment(run_every=CHARTS_EVERY if ticking else None)
    def charts_now():
        entry = look()
        with curves_box:
            curves_view(registry, entry, ticking)
        with policy_box:
            policy_view(entry, ticking)

    live_parts()
    if shown[1]:   # outside the live fragment: its redraws would not disturb typing
        with tabs[1], st.expander("Paste an architecture in any format: draw it, export it"):
            arch_io.paste_box(f"paste_{name}", entry.config)
    if shown[0]:
        charts_now()


# --- header: status, error, controls, progress ----------------------------------------------------
def header(registry, entry):
    live = entry.live
    c1, c2 = st.columns([3, 2])
    c1.subheader(entry.label)
    with c2:
        st.badge(live.status, color=STATUS_COLORS.get(live.status, "gray"))
        st.caption(entry.threads)
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
    alerts_view(live)


def alerts_view(live):
    """The engine's newest errors and warnings, each headed by the moment it describes; then every health warning
    as of the moment shown: held (the newest check's figures), or no longer held (the newest check, and when it
    last held); the engine's notes."""
    alerts = list({(a["level"], a["message"]): a for a in live.alerts()}.values())   # each message once
    for alert in [a for a in alerts if a["level"] in ("error", "warning")][-3:]:
        (st.error if alert["level"] == "error" else st.warning)(f"**{alert['at'].capitalize()}**: {alert['message']}")
    health = live.health()
    for h in health:
        if h["holds"]:
            st.warning(f"**{h['at'].capitalize()}**: {h['message']}")
        else:
            st.info(f"**{h['at'].capitalize()}**: {h['message']} The warning of {h['warned']} "
                    f"({title(h['code'])}) no longer holds.", icon=":material/check_circle:")
    if any(h["holds"] and h["message"].endswith(WHY + ".") for h in health):
        teach.explain("health", "Is the search healthy?")
    notes = [a["message"] for a in alerts if a["level"] not in ("error", "warning")]
    if notes:
        with st.expander(f"Notes from the engine ({len(notes)})", icon=":material/info:"):
            st.markdown("\n".join(f"- {n}" for n in notes))


def controls(registry, entry):
    """Pause, Resume and Stop while the run works here, Resume run and Delete run when it is idle, for a session
    that controls it (`access`); the reason, for one that does not."""
    name, live = entry.name, entry.live
    refused = None if entry.read_only else access.control_refusal(registry, name)   # a recording has no controls
    if refused:
        st.caption(refused)
        return
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
    elif live.status == "failed" and not live.traceback and live.phase in (None, "search"):   # bad data or settings
        cols[0].caption("Resuming would fail the same way: start a new run with other settings.")
    elif live.status in ("interrupted", "stopped", "failed") and live.phase in (None, "search"):
        c = entry.config   # a student at the cap, or one who chose another Ray cluster
        why = access.start_refusal(registry) or access.config_refusal(c.dataset, c.data_dir, ray_address())
        if why:
            cols[0].caption(why)
        elif cols[0].button("Resume run", key="resume_run", icon=":material/play_arrow:", width="stretch",
                            help="continue from its newest checkpoint"):
            act(registry.resume, name, ray_address())
            st.rerun()
    if not (entry.running_here or entry.follow or entry.read_only):
        delete_button(registry, name, cols[3])


def progress(live):
    p = live.progress()
    if p["fraction"] is not None:
        st.progress(p["fraction"], text=f"{p['phase']}: {p['fraction']:.0%}")
    # a row that wraps, each metric as wide as its label and value: six equal columns had cut "Epochs done 1/100"
    # to "Epochs... 1/..." at 1024 px
    row = st.container(horizontal=True, gap="medium")
    if p["phase"] == "final":
        row.metric("Final epochs", f"{p['final_epoch']}/{p['final_epochs']}", width="content",
                   help="final-training epochs done")
    else:
        row.metric("Epochs done", f"{p['epoch']}/{p['epochs']}", width="content",
                   help="search epochs finished; the one running now is the next (epochs count from 1 everywhere)")
    row.metric("Final step" if p["phase"] == "final" else "Child step",
               p["final_step"] if p["phase"] == "final" else p["step"], width="content",
               help="final-training steps done" if p["phase"] == "final" else "child-training steps done")
    row.metric("Samples", p["samples"], width="content")
    row.metric("Images/s", "-" if p["images_per_s"] is None else f"{p['images_per_s']:,.0f}", width="content",
               help="training images per second of the child being trained (smoothed), this machine")
    row.metric("Elapsed", seconds(p["elapsed"]), width="content")
    row.metric("ETA", seconds(p["eta"]), width="content")


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
    live = entry.live
    trainings = live.trainings() if live.phase == "final" else []
    training = trainings[-1] if trainings else None
    if training:
        st.markdown(f"**The child in final training** ({training['mode']}, {training['epochs']} epoch(s)): "
                    "the search is over; this one architecture is trained alone")
    else:
        st.markdown("**The controller's current sample**")
    arch = training["arch"] if training else live.arch()
    if arch is None:
        st.info("No architecture sampled yet: the first appears after the first training step.")
        return
    a = Architecture.parse(arch)
    picture(a, entry.config.ops)
    st.code(arch, language="text")
    f = draw.facts(a)
    st.caption(f"{f['skips']} skip connections · {f['paths']} paths from stem to tail, passing "
               f"{f['shortest']} to {f['depth']} ops")
    whole = st.toggle("whole supergraph", key="supergraph", help="every candidate op and skip, faint, with this "
                      "child's ops and skips in bold: every child trains and uses these shared weights")
    urlstate.publish()   # in the page's address (this runs in a fragment)
    if whole:
        st.markdown(draw.supergraph_svg(a, entry.config.ops), unsafe_allow_html=True)


def curves_view(registry, entry, ticking: bool):
    runs = [(run_label(entry.name, entry.config.controller), entry.live.series)]
    for other in st.session_state.get("compare", []):
        try:
            e = registry.view(other)
        except StoreError as err:
            st.warning(f"cannot overlay {other}: {err}")
            continue
        runs.append((e.label, e.live.series))
    marks = entry.live.interventions()
    signature = (entry.name, len(marks), *st.session_state.get("compare", []))
    for k in range(len(charts.SEARCH_CHARTS)):
        if k % 2 == 0:
            cols = st.columns(2)
        with cols[k % 2]:
            plot(f"curve_{k}", functools.partial(charts.search_chart, k, runs, marks), ticking, signature)


def policy_view(entry, ticking: bool):
    """The policy after the epoch picked (the newest by default), how far it moved, and what the controller gains
    over random architectures."""
    live, name = entry.live, entry.name
    st.markdown("**The controller's policy**")
    policies = live.policies()
    if not policies:
        st.info("The controller's policy is shown after the first epoch.")
    else:
        at = {p["epoch"] + 1: p for p in policies}
        pol = at[policy_epoch(name, list(at))]
        newest = policies[-1]["epoch"] + 1
        steered = Constraints.from_dict(pol["constraints"]) if pol.get("constraints") else None
        st.caption(f"the policy after search epoch {pol['epoch'] + 1}"
                   + ("" if pol is policies[-1] else f" (picked; the newest shown is after epoch {newest})")
                   + (f", sampled under the constraints in force then ({steered.describe()})" if steered else ""))
        left, right = st.columns(2)
        with left:
            plot("op_heat", lambda: charts.op_heatmap(pol), ticking, (name, pol["epoch"]))
        if len(pol["skip_probs"]) > 1:
            with right:
                plot("skip_heat", lambda: charts.skip_heatmap(pol), ticking, (name, pol["epoch"]))
        left, right = st.columns(2)
        with left:
            marks = live.interventions()
            plot("moved", lambda: charts.mark_interventions(
                charts.moved_chart(policies, entry.config.health_still_move), marks, "epoch"), ticking,
                (name, newest, len(marks)))
        with right:
            start = "the untrained controller's"
            if any(p["from_first"] for p in policies):   # a run recorded before policies carried `moved`
                start = (f"those of the run's first recorded policy, after epoch {policies[0]['epoch'] + 1} (this "
                         "run did not record the untrained controller's)")
            st.caption(f"How far the policy moved: the total-variation distance of each node's op probabilities "
                       f"from {start}: 0 = unchanged, 1 = all mass moved"
                       + (" (the controller's own policy, before the constraints: a ban alone moves nothing "
                          "here)." if any(p.get("constraints") for p in policies) else "."))
            gap = random_gap(live, pol["epoch"] + 1)
            if gap:
                st.caption("controller's samples minus random architectures, same shared weights, validation "
                           f"minibatches, epoch {gap[0]}: {gap[1]:+.1f} points")


def random_gap(live, epoch: int):
    """(epoch, percentage points) of the newest epoch up to `epoch` whose controller samples and random
    architectures were both scored (their mean validation-minibatch accuracies on the shared weights), or None."""
    ctrl, rnd = (dict(zip(*xy)) for xy in live.series("epoch.val_acc", "epoch.random_val_acc").values())
    both = [e for e in ctrl if e in rnd and e <= epoch]
    return (both[-1], 100 * (ctrl[both[-1]] - rnd[both[-1]])) if both else None


def policy_epoch(name: str, epochs: list) -> int:
    """The slider's epoch (no slider for one epoch): the newest of `epochs`, unless the user or the page's address
    picked another at this moment (this run, this newest epoch); a new moment (the scrubber moved, a live epoch
    ended) starts again at its newest. The epoch picked goes into the address."""
    ss, moment = st.session_state, (name, epochs[-1])
    if ss.get("policy_moment") != moment or ss.get("policy_at") not in epochs:
        ss.policy_moment, ss.policy_at = moment, epochs[-1]
    asked = urlstate.wish(name, urlstate.POLICY)
    if asked in epochs:
        ss.policy_at = asked
    elif asked is not None:
        urlstate.refuse(urlstate.POLICY, asked, f"run {name} has policies after search epochs {epochs[0]} to "
                                                f"{epochs[-1]} here")
    epoch = st.select_slider("policy after search epoch", epochs, key="policy_at") if len(epochs) > 1 else epochs[0]
    urlstate.publish()   # this runs in a fragment
    return epoch
