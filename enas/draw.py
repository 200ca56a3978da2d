"""Drawing architectures: a networkx graph for facts (depth, paths), graphviz DOT and SVG for pictures.

The picture reads left to right: the stem, the chain of nodes (labelled and coloured by op), the tail.
A skip connection j -> i (node i adds node j's output) is a curved arc above the chain.
"""
from __future__ import annotations

import shutil

import graphviz
import networkx as nx

from .space import OPS, Architecture

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


def to_svg(arch: Architecture, highlight=None) -> str:
    """The picture as SVG text; needs graphviz's `dot` program."""
    if shutil.which("dot") is None:
        raise DrawError("graphviz's `dot` program is not installed, so no SVG can be made "
                        "(install it: apt-get install graphviz, or brew install graphviz)")
    try:
        return to_dot(arch, highlight).pipe(format="svg").decode()
    except graphviz.ExecutableNotFound as e:
        raise DrawError(f"graphviz's `dot` program could not be run: {e}") from None
