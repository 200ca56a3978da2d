"""'One controller update, step by step': a tiny search's controller step that a teacher clicks through
(`enas.teach.lesson`), available without any run."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from enas.teach.draw import OP_COLORS
from enas.teach.lesson import Lesson, one_update

from .widgets import picture

UP, DOWN, BEFORE = "#2ca02c", "#d62728", "#bdbdbd"
# (title, the step's sentence); the sentences are formatted with `fields(lesson)`
STEPS = (
    ("The children", "The controller samples {m} children from its current policy: for each node it draws an "
                     "op, then, for each earlier node, whether to add that node's output (an arc)."),
    ("Their rewards", "Each child is scored with the shared weights, with no training of its own, on the same "
                      "minibatch of {batch} validation images: its reward is that accuracy plus {w:g} x the "
                      "controller's entropy."),
    ("The baseline", "The baseline is a moving average of earlier rewards (b <- {d:g} b + {d1:g} r for each "
                     "child); before this step it was {b:.3f}, and every reward is judged against it."),
    ("The advantages", "Each child's advantage is its reward minus that baseline: the update pushes up the "
                       "decisions of children above it (green) and down those of children below it (red)."),
    ("The update", "One REINFORCE step (Adam, learning rate {lr:g}) pushes up the ops that children above the "
                   "baseline chose and down those that children below it chose, at every node at once, since all "
                   "nodes share the controller's output layer; the bars show one node before and after."),
)


@st.cache_data(show_spinner="Training a tiny supergraph and a controller (a few seconds)...", max_entries=16)
def lesson_for(seed: int) -> Lesson:
    return one_update(seed)


def fields(lesson: Lesson) -> dict:
    return {"m": len(lesson.children), "batch": lesson.batch_size, "w": lesson.entropy_weight,
            "d": lesson.baseline_decay, "d1": round(1 - lesson.baseline_decay, 6), "b": lesson.baseline_before,
            "lr": lesson.lr}


def _go(delta: int):
    st.session_state.lesson_step = min(max(st.session_state.lesson_step + delta, 0), len(STEPS) - 1)


def _new_draw():
    st.session_state.lesson_seed += 1
    st.session_state.lesson_step = 0


def lesson_view():
    """The five steps, with Back / Next and New draw; each draw is computed once (cached)."""
    st.session_state.setdefault("lesson_step", 0)
    st.session_state.setdefault("lesson_seed", 0)
    st.subheader("One controller update, step by step")
    lesson = lesson_for(st.session_state.lesson_seed)
    k = st.session_state.lesson_step
    st.caption(f"A tiny search on the built-in shapes data: {len(lesson.before)} nodes, the {len(lesson.ops)} "
               f"ops, {lesson.child_steps} steps of shared-weight training and {len(lesson.earlier_rewards)} "
               f"controller steps before the one shown (draw {lesson.seed}).")
    row = st.container(horizontal=True, vertical_alignment="center")   # fixed columns cut "New draw" at 1024 px
    row.button("Back", key="lesson_back", on_click=_go, args=(-1,), disabled=k == 0, width="content")
    step = row.container(width="stretch")
    row.button("Next", key="lesson_next", on_click=_go, args=(1,), disabled=k == len(STEPS) - 1, width="content")
    row.button("New draw", key="lesson_new", on_click=_new_draw, icon=":material/casino:", width="content",
               help="another seed: other children, rewards and update")
    title, sentence = STEPS[k]
    step.markdown(f"**Step {k + 1} of {len(STEPS)}: {title}**")
    st.markdown(sentence.format(**fields(lesson)))
    (children, rewards, baseline, advantages, update)[k](lesson)


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
    fig = _figure(f"Reward of each child on one validation minibatch of {lesson.batch_size} images")
    fig.add_bar(x=_names(lesson), y=lesson.rewards, marker_color=OP_COLORS["conv3x3"],
                text=[f"{r:.3f}" for r in lesson.rewards], textposition="outside")
    st.plotly_chart(fig, key="lesson_rewards")
    st.dataframe([{"child": n, "architecture": str(a), "accuracy": acc, "entropy bonus": lesson.entropy_weight * h,
                   "reward": r} for n, a, acc, h, r in zip(_names(lesson), lesson.children, lesson.accuracy,
                                                            lesson.entropy, lesson.rewards)],
                 hide_index=True, key="lesson_reward_table")
    st.caption(f"The minibatch is drawn from the validation split ({lesson.val_images} images), never used for "
               "training; a real search draws a fresh minibatch for each child.")


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
    st.plotly_chart(fig, key="lesson_baseline")
    st.caption(f"Grey: the rewards of the {earlier} earlier steps; blue: this step's; dashed: the baseline after "
               f"each step. The advantages use the baseline as it was before this step ({lesson.baseline_before:.3f}); "
               f"the step then moves it to {lesson.baseline_after:.3f}.")


def advantages(lesson: Lesson):
    fig = _figure("Advantage = reward - baseline")
    fig.add_bar(x=_names(lesson), y=lesson.advantages, marker_color=[UP if a > 0 else DOWN for a in lesson.advantages],
                text=[f"{a:+.3f}" for a in lesson.advantages], textposition="outside")
    fig.add_hline(y=0, line_color="black")
    st.plotly_chart(fig, key="lesson_advantages")
    st.caption("The loss is -(advantage x log-probability of the child), so a child's advantage is the weight of "
               "its push; the skip penalty is added to it.")


def update(lesson: Lesson):
    node = st.radio("Node", range(len(lesson.before)), key="lesson_node", horizontal=True,
                    format_func=lambda i: f"node {i}")
    fig = _figure(f"Op probabilities at node {node}, before and after the update (below each op: its push)")
    ops = [f"{op}<br>push {p:+.3f}" for op, p in zip(lesson.ops, lesson.push)]
    for name, probs, color in (("before", lesson.before[node], BEFORE), ("after", lesson.after[node], "#3182bd")):
        fig.add_bar(x=ops, y=probs, name=name, marker_color=color, text=[f"{p:.3f}" for p in probs],
                    textposition="outside")
    fig.update_layout(barmode="group", showlegend=True, legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(fig, key="lesson_update")
    chose = "; ".join(f"child {i + 1} ({a:+.3f}) chose {arch.ops[node]}"
                      for i, (arch, a) in enumerate(zip(lesson.children, lesson.advantages)))
    given = ("Node 0 comes first, so its probabilities are the same for every child." if node == 0 else
             f"They depend on the decisions before node {node}: these are along child {lesson.focus + 1}'s "
             "(the largest advantage).")
    st.caption(f"At node {node}: {chose}. An op's push adds up, over the children and the nodes, advantage x (1 if "
               f"the child chose the op there, minus its probability there). {given} The LSTM under the output "
               "layer is shared too, and the skip penalty pulls on it, so an op can still move against its push.")
