"""Slides of a run: one frame per epoch (architecture, policy, reward), as a GIF and as one self-contained HTML
page, from the library, the command line and the app; made from a tiny real search on the built-in shapes data."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import tiny_config
from PIL import Image

from enas.cli.main import main
from enas.engine.search import Engine
from enas.runs.store import RunStore
from enas.space import Architecture
from enas.teach import slides
from enas.teach.draw import OP_COLORS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 3-epoch search whose controller trains every 2nd epoch: epoch 1 has no sample, epoch 3 none new."""
    runs = tmp_path_factory.mktemp("slides") / "runs"
    config = tiny_config(epochs=3, controller_every=2)
    store = RunStore.create(runs, "tiny", config)
    assert Engine(config, store, []).run(("search",)) == "finished"
    return runs, store


def test_one_frame_per_epoch_with_the_last_sample_or_the_policys_most_likely(run):
    _, store = run
    policies = {ev["epoch"]: ev for ev in store.events("policy")}
    last = [ev["arch"] for ev in store.events("sample") if ev["epoch"] == 1][-1]
    fr = slides.frames(store)
    assert [f.epoch for f in fr] == [1, 2, 3] and {f.epochs for f in fr} == {3}
    p0 = policies[0]
    assert fr[0].arch == str(Architecture.most_likely(p0["ops"], p0["op_probs"], p0["skip_probs"]))
    assert "most likely" in fr[0].source
    assert fr[1].arch == last and fr[1].source == "the controller's last sample in epoch 2"
    assert fr[2].arch == last and fr[2].source == "the controller's last sample, from epoch 2"
    val = {ev["epoch"]: ev["val_acc"] for ev in store.events("epoch")}
    assert [f.reward for f in fr] == [None, val[1], None] and val[1] is not None
    for f in fr:
        assert f.policy == {k: policies[f.epoch - 1][k] for k in ("ops", "op_probs", "skip_probs")}
    assert [f.epoch for f in slides.frames(store, every=2)] == [1, 3]
    assert [f.epoch for f in slides.frames(store, every=5)] == [1, 3]   # the last epoch is always shown


def test_gif_has_a_1280x720_frame_per_epoch_drawing_the_architectures_ops(run, tmp_path):
    _, store = run
    path = tmp_path / "s.gif"
    done = slides.export(store, gif=path, fps=4)
    assert done == {"frames": 3, "files": {str(path): path.stat().st_size}}
    assert not list(tmp_path.glob("*.tmp"))
    fr = slides.frames(store)
    with Image.open(path) as im:
        assert (im.format, im.size, im.n_frames, im.info["loop"]) == ("GIF", (1280, 720), 3, 0)
        for k, f in enumerate(fr):
            im.seek(k)
            assert im.info["duration"] == (250 if k < 2 else 750)   # the last frame is held
            pixels = {c: n for n, c in im.convert("RGB").getcolors(1 << 16)}
            drawn = {op for op, hex_ in OP_COLORS.items()        # a filled box, not a few stray text pixels
                     if pixels.get(tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)), 0) > 2000}
            assert drawn == set(Architecture.parse(f.arch).ops)   # a box in its op's colour per node, no other


def test_a_hundred_epochs_make_a_small_gif(tmp_path):
    """The GIF's size for a long run: frames share a palette and only their changes are stored."""
    from enas.teach.slides_gif import gif_bytes
    ops = ("conv1x1", "conv3x3", "conv5x5", "maxpool3x3", "avgpool3x3")
    fr = []
    for e in range(100):
        t = e / 99
        probs = [[(1 - t) / 5 + t * (k == (i + e // 10) % 5) for k in range(5)] for i in range(6)]
        skip = [[(0.5 + 0.4 * t * (-1) ** (i + j)) if j < i else 0.0 for j in range(6)] for i in range(6)]
        arch = Architecture.most_likely(ops, probs, skip)
        fr.append(slides.Frame(e + 1, 100, str(arch), "test", 0.3 + 0.5 * t, {"ops": list(ops), "op_probs": probs,
                                                                               "skip_probs": skip}))
    data = gif_bytes(fr, "long", fps=10)
    assert len(data) < 4e6
    (tmp_path / "long.gif").write_bytes(data)
    with Image.open(tmp_path / "long.gif") as im:
        assert im.n_frames == 100


class Page(HTMLParser):
    """Checks that every element is closed in order; collects frame templates, their text and links."""
    VOID = {"meta", "input", "br", "img", "link", "path", "rect", "circle"}

    def __init__(self):
        super().__init__()
        self.stack, self.frames, self.links, self.scripts = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self.scripts.append(a)
        if tag == "template":
            self.frames.append({**a, "text": ""})
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        if "template" in self.stack:
            self.frames[-1]["text"] += data


def test_html_is_one_self_contained_page_with_a_frame_per_epoch(run, tmp_path):
    _, store = run
    path = tmp_path / "s.html"
    slides.export(store, html_path=path, fps=3)
    text = path.read_text()
    page = Page()
    page.feed(text)
    page.close()
    assert page.stack == []
    assert all(not re.match(r"\s*(https?:)?//", link) for link in page.links)   # nothing fetched from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert page.scripts == [{}]                                          # one inline script, no src
    assert "const FPS = 3.0;" in text
    fr = slides.frames(store)
    assert [t["class"] for t in page.frames] == ["frame"] * 3
    assert [(int(t["data-epoch"]), t["data-arch"]) for t in page.frames] == [(f.epoch, f.arch) for f in fr]
    for t, f in zip(page.frames, fr):
        assert f"Epoch {f.epoch} / 3" in t["text"] and f.arch in t["text"] and f.source in t["text"]
        assert "Op probabilities per node" in t["text"] and "Skip probabilities" in t["text"]
    for svg in re.findall(r"<svg.*?</svg>", text, re.S):                 # every picture is well-formed SVG
        ET.fromstring(svg)


def test_html_escapes_text():
    f = slides.Frame(1, 1, "c3 c5:1", 'a <b>"source"</b> & more', None, None)
    text = slides.html_text([f], "x<script>alert(1)</script>", ("conv3x3", "conv5x5"))
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "<b>" not in text and "a &lt;b&gt;&quot;source&quot;&lt;/b&gt; &amp; more" in text
    assert "No policy was recorded for this epoch" in text


def enas(*args, runs):
    return subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs), "slides", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_both_files_where_asked_or_into_the_run_folder(run, tmp_path):
    runs, store = run
    proc = enas("tiny", "--gif", tmp_path / "a.gif", "--html", tmp_path / "a.html", "--every", 2, "--fps", 5,
                runs=runs)
    assert proc.returncode == 0, proc.stderr
    assert f"{tmp_path / 'a.gif'}: 2 frames" in proc.stdout and f"{tmp_path / 'a.html'}: 2 frames" in proc.stdout
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 2 and im.info["duration"] == 200
    assert (tmp_path / "a.html").read_text().count('<template class="frame"') == 2
    assert main(["--runs-dir", str(runs), "slides", "tiny"]) == 0
    assert (store.path / "slides.gif").is_file() and (store.path / "slides.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["nothing"], "no run at"),
    (["empty"], "run 'empty' has no finished epoch yet"),
    (["tiny", "--gif", "{tmp}/no/such/dir/a.gif"], "cannot write {tmp}/no/such/dir/a.gif: no folder"),
    (["tiny", "--html", "{tmp}"], "cannot write {tmp}: it is a folder"),
    (["tiny", "--fps", "0"], "--fps 0: must be above 0"),
    (["tiny", "--every", "0"], "--every 0: must be a whole number, at least 1"),
])
def test_cli_errors_are_one_line(run, tmp_path, capsys, args, message):
    runs, _ = run
    if not (runs / "empty").exists():
        RunStore.create(runs, "empty", tiny_config()).close()
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["--runs-dir", str(runs), "slides", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(tmp=tmp_path) in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.gif")) and not list(tmp_path.rglob("*.html"))


def slides_page(runs_dir, name):
    from app.slides import (
        slides_buttons,  # the AppTest runs this function's source alone
    )
    slides_buttons(runs_dir, name)


def test_app_prepares_slides_only_when_asked_then_offers_both_downloads(run):
    from streamlit.testing.v1 import AppTest
    runs, _ = run
    at = AppTest.from_function(slides_page, args=(str(runs), "tiny"), default_timeout=60)
    at.run()
    assert not at.exception and "slides_tiny" not in at.session_state
    assert [b.label for b in at.button] == ["Prepare slides"] and not at.get("download_button")
    at.button(key="slides_prepare_tiny").click().run()
    assert not at.exception, at.exception
    made = at.session_state["slides_tiny"]
    assert made["frames"] == 3 and made["gif"].startswith(b"GIF89a") and b"<template" in made["html"]
    assert [b.proto.label for b in at.get("download_button")] == ["Slides (GIF)", "Slides (HTML)"]
    assert "epochs 1 to 3: 3 frames" in at.caption[0].value

    at = AppTest.from_function(slides_page, args=(str(runs), "empty"), default_timeout=60)
    at.run()
    at.button(key="slides_prepare_empty").click().run()
    assert "has no finished epoch yet" in at.warning[0].value and not at.get("download_button")
