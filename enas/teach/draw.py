"""Drawing architectures: a networkx graph for facts (depth, paths), a light SVG for the app, graphviz DOT and
SVG for downloads.

The picture reads left to right: the stem, the chain of nodes (labelled and coloured by op), the tail.
A skip connection j -> i (node i adds node j's output) is a curved arc above the chain.
"""
from __future__ import annotations

import hashlib
import shutil

import graphviz
import networkx as nx

from enas.space import OPS, Architecture, space_size

# Fill colour and font colour of each op: convolutions in blues (darker = larger kernel), pools in warm tones.
OP_COLORS = {
    "conv1x1": "#9ecae1",
    "conv3x3": "#3182bd",
    "conv5x5": "#08519c",
    "maxpool3x3": "#fd8d3c",
    "avgpool3x3": "#fdd0a2",
}
FONT_COLORS = {"conv1x1": "black", "conv3x3": "white", "conv5x5": "white", "maxpool3x3": "black",
               "avgpool3x3": "black"}
END_COLOR = "#d9d9d9"   # stem and tail
SKIP_COLOR = "#6a51a3"
HIGHLIGHT_COLOR = "#e31a1c"


class DrawError(RuntimeError):
    """A picture that cannot be made (e.g. graphviz's `dot` program is missing)."""


def node_id(i: int) -> str:
    return f"n{i}"


def to_networkx(arch: Architecture) -> nx.MultiDiGraph:
    """The child as a DAG whose vertices are outputs: stem, n0 .. n{N-1}, tail.

    A 'chain' edge n{i-1} -> n{i} passes through node i's op (ops=1); a 'skip' edge n{j} -> n{i} adds node j's
    output to node i's, bypassing node i's op (ops=0); a skip from node i-1 is a parallel edge, so the graph
    is a multigraph. Path lengths weighted by `ops` count the ops a signal passes.
    """
    g = nx.MultiDiGraph()
    g.add_node("stem", kind="stem")
    for i, op in enumerate(arch.ops):
        g.add_node(node_id(i), kind="node", op=op, index=i)
    g.add_node("tail", kind="tail")
    chain = ["stem"] + [node_id(i) for i in range(arch.nodes)] + ["tail"]
    for a, b in zip(chain, chain[1:]):
        g.add_edge(a, b, kind="chain", ops=int(b != "tail"))
    for i in range(arch.nodes):
        for j in arch.inputs(i):
            g.add_edge(node_id(j), node_id(i), kind="skip", ops=0)
    return g


def facts(arch: Architecture) -> dict:
    """Layout-free facts: ops on the deepest and shallowest stem-to-tail paths, and the number of such paths."""
    g = to_networkx(arch)
    paths = {"stem": 1}
    for v in nx.topological_sort(g):
        if v != "stem":
            paths[v] = sum(paths[u] for u, _ in g.in_edges(v))
    return {"nodes": arch.nodes, "skips": arch.skip_count,
            "depth": nx.dag_longest_path_length(g, weight="ops"),
            "shortest": nx.shortest_path_length(g, "stem", "tail", weight="ops"),
            "paths": paths["tail"]}


def diff_nodes(arch: Architecture, other: Architecture | None) -> set:
    """Indices of nodes whose op or skips differ from `other` (all nodes when the sizes differ)."""
    if other is None:
        return set()
    if other.nodes != arch.nodes:
        return set(range(arch.nodes))
    return {i for i in range(arch.nodes) if arch.ops[i] != other.ops[i] or arch.skips[i] != other.skips[i]}


def to_dot(arch: Architecture, highlight=None, legend: bool = True, ops=OPS) -> graphviz.Digraph:
    """The picture as DOT: stem, coloured chain, skip arcs (class 'skip'), tail, and a legend of `ops`' colours
    (the graph's label, so it adds no nodes).

    `highlight` is a set of node indices drawn with a thick red outline (e.g. what changed since the last sample).
    """
    highlight = set(highlight or ())
    dot = graphviz.Digraph("architecture")
    dot.attr(rankdir="LR", bgcolor="transparent", nodesep="0.3", ranksep="0.35")
    dot.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="11", penwidth="1")
    dot.attr("edge", color="#525252", arrowsize="0.6")
    dot.node("stem", "stem\\n3x3 conv", fillcolor=END_COLOR)
    for i, op in enumerate(arch.ops):
        extra = {"color": HIGHLIGHT_COLOR, "penwidth": "3"} if i in highlight else {}
        dot.node(node_id(i), f"node {i}\\n{op}", fillcolor=OP_COLORS[op], fontcolor=FONT_COLORS[op],
                 tooltip=f"node {i}: {op}", **{"class": f"op {op}"}, **extra)
    dot.node("tail", "tail\\npool, conv,\\nclassifier", fillcolor=END_COLOR)
    chain = ["stem"] + [node_id(i) for i in range(arch.nodes)] + ["tail"]
    for a, b in zip(chain, chain[1:]):
        dot.edge(a, b, weight="10", **{"class": "chain"})
    for i in range(arch.nodes):
        for j in arch.inputs(i):
            dot.edge(node_id(j), node_id(i), constraint="false", color=SKIP_COLOR,
                     penwidth="1.5", tooltip=f"skip: node {j} -> node {i}", **{"class": "skip"})
    if legend:
        cells = "".join(f'<TD BGCOLOR="{OP_COLORS[op]}"><FONT COLOR="{FONT_COLORS[op]}">{op}</FONT></TD>' for op in ops)
        dot.attr(label=f'<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3"><TR><TD>ops:</TD>{cells}</TR></TABLE>>',
                 labelloc="b", fontname="Helvetica", fontsize="10")
    return dot


BOX_W, BOX_H, GAP, PAD = 84, 42, 26, 10   # chain_svg's layout, in SVG units


def chain_svg(arch: Architecture, highlight=None, ops=OPS) -> str:
    """The picture as a self-contained SVG laid out here, without graphviz: boxes in a row, one arc per skip above
    them (higher for longer skips), a legend of `ops`' colours below. Cheap enough for the browser to redraw every
    second; `highlight` outlines the given node indices in red.
    """
    highlight = set(highlight or ())
    # the arrowhead's id, unique to this picture: several pictures share one page
    arrow = "arrow-" + hashlib.sha1(f"{arch} {sorted(highlight)} {ops}".encode()).hexdigest()[:10]
    labels = [("stem", "3x3 conv", END_COLOR, "black", "stem")]
    labels += [(f"node {i}", op, OP_COLORS[op], FONT_COLORS[op], f"op {op}") for i, op in enumerate(arch.ops)]
    labels.append(("tail", "classifier", END_COLOR, "black", "tail"))
    rise = 16 + 14 * max((i - j for i in range(arch.nodes) for j in arch.inputs(i)), default=0)
    top = PAD + rise                                   # y of the boxes' top edge
    left = [PAD + k * (BOX_W + GAP) for k in range(len(labels))]
    width, height = left[-1] + BOX_W + PAD, top + BOX_H + 44
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'style="max-width:{width * 1.4:.0f}px" font-family="Helvetica, Arial, sans-serif" role="img">',
           f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>']
    for k, (name, text, fill, font, cls) in enumerate(labels):
        i = k - 1
        stroke = (f'stroke="{HIGHLIGHT_COLOR}" stroke-width="3"' if i in highlight else 'stroke="#525252"')
        x = left[k]
        out.append(f'<g class="{cls}"><title>{name}: {text}</title><rect x="{x}" y="{top}" width="{BOX_W}" '
                   f'height="{BOX_H}" rx="7" fill="{fill}" {stroke}/>'
                   f'<text x="{x + BOX_W / 2}" y="{top + 17}" font-size="12" text-anchor="middle" '
                   f'fill="{font}">{name}</text><text x="{x + BOX_W / 2}" y="{top + 33}" font-size="13" '
                   f'font-weight="bold" text-anchor="middle" fill="{font}">{text}</text></g>')
    y = top + BOX_H / 2
    for k in range(len(labels) - 1):
        out.append(f'<path class="chain" d="M{left[k] + BOX_W},{y} L{left[k + 1] - 1},{y}" stroke="#525252" '
                   f'stroke-width="1.5" fill="none" marker-end="url(#{arrow})"/>')
    for i in range(arch.nodes):
        for j in arch.inputs(i):
            span = i - j
            shift = min(BOX_W / 2 - 8, 5 * span)        # longer arcs leave further right and land further left
            x0, x1 = left[j + 1] + BOX_W / 2 + shift, left[i + 1] + BOX_W / 2 - shift
            h = 16 + 14 * span
            out.append(f'<path class="skip" d="M{x0},{top} C{x0},{top - h} {x1},{top - h} {x1},{top - 1}" '
                       f'stroke="{SKIP_COLOR}" stroke-width="1.8" fill="none" marker-end="url(#{arrow})">'
                       f'<title>skip: node {j} -> node {i}</title></path>')
    x, ly = PAD, top + BOX_H + 26
    out.append(f'<text x="{x}" y="{ly + 12}" font-size="11" fill="#444">ops:</text>')
    x += 34
    for op in ops:
        w = 9 + 6.6 * len(op)
        out.append(f'<g class="legend"><rect x="{x}" y="{ly}" width="{w}" height="17" rx="3" fill="{OP_COLORS[op]}"/>'
                   f'<text x="{x + w / 2}" y="{ly + 12.5}" font-size="11" text-anchor="middle" '
                   f'fill="{FONT_COLORS[op]}">{op}</text></g>')
        x += w + 6
    out.append("</svg>")
    return "".join(out)


def to_svg(arch: Architecture, highlight=None) -> str:
    """The picture as SVG text; needs graphviz's `dot` program."""
    if shutil.which("dot") is None:
        raise DrawError("graphviz's `dot` program is not installed, so no SVG can be made "
                        "(install it: apt-get install graphviz, or brew install graphviz)")
    try:
        return to_dot(arch, highlight).pipe(format="svg").decode()
    except graphviz.ExecutableNotFound as e:
        raise DrawError(f"graphviz's `dot` program could not be run: {e}") from None


SG_W, SG_H, SG_GAP, SG_PITCH = 108, 26, 8, 168   # supergraph_svg's op boxes and column pitch, in SVG units
FAINT_EDGE, FAINT_SKIP = "#d4d4d4", "#dcd3ee"


def supergraph_svg(arch: Architecture, ops=OPS) -> str:
    """The whole supergraph as a self-contained SVG, `arch`'s path highlighted: one column per node holding every
    candidate op of `ops` (class "op-box", the chosen one "op-box chosen"), a sum junction after each column, every
    possible skip as an arc between junctions (class "skip"; the chosen ones "skip chosen"), and the edges
    (class "edge") stem -> ops -> junction -> ops ... -> tail, faint except the child's. Laid out here, no graphviz.
    """
    arch.check_space(arch.nodes, ops)
    n, k = arch.nodes, len(ops)
    marker = "sg-arrow-" + hashlib.sha1(f"{arch} {ops}".encode()).hexdigest()[:10]
    col_h = k * SG_H + (k - 1) * SG_GAP
    top = PAD + 16 + 11 * n                              # room for the longest skip arc (span n - 1)
    mid = top + col_h / 2
    bend = max(mid - 22, top - 6)                        # where skip arcs turn up from (or down into) a junction
    stem_x = PAD
    col_x = [stem_x + 70 + 40 + i * SG_PITCH for i in range(n)]   # left edge of node i's column
    junction = [x + SG_W + 29 for x in col_x]            # x of node i's sum junction
    tail_x = junction[-1] + 40
    width, height = max(tail_x + 80 + PAD, 700), top + col_h + 80
    faint, chosen = [], []

    def edge(d, on):
        (chosen if on else faint).append(
            f'<path class="edge{" chosen" if on else ""}" d="{d}" fill="none" '
            + ('stroke="#252525" stroke-width="2.6"/>' if on else f'stroke="{FAINT_EDGE}" stroke-width="1"/>'))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'style="max-width:{width * 1.3:.0f}px" font-family="Helvetica, Arial, sans-serif" role="img">',
           f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{SKIP_COLOR}"/></marker></defs>']
    for i in range(n):                                   # skips: every pair j < i, from junction j to junction i
        for j in range(i):
            on = bool(arch.skips[i][j])
            fan = min(4 * (i - j), 24)                   # longer skips leave and land further from the junction
            x0, x1, h, y = junction[j] + fan, junction[i] - fan, 14 + 14 * (i - j), top - 6
            style = (f'stroke="{SKIP_COLOR}" stroke-width="2.6" marker-end="url(#{marker})"' if on
                     else f'stroke="{FAINT_SKIP}" stroke-width="1"')
            (chosen if on else faint).append(
                f'<path class="skip{" chosen" if on else ""}" d="M{junction[j]},{mid - 8} L{x0},{bend} L{x0},{y} '
                f'C{x0},{y - h} {x1},{y - h} {x1},{y} L{x1},{bend} L{junction[i]},{mid - 9}" fill="none" {style}>'
                f'<title>skip: node {j} -> node {i}</title></path>')
    boxes = []
    for i in range(n):
        src = stem_x + 70 if i == 0 else junction[i - 1] + 8
        for r, op in enumerate(ops):
            on = arch.ops[i] == op
            y = top + r * (SG_H + SG_GAP)
            edge(f"M{src},{mid} L{col_x[i]},{y + SG_H / 2}", on)
            edge(f"M{col_x[i] + SG_W},{y + SG_H / 2} L{junction[i] - 8},{mid}", on)
            if on:
                boxes.append(f'<g class="op-box chosen" data-node="{i}" data-op="{op}"><title>node {i}: {op} '
                             f'(this child)</title><rect x="{col_x[i] - 4}" y="{y - 4}" width="{SG_W + 8}" '
                             f'height="{SG_H + 8}" rx="6" fill="{OP_COLORS[op]}" stroke="#252525" stroke-width="2.6"/>'
                             f'<text x="{col_x[i] + SG_W / 2}" y="{y + SG_H / 2 + 6}" font-size="16" '
                             f'font-weight="bold" text-anchor="middle" fill="{FONT_COLORS[op]}">{op}</text></g>')
            else:
                boxes.append(f'<g class="op-box" data-node="{i}" data-op="{op}" opacity="0.45"><title>node {i}: '
                             f'{op} (not sampled)</title><rect x="{col_x[i]}" y="{y}" width="{SG_W}" '
                             f'height="{SG_H}" rx="4" fill="{OP_COLORS[op]}" fill-opacity="0.5" stroke="#969696"/>'
                             f'<text x="{col_x[i] + SG_W / 2}" y="{y + SG_H / 2 + 4}" font-size="11" '
                             f'text-anchor="middle" fill="#525252">{op}</text></g>')
        boxes.append(f'<g class="junction"><title>node {i} output: its op plus its skips, then BN</title>'
                     f'<circle cx="{junction[i]}" cy="{mid}" r="8" fill="white" stroke="#252525" stroke-width="1.5"/>'
                     f'<text x="{junction[i]}" y="{mid + 4.5}" font-size="13" text-anchor="middle">+</text></g>'
                     f'<text x="{col_x[i] + SG_W / 2}" y="{top + col_h + 24}" font-size="15" font-weight="bold" '
                     f'text-anchor="middle" fill="#252525">node {i}</text>')
    edge(f"M{junction[-1] + 8},{mid} L{tail_x},{mid}", True)
    out += faint + chosen + boxes
    for x, w, name, text in ((stem_x, 70, "stem", "3x3 conv"), (tail_x, 80, "tail", "classifier")):
        out.append(f'<g class="{name}"><rect x="{x}" y="{mid - 24}" width="{w}" height="48" rx="7" fill="{END_COLOR}" '
                   f'stroke="#525252"/><text x="{x + w / 2}" y="{mid - 4}" font-size="13" text-anchor="middle">'
                   f'{name}</text><text x="{x + w / 2}" y="{mid + 13}" font-size="11" text-anchor="middle">{text}'
                   '</text></g>')
    ly = top + col_h + 52
    out.append(f'<text class="legend" x="{PAD}" y="{ly}" font-size="14" fill="#252525"><tspan font-weight="bold">'
               f'Bold: this child</tspan> {arch}</text><text class="legend" x="{PAD}" y="{ly + 20}" font-size="14" '
               f'fill="#737373">Faint: the rest of the supergraph, every candidate op and skip; all '
               f'{_count(space_size(n, ops))} children share its weights.</text>')
    return "".join(out) + "</svg>"


def _count(size: int) -> str:
    return f"{size:,}" if size < 10 ** 12 else f"{size:.2e}"
