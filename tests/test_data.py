"""The data layer: shapes, image folders (layouts, modes, bad files, the disk cache), CIFAR-10 from small fake
files (download, offline, truncated archive) and the splits. No network: downloads are faked."""
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from enas.data import load as D
from enas.data.load import (
    DataError,
    Dataset,
    Split,
    available_sources,
    data_dir_default,
    load_dataset,
)
from enas.data.shapes import SHAPES_CLASSES, make_shapes

SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train"


# ----------------------------------------------------------------------------------------------------------
# helpers


def solid(colour, size=(32, 32), mode="RGB"):
    return Image.new(mode, size, colour)


def noise_image(rng, size=(32, 32)):
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def make_folder(root: Path, per_class=10, classes=("cat", "dog", "frog"), ext="png", size=(32, 32), seed=0):
    """root/<class>/NNN.ext with random images; returns root."""
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise_image(rng, size).save(root / c / f"{i:03d}.{ext}")
    return root


def rows(split: Split) -> set:
    return {bytes(x.numpy().tobytes()) for x in split.images}


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "data")


# ----------------------------------------------------------------------------------------------------------
# shapes


def test_make_shapes_deterministic_fast_and_balanced():
    x, y = make_shapes(14_000, seed=0)   # its speed is in benchmarks/bench_data.py
    assert x.dtype == torch.uint8 and x.shape == (14_000, 3, 32, 32) and x.is_contiguous()
    assert y.dtype == torch.int64 and y.shape == (14_000,)
    counts = torch.bincount(y, minlength=10)
    assert len(SHAPES_CLASSES) == 10 and counts.min() >= 1300 and counts.max() <= 1500
    x2, y2 = make_shapes(1000, seed=0)
    assert torch.equal(x2, x[:1000]) and torch.equal(y2, y[:1000])  # prefix, same seed: same images
    x3, _ = make_shapes(1000, seed=1)
    assert not torch.equal(x3, x2)
    assert x.float().std() > 40  # not blank: colours, shapes and noise
    assert len(rows(Split(x[:2000], y[:2000]))) == 2000  # every image distinct


def test_make_shapes_other_size_and_bad_args():
    x, y = make_shapes(30, seed=3, image_size=48)
    assert x.shape == (30, 3, 48, 48)
    assert make_shapes(0)[0].shape == (0, 3, 32, 32)
    with pytest.raises(ValueError):
        make_shapes(-1)
    with pytest.raises(ValueError):
        make_shapes(10, image_size=4)


def test_shapes_classes_are_separable_but_not_by_colour():
    """A class mean image is not enough (random colours and positions) but the classes do differ: the
    mean brightness per class is about the same, while per-class edge orientation statistics differ."""
    x, y = make_shapes(3000, seed=0)
    xf = x.float().mean(1)  # grey
    means = torch.stack([xf[y == c].mean() for c in range(10)])
    assert means.max() - means.min() < 25
    gy = (xf[:, 1:, :] - xf[:, :-1, :]).abs().mean((1, 2))
    gx = (xf[:, :, 1:] - xf[:, :, :-1]).abs().mean((1, 2))
    ratio = torch.stack([(gy[y == c] / (gx[y == c] + 1)).mean() for c in range(10)])
    h, v = SHAPES_CLASSES.index("h-stripes"), SHAPES_CLASSES.index("v-stripes")
    assert ratio[h] > 1.5 * ratio[v]  # horizontal stripes: vertical gradients dominate


def test_load_shapes_default_splits():
    d = load_dataset("shapes")
    assert isinstance(d, Dataset) and d.name == "shapes" and d.classes == SHAPES_CLASSES
    assert (len(d.train), len(d.val), len(d.test)) == (10_000, 2_000, 2_000)
    assert d.image_size == 32 and d.num_classes == 10
    for s in (d.train, d.val, d.test):
        assert s.images.dtype == torch.uint8 and s.images.is_contiguous() and s.labels.dtype == torch.int64
        assert torch.bincount(s.labels, minlength=10).min() > 0.08 * len(s)  # stratified
    a, b, c = rows(d.train), rows(d.val), rows(d.test)
    assert not (a & b) and not (a & c) and not (b & c)  # disjoint
    # mean/std of the train split, in [0,1] units
    xf = d.train.images.double() / 255
    assert np.allclose(d.mean, xf.mean((0, 2, 3)).tolist(), atol=1e-9)
    assert np.allclose(d.std, xf.std((0, 2, 3), unbiased=False).tolist(), atol=1e-7)
    assert any("shapes" in n for n in d.notes)


def test_splits_fixed_by_seed_and_sizes():
    a = load_dataset("shapes", seed=1, val_size=500, test_size=0.05, train_subset=1000)
    b = load_dataset("shapes", seed=1, val_size=500, test_size=0.05, train_subset=1000)
    c = load_dataset("shapes", seed=2, val_size=500, test_size=0.05, train_subset=1000)
    assert (len(a.train), len(a.val), len(a.test)) == (1000, 500, 700)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.val.labels, b.val.labels)
    assert not torch.equal(a.val.images, c.val.images)
    assert torch.bincount(a.train.labels, minlength=10).min() >= 95  # the subset is stratified too
    assert any("subset of 1,000" in n for n in a.notes)
    full = load_dataset("shapes", seed=1, val_size=500, test_size=0.05)
    assert rows(a.train) <= rows(full.train)  # the subset comes from the train split only
    assert load_dataset("shapes", val_size=500.0).val.images.shape[0] == 500  # config gives floats
    assert load_dataset("shapes", test_size=0).test is None
    d = load_dataset("shapes:300", val_size=50, test_size=50)
    assert (len(d.train), len(d.val), len(d.test)) == (200, 50, 50)


@pytest.mark.parametrize("kwargs, words", [
    ({"val_size": -1}, "val_size"),
    ({"val_size": 1.5}, "whole number"),
    ({"test_size": "a"}, "test_size"),
    ({"val_size": 0}, "validation split is empty"),
    ({"val_size": 7000, "test_size": 7000}, "too few"),
    ({"train_subset": 0}, "train_subset"),
    ({"image_size": 2}, "image_size"),
])
def test_bad_sizes_are_clear_errors(kwargs, words):
    with pytest.raises(DataError, match=words):
        load_dataset("shapes", **kwargs)


@pytest.mark.parametrize("source", ["", "imagenet", "folder:", "folder:   ", "shapes:abc", "shapes:5"])
def test_bad_sources(source):
    with pytest.raises(DataError) as e:
        load_dataset(source)
    assert "cifar10" in str(e.value) or "folder:" in str(e.value) or "shapes:N" in str(e.value)


def test_train_subset_larger_than_train_keeps_all():
    d = load_dataset("shapes:300", val_size=50, test_size=50, train_subset=10_000)
    assert len(d.train) == 200 and any("using them all" in n for n in d.notes)


def test_split_checks_types():
    with pytest.raises(ValueError):
        Split(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError):
        Split(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))


def test_data_dir_default(monkeypatch, tmp_path):
    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path / "x"))
    assert data_dir_default() == str(tmp_path / "x")
    monkeypatch.delenv("ENAS_DATA_DIR")
    assert data_dir_default() == os.path.join(os.path.expanduser("~"), ".cache", "enas", "data")


# ----------------------------------------------------------------------------------------------------------
# image folders


def test_folder_class_layout_default_fractions(tmp_path, cache_dir):
    root = make_folder(tmp_path / "imgs", per_class=20)
    d = load_dataset(f"folder:{root}", data_dir=cache_dir)
    assert d.name == f"folder:{root}" and d.classes == ["cat", "dog", "frog"]
    assert (len(d.train), len(d.val), len(d.test)) == (48, 6, 6)  # 10% val, 10% test of 60
    for s in (d.val, d.test):
        assert torch.bincount(s.labels, minlength=3).tolist() == [2, 2, 2]
    assert not (rows(d.train) & rows(d.val)) and not (rows(d.val) & rows(d.test))
    # pixels are exact (PNG) and labels follow the folders
    label_of = {}
    for s in (d.train, d.val, d.test):
        for x, label in zip(s.images, s.labels.tolist()):
            label_of[x.numpy().tobytes()] = label
    assert len(label_of) == 60
    for ci, c in enumerate(d.classes):
        for i in (0, 7, 19):
            want = np.asarray(Image.open(root / c / f"{i:03d}.png")).transpose(2, 0, 1)
            assert label_of[np.ascontiguousarray(want).tobytes()] == ci


def test_folder_split_layout_uses_own_splits(tmp_path, cache_dir):
    root = tmp_path / "ds"
    make_folder(root / "train", per_class=8, classes=("a", "b"))
    make_folder(root / "val", per_class=3, classes=("a", "b"), seed=1)
    make_folder(root / "test", per_class=2, classes=("b",), seed=2)  # a class may be missing in test/
    (root / "README.txt").write_text("hello")
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=0.5)
    assert d.classes == ["a", "b"]
    assert (len(d.train), len(d.val), len(d.test)) == (16, 6, 2)
    assert d.test.labels.tolist() == [1, 1]
    assert any("val_size=0.5 ignored" in n for n in d.notes)


def test_folder_train_val_without_test_carves_test(tmp_path, cache_dir):
    root = tmp_path / "ds"
    make_folder(root / "train", per_class=10, classes=("a", "b"))
    make_folder(root / "validation", per_class=3, classes=("a", "b"), seed=1)
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, test_size=4)
    assert (len(d.train), len(d.val), len(d.test)) == (16, 6, 4)
    assert any("carved" in n for n in d.notes)


def test_folder_any_size_and_mode(tmp_path, cache_dir):
    root = tmp_path / "modes"
    (root / "one").mkdir(parents=True)
    (root / "two").mkdir()
    solid((10, 200, 30), (64, 48)).save(root / "one" / "big_rgb.png")
    solid(100, (20, 20), "L").save(root / "one" / "grey.png")
    solid(100, (32, 32), "L").save(root / "one" / "grey.jpg", quality=100)
    solid((255, 0, 0, 0), (32, 32), "RGBA").save(root / "two" / "transparent.png")
    solid((0, 0, 255, 255), (32, 32), "RGBA").save(root / "two" / "opaque.png")
    pal = solid((0, 128, 0), (32, 32)).convert("P")
    pal.save(root / "two" / "palette.gif")
    Image.fromarray(np.full((32, 32), 65535, np.uint16)).save(root / "two" / "sixteen.png")
    solid((0, 0, 0, 0), (32, 32), "CMYK").save(root / "two" / "cmyk.jpg")
    solid((1, 2, 3), (300, 17)).save(root / "two" / "wide.bmp")
    solid((9, 9, 9), (32, 32)).save(root / "two" / "x.webp", lossless=True)
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=1, test_size=1, image_size=16)
    images = torch.cat([d.train.images, d.val.images, d.test.images])
    assert images.shape == (10, 3, 16, 16) and images.dtype == torch.uint8
    colours = {tuple(x[:, 8, 8].tolist()) for x in images}
    for c in [(10, 200, 30), (100, 100, 100), (255, 255, 255), (0, 0, 255), (0, 128, 0), (1, 2, 3), (9, 9, 9)]:
        assert c in colours, c  # transparent composited on white; 16-bit white stays white
    assert not any("skipped" in n for n in d.notes)


def test_folder_big_photos_and_exif_orientation(tmp_path, cache_dir):
    root = tmp_path / "photos"
    (root / "big").mkdir(parents=True)
    (root / "turned").mkdir()
    solid(77, (640, 480), "L").save(root / "big" / "grey.jpg", quality=100)
    solid((200, 10, 10), (480, 640)).save(root / "big" / "red.jpg", quality=100)
    a = np.zeros((100, 200, 3), np.uint8)
    a[:, :100] = (255, 0, 0)  # stored: left red, right blue
    a[:, 100:] = (0, 0, 255)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: red on top, blue at the bottom
    im.save(root / "turned" / "side.jpg", exif=exif, quality=100)
    small = Image.fromarray(a).resize((32, 32))  # already the input size: the fast JPEG path
    small.save(root / "turned" / "small.jpg", exif=exif, quality=100)
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=1, test_size=1)
    images = torch.cat([d.train.images, d.val.images, d.test.images])
    labels = torch.cat([d.train.labels, d.val.labels, d.test.labels])
    big = images[labels == 0]
    assert {tuple(x[:, 16, 16].tolist()) for x in big} == {(77, 77, 77), (200, 10, 10)}
    for x in images[labels == 1]:
        top, bottom = x[:, 2, 16].tolist(), x[:, 29, 16].tolist()
        assert top[0] > 200 and top[2] < 50 and bottom[2] > 200 and bottom[0] < 50, (top, bottom)


def test_folder_bad_files_are_skipped_and_reported(tmp_path, cache_dir):
    root = make_folder(tmp_path / "bad", per_class=6, classes=("a", "b"), ext="jpg")
    good = (root / "a" / "000.jpg").read_bytes()
    (root / "a" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "a" / "garbage.png").write_bytes(b"this is not a png" * 10)
    (root / "b" / "empty.jpg").write_bytes(b"")
    (root / "b" / "notes.txt").write_text("not an image, ignored")
    (root / "b" / ".DS_Store").write_bytes(b"\0\0")
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=2, test_size=2)
    assert len(d.train) + len(d.val) + len(d.test) == 12
    skipped = next(n for n in d.notes if n.startswith("skipped"))
    assert "skipped 3 unreadable file(s) of 15" in skipped
    for name in ("a/truncated.jpg", "a/garbage.png", "b/empty.jpg"):
        assert name in skipped
    ignored = next(n for n in d.notes if n.startswith("ignored"))
    assert "b/notes.txt" in ignored and ".DS_Store" not in ignored
    # the second load (from the cache) reports the same
    d2 = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=2, test_size=2)
    assert any("from the cache" in n for n in d2.notes)
    assert next(n for n in d2.notes if n.startswith("skipped")) == skipped


def test_folder_class_with_only_bad_files(tmp_path, cache_dir):
    root = make_folder(tmp_path / "bad", per_class=4, classes=("a",))
    (root / "b").mkdir()
    (root / "b" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"b have no readable images.*b/x.jpg"):
        load_dataset(f"folder:{root}", data_dir=cache_dir)


def test_folder_structure_errors(tmp_path, cache_dir):
    with pytest.raises(DataError, match="folder not found: .*nowhere"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}", data_dir=cache_dir)
    f = tmp_path / "file.png"
    solid((1, 1, 1)).save(f)
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_dataset(f"folder:{f}", data_dir=cache_dir)
    one = make_folder(tmp_path / "one", per_class=3, classes=("only",))
    with pytest.raises(DataError, match="1 class folder.*only.*at least 2"):
        load_dataset(f"folder:{one}", data_dir=cache_dir)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="0 class folder"):
        load_dataset(f"folder:{tmp_path / 'none'}", data_dir=cache_dir)
    empty = make_folder(tmp_path / "empty", per_class=3, classes=("a", "b"))
    (empty / "c").mkdir()
    (empty / "c" / "readme.md").write_text("x")
    with pytest.raises(DataError, match=r"class folder .*empty/c has no image files"):
        load_dataset(f"folder:{empty}", data_dir=cache_dir)
    splits = tmp_path / "splits"
    make_folder(splits / "val", per_class=2, classes=("a", "b"))
    with pytest.raises(DataError, match="no train/"):
        load_dataset(f"folder:{splits}", data_dir=cache_dir)
    make_folder(splits / "train", per_class=4, classes=("a", "b"))
    make_folder(splits / "test", per_class=2, classes=("a", "zebra"))
    with pytest.raises(DataError, match="zebra"):
        load_dataset(f"folder:{splits}", data_dir=cache_dir)


def test_small_folder_fractions_give_at_least_one_image(tmp_path, cache_dir):
    root = make_folder(tmp_path / "small", per_class=3, classes=("a", "b"))
    d = load_dataset(f"folder:{root}", data_dir=cache_dir)  # 10% of 6 rounds to 1, not 0
    assert (len(d.train), len(d.val), len(d.test)) == (4, 1, 1)


def test_folder_too_small_for_the_split(tmp_path, cache_dir):
    root = make_folder(tmp_path / "small", per_class=1, classes=("a", "b"))
    with pytest.raises(DataError, match="too few|no training images left"):
        load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=1, test_size=1)


def test_folder_cache_hit_miss_and_repair(tmp_path, cache_dir):
    root = make_folder(tmp_path / "c", per_class=10, classes=("a", "b"))
    d1 = load_dataset(f"folder:{root}", data_dir=cache_dir)
    assert any(n.startswith("decoded 20 images") for n in d1.notes)
    files = list(Path(cache_dir, "cache").glob("folder-*.pt"))
    assert len(files) == 1 and not list(Path(cache_dir, "cache").glob("*.tmp"))
    d2 = load_dataset(f"folder:{root}", data_dir=cache_dir)
    assert any("from the cache" in n for n in d2.notes)
    for a, b in ((d1.train, d2.train), (d1.val, d2.val), (d1.test, d2.test)):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    # another image size: another key
    d3 = load_dataset(f"folder:{root}", data_dir=cache_dir, image_size=8)
    assert d3.image_size == 8 and any(n.startswith("decoded") for n in d3.notes)
    assert len(list(Path(cache_dir, "cache").glob("folder-*.pt"))) == 2  # one per image size
    # a changed file: a new key, decoded again; the stale cache of the same folder and size is removed
    noise_image(np.random.default_rng(9)).save(root / "a" / "000.png")
    os.utime(root / "a" / "000.png", ns=(1, 1))
    d4 = load_dataset(f"folder:{root}", data_dir=cache_dir)
    assert any(n.startswith("decoded") for n in d4.notes)
    assert not torch.equal(torch.cat([d4.train.images, d4.val.images, d4.test.images]).sort(0).values,
                           torch.cat([d1.train.images, d1.val.images, d1.test.images]).sort(0).values)
    now = sorted(Path(cache_dir, "cache").glob("folder-*.pt"))
    assert len(now) == 2 and files[0] not in now
    # a damaged cache file is ignored and rewritten
    for f in Path(cache_dir, "cache").glob("folder-*.pt"):
        f.write_bytes(b"garbage")
    d5 = load_dataset(f"folder:{root}", data_dir=cache_dir)
    assert any(n.startswith("decoded") for n in d5.notes)
    assert torch.equal(d5.train.images, d4.train.images)
    assert any("from the cache" in n for n in load_dataset(f"folder:{root}", data_dir=cache_dir).notes)
    # a moved folder (same files, sizes and mtimes) finds its cache by the key
    moved = tmp_path / "moved"
    root.rename(moved)
    d6 = load_dataset(f"folder:{moved}", data_dir=cache_dir)
    assert any("from the cache" in n for n in d6.notes) and torch.equal(d6.val.images, d5.val.images)


def test_folder_cache_unwritable_is_a_note(tmp_path):
    root = make_folder(tmp_path / "c", per_class=5, classes=("a", "b"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    d = load_dataset(f"folder:{root}", data_dir=str(blocker), val_size=1, test_size=1)
    assert len(d.train) == 8 and any("could not write the decode cache" in n for n in d.notes)


def test_folder_nested_subfolders_and_progress(tmp_path, cache_dir, capsys):
    root = make_folder(tmp_path / "n", per_class=3, classes=("a", "b"))
    make_folder(root / "a" / "more", per_class=3, classes=("deeper",), seed=5)
    d = load_dataset(f"folder:{root}", data_dir=cache_dir, val_size=1, test_size=1, progress=True,
                     train_subset=4)
    assert len(d.train) == 4 and len(d.val) + len(d.test) == 2
    assert sum(1 for n in d.notes if "subset" in n) == 1


@pytest.mark.skipif(not SHARED_TRAIN.is_dir(), reason="../shared/data/cifar10-jpeg/train is not here")
def test_shared_cifar10_jpeg_folder(tmp_path):
    d = load_dataset(f"folder:{SHARED_TRAIN}", data_dir=str(tmp_path), train_subset=5000)
    assert d.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                         "truck"]
    assert (len(d.train), len(d.val), len(d.test)) == (5000, 5000, 5000)
    assert torch.bincount(d.test.labels).tolist() == [500] * 10
    assert 0.4 < d.mean[0] < 0.55 and 0.2 < d.std[0] < 0.3  # CIFAR-10 statistics
    d2 = load_dataset(f"folder:{SHARED_TRAIN}", data_dir=str(tmp_path), train_subset=5000)
    assert any("from the cache" in n for n in d2.notes)   # read back, not decoded again
    assert torch.equal(d.val.images, d2.val.images)


# ----------------------------------------------------------------------------------------------------------
# CIFAR-10 from small fake files in the real format


N_PER_BATCH = 1100  # 5 x 1100 = 5,500 training images: the default 5,000 validation leaves 500


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def write_fake_cifar(root: Path, n=N_PER_BATCH, seed=0):
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} as pickled dicts like the real
    ones (data: uint8 [n, 3072] rows of R, G, B planes; labels: list of int). Returns the md5s."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        entry = {"batch_label": name, "labels": [int(v) for v in rng.integers(0, 10, n if name != "test_batch"
                                                                                   else 200)]}
        entry["data"] = rng.integers(0, 256, (len(entry["labels"]), 3072), dtype=np.uint8)
        with open(base / name, "wb") as fh:
            pickle.dump(entry, fh)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"], "num_cases_per_batch": n}
    with open(base / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh)
    return {f.name: _md5(f) for f in base.iterdir()}


@pytest.fixture
def fake_md5s(monkeypatch):
    """Make torchvision's CIFAR10 accept our fake files (its checksums are of the real ones)."""
    from torchvision.datasets import CIFAR10

    def apply(md5s, tgz_md5=None):
        monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5s[f"data_batch_{i}"]]
                                                    for i in range(1, 6)])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
        monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                              "md5": md5s["batches.meta"]})
        if tgz_md5:
            monkeypatch.setattr(CIFAR10, "tgz_md5", tgz_md5)
    return apply


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, url: str):
        super().__init__(payload)
        self.url = url
        self.length = len(payload)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


@pytest.fixture
def fake_net(monkeypatch):
    """Replace urllib's urlopen: serve `payload` (bytes) or raise it (an exception); count the calls."""
    calls = []

    def serve(payload):
        def urlopen(req, *a, **k):
            url = req.full_url if hasattr(req, "full_url") else req
            calls.append(url)
            if isinstance(payload, BaseException):
                raise payload
            return FakeResponse(payload, url)
        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        return calls
    return serve


def test_cifar10_from_disk_real_format(tmp_path, fake_md5s):
    fake_md5s(write_fake_cifar(tmp_path))
    assert available_sources(tmp_path)["cifar10"] is True
    d = load_dataset("cifar10", data_dir=str(tmp_path), download=False)
    assert d.name == "cifar10" and d.classes[0] == "airplane" and len(d.classes) == 10
    assert (len(d.train), len(d.val), len(d.test)) == (500, 5000, 200)  # default: 5,000 validation
    # the test split is CIFAR-10's own, pixel for pixel (row = R plane, G plane, B plane), stored shuffled
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as fh:
        entry = pickle.load(fh, encoding="latin1")
    own = sorted(zip(map(bytes, entry["data"]), entry["labels"]))
    stored = sorted(zip((bytes(x.flatten().numpy()) for x in d.test.images), d.test.labels.tolist()))
    assert own == stored
    train_rows = rows(d.train) | rows(d.val)
    assert len(train_rows) == 5500 and not (rows(d.train) & rows(d.val))
    d2 = load_dataset("cifar10", data_dir=str(tmp_path), download=False, val_size=0.1, test_size=0.2,
                      image_size=16, train_subset=100)
    assert (len(d2.train), len(d2.val), len(d2.test)) == (100, 550, 200) and d2.image_size == 16
    assert any("test_size=0.2 ignored" in n for n in d2.notes)


def test_cifar10_not_on_disk_no_download(tmp_path):
    assert available_sources(tmp_path) == {"cifar10": False, "shapes": True}
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path), download=False)
    msg = str(e.value)
    assert "download=False" in msg and str(tmp_path) in msg and D.CIFAR10_URL in msg
    assert "folder:PATH" in msg and "shapes" in msg


def test_cifar10_offline_is_a_clear_error(tmp_path, fake_net):
    calls = fake_net(urllib.error.URLError("[Errno -2] Name or service not known"))
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path / "d"))
    msg = str(e.value)
    assert calls and "could not be downloaded" in msg and "Name or service not known" in msg
    assert str(tmp_path / "d") in msg and D.CIFAR10_URL in msg and "folder:PATH" in msg and "'shapes'" in msg


def test_cifar10_download_disk_error(tmp_path, fake_net, monkeypatch):
    import torchvision.datasets.utils as tvu

    fake_net(b"x" * 100)

    def full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tvu, "_urlretrieve", full)
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert "No space left on device" in str(e.value) and "offline" not in str(e.value)
    assert str(tmp_path) in str(e.value)


def test_cifar10_truncated_download(tmp_path, fake_net, fake_md5s):
    src = tmp_path / "src"
    fake_md5s(write_fake_cifar(src, n=20))
    payload = _tar_gz(src)
    fake_net(payload[: len(payload) // 3])  # the connection drops
    root = tmp_path / "d"
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(root))
    msg = str(e.value)
    assert "truncated or corrupted" in msg and str(root / D.CIFAR10_ARCHIVE) in msg and D.CIFAR10_URL in msg
    # offline afterwards, without download: the half archive on disk is named as such
    with pytest.raises(DataError, match="incomplete or corrupted"):
        load_dataset("cifar10", data_dir=str(root), download=False)


def _tar_gz(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return buf.getvalue()


def test_cifar10_download_then_load(tmp_path, fake_net, fake_md5s):
    src = tmp_path / "src"
    md5s = write_fake_cifar(src, n=20)
    payload = _tar_gz(src)
    fake_md5s(md5s, tgz_md5=hashlib.md5(payload).hexdigest())
    calls = fake_net(payload)
    root = tmp_path / "d"
    d = load_dataset("cifar10", data_dir=str(root), val_size=10)
    assert calls and calls[-1].endswith("cifar-10-python.tar.gz")
    assert (len(d.train), len(d.val), len(d.test)) == (90, 10, 200)
    assert any("downloaded CIFAR-10" in n for n in d.notes)
    assert available_sources(str(root))["cifar10"] is True
    n = len(calls)
    load_dataset("cifar10", data_dir=str(root), val_size=10)
    assert len(calls) == n  # on disk now: no network


def test_cifar10_archive_copied_by_hand_is_extracted_offline(tmp_path, fake_md5s, fake_net):
    src = tmp_path / "src"
    md5s = write_fake_cifar(src, n=20)
    payload = _tar_gz(src)
    fake_md5s(md5s, tgz_md5=hashlib.md5(payload).hexdigest())
    calls = fake_net(urllib.error.URLError("offline"))
    root = tmp_path / "d"
    root.mkdir()
    (root / D.CIFAR10_ARCHIVE).write_bytes(payload)
    assert available_sources(str(root))["cifar10"] is True
    d = load_dataset("cifar10", data_dir=str(root), val_size=10, download=False)
    assert len(d.test) == 200 and any("extracted" in n for n in d.notes) and not calls


def test_cifar10_corrupted_files_on_disk(tmp_path, fake_md5s):
    md5s = write_fake_cifar(tmp_path, n=20)
    fake_md5s(md5s)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:1000])  # truncated on disk
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path), download=False)
    assert "incomplete or corrupted" in str(e.value) and "cifar-10-batches-py" in str(e.value)


def test_auto_falls_back_to_shapes_offline(tmp_path, fake_net):
    fake_net(urllib.error.URLError("no network"))
    d = load_dataset("auto", data_dir=str(tmp_path), val_size=100, train_subset=300)
    assert d.name == "shapes" and len(d.train) == 300
    assert d.notes[0].startswith("CIFAR-10 not available") and "using the built-in shapes dataset" in d.notes[0]
