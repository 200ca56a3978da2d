"""Plotly figures of a run: training curves (several runs overlaid), sampled rewards, policy heatmaps."""
from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go

from enas.teach.draw import OP_COLORS

RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
DASHES = ("solid", "dash", "dot")

# title, x axis, [(series, line name)]
SEARCH_CHARTS = (
    ("Child training loss", "child step", [("child.loss", "loss")]),
    ("Child training accuracy", "child step", [("child.acc", "accuracy")]),
    ("Controller reward and baseline", "controller step", [("controller.reward", "reward"),
                                                           ("controller.baseline", "baseline"),
                                                           ("controller.entropy_bonus", "entropy bonus (in the "
                                                                                        "reward)")]),
    ("Controller entropy", "controller step", [("controller.entropy", "entropy")]),
    ("Controller loss", "controller step", [("controller.controller_loss", "loss")]),
    ("Accuracy of sampled children (minibatches)", "epoch", [("epoch.val_acc", "validation (rewards)"),
                                                            ("epoch.random_val_acc", "random architectures, "
                                                                                     "validation"),
                                                            ("epoch.train_acc", "training")]),
)
FINAL_CHARTS = (
    ("Final training loss", "step", [("final.loss", "loss")]),
    ("Final training accuracy", "step", [("final.acc", "accuracy (minibatch)")]),
    ("Final validation accuracy (whole split)", "epoch", [("final.val_acc", "validation")]),
)


# Title characters per line of a chart drawn 1, 2 or 3 to a row: what fits the main area at 1024 px with the sidebar
# open (564 px; a 15 px bold title is about 6.5 px a character). SVG text does not wrap by itself: a longer line
# ran off the chart's edge.
TITLE_CHARS = {1: 80, 2: 38, 3: 25}
TITLE_LINE = 20      # px per title line
TITLE_SHIFT = 11     # px: Plotly draws a title of several lines this much higher (without its 0.7 em cap shift)
LEGEND_ROW = 22      # px per row of the legend
PLOT_MIN = 180       # px at least below the title and legend: the plot and its x axis (the chart grows for them)
FINAL_TITLES = {title for title, _, _ in FINAL_CHARTS}   # drawn three to a row (the Derive & final tab)
# No modebar (Plotly's toolbar): shown on hover at the top right, it covered the titles. Zoom by dragging and
# double-click to reset still work; Streamlit's own toolbar above the chart has full screen.
CONFIG = {"displayModeBar": False, "displaylogo": False}


def wrap_title(title: str, chars: int) -> list:
    """The title's lines, each at most `chars` characters where its words allow (an existing <br> is kept)."""
    return [line for part in title.split("<br>")
            for line in (textwrap.wrap(part, chars, break_long_words=False, break_on_hyphens=False) or [""])]


def scale() -> float:
    """How many times larger than normal `_layout` draws a chart's text and height: 1 here; the app's projector
    mode points this hook at its own, which reads the session (app/projector.py)."""
    return 1.0


def _layout(fig: go.Figure, title: str, xtitle: str, height: int = 280, columns: int = 2) -> go.Figure:
    """Shared look, readable on a projector: 13 px text; the title at the top left, wrapped to fit a chart drawn
    `columns` to a row; the legend in rows below the title and above the plot (never on the axis title nor the
    title: the top margin grows with its rows); whole-number ticks on epoch axes. Text and heights times `scale()`."""
    s = scale()
    chars = int(TITLE_CHARS.get(columns, TITLE_CHARS[1]) / s)   # larger text: fewer characters a line
    lines = wrap_title(title, chars)
    shift = TITLE_SHIFT * s if len(lines) > 1 else 0
    head = 8 + shift + TITLE_LINE * s * len(lines)      # px from the top to below the title
    # the legend's entries: named traces with points (Plotly gives an empty line none)
    names = [t.name for t in fig.data if t.name and t.showlegend is not False and len(t.x or ()) > 0]
    rows = _legend_rows(names, chars) if len(names) > 1 else 1
    top = round(head + 6 + LEGEND_ROW * s * rows)
    height = round(max(height * s, top + PLOT_MIN * s))
    fig.update_layout(title=dict(text="<br>".join(lines), font=dict(size=15 * s), x=0, xref="container",
                                 xanchor="left", y=1, yref="container", yanchor="top", pad=dict(t=8 + shift, l=4)),
                      height=height, font=dict(size=13 * s), xaxis_title=xtitle,
                      margin=dict(l=10, r=10, t=top, b=10),
                      legend=dict(orientation="h", yref="container", y=1 - (head + 2) / height, yanchor="top",
                                  xref="container", x=0, xanchor="left"),
                      uirevision="keep", hovermode="x unified")
    if xtitle == "epoch":
        xs = [x for trace in fig.data for x in (trace.x or ()) if x is not None]
        fig.update_xaxes(tick0=1, dtick=max(1, math.ceil((max(xs) - min(xs)) / 8)) if xs else 1)
    return fig


def _legend_rows(names: list, chars: int) -> int:
    """Rows a horizontal legend of these entries takes in a chart whose title fits `chars` characters a line (an
    entry: about 48 px of line sample and gaps, then its name in 13 px text)."""
    width, rows, used = chars * 6.5, 1, 0.0
    for name in names:
        w = 48 + 6.2 * len(name)
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def curves(title: str, xtitle: str, lines, runs) -> go.Figure:
    """One chart: each (series, name) line of each run; runs are (label, {series: (xs, ys)}), one colour each."""
    fig = go.Figure()
    for r, (label, series) in enumerate(runs):
        for k, (name, line) in enumerate(lines):
            xs, ys = series.get(name, ([], []))
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) < 30 else "lines",
                                     name=f"{line} · {label}" if len(runs) > 1 else line,
                                     line=dict(color=RUN_COLORS[r % len(RUN_COLORS)], dash=DASHES[k % len(DASHES)])))
    return _layout(fig, title, xtitle, columns=3 if title in FINAL_TITLES else 2)


def search_chart(k: int, runs, interventions=()) -> go.Figure:
    """Search chart k (SEARCH_CHARTS) of the runs [(label, their LiveRun's `series`)], the first run's steering
    changes marked."""
    title, xtitle, lines = SEARCH_CHARTS[k]
    names = [name for name, _ in lines]
    fig = curves(title, xtitle, lines, [(label, series(*names)) for label, series in runs])
    return mark_interventions(fig, interventions, xtitle)


def reward_scatter(history: list, selected: int | None) -> go.Figure:
    """Every sampled architecture's reward by sample number; a point's customdata is its sample number."""
    fig = go.Figure(go.Scatter(
        x=[h["n"] for h in history], y=[h["reward"] for h in history], mode="markers", name="sample",
        customdata=[h["n"] for h in history], text=[h["arch"] for h in history],
        marker=dict(size=7, color=[(h["epoch"] or 0) + 1 for h in history], colorscale="Viridis", showscale=True,
                    colorbar=dict(title="epoch", thickness=10, tick0=1,
                                  dtick=max(1, math.ceil(max((h["epoch"] or 0) for h in history) / 8)))),
        hovertemplate="sample %{customdata}<br>%{text}<br>reward %{y:.3f}<extra></extra>"))
    chosen = [h for h in history if h["n"] == selected]
    if chosen:
        fig.add_trace(go.Scatter(x=[chosen[0]["n"]], y=[chosen[0]["reward"]], mode="markers", name="selected",
                                 hoverinfo="skip", marker=dict(size=16, symbol="circle-open", color="#e31a1c",
                                                               line=dict(width=3))))
    fig = _layout(fig, "Reward of every sampled architecture (click a point)", "sample", height=300, columns=1)
    fig.update_layout(hovermode="closest", showlegend=False, clickmode="event+select")
    return fig


def op_heatmap(policy: dict) -> go.Figure:
    """Op probabilities: one row per node, one column per op."""
    probs = policy["op_probs"]
    fig = go.Figure(go.Heatmap(z=probs, x=policy["ops"], y=[f"node {i}" for i in range(len(probs))],
                               zmin=0, zmax=1, colorscale="Blues", text=[[f"{p:.2f}" for p in row] for row in probs],
                               texttemplate="%{text}", hovertemplate="%{y}: %{x} %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickfont=dict(color="#444"))
    return _layout(fig, "Op probabilities per node", "op", height=240 + 14 * len(probs))


def skip_heatmap(policy: dict) -> go.Figure:
    """Skip probabilities: row i, column j is P(node i adds node j's output); only j < i exists."""
    probs = policy["skip_probs"]
    n = len(probs)
    z = [[probs[i][j] if j < i else None for j in range(n)] for i in range(n)]
    fig = go.Figure(go.Heatmap(z=z, x=[f"from {j}" for j in range(n)], y=[f"node {i}" for i in range(n)],
                               zmin=0, zmax=1, colorscale="Purples",
                               text=[[f"{v:.2f}" if v is not None else "" for v in row] for row in z],
                               texttemplate="%{text}", hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Skip probabilities", "skip from node", height=240 + 14 * n)


def moved_chart(policies: list, still_move: float) -> go.Figure:
    """Per node, how far its op probabilities moved from the start (each policy's `moved`), by search epoch; a
    dashed line at the movement under which the controller counts as not learning."""
    xs = [p["epoch"] + 1 for p in policies]
    fig = go.Figure([go.Scatter(x=xs, y=[p["moved"][i] for p in policies], name=f"node {i}",
                                mode="lines+markers" if len(xs) < 30 else "lines")
                     for i in range(len(policies[-1]["moved"]))])
    fig.add_hline(y=still_move, line_dash="dash", line_color="#555555", annotation_text="'not learning' under this")
    top = max([still_move, *(m for p in policies for m in p["moved"])])
    fig.update_yaxes(range=[0, 1.15 * top or 1.0], title_text="total-variation distance")
    return _layout(fig, "How far the policy moved from its start", "epoch")


def derive_scatter(xs, ys, best_acc=None) -> go.Figure:
    """Validation accuracy of each child scored by derive."""
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="markers", marker=dict(color=OP_COLORS["conv3x3"], size=8),
                               name="child"))
    if best_acc is not None:
        fig.add_hline(y=best_acc, line_dash="dash", line_color="#e31a1c", annotation_text="best")
    return _layout(fig, "Derive: whole-split validation accuracy, shared weights, BN recalibrated", "child",
                   height=260, columns=1)


def derive_chart(xs, ys, ranking: list) -> go.Figure:
    """Derive's scatter, its dashed line labelled with the best child's architecture."""
    fig = derive_scatter(xs, ys, ranking[0]["val_acc"] if ranking else None)
    if ranking:
        fig.update_annotations(text=f"best: {ranking[0]['arch']}")
    return fig


def training_label(k: int, t: dict) -> str:
    """Final training k (0-based, LiveRun.trainings) as its legend names it."""
    return f"#{k + 1} {t['mode']} {t['epochs']} ep. · {t['arch']}"


def final_chart(title: str, xtitle: str, lines, runs) -> go.Figure:
    """A final-training chart (FINAL_CHARTS); its legend names the training of each line (runs are (label,
    series) of each training), one training drawn or several."""
    fig = curves(title, xtitle, lines, runs)
    if len(runs) == 1:
        for trace, (_, line) in zip(fig.data, lines):
            trace.name = runs[0][0] if len(lines) == 1 else f"{line} · {runs[0][0]}"
        fig.update_layout(showlegend=True)
    return fig


def rank_scatter(rows: list, tau: float, interval, selected: str | None = None) -> go.Figure:
    """Rank check: shared-weight against stand-alone validation accuracy, one point per architecture."""
    lo, hi = interval
    fig = go.Figure(go.Scatter(
        x=[r["shared_acc"] for r in rows], y=[r["standalone_acc"] for r in rows], mode="markers",
        customdata=[r["arch"] for r in rows], hovertemplate="%{customdata}<br>shared %{x:.4f}<br>stand-alone "
                                                            "%{y:.4f}<extra></extra>",
        marker=dict(size=[14 if r["arch"] == selected else 9 for r in rows], color=OP_COLORS["conv3x3"],
                    line=dict(width=[3 if r["arch"] == selected else 0 for r in rows], color="#e31a1c"))))
    fig = _layout(fig, f"Rank check: Kendall tau {tau:+.2f} (95% interval {lo:+.2f} to {hi:+.2f}), click a point",
                  "validation accuracy with shared weights (BN recalibrated)", height=320, columns=1)
    fig.update_yaxes(title_text="validation accuracy, trained stand-alone")
    fig.update_layout(hovermode="closest", showlegend=False, clickmode="event+select")
    return fig


def race_chart(result: dict) -> go.Figure:
    """The race: mean test accuracy per side with the seed-to-seed standard deviation, and the random
    architectures' median with their range."""
    metric = result["metric"].split(" (")[0]
    score = "test_acc" if metric == "test accuracy" else "val_acc"
    base = [r[score] for r in result["baseline"]]
    med = result["baseline_median"]
    names = ["ENAS (derived)", "random search (derived)", f"random architectures (median of {len(base)})"]
    means = [result["summary"]["enas"]["mean"], result["summary"]["random"]["mean"], med]
    fig = go.Figure(go.Bar(
        x=names, y=means, marker_color=[OP_COLORS["conv3x3"], OP_COLORS["maxpool3x3"], "#999999"],
        error_y=dict(type="data", symmetric=False, array=[result["summary"]["enas"]["std"],
                                                         result["summary"]["random"]["std"], max(base) - med],
                     arrayminus=[result["summary"]["enas"]["std"], result["summary"]["random"]["std"],
                                 med - min(base)]),
        text=[f"{m:.4f}" for m in means], textposition="inside"))
    fig = _layout(fig, f"Race {result['name']}: {metric} after {result['epochs']} epoch(s) from scratch "
                       f"({len(result['seeds'])} seed(s); bars: +-1 std over seeds, range for random "
                       "architectures)", "", height=320, columns=1)
    fig.update_yaxes(title_text=metric)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def moved_parts(moved: dict) -> go.Figure:
    """One single child step: how much each part's weights moved (relative change), largest first."""
    parts = sorted(moved, key=lambda p: -moved[p])
    fig = go.Figure(go.Bar(x=[moved[p] for p in parts], y=parts, orientation="h"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Relative change of each part's weights, ||w' - w|| / ||w||", "relative change",
                   height=120 + 18 * len(parts), columns=1)


def before_after(ops, before: list, after: list, title: str) -> go.Figure:
    """One node's op probabilities before and after a controller step, side by side."""
    fig = go.Figure([go.Bar(name="before", x=list(ops), y=before, marker_color="#bdbdbd"),
                     go.Bar(name="after", x=list(ops), y=after, marker_color="#1f77b4")])
    return _layout(fig, title, "op", height=260)


# the field of an intervention (`LiveRun.interventions`) that places it on each chart's x axis
MARK_AXIS = {"child step": "step", "controller step": "ctrl_step", "epoch": "epoch_x", "sample": "sample"}
MARK_CHARS = 28   # a rule's label is cut to this many characters (the hover has it whole)


def mark_interventions(fig: go.Figure, interventions: list, xtitle: str) -> go.Figure:
    """A dotted vertical rule with its label at each steering change, placed on this chart's x axis (nothing on
    an axis that has no such field)."""
    field = MARK_AXIS.get(xtitle)
    if field is None:
        return fig
    for k, m in enumerate(interventions):
        if m.get(field) is None:
            continue
        text = m["label"] if len(m["label"]) <= MARK_CHARS else m["label"][:MARK_CHARS - 1] + "…"
        fig.add_vline(x=m[field], line_dash="dot", line_color="#7f7f7f", line_width=1.5)
        fig.add_annotation(x=m[field], y=1, yref="paper", yanchor="top" if k % 2 == 0 else "bottom", text=text,
                           showarrow=False, xanchor="left", font=dict(size=11 * scale(), color="#555555"),
                           hovertext=f"steered by {m['who']}: {m['label']}", bgcolor="rgba(255,255,255,0.7)")
    return fig
