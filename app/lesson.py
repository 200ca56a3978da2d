"""'One controller update, step by step': a tiny search's controller step that a teacher clicks through
(`enas.teach.lesson`), available without any run, with knobs: the learning rate, baseline decay and entropy
weight, and any child's accuracy, each making the update again from the same draw at once."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from enas.teach.charts import CONFIG
from enas.teach.draw import OP_COLORS
from enas.teach.lesson import Draw, Lesson, prepare, replay

from .widgets import picture

UP, DOWN, BEFORE = "#2ca02c", "#d62728", "#bdbdbd"
# (title, the step's sentence); the sentences are formatted with `fields(lesson)`
STEPS = (
    ("The children", "The controller samples {m} children from its current policy: for each node it draws an "
                     "op, then, for each earlier node, whether to add that node's output (an arc)."),
    ("Their rewards", "Each child is scored with the shared weights, with no training of its own, on the same "
                      "minibatch of {batch} validation images: its reward is that accuracy plus {w:g} x the "
                      "controller's entropy.{hand}"),
    ("The baseline", "The baseline is a moving average of earlier rewards (b <- {d:g} b + {d1:g} r for each "
                     "child); before this step it was {b:.3f}, and every reward is judged against it; this step's "
                     "rewards then move it to {b_after:.3f}."),
    ("The advantages", "Each child's advantage is its reward minus that baseline: the update pushes up the "
                       "decisions of children above it (green) and down those of children below it (red)."),
    ("The update", "One REINFORCE step (Adam, learning rate {lr:g}) pushes up the ops that children above the "
                   "baseline chose and down those that children below it chose, at every node at once, since all "
                   "nodes share the controller's output layer; the bars show one node before and after."),
)
# the knobs' choices, roughly logarithmic; the draw's own value is added to each
CHOICES = {"lr": (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
           "baseline_decay": (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999),
           "entropy_weight": (0.0, 1e-4, 1e-3, 0.01, 0.03, 0.1)}
LABELS = {"lr": "learning rate", "baseline_decay": "baseline decay", "entropy_weight": "entropy weight"}
HELP = {"lr": "Adam's step size: on its first step every parameter moves by about this much",
        "baseline_decay": "how much of the old baseline this step's rewards keep: it sets the baseline after "
                          "the step, not the advantages (those use the baseline before it)",
        "entropy_weight": "the entropy bonus in every reward: reward = accuracy + weight x entropy"}


@st.cache_data(show_spinner="Training a tiny supergraph and a controller (a few seconds)...", max_entries=16)
def draw_for(seed: int) -> Draw:
    """The expensive part of a lesson, once per seed; the knobs replay its update."""
    return prepare(seed)


def fields(lesson: Lesson) -> dict:
    hand = [f"child {i + 1}'s" for i, (a, own) in enumerate(zip(lesson.accuracy, lesson.own["accuracy"]))
            if a != own]
    return {"m": len(lesson.children), "batch": lesson.batch_size, "w": lesson.entropy_weight,
            "d": lesson.baseline_decay, "d1": round(1 - lesson.baseline_decay, 6), "b": lesson.baseline_before,
            "b_after": lesson.baseline_after, "lr": lesson.lr,
            "hand": f" Set by hand, not measured: {', '.join(hand)} accuracy." if hand else ""}


def changes(lesson: Lesson) -> list:
    """Each value in force that differs from the draw's own, in words."""
    out = [f"{LABELS[k]} {getattr(lesson, k):g} (the draw's: {lesson.own[k]:g})" for k in CHOICES
           if getattr(lesson, k) != lesson.own[k]]
    return out + [f"child {i + 1}'s accuracy {a:.3f} (measured: {own:.3f})"
                  for i, (a, own) in enumerate(zip(lesson.accuracy, lesson.own["accuracy"])) if a != own]


def _go(delta: int):
    st.session_state.lesson_step = min(max(st.session_state.lesson_step + delta, 0), len(STEPS) - 1)


def _forget_accuracy():
    """Drop the accuracies set by hand; the reward widgets start again from the (new) draw's."""
    st.session_state.lesson_knobs["accuracy"] = {}
    for key in ("lesson_acc_drag", "lesson_acc_type"):
        st.session_state.pop(key, None)


def _new_draw():
    st.session_state.lesson_seed += 1
    st.session_state.lesson_step = 0
    _forget_accuracy()


def _reset(draw: Draw):
    ss = st.session_state
    for k in CHOICES:
        ss.lesson_knobs[k] = ss[f"lesson_{k}"] = getattr(draw, k)
    _forget_accuracy()


def _knob_moved(name: str):
    st.session_state.lesson_knobs[name] = st.session_state[f"lesson_{name}"]


def _accuracy_of(draw: Draw, child: int) -> float:
    return st.session_state.lesson_knobs["accuracy"].get(child, draw.accuracy[child])


def _child_picked(draw: Draw):
    ss = st.session_state
    ss.lesson_acc_drag = ss.lesson_acc_type = _accuracy_of(draw, ss.lesson_child)


def _accuracy_set(draw: Draw, widget: str, other: str):
    ss, child = st.session_state, st.session_state.lesson_child
    value = ss[other] = ss[widget]
    hand = ss.lesson_knobs["accuracy"]
    if value == draw.accuracy[child]:
        hand.pop(child, None)
    else:
        hand[child] = value


def lesson_view():
    """The five steps, with Back / Next and New draw, and the knobs; each draw is computed once (cached), the
    knobs replay its update."""
    ss = st.session_state
    ss.setdefault("lesson_step", 0)
    ss.setdefault("lesson_seed", 0)
    st.subheader("One controller update, step by step")
    draw = draw_for(ss.lesson_seed)
    knobs = ss.setdefault("lesson_knobs", {**{k: getattr(draw, k) for k in CHOICES}, "accuracy": {}})
    lesson = replay(draw, **knobs)
    k = ss.lesson_step
    st.caption(f"A tiny search on the built-in shapes data: {len(lesson.before)} nodes, the {len(lesson.ops)} "
               f"ops, {lesson.child_steps} steps of shared-weight training and {len(lesson.earlier_rewards)} "
               f"controller steps before the one shown (draw {lesson.seed}).")
    row = st.container(horizontal=True, vertical_alignment="center")   # fixed columns cut "New draw" at 1024 px
    row.button("Back", key="lesson_back", on_click=_go, args=(-1,), disabled=k == 0, width="content")
    step = row.container(width="stretch")
    row.button("Next", key="lesson_next", on_click=_go, args=(1,), disabled=k == len(STEPS) - 1, width="content")
    row.button("New draw", key="lesson_new", on_click=_new_draw, icon=":material/casino:", width="content",
               help="another seed: other children, rewards and update (the accuracies set by hand are dropped)")
    title, sentence = STEPS[k]
    step.markdown(f"**Step {k + 1} of {len(STEPS)}: {title}**")
    st.markdown(sentence.format(**fields(lesson)))
    (children, rewards, baseline, advantages, update)[k](lesson)
    knobs_panel(draw, lesson)


def knobs_panel(draw: Draw, lesson: Lesson):
    """Sliders for the update's settings and one child's accuracy, that child's numbers, Reset, and what
    differs from the draw's own."""
    ss = st.session_state
    with st.expander("Knobs: change the update and watch it follow", expanded=True, icon=":material/tune:"):
        cols = st.columns(len(CHOICES))
        for col, name in zip(cols, CHOICES):
            ss.setdefault(f"lesson_{name}", ss.lesson_knobs[name])
            col.select_slider(LABELS[name], sorted({*CHOICES[name], getattr(draw, name)}), key=f"lesson_{name}",
                              on_change=_knob_moved, args=(name,), format_func=lambda v: f"{v:g}",
                              help=HELP[name])
        m = len(draw.children)
        ss.setdefault("lesson_child", 0)
        ss.setdefault("lesson_acc_drag", _accuracy_of(draw, ss.lesson_child))
        ss.setdefault("lesson_acc_type", ss.lesson_acc_drag)
        pick, drag, typed = st.columns([1, 1.6, 1.4])
        pick.selectbox("Child", range(m), key="lesson_child", format_func=lambda i: f"child {i + 1}",
                       on_change=_child_picked, args=(draw,))
        drag.slider("its accuracy (drag)", 0.0, 1.0, step=1 / draw.batch_size, key="lesson_acc_drag",
                    format="%.3f", on_change=_accuracy_set, args=(draw, "lesson_acc_drag", "lesson_acc_type"),
                    help=f"in steps of one image in {draw.batch_size}")
        typed.number_input("or type it", 0.0, 1.0, step=0.01, key="lesson_acc_type", format="%.4f",
                           on_change=_accuracy_set, args=(draw, "lesson_acc_type", "lesson_acc_drag"))
        i = ss.lesson_child
        own = replay(draw)
        before, after = math.exp(lesson.log_probs[i]), math.exp(lesson.log_probs_after[i])
        reward, advantage, chance = st.columns(3)
        reward.metric("Its reward", f"{lesson.rewards[i]:.4f}", _change(lesson.rewards[i], own.rewards[i]),
                      help="accuracy + entropy weight x entropy; the change is from the draw's own")
        advantage.metric("Its advantage", f"{lesson.advantages[i]:+.4f}",
                         _change(lesson.advantages[i], own.advantages[i]),
                         help="reward - the baseline before the step; the change is from the draw's own")
        chance.metric("Its probability after", f"{after:.3g}", f"{after / before - 1:+.1%} from {before:.3g}",
                      help="the probability of this child's decisions, after the update and before it")
        changed = changes(lesson)
        row = st.container(horizontal=True, vertical_alignment="center")
        row.button("Reset knobs", key="lesson_reset", on_click=_reset, args=(draw,), icon=":material/restart_alt:",
                   width="content", disabled=not changed, help="back to the draw's own values")
        row.markdown("**Changed from the draw's own:** " + "; ".join(changed) + "." if changed else
                     "Every knob at the draw's own value.")


def _change(value: float, own: float) -> str | None:
    return f"{value - own:+.4f} from the draw's" if value != own else None


def _names(lesson: Lesson) -> list:
    return [f"child {i + 1}" for i in range(len(lesson.children))]


def _figure(title: str, height: int = 280) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height, showlegend=False,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def children(lesson: Lesson):
    cols = st.columns(2)
    for i, (arch, logp) in enumerate(zip(lesson.children, lesson.log_probs)):
        with cols[i % 2]:
            st.markdown(f"**Child {i + 1}** · `{arch}` · probability {math.exp(logp):.2g}")
            picture(arch, lesson.ops)


def rewards(lesson: Lesson):
    hand = [a != own for a, own in zip(lesson.accuracy, lesson.own["accuracy"])]
    fig = _figure(f"Reward of each child on one validation minibatch of {lesson.batch_size} images")
    fig.add_bar(x=_names(lesson), y=lesson.rewards, marker_color=OP_COLORS["conv3x3"],
                marker_pattern_shape=["/" if h else "" for h in hand],
                text=[f"{r:.3f}" + (" (set)" if h else "") for r, h in zip(lesson.rewards, hand)],
                textposition="outside")
    st.plotly_chart(fig, key="lesson_rewards", config=CONFIG)
    st.dataframe([{"child": n, "architecture": str(a), "accuracy": acc, "set by hand": h,
                   "entropy bonus": lesson.entropy_weight * e, "reward": r}
                  for n, a, acc, h, e, r in zip(_names(lesson), lesson.children, lesson.accuracy, hand,
                                                lesson.entropy, lesson.rewards)],
                 hide_index=True, key="lesson_reward_table")
    st.caption(f"The minibatch is drawn from the validation split ({lesson.val_images} images), never used for "
               "training; a real search draws a fresh minibatch for each child. Hatched: an accuracy set by hand.")


def baseline(lesson: Lesson):
    fig = _figure("Rewards by controller step, and the baseline")
    earlier = len(lesson.earlier_rewards)
    for s, rs in enumerate(lesson.earlier_rewards, 1):
        fig.add_scatter(x=[s] * len(rs), y=rs, mode="markers", marker=dict(color=BEFORE, size=9),
                        hovertemplate="earlier step %{x}: reward %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[earlier + 1] * len(lesson.rewards), y=lesson.rewards, mode="markers",
                    marker=dict(color=OP_COLORS["conv3x3"], size=11), text=_names(lesson),
                    hovertemplate="%{text}: reward %{y:.3f}<extra></extra>")
    fig.add_scatter(x=list(range(1, earlier + 2)), y=lesson.earlier_baselines + [lesson.baseline_after],
                    mode="lines+markers", line=dict(color="black", dash="dash"),
                    hovertemplate="baseline after step %{x}: %{y:.3f}<extra></extra>")
    fig.update_xaxes(title_text="controller step (the last one is the step shown)", dtick=1)
    st.plotly_chart(fig, key="lesson_baseline", config=CONFIG)
    st.caption(f"Grey: the rewards of the {earlier} earlier steps; blue: this step's; dashed: the baseline after "
               f"each step. The advantages use the baseline as it was before this step ({lesson.baseline_before:.3f}); "
               f"the step then moves it to {lesson.baseline_after:.3f}.")


def advantages(lesson: Lesson):
    fig = _figure("Advantage = reward - baseline")
    fig.add_bar(x=_names(lesson), y=lesson.advantages, marker_color=[UP if a > 0 else DOWN for a in lesson.advantages],
                text=[f"{a:+.3f}" for a in lesson.advantages], textposition="outside")
    fig.add_hline(y=0, line_color="black")
    st.plotly_chart(fig, key="lesson_advantages", config=CONFIG)
    st.caption("The loss is -(advantage x log-probability of the child), so a child's advantage is the weight of "
               "its push; the skip penalty is added to it.")


def update(lesson: Lesson):
    node = st.radio("Node", range(len(lesson.before)), key="lesson_node", horizontal=True,
                    format_func=lambda i: f"node {i}")
    fig = _figure(f"Node {node}'s op probabilities, before and after (under each op: its push)")
    ops = [f"{op}<br>push {p:+.3f}" for op, p in zip(lesson.ops, lesson.push)]
    for name, probs, color in (("before", lesson.before[node], BEFORE), ("after", lesson.after[node], "#3182bd")):
        fig.add_bar(x=ops, y=probs, name=name, marker_color=color, text=[f"{p:.3f}" for p in probs],
                    textposition="outside")
    fig.update_layout(barmode="group", showlegend=True, legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(fig, key="lesson_update", config=CONFIG)
    chose = "; ".join(f"child {i + 1} ({a:+.3f}) chose {arch.ops[node]}"
                      for i, (arch, a) in enumerate(zip(lesson.children, lesson.advantages)))
    given = ("Node 0 comes first, so its probabilities are the same for every child." if node == 0 else
             f"They depend on the decisions before node {node}: these are along child {lesson.focus + 1}'s "
             "(the largest advantage).")
    st.caption(f"At node {node}: {chose}. An op's push adds up, over the children and the nodes, advantage x (1 if "
               f"the child chose the op there, minus its probability there). {given} The LSTM under the output "
               "layer is shared too, and the skip penalty pulls on it, so an op can still move against its push.")
