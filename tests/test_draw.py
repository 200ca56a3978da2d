"""Drawing: the networkx facts, the DOT picture (a coloured node per op, one arc per skip) and SVG."""
import re
import shutil

import pytest

from enas.space import OPS, Architecture
from enas.teach import draw

ARCH = Architecture.parse("c3 c5:1 mp:01 c1:110 ap:0011 c3:10101")


def test_networkx_graph_has_stem_chain_skips_and_tail():
    g = draw.to_networkx(ARCH)
    assert set(g.nodes) == {"stem", "tail"} | {f"n{i}" for i in range(6)}
    kinds = [k for _, _, k in g.edges(data="kind")]
    assert kinds.count("chain") == ARCH.nodes + 1
    assert kinds.count("skip") == ARCH.skip_count == 9


@pytest.mark.parametrize("text, depth, shortest, paths", [
    ("c3", 1, 1, 1),
    ("c3 c3:1", 2, 1, 2),            # a residual around node 1 bypasses its op
    ("c3 c3:0 c3:10", 3, 1, 2),      # node 0 -> node 2 skips two ops
    ("c3 c3:0 c3:00", 3, 3, 1),
    ("c3 c3:1 c3:11", 3, 1, 5),
])
def test_facts_count_ops_on_paths(text, depth, shortest, paths):
    f = draw.facts(Architecture.parse(text))
    assert (f["depth"], f["shortest"], f["paths"]) == (depth, shortest, paths)


def test_dot_has_a_coloured_node_per_op_and_an_arc_per_skip():
    src = draw.to_dot(ARCH).source
    for i, op in enumerate(ARCH.ops):
        line = next(l for l in src.splitlines() if l.strip().startswith(f"n{i} ["))
        assert op in line and f'fillcolor="{draw.OP_COLORS[op]}"' in line
    assert len(re.findall(r"class=skip", src)) == ARCH.skip_count
    assert len(re.findall(r"class=chain", src)) == ARCH.nodes + 1
    assert re.search(r"^\s*stem \[", src, re.M) and re.search(r"^\s*tail \[", src, re.M)
    for op in OPS:  # the legend names every op with its colour
        assert f'BGCOLOR="{draw.OP_COLORS[op]}"' in src


def test_highlight_outlines_only_the_given_nodes():
    other = Architecture.parse("c3 c5:1 c3:01 c1:110 ap:0011 c3:10101")
    changed = draw.diff_nodes(ARCH, other)
    assert changed == {2}
    lines = [l for l in draw.to_dot(ARCH, highlight=changed).source.splitlines() if draw.HIGHLIGHT_COLOR in l]
    assert len(lines) == 1 and lines[0].strip().startswith("n2 [")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot program is not installed")
def test_svg_renders():
    svg = draw.to_svg(ARCH)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "maxpool3x3" in svg


def test_svg_without_dot_says_how_to_install(monkeypatch):
    monkeypatch.setattr(draw.shutil, "which", lambda name: None)
    with pytest.raises(draw.DrawError, match="apt-get install graphviz"):
        draw.to_svg(ARCH)


def _svg(arch, **kw):
    import xml.etree.ElementTree as ET
    ns = {"s": "http://www.w3.org/2000/svg"}
    return ET.fromstring(draw.chain_svg(arch, **kw)), ns


def test_chain_svg_has_a_coloured_box_per_op_and_an_arc_per_skip_landing_on_its_nodes():
    root, ns = _svg(ARCH)
    boxes = {g.find("s:title", ns).text.split(":")[0]: g.find("s:rect", ns)
             for g in root.findall("s:g", ns) if g.get("class") != "legend"}
    assert list(boxes) == ["stem"] + [f"node {i}" for i in range(6)] + ["tail"]
    for i, op in enumerate(ARCH.ops):
        assert boxes[f"node {i}"].get("fill") == draw.OP_COLORS[op]
    assert len(root.findall("s:path[@class='chain']", ns)) == ARCH.nodes + 1
    skips = root.findall("s:path[@class='skip']", ns)
    assert sorted(p.find("s:title", ns).text for p in skips) == sorted(
        f"skip: node {j} -> node {i}" for i in range(ARCH.nodes) for j in ARCH.inputs(i))
    for p in skips:   # each arc leaves the top of node j's box and lands on the top of node i's
        j, i = map(int, re.findall(r"node (\d+)", p.find("s:title", ns).text))
        x0, y0, *_, x1, y1 = map(float, re.findall(r"-?[\d.]+", p.get("d")))
        for x, y, box in ((x0, y0, boxes[f"node {j}"]), (x1, y1, boxes[f"node {i}"])):
            bx, by, bw = float(box.get("x")), float(box.get("y")), float(box.get("width"))
            assert bx < x < bx + bw and by - 1 <= y <= by
    legend = [g.find("s:text", ns).text for g in root.findall("s:g[@class='legend']", ns)]
    assert legend == list(OPS)


def test_chain_svg_outlines_only_highlighted_nodes():
    root, ns = _svg(ARCH, highlight={2, 4})
    red = [g.find("s:title", ns).text.split(":")[0] for g in root.findall("s:g", ns)
           if g.find("s:rect", ns).get("stroke") == draw.HIGHLIGHT_COLOR]
    assert red == ["node 2", "node 4"]


def test_chain_svg_arrowheads_have_an_id_of_their_own_per_picture():
    ids = {re.search(r'marker id="([^"]+)"', draw.chain_svg(a, highlight=h)).group(1)
           for a, h in ((ARCH, None), (ARCH, {1}), (Architecture.parse("c3 c3:1"), None))}
    assert len(ids) == 3
    svg = draw.chain_svg(ARCH)
    marker = re.search(r'marker id="([^"]+)"', svg).group(1)
    assert svg.count(f"url(#{marker})") == ARCH.nodes + 1 + ARCH.skip_count
