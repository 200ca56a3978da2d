"""check_dataset: the errors a run would meet while loading its data, found before it starts, in milliseconds,
without reading an image; and the counts it reports."""
import os
import time
from pathlib import Path

import pytest

from enas.config import Config
from enas.data import check as datacheck
from enas.data.check import check_dataset
from enas.data.load import DataError, load_dataset

SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train"


def config(dataset, **changes) -> Config:
    return Config.from_dict({"dataset": dataset, "train_subset": None, "val_size": None, **changes},
                            preset="quick")


def folder(root: Path, per_class=5, classes=("a", "b"), ext="png") -> Path:
    """Files named like images; the check never reads them (empty files)."""
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / c / f"{i}.{ext}").write_bytes(b"")
    return root


def refused(cfg, pattern):
    with pytest.raises(DataError, match=pattern):
        check_dataset(cfg)


def test_missing_folder_or_a_file_instead(tmp_path):
    refused(config(f"folder:{tmp_path / 'nowhere'}"), "folder not found: .*nowhere")
    (tmp_path / "file.png").write_bytes(b"")
    refused(config(f"folder:{tmp_path / 'file.png'}"), "is a file, not a folder")


def test_fewer_than_two_classes(tmp_path):
    refused(config(f"folder:{folder(tmp_path / 'one', classes=('only',))}"), "1 class folder.*only.*at least 2")
    (tmp_path / "none").mkdir()
    refused(config(f"folder:{tmp_path / 'none'}"), "0 class folder")


def test_class_folders_without_images(tmp_path):
    root = folder(tmp_path / "d")
    (root / "c").mkdir()
    refused(config(f"folder:{root}"), r"class folder .*/c has no image files")
    (root / "c" / "notes.txt").write_text("x")
    (root / "c" / ".hidden.png").write_bytes(b"")
    refused(config(f"folder:{root}"), r"/c has no image files .*1 other file\(s\), e.g. notes.txt")
    (root / "c" / "deeper").mkdir()
    (root / "c" / "deeper" / "x.JPG").write_bytes(b"")   # nested and upper-case: counted, as the loader does
    assert "3 classes; 9 train, 1 val, 1 test images" in check_dataset(config(f"folder:{root}"))


def test_split_folders_are_checked_like_the_loader(tmp_path):
    root = tmp_path / "s"
    folder(root / "val", classes=("a", "b"))
    refused(config(f"folder:{root}"), "no train/")
    folder(root / "train", per_class=10, classes=("a", "b"))
    folder(root / "test", classes=("a", "zebra"))
    refused(config(f"folder:{root}"), "zebra")
    for f in (root / "test" / "zebra").iterdir():
        f.unlink()
    (root / "test" / "zebra").rmdir()
    summary = check_dataset(config(f"folder:{root}", val_size=7))   # val/ is the folder's own: val_size ignored
    assert "2 classes; 20 train, 10 val, 5 test images (val/ and test/ as in the folder)" in summary


def test_sizes_that_do_not_fit_a_tiny_folder(tmp_path):
    root = folder(tmp_path / "tiny", per_class=5)                 # 10 images: 1 val + 1 test by default
    assert check_dataset(config(f"folder:{root}")).endswith("2 classes; 8 train, 1 val, 1 test images")
    refused(config(f"folder:{root}", val_size=9), r"val_size 9: .* has 10 training images, too few for 9 "
                                                  r"validation \+ 1 test")
    refused(config(f"folder:{root}", val_size=0), "val_size 0 leaves no validation images")
    refused(config(f"folder:{root}", train_subset=9), r"train_subset 9 is more than the 8 training images.*at "
                                                      r"most 8")
    assert "2 classes; 8 train, 1 val" in check_dataset(config(f"folder:{root}", train_subset=8))
    assert "2 classes; 4 train, 5 val" in check_dataset(config(f"folder:{root}", val_size=0.5, train_subset=4))


def test_the_loader_fails_where_the_check_refuses(tmp_path):
    """The check and the loader agree: what the check refuses (but train_subset) the loader cannot load."""
    from PIL import Image
    root = tmp_path / "real"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / c / f"{i}.png")
    with pytest.raises(DataError, match="too few"):
        load_dataset(f"folder:{root}", data_dir=str(tmp_path / "cache"), val_size=5)
    refused(config(f"folder:{root}", val_size=5), "too few")
    d = load_dataset(f"folder:{root}", data_dir=str(tmp_path / "cache"), val_size=2)
    assert f"{len(d.train)} train, {len(d.val)} val, {len(d.test)} test" in check_dataset(config(f"folder:{root}",
                                                                                                 val_size=2))


def test_counts_are_cached_until_a_folder_changes(tmp_path, monkeypatch):
    root = folder(tmp_path / "c", per_class=10)
    assert "16 train" in check_dataset(config(f"folder:{root}"))
    scans = []
    real = datacheck._scan
    monkeypatch.setattr(datacheck, "_scan", lambda *a: scans.append(1) or real(*a))
    check_dataset(config(f"folder:{root}"))
    assert scans == []                                            # unchanged: no scan
    (root / "a" / "new.png").write_bytes(b"")
    os.utime(root / "a", ns=(1, 1))                               # a folder's mtime changed (coarse clocks too)
    assert "17 train" in check_dataset(config(f"folder:{root}"))
    assert scans == [1]


def test_shapes_and_cifar10_are_counted_without_files(tmp_path):
    assert check_dataset(config("shapes")).endswith("10 classes; 10,000 train, 2,000 val, 2,000 test images")
    refused(config("shapes:300", val_size=260), "val_size 260: dataset 'shapes:300' has 300")
    refused(config("shapes", train_subset=10_001), "train_subset 10,001 is more than the 10,000")
    empty = tmp_path / "data"
    summary = check_dataset(config("cifar10", data_dir=str(empty)))
    assert f"not in {empty} yet: it will be downloaded there" in summary and not empty.exists()
    assert summary.endswith("10 classes; 45,000 train, 5,000 val, 10,000 test images")
    refused(config("cifar10", data_dir=str(empty), train_subset=45_001), "train_subset 45,001 is more than")
    refused(config("cifar10", data_dir=str(empty), val_size=50_000), "too few")
    (empty / "cifar-10-batches-py").mkdir(parents=True)
    (empty / "cifar-10-python.tar.gz").write_bytes(b"")          # on disk (its checksum is the loader's job)
    assert check_dataset(config("cifar10", data_dir=str(empty))).startswith(f"CIFAR-10 in {empty}: 10 classes")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data folder should be")
    refused(config("cifar10", data_dir=str(blocker / "data")), "cannot be downloaded there: .*blocker is not a "
                                                               "writable folder")
    assert "else built-in shapes" in check_dataset(config("auto", data_dir=str(blocker / "data")))


@pytest.mark.skipif(not SHARED_TRAIN.is_dir(), reason="../shared/data/cifar10-jpeg/train is not here")
def test_the_cifar10_jpeg_folder_in_milliseconds():
    datacheck._counts.clear()
    t = time.perf_counter()
    summary = check_dataset(config(f"folder:{SHARED_TRAIN}"))
    first = time.perf_counter() - t
    assert summary.endswith("10 classes; 40,000 train, 5,000 val, 5,000 test images")
    assert datacheck._counts[str(SHARED_TRAIN)][1] == (
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"], {"train": 50_000})
    t = time.perf_counter()
    check_dataset(config(f"folder:{SHARED_TRAIN}"))
    again = time.perf_counter() - t
    assert first < 2.0 and again < 0.02, (first, again)            # about 60 ms and 0.1 ms on 2 busy cores
