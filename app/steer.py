"""Steering a live search from the Live tab: which ops each node may take, forced skips, live settings, single
steps (`enas.steering`), and what the last single step changed. Requests go to the engine's `Control` when this
app runs the search, else to the run's inbox (another process, or a Ray actor on a shared folder)."""
from __future__ import annotations

import streamlit as st

from enas.constraints import Constraints
from enas.steering import STEERABLE, Inbox, Steering, SteerError
from enas.teach import charts

from . import access, teach

WHO = "app"


def steering_of(entry) -> Steering:
    """The state in force, as the run's newest steer event says (none: its config's)."""
    c = entry.config
    return Steering.from_dict(entry.live.steering, c) if entry.live.steering else Steering.of(c)


def can_steer(entry) -> bool:
    return entry.live.phase in (None, "search") and entry.live.active and (entry.running_here or entry.follow)


def send(entry, request: dict):
    """Check `request` against the state in force (SteerError says why not), then hand it to the run."""
    steering = steering_of(entry)
    rest = {k: v for k, v in request.items() if k != "control"}
    if rest:
        _, changes = steering.change(rest, entry.config)
        if not changes:
            raise SteerError("nothing changes: the run already runs with that")
    if entry.running_here:
        if rest:
            entry.control.steer(rest, WHO)
        if request.get("control"):
            getattr(entry.control, request["control"])()
    else:
        Inbox(entry.store.path).put(request, WHO)


def _act(entry, request: dict, done: str):
    try:
        send(entry, request)
        st.session_state["steer_said"] = ("success", done)
    except SteerError as e:
        st.session_state["steer_said"] = ("error", str(e))


def constraint_changes(now: Constraints, allowed: dict, skips: dict, nodes: int, ops) -> list:
    """The text changes (`Constraints.apply`) that take `now` to the grid's choice: `allowed` {node: [ops]},
    `skips` {(i, j): "free" | "on" | "off"}."""
    out = []
    for node in range(nodes):
        want = set(allowed[node])
        if node in now.pinned and want != {now.pinned[node]}:
            out.append(f"unpin {node}")
        have = {op for op in ops if (node, op) not in now.banned}
        out += [f"unban {op}@{node}" for op in ops if op in want and op not in have]
        out += [f"ban {op}@{node}" for op in ops if op not in want and op in have]
    for (i, j), state in skips.items():
        old = {1: "on", 0: "off"}.get(now.skips.get((i, j)), "free")
        if state != old:
            out.append(f"free {i}:{j}" if state == "free" else f"skip {i}:{j}={state}")
    return out


def steer_panel(registry, entry):
    """The steering expander of the Live tab (forms outside the live fragment, so its redraws do not disturb
    them); what is in force and the last step are drawn by `steer_status` inside it."""
    box = st.expander("Steer this search: ban or pin ops, force skips, change settings, single steps",
                      icon=":material/tune:")
    with box:
        status = st.container()
        refused = access.control_refusal(registry, entry.name)
        if entry.read_only:
            st.caption("A recording: its interventions (if any) are marked on the charts; nothing can be steered.")
        elif refused:
            st.caption(refused)
        elif not can_steer(entry):
            st.caption("Steering applies to a search while it runs or is paused; this run is not searching now.")
        else:
            forms(entry)
    teach.explain("steer", "How does steering work? (and a classroom script)")
    return status


def forms(entry):
    c, steering = entry.config, steering_of(entry)
    said = st.session_state.pop("steer_said", None)
    if said:
        (st.success if said[0] == "success" else st.error)(said[1])
    paused = entry.control.paused if entry.running_here else entry.live.status == "paused"
    cols = st.columns(3)
    cols[0].button("Run one step", key="steer_step", disabled=not paused, icon=":material/skip_next:",
                   on_click=_act, args=(entry, {"control": "step"}, "one step asked for"),
                   help="while paused: exactly one child or controller step (the next one), then paused again; "
                        "what it changed is drawn above")
    if not paused:
        cols[1].caption("Pause the run to step through it one step at a time.")
    cons = steering.constraints
    st.markdown("**Which ops each node may take** (untick to ban; leave one ticked to pin)")
    grid = [{"node": n, **{op: op in cons.allowed(n, c.ops) for op in c.ops}} for n in range(c.nodes)]
    with st.form(f"steer_ops_{entry.name}", border=False):
        narrow = {op: st.column_config.CheckboxColumn(op, width="small") for op in c.ops}
        edited = st.data_editor(grid, key=f"steer_grid_{entry.name}", hide_index=True, disabled=["node"],
                                width="stretch", column_config={"node": st.column_config.NumberColumn(
                                    "node", width="small"), **narrow})
        pairs = [(i, j) for i in range(1, c.nodes) for j in range(i)]
        skips = {}
        if pairs:
            st.caption("Skips: node i's skip from node j, free (the controller decides), forced on, or off")
            scols = st.columns(min(len(pairs), 6))
            for k, (i, j) in enumerate(pairs):
                now = {1: "on", 0: "off"}.get(cons.skips.get((i, j)), "free")
                skips[(i, j)] = scols[k % len(scols)].selectbox(f"{i}:{j}", ("free", "on", "off"),
                                                                index=("free", "on", "off").index(now),
                                                                key=f"steer_skip_{entry.name}_{i}_{j}")
        apply_ops = st.form_submit_button("Apply constraints", icon=":material/check:")
    if apply_ops:
        allowed = {row["node"]: [op for op in c.ops if row[op]] for row in edited}
        changes = constraint_changes(cons, allowed, skips, c.nodes, c.ops)
        if changes:
            _act(entry, {"constraints": changes}, f"sent: {'; '.join(changes)}")
        else:
            st.session_state["steer_said"] = ("error", "nothing changes: these are the constraints in force")
        st.rerun()
    if cons:
        st.button("Lift every constraint", key="steer_clear", on_click=_act,
                  args=(entry, {"clear": True}, "sent: lift every constraint"))
    settings_form(entry, steering)


def settings_form(entry, steering: Steering):
    c = entry.config
    names = [n for n in STEERABLE if c.controller == "enas" or n not in ("controller_lr", "temperature",
                                                                          "tanh_constant")]
    with st.form(f"steer_settings_{entry.name}", border=False):
        st.markdown("**Settings, changed without restarting**")
        cols, values = st.columns(3), {}
        for k, name in enumerate(names):
            now, box = steering.values[name], cols[k % 3]
            if name == "sampling":
                values[name] = box.selectbox(STEERABLE[name], ("per-batch", "per-epoch"),
                                             index=("per-batch", "per-epoch").index(now), key=f"steer_{name}")
            elif name == "controller_steps":
                values[name] = box.number_input(STEERABLE[name], min_value=0, value=int(now), step=1,
                                                key=f"steer_{name}")
            else:
                values[name] = box.number_input(STEERABLE[name], min_value=0.0, value=float(now), format="%g",
                                                step=None, key=f"steer_{name}")
        submitted = st.form_submit_button("Apply settings", icon=":material/check:")
    if submitted:
        changed = {n: v for n, v in values.items() if v != steering.values[n]}
        if changed:
            _act(entry, {"set": changed}, "sent: " + ", ".join(f"{n} {v}" for n, v in changed.items()))
        else:
            st.session_state["steer_said"] = ("error", "nothing changes: these are the settings in force")
        st.rerun()


def steer_status(entry):
    """What is in force, the interventions so far, the newest refusal and the newest single step (live)."""
    live, c = entry.live, entry.config
    steering = steering_of(entry)
    st.caption(f"In force: {steering.describe(c)}" if live.steering else
               "In force: the run's own settings, no constraints (nothing steered yet).")
    marks = live.interventions()
    if marks:
        st.dataframe([{"epoch": m["epoch"] + 1 if m["epoch"] is not None else None, "change": m["label"],
                       "child step": m["step"], "controller step": m["ctrl_step"], "who": m["who"]} for m in marks],
                     hide_index=True, key=f"steer_log_{entry.name}", height=min(38 + 35 * len(marks), 200),
                     column_config={"epoch": st.column_config.NumberColumn(width="small"),
                                    "change": st.column_config.TextColumn(width="large")})
    if live.refused:
        st.warning(f"Refused ({live.refused['who']}): {live.refused['message']}", icon=":material/block:")
    detail = live.step_detail
    if detail:
        step_view(detail, c.ops)


def step_view(d: dict, ops) -> None:
    """What one single step changed: a child step's moved weights, or a controller step's rewards, advantages and
    the policy before and after at the nodes it moved most."""
    if d["what"] == "child":
        st.markdown(f"**The last single step: child step {d['step']}** trained `{d['arch']}` on one minibatch "
                    f"(loss {d['loss']:.3f}, minibatch accuracy {d['acc']:.3f}, learning rate {d['lr']:.4g}). "
                    "Only its path's weights moved:")
        st.plotly_chart(charts.moved_parts(d["moved"]), config=charts.CONFIG, key="step_moved")
        return
    st.markdown(f"**The last single step: controller step {d['ctrl_step']}** scored {len(d['archs'])} children on "
                f"validation minibatches (reward = accuracy + entropy bonus; advantage = reward - baseline); the "
                f"baseline is {d['baseline_after']:.3f} after it:")
    st.dataframe([{"child": a, "accuracy": round(acc, 4), "reward": round(r, 4), "baseline": round(b, 4),
                   "advantage": round(adv, 4)}
                  for a, acc, r, b, adv in zip(d["archs"], d["accuracy"], d["reward"], d["baseline"], d["advantage"])],
                 hide_index=True, key="step_children")
    before, after = d["op_probs_before"], d["op_probs_after"]
    moved = sorted(range(len(before)), key=lambda n: -sum(abs(a - b) for a, b in zip(after[n], before[n])))[:2]
    cols = st.columns(len(moved))
    for col, n in zip(cols, moved):
        col.plotly_chart(charts.before_after(ops, before[n], after[n], f"Node {n}: op probabilities before and after"),
                         config=charts.CONFIG, key=f"step_node_{n}")
