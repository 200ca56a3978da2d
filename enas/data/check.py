"""Checking a configuration's data before a run starts: milliseconds, no image read, nothing downloaded.

`check_dataset(config)` says what a run will train on (classes and split sizes), or raises `DataError` saying
what to change: an image folder that is missing, is a file, has fewer than two class folders or a class folder
without images; CIFAR-10 that is neither on disk nor downloadable into `data_dir`; a `val_size` (with the
default test split) that leaves no training images; a `train_subset` larger than the training split. The loaders
raise the same errors, but only after a run has started. An error about `val_size` or `train_subset` rather
than the data itself carries `error.field` (the app shows it under that field). Image files are counted by name
(`os.scandir`, no `stat`: about 60 ms for CIFAR-10's 50,000 JPEGs), and a folder's counts are reused while none
of its folders changes (checked by modification time: 11 `stat` calls for that folder).
"""
from __future__ import annotations

import collections
import os
import threading

from enas.data.cifar import ALTERNATIVES, CIFAR10_ARCHIVE, CIFAR10_URL, cifar10_on_disk
from enas.data.folder import (
    IMAGE_EXTENSIONS,
    check_split_classes,
    class_names,
    empty_class_error,
    empty_split_error,
    find_layout,
    folder_root,
)
from enas.data.load import SHAPES_POOL
from enas.data.splits import DataError, data_root, resolve_size

CIFAR10_TRAIN, CIFAR10_TEST, CIFAR10_VAL = 50_000, 10_000, 5000
BUILT_IN_CLASSES = 10     # CIFAR-10 and shapes
MAX_DEPTH = 16            # as the folder loader: deeper is a symlink loop
CACHE_CAP = 32            # folders whose counts are kept
_counts: collections.OrderedDict = collections.OrderedDict()   # root -> (folder mtimes, (classes, counts))
_lock = threading.Lock()
FOLDER_PROMPT = ("type the path of an image folder: one subfolder of images per class (PATH/<class>/*.jpg|png|...), "
                 "or PATH/train/<class>/... with optional val/ and test/")


def check_dataset(config) -> str:
    """One line on the data `config` names: where it is, classes, train / val / test images. DataError when a
    run with this configuration could not load it, or `train_subset` is more than the training images."""
    source, subset = config.dataset.strip(), config.train_subset
    val = config.val_size if config.val_size is None or config.val_size < 1 else int(config.val_size)
    if source in ("cifar10", "auto"):
        root = data_root(config.data_dir)
        sizes = _cifar10_sizes(val, subset)
        if cifar10_on_disk(root):
            return f"CIFAR-10 in {root}: {sizes}"
        if source == "auto":
            return (f"CIFAR-10 ({sizes}) if it can be downloaded into {root}, else "
                    + _shapes("shapes", SHAPES_POOL, val, subset))
        _check_writable(root)
        return (f"CIFAR-10 is not in {root} yet: it will be downloaded there when the run starts (163 MB from "
                f"{CIFAR10_URL}; or copy {CIFAR10_ARCHIVE} there by hand); {sizes}")
    if source == "shapes" or source.startswith("shapes:"):
        pool = int(source.partition(":")[2]) if ":" in source else SHAPES_POOL
        return _shapes(source, pool, val, subset)
    if source.startswith("folder:") and source[len("folder:"):].strip():
        return _folder(source[len("folder:"):].strip(), val, subset)
    if source.startswith("folder:"):
        raise DataError(FOLDER_PROMPT)
    raise DataError(f"dataset source {source!r} is not allowed; allowed: cifar10, shapes, folder:PATH")


def field_error(field: str, message: str) -> DataError:
    """A DataError about the field `field` (val_size, train_subset) rather than the dataset: `error.field`."""
    error = DataError(message)
    error.field = field
    return error


def _sizes(classes: int, train: int, val: int, test: int) -> str:
    return f"{classes} classes; {train:,} train, {val:,} val, {test:,} test images"


def _val_count(val, default, n: int) -> int:
    n_val = resolve_size("val_size", val, default, n)
    if n_val == 0:
        raise field_error("val_size", "val_size 0 leaves no validation images, and the controller's reward is "
                          "measured on them; use a count >= 1 or a fraction such as 0.1")
    return n_val


def _fit(where: str, n: int, n_val: int, n_test: int, subset) -> int:
    """Training images left when `n_val` and `n_test` of the `n` are carved off, or `subset` of them."""
    if n_val + n_test >= n:
        test = f" + {n_test:,} test" if n_test else ""
        raise field_error("val_size", f"val_size {n_val:,}: {where} has {n:,} training images, too few for "
                          f"{n_val:,} validation{test} images; use a smaller val_size (a count, or a fraction such "
                          "as 0.1)")
    train = n - n_val - n_test
    if subset is not None and subset > train:
        raise field_error("train_subset", f"train_subset {subset:,} is more than the {train:,} training images "
                          f"of {where} (after {n_val:,} validation and {n_test:,} test images); use at most "
                          f"{train:,}, or leave it empty to use them all")
    return train if subset is None else subset


def _cifar10_sizes(val, subset) -> str:
    n_val = _val_count(val, CIFAR10_VAL, CIFAR10_TRAIN)
    return _sizes(BUILT_IN_CLASSES, _fit("CIFAR-10", CIFAR10_TRAIN, n_val, 0, subset), n_val, CIFAR10_TEST)


def _check_writable(root: str):
    """CIFAR-10 can be downloaded into `root`: it, or the nearest folder above it that exists, is writable."""
    existing = root
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"CIFAR-10 is not in {root} and cannot be downloaded there: {existing} is not a writable "
                        f"folder. Set data_dir (or ENAS_DATA_DIR) to a writable folder, or use the {ALTERNATIVES}")


def _shapes(source: str, pool: int, val, subset) -> str:
    n_val = _val_count(val, round(pool / 7), pool)
    n_test = resolve_size("test_size", None, round(pool / 7), pool)
    train = _fit(f"dataset {source!r}", pool, n_val, n_test, subset)
    return f"built-in {source}, {pool:,} generated images: {_sizes(BUILT_IN_CLASSES, train, n_val, n_test)}"


def _folder(path: str, val, subset) -> str:
    root = folder_root(path)
    classes, counts = _folder_counts(root)
    n = counts["train"]
    own_val, own_test = "val" in counts, "test" in counts
    n_val = counts["val"] if own_val else _val_count(val, 0.1, n)
    n_test = counts["test"] if own_test else resolve_size("test_size", None, 0.1, n)
    train = _fit(f"folder {root}", n, 0 if own_val else n_val, 0 if own_test else n_test, subset)
    own = " and ".join(s for s, has in (("val/", own_val), ("test/", own_test)) if has)
    return f"folder {root}: {_sizes(len(classes), train, n_val, n_test)}" + (f" ({own} as in the folder)" if own
                                                                                else "")


def _folder_counts(root: str):
    """(classes, {split: images}) of an image folder, reused while none of its folders has changed."""
    with _lock:
        hit = _counts.get(root)
    if hit is not None and _unchanged(hit[0]):
        return hit[1]
    stamps: list = []
    found = _scan(root, stamps)
    with _lock:
        _counts[root] = (stamps, found)
        _counts.move_to_end(root)
        while len(_counts) > CACHE_CAP:
            _counts.popitem(last=False)
    return found


def _stamp(path: str, stamps: list):
    stamps.append((path, os.stat(path).st_mtime_ns))


def _unchanged(stamps: list) -> bool:
    try:
        return all(os.stat(path).st_mtime_ns == mtime for path, mtime in stamps)
    except OSError:
        return False


def _scan(root: str, stamps: list):
    """Classes and image counts per split, with the errors the loader would raise (`enas.data.folder`)."""
    _stamp(root, stamps)
    layout = find_layout(root, [])
    tdir = os.path.join(root, layout["train"]) if layout["train"] else root
    classes = class_names(tdir)
    counts = {}
    for split in ("train", "val", "test"):
        if layout[split] is None:
            continue
        sdir = os.path.join(root, layout[split]) if layout[split] else root
        if sdir != root:
            _stamp(sdir, stamps)
        if split != "train":
            check_split_classes(sdir, tdir, classes)
        total = 0
        for c in classes:
            cdir = os.path.join(sdir, c)
            if not os.path.isdir(cdir):
                continue
            images, others, example = _count_images(cdir, stamps)
            if not images and split == "train":
                raise empty_class_error(cdir, others, example)
            total += images
        if split != "train" and not total:
            raise empty_split_error(sdir, tdir, classes)
        counts[split] = total
    return classes, counts


def _count_images(path: str, stamps: list, depth: int = 0):
    """(image files, other files, an example of the others) under `path`, recursively; hidden entries skipped."""
    images, others, example = 0, 0, None
    try:
        _stamp(path, stamps)
        with os.scandir(path) as entries:
            entries = list(entries)
    except OSError as e:
        raise DataError(f"cannot read the folder {path}: {e}") from e
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir():
            if depth >= MAX_DEPTH:
                raise DataError(f"folder {e.path} is nested more than {MAX_DEPTH} levels deep (a symlink loop?)")
            sub = _count_images(e.path, stamps, depth + 1)
            images, others, example = images + sub[0], others + sub[1], example or sub[2]
        elif e.name.lower().endswith(IMAGE_EXTENSIONS):
            images += 1
        else:
            others, example = others + 1, example or e.name
    return images, others, example
