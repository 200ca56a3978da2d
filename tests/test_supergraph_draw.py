"""The supergraph picture: every candidate op and skip drawn faint, one child's ops, skips and path highlighted."""
import re
import time
import xml.etree.ElementTree as ET

import pytest

from enas.space import OPS, Architecture, ArchitectureError
from enas.teach import draw

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(arch, ops=OPS):
    return ET.fromstring(draw.supergraph_svg(arch, ops))


def classes(el) -> set:
    return set(el.get("class", "").split())


def points(path) -> list:
    nums = list(map(float, re.findall(r"-?[\d.]+", path.get("d"))))
    return list(zip(nums[::2], nums[1::2]))


@pytest.mark.parametrize("text, ops", [
    ("c3 c5:1 mp:01 c1:110 ap:0011 c3:10101", OPS),
    ("c1", OPS),
    ("c3 c1:1 c3:11", ("conv1x1", "conv3x3")),
    ("mp ap:0 mp:00 ap:000", ("maxpool3x3", "avgpool3x3", "conv5x5")),
    (" ".join(["c5"] + [f"c1:{'1' * i}" for i in range(1, 9)]), OPS),
])
def test_every_op_and_skip_is_drawn_and_only_the_childs_are_highlighted(text, ops):
    arch = Architecture.parse(text)
    n, k = arch.nodes, len(ops)
    root = parse(arch, ops)
    boxes = root.findall(".//s:g", NS)
    op_boxes = [g for g in boxes if "op-box" in classes(g)]
    assert len(op_boxes) == n * k
    assert sorted((int(g.get("data-node")), g.get("data-op")) for g in op_boxes) == sorted(
        (i, op) for i in range(n) for op in ops)
    chosen = sorted((int(g.get("data-node")), g.get("data-op")) for g in op_boxes if "chosen" in classes(g))
    assert chosen == list(enumerate(arch.ops))
    for g in op_boxes:   # a chosen box names its op in bold, large enough for a projector
        text_el = g.find("s:text", NS)
        assert text_el.text == g.get("data-op")
        if "chosen" in classes(g):
            assert text_el.get("font-weight") == "bold" and float(text_el.get("font-size")) >= 16
            assert g.find("s:rect", NS).get("fill") == draw.OP_COLORS[g.get("data-op")]
        else:
            assert g.get("opacity") is not None and float(g.get("opacity")) < 1

    skips = [p for p in root.iter(f"{{{NS['s']}}}path") if "skip" in classes(p)]
    assert len(skips) == n * (n - 1) // 2
    pairs = {tuple(map(int, re.findall(r"node (\d+)", p.find("s:title", NS).text))): p for p in skips}
    assert sorted(pairs) == sorted((j, i) for i in range(n) for j in range(i))
    assert sorted(jp for jp, p in pairs.items() if "chosen" in classes(p)) == sorted(
        (j, i) for i in range(n) for j in arch.inputs(i))
    junctions = [float(g.find("s:circle", NS).get("cx")) for g in boxes if "junction" in classes(g)]
    assert len(junctions) == n
    for (j, i), p in pairs.items():   # each arc leaves node j's sum junction and lands on node i's
        (x0, _), (x1, _) = points(p)[0], points(p)[-1]
        assert (x0, x1) == (junctions[j], junctions[i])

    edges = [p for p in root.iter(f"{{{NS['s']}}}path") if "edge" in classes(p)]
    assert len(edges) == 2 * n * k + 1          # into and out of every op box, and the last junction to the tail
    assert sum("chosen" in classes(p) for p in edges) == 2 * n + 1
    assert str(arch) in "".join(root.itertext())   # the legend names the child


def test_highlighted_edges_run_through_the_chosen_boxes():
    arch = Architecture.parse("c3 c5:1 mp:01")
    root = parse(arch)
    rects = [g.find("s:rect", NS) for g in root.iter(f"{{{NS['s']}}}g") if "chosen" in classes(g)]
    ends = {pt for p in root.iter(f"{{{NS['s']}}}path") if classes(p) == {"edge", "chosen"}
            for pt in (points(p)[0], points(p)[-1])}
    for r in rects:   # the path enters each chosen box on its left edge and leaves on its right
        x, y, w, h = (float(r.get(a)) for a in ("x", "y", "width", "height"))
        assert any(abs(ex - (x + 4)) < 1e-6 and y < ey < y + h for ex, ey in ends)
        assert any(abs(ex - (x + w - 4)) < 1e-6 and y < ey < y + h for ex, ey in ends)


def test_an_op_outside_the_given_ops_is_refused():
    with pytest.raises(ArchitectureError, match="not in this search space"):
        draw.supergraph_svg(Architecture.parse("c3 mp:1"), ops=("conv3x3", "conv5x5"))


def test_arrowhead_ids_differ_between_pictures_and_from_chain_svg():
    a, b = Architecture.parse("c3 c5:1"), Architecture.parse("c3 c3:1")
    ids = [re.search(r'marker id="([^"]+)"', svg).group(1)
           for svg in (draw.supergraph_svg(a), draw.supergraph_svg(b), draw.chain_svg(a))]
    assert len(set(ids)) == 3


def test_cheap_enough_for_the_live_redraw():
    arch = Architecture.parse("c3 c5:1 mp:01 c1:110 ap:0011 c3:10101")
    start = time.perf_counter()
    for _ in range(20):
        draw.supergraph_svg(arch)
    assert (time.perf_counter() - start) / 20 < 0.02   # measured ~0.15 ms; the redraw is every 2 s
