"""Trying the trained child on an image (issue 21, item 4): a tiny child trained on a real image folder, probed on
its test images and on uploads; the laptop demo's recorded weights; the Derive & final tab's view (AppTest)."""
import gzip
import hashlib
import importlib.util
import io
import json
import shutil
import struct
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import CIFAR_FOLDER, tiny_config

from app import replay as app_replay
from enas.data.device import DeviceData
from enas.data.shapes import SHAPES_CLASSES, make_shapes
from enas.engine.children import evaluate
from enas.engine.search import Engine
from enas.formats import pytorch_source
from enas.runs import recording
from enas.runs.store import RunStore
from enas.space import Architecture
from enas.teach.probe import (
    MAX_PIXELS,
    ProbeError,
    load_child,
    normalise,
    probe,
    probe_split,
    read_image,
)

SIZE = 24                       # the tiny run's image size: its files are 24x24 JPEGs and 40x30 PNGs
ARCH = "c3 mp:1 c5:01"          # node 0 without a BN (first_node_bn off): its output is the op's
LAPTOP = "cifar10-laptop-demo"
# the laptop demo as first recorded, before it carried weights: 12,187 events, the sha256 of their JSON, and that
# of its meta, whose dataset was then the recording machine's absolute path
LAPTOP_EVENTS = (12187, "b542a1d4fee4ea9debd54407ef2db17f2bc47a98f1d0e31f9f2240a53775a908")
LAPTOP_META = ("folder:/work/shared/data/cifar10-jpeg/train",
               "cfcdd8ce57de5f8c8bb4d7d58460343f916d6775710e93615934c5444f8e50a8")


def sha256(obj) -> str:
    """The sha256 of `obj` as compact JSON (as a recording stores it)."""
    return hashlib.sha256(json.dumps(obj, separators=(",", ":")).encode()).hexdigest()


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def png_header(w: int, h: int) -> bytes:
    """A w x h RGB PNG without its pixels (an empty IDAT): what a reader sees before decoding, a huge image cheaply."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", b"") + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder of 300 shapes images (every other one a 24x24 JPEG, the rest 40x30 PNGs: resized and squashed), a
    run on it whose child `ARCH` was trained from scratch for 1 epoch, and that child loaded from its final.pt."""
    root = tmp_path_factory.mktemp("tiny")
    images, labels = make_shapes(300, seed=3, image_size=40)
    files = {}
    for k, (x, y) in enumerate(zip(images, labels.tolist())):
        folder = root / "data" / SHAPES_CLASSES[y]
        folder.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(x.permute(1, 2, 0).numpy())
        path = folder / (f"{k}.jpg" if k % 2 else f"{k}.png")
        if k % 2:
            im.resize((SIZE, SIZE)).save(path, "JPEG", quality=90)
        else:
            im.resize((40, 30)).save(path, "PNG")
        files[path.name] = path.read_bytes()
    config = tiny_config(dataset=f"folder:{root / 'data'}", data_dir=str(root / "cache"), image_size=SIZE,
                         val_size=30, train_subset=None, nodes=3)
    store = RunStore.create(root / "runs", "probe", config)
    engine = Engine(store.config(), store)
    result = engine.train_final(Architecture.parse(ARCH), "scratch", 1)
    store.commit()
    return {"root": root, "files": files, "config": store.config(), "data": engine.dataset, "store": store,
            "result": result, "child": load_child(store.path / "final.pt", SIZE)}


def exported(tiny):
    """The child as its standalone export builds it (`python -m enas export`), with the run's final.pt loaded."""
    path = tiny["root"] / "child.py"
    path.write_text(pytorch_source(Architecture.parse(ARCH), tiny["config"], tiny["data"].classes))
    spec = importlib.util.spec_from_file_location("exported_child", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(tiny["store"].path / "final.pt")


def test_the_probabilities_are_the_softmax_of_the_child_s_own_output_on_the_loader_s_batch(tiny):
    d, child = tiny["data"], tiny["child"]
    net = exported(tiny)
    batch = next(DeviceData(d.test, d.mean, d.std).batches(len(d.test)))[0]   # as final training evaluated them
    with torch.no_grad():
        want = torch.softmax(net(batch), 1)
    for k in range(5):
        p = probe(child, d.test.images[k])
        assert p.probs.sum().item() == pytest.approx(1.0, abs=1e-6)
        torch.testing.assert_close(p.probs, want[k], atol=1e-6, rtol=1e-5)
        order = torch.argsort(want[k], descending=True)[:3].tolist()
        assert [c for c, _ in p.top] == [d.classes[i] for i in order]
        assert [q for _, q in p.top] == pytest.approx(want[k][order].tolist(), abs=1e-6)


def test_probing_every_test_image_scores_the_test_accuracy_final_training_recorded(tiny):
    d, child = tiny["data"], tiny["child"]
    hits = sum(probe(child, x).top[0][0] == d.classes[y] for x, y in zip(d.test.images, d.test.labels.tolist()))
    assert len(d.test) == 30 and hits / len(d.test) == tiny["result"]["test_acc"]


def test_an_uploaded_test_image_is_prepared_exactly_as_the_data_loader_prepared_it(tiny):
    d = tiny["data"]
    label, split, classes = probe_split(tiny["config"])
    assert label == "test" and torch.equal(split.images, d.test.images) and classes == d.classes
    loader = next(DeviceData(d.test, d.mean, d.std).batches(len(d.test)))[0]
    uploads = {name: read_image(data, SIZE, name) for name, data in tiny["files"].items()}
    kinds = set()
    for k in range(len(d.test)):
        name, (image, notes) = next((n, u) for n, u in uploads.items() if torch.equal(u[0], d.test.images[k]))
        assert torch.equal(normalise(image, d.mean, d.std), loader[k:k + 1])
        kinds.add(name[-3:])
        assert notes == ([] if name.endswith(".jpg") else
                         [(f"resized from 40x30 to {SIZE}x{SIZE} pixels (bicubic, squashed to a square), as the "
                           "data loader does")])
    assert kinds == {"jpg", "png"}   # both of the loader's decoders (libjpeg-turbo at size, PIL otherwise)


def test_each_node_has_a_map_of_the_image_s_size_and_a_strength_from_its_own_output(tiny):
    d, child = tiny["data"], tiny["child"]
    net = exported(tiny)
    outputs = {}
    for i, bn in enumerate(net.bns):
        bn.register_forward_hook(lambda m, a, out, i=i: outputs.__setitem__(i, out[0].clone()))
    with torch.no_grad():
        net(next(DeviceData(d.test, d.mean, d.std).batches(1))[0])
    p = probe(child, d.test.images[0])
    assert p.maps.shape == (3, SIZE, SIZE) and p.grid == (SIZE // 2, SIZE // 2)   # after the stem's maxpool
    for i in range(3):
        grid = outputs[i].abs().mean(0)                   # [12, 12]: mean |activation| over the 8 channels
        assert p.strength[i] == pytest.approx(outputs[i].abs().mean().item(), rel=1e-5)
        for a, b in ((0, 0), (0, -1), (-1, 0), (-1, -1)):  # bilinear x2 (align_corners off) keeps the corners
            assert p.maps[i][a, b].item() == pytest.approx(grid[a, b].item(), rel=1e-5)
        assert grid.min() - 1e-6 <= p.maps[i].min() and p.maps[i].max() <= grid.max() + 1e-6
    assert p.ranking == sorted(range(3), key=lambda i: -p.strength[i])
    with pytest.raises(ProbeError, match=r"the image must be uint8 \[3, 24, 24\], got torch.uint8 \[3, 32, 32\]"):
        probe(child, torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_sessions_probing_one_cached_child_at_once_each_get_their_own_image_s_answer(tiny):
    d, child = tiny["data"], tiny["child"]
    alone = [probe(child, x) for x in d.test.images[:8]]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda x: probe(child, x), list(d.test.images[:8]) * 3))
    for a, b in zip(alone * 3, together):
        assert torch.equal(a.probs, b.probs) and torch.equal(a.maps, b.maps) and a.strength == b.strength


def test_bad_uploads_are_refused_with_a_message_that_says_why(tmp_path):
    def refused(data, match):
        with pytest.raises(ProbeError, match=match):
            read_image(data, SIZE, "up.png")
    refused(b"hello, not an image", r"^up.png is not an image: upload a PNG or JPEG file$")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    refused(gif.getvalue(), r"^up.png is a GIF image; upload a PNG or JPEG file$")
    refused(png_header(8000, 6000), r"^up.png is 8,000x6,000 pixels \(48 megapixels\); images up to "
                                    r"40 megapixels are accepted: make it smaller first$")
    assert 8000 * 6000 > MAX_PIXELS
    refused(png_header(20000, 20000), r"far more pixels than the 40 megapixels accepted")   # PIL's bomb limit
    refused(b"\x89PNG" + bytes(21 * 2**20), r"^up.png is 21.0 MiB; images up to 20 MiB are accepted$")
    whole = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    refused(whole[:len(whole) * 2 // 3], r"^up.png is damaged: it cannot be decoded as a PNG image \(image file is "
                                         r"truncated\)$")


def test_grayscale_and_transparent_uploads_are_converted_as_the_loader_does_and_say_so():
    grey = Image.fromarray(np.arange(64 * 48, dtype=np.uint8).reshape(48, 64) % 251, "L")
    image, notes = read_image(png(grey), SIZE, "grey.png")
    assert image.shape == (3, SIZE, SIZE) and torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    assert notes == [("grey.png is a grayscale image (L): its one channel was copied into red, green and blue, as "
                      "the data loader does; the child learned from colour images"),
                     (f"resized from 64x48 to {SIZE}x{SIZE} pixels (bicubic, squashed to a square), as the data "
                      "loader does")]
    clear = Image.new("RGBA", (SIZE, SIZE), (10, 200, 30, 0))     # wholly transparent: white, as training images
    image, notes = read_image(png(clear), SIZE, "clear.png")
    assert (image == 255).all() and notes == [("clear.png has transparent parts (RGBA): they were put on white, as "
                                               "the data loader does")]


def test_a_weights_file_that_is_not_a_child_is_refused(tmp_path, tiny):
    with pytest.raises(ProbeError, match="no such weights file"):
        load_child(tmp_path / "final.pt", SIZE)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ProbeError, match="is not a readable weights file"):
        load_child(tmp_path / "junk.pt", SIZE)
    torch.save({"format": "enas-explorer", "kind": "checkpoint"}, tmp_path / "ckpt.pt")
    with pytest.raises(ProbeError, match="does not hold the weights of a trained child"):
        load_child(tmp_path / "ckpt.pt", SIZE)
    obj = torch.load(tiny["store"].path / "final.pt", weights_only=True)
    torch.save({**obj, "channels": 16}, tmp_path / "wrong.pt")
    with pytest.raises(ProbeError, match="its weights do not make a child"):
        load_child(tmp_path / "wrong.pt", SIZE)


# --- recordings carrying the final child's weights ---------------------------------------------------------------
def test_a_recording_carries_the_final_weights_and_an_old_one_without_them_still_loads(tiny, tmp_path):
    path = tmp_path / "rec.json.gz"
    done = recording.save(tiny["store"], path)
    weights = (tiny["store"].path / "final.pt").read_bytes()
    assert done["weights"] == len(weights)
    runs = recording.materialize(path, "again", cache=tmp_path / "cache")
    assert (runs / "again" / "final.pt").read_bytes() == weights
    assert json.loads((runs / "again" / "final.json").read_text()) == tiny["result"]

    rec = recording.load(path)
    old = tmp_path / "old.json.gz"                       # as recordings were before they carried weights
    with gzip.open(old, "wt") as f:
        json.dump({k: v for k, v in rec.items() if k != "final"}, f)
    runs = recording.materialize(old, "old", cache=tmp_path / "cache")
    assert (runs / "old" / "run.db").is_file() and not (runs / "old" / "final.pt").exists()
    assert [e["kind"] for e in RunStore.open(runs, "old").events()] == [e[0] for e in rec["events"]]

    rec["final"]["pt"] = rec["final"]["pt"][:-8] + "AAAAAAAA"
    with gzip.open(tmp_path / "bad.json.gz", "wt") as f:
        json.dump(rec, f)
    with pytest.raises(recording.RecordingError, match="the final weights it carries are damaged"):
        recording.materialize(tmp_path / "bad.json.gz", "bad", cache=tmp_path / "cache")


def test_weights_of_another_architecture_than_the_result_are_not_recorded(tiny, tmp_path):
    folder = tmp_path / "runs" / "probe"
    shutil.copytree(tiny["store"].path, folder)
    (folder / "final.json").write_text(json.dumps({**tiny["result"], "arch": "c1 c1:0 c1:00"}))
    assert recording.save(RunStore.open(tmp_path / "runs", "probe"), tmp_path / "rec.json.gz")["weights"] == 0
    assert "final" not in recording.load(tmp_path / "rec.json.gz")


@pytest.fixture(scope="module")
def laptop(tmp_path_factory):
    """The shipped laptop demo, rebuilt, and the child in its final.pt."""
    runs = recording.materialize(app_replay.ASSETS / f"{LAPTOP}.json.gz", LAPTOP, cache=tmp_path_factory.mktemp("c"))
    store = RunStore.open(runs, LAPTOP)
    return store, load_child(store.path / "final.pt", store.config().image_size)


@pytest.fixture(scope="module")
def laptop_split(laptop):
    """The laptop demo's test split, from the CIFAR-10 folder beside the project (its recorded dataset)."""
    if not CIFAR_FOLDER.is_dir():
        pytest.skip(f"the CIFAR-10 folder {CIFAR_FOLDER} is absent")
    return probe_split(laptop[0].config().replace(dataset=f"folder:{CIFAR_FOLDER}"))


def test_the_laptop_demo_carries_its_child_s_weights_and_its_events_as_recorded(laptop):
    rec = recording.load(app_replay.ASSETS / f"{LAPTOP}.json.gz")
    assert (len(rec["events"]), sha256(rec["events"])) == LAPTOP_EVENTS
    meta = rec["meta"]
    assert meta["config"]["dataset"] == "folder:../shared/data/cifar10-jpeg/train"   # beside the project, portable
    then, digest = LAPTOP_META
    assert sha256({**meta, "config": {**meta["config"], "dataset": then}}) == digest   # nothing else changed
    store, child = laptop
    result = store.meta()["result"]
    assert str(child.arch) == result["arch"] == "c5 c5:1 c5:01 c5:001 c5:0000 mp:01000"
    assert sum(t.numel() for t in child.net.parameters()) == result["params"] == 145_706
    assert child.classes == store.meta()["classes"] and len(child.classes) == 10
    assert (store.path / "final.pt").stat().st_size == 620_845          # fp32, as final training saved it


def test_the_laptop_demo_s_weights_score_its_recorded_test_accuracy_on_its_test_split(laptop, laptop_split):
    store, child = laptop
    label, split, classes = laptop_split
    assert label == "test" and len(split) == 5000 and classes == child.classes
    data = DeviceData(split, child.mean, child.std)
    assert evaluate(child.net, data) == store.meta()["result"]["test_acc"] == 0.6804
    with torch.no_grad():
        want = torch.softmax(child.net(next(data.batches(1))[0]), 1)[0]
    torch.testing.assert_close(probe(child, split.images[0]).probs, want, atol=1e-6, rtol=1e-5)


# --- the app's view ---------------------------------------------------------------------------------------------
def open_run(monkeypatch, runs: Path, assets: Path):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setattr(app_replay, "ASSETS", assets)
    monkeypatch.setenv("ENAS_RUNS_DIR", str(runs))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def top3(at):
    """The view's table of the most likely classes, as (class, probability) rows."""
    frame = next(f.value for f in at.dataframe if f.value.columns.tolist() == ["class", "probability"])
    return list(zip(frame["class"], frame["probability"]))


def image_captions(at):
    """The captions of the images on the page (the probed image's and the nodes'), in order."""
    return [caption for image in at.image for caption in image.captions]


def test_the_view_shows_a_test_image_s_top_3_and_its_nodes_and_refuses_a_bad_upload(tiny, monkeypatch, tmp_path):
    at = open_run(monkeypatch, tiny["root"] / "runs", tmp_path)
    d, child = tiny["data"], tiny["child"]
    assert any(m.value == f"**Try the trained child `{ARCH}` on an image**" for m in at.markdown)
    at.number_input(key="tryit_index").set_value(4).run()
    want = probe(child, d.test.images[4])
    got = top3(at)
    assert [c for c, _ in got] == [c for c, _ in want.top]
    assert [q for _, q in got] == pytest.approx([q for _, q in want.top], abs=1e-6)
    t = int(d.test.labels[4])
    truth, rank_t = d.classes[t], 1 + int((want.probs > want.probs[t]).sum())
    assert f"True class {truth}: probability {want.probs[t]:.3f}, rank {rank_t} of 10 classes." in [
        c.value for c in at.caption]
    captions = image_captions(at)
    assert f"test image 4 of 30; true class: {truth}" in captions
    rank = {i: r + 1 for r, i in enumerate(want.ranking)}
    assert [c for c in captions if c.startswith("node ")] == [
        f"node {i} ({op}): strength {want.strength[i]:.3f}, rank {rank[i]}" for i, op in enumerate(child.arch.ops)]

    at.radio(key="tryit_source").set_value("upload a PNG or JPEG").run()
    at.file_uploader(key="tryit_upload_probe").set_value(("notes.png", b"my notes", "image/png")).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["notes.png is not an image: upload a PNG or JPEG file"]
    grey = png(Image.fromarray(d.test.images[4][0].numpy(), "L"))
    at.file_uploader(key="tryit_upload_probe").set_value(("grey.png", grey, "image/png")).run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("grey.png is a grayscale image (L)") for c in at.caption)
    image, _ = read_image(grey, SIZE)
    assert [c for c, _ in top3(at)] == [c for c, _ in probe(child, image).top]


def test_the_laptop_demo_s_view_tries_its_recorded_child_on_a_test_image(laptop, laptop_split, monkeypatch, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / f"{LAPTOP}.json.gz").symlink_to(app_replay.ASSETS / f"{LAPTOP}.json.gz")
    monkeypatch.chdir(ROOT)                                # the recorded dataset is relative to the project folder
    monkeypatch.setenv("ENAS_DEMO_CACHE", str(tmp_path / "cache"))
    at = open_run(monkeypatch, tmp_path / "runs", assets)
    at.toggle(key=f"replay_on_{LAPTOP}").set_value(False).run()   # the run as it ended, not replayed
    assert not at.exception, at.exception
    _, split, classes = laptop_split
    want = probe(laptop[1], split.images[0])
    assert [c for c, _ in top3(at)] == [c for c, _ in want.top]
    assert [q for _, q in top3(at)] == pytest.approx([q for _, q in want.top], abs=1e-6)
    assert f"test image 0 of 5,000; true class: {classes[int(split.labels[0])]}" in image_captions(at)
    assert len([c for c in image_captions(at) if c.startswith("node ")]) == 6
