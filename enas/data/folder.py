"""Image folders: `PATH/<class>/...` or `PATH/train/<class>/...` with optional val/ and test/, scanned, decoded
(`enas.data.decode`) and cached (`enas.data.cache`) into a `Dataset`."""
from __future__ import annotations

import os
import time

import torch

from enas.data.cache import (
    CACHE_VERSION,
    cache_key,
    cache_paths,
    load_cache,
    save_cache,
)
from enas.data.decode import decode_all
from enas.data.splits import (
    DataError,
    Dataset,
    Split,
    carve,
    finish,
    resolve_size,
    take,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")
VAL_DIRS = ("val", "valid", "validation")


def _scan_class_dir(path: str, rel: str, depth: int = 0):
    """Image files under `path` (recursively, sorted) as (relative path, size, mtime_ns) and the relative paths
    of the other files; `rel` is `path` relative to the dataset root."""
    images, others = [], []
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"cannot read the folder {path}: {e}") from e
    for e in entries:
        if e.name.startswith("."):
            continue
        r = f"{rel}/{e.name}" if rel else e.name
        if e.is_dir():
            if depth >= 16:  # a symlink loop or an absurdly deep tree
                raise DataError(f"folder {e.path} is nested more than 16 levels deep (a symlink loop?)")
            sub_i, sub_o = _scan_class_dir(e.path, r, depth + 1)
            images += sub_i
            others += sub_o
        elif e.name.lower().endswith(IMAGE_EXTENSIONS):
            try:
                st = e.stat()
                images.append((r, st.st_size, st.st_mtime_ns))
            except OSError:
                images.append((r, -1, -1))
        else:
            others.append(r)
    return images, others


def subdirs(path):
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    except OSError as e:
        raise DataError(f"cannot read the folder {path}: {e}") from e


def find_layout(root: str, notes: list):
    """{'train': dir, 'val': dir|None, 'test': dir|None} relative to root ('' for the class-folder layout)."""
    subs = subdirs(root)
    if "train" in subs:
        val = next((d for d in VAL_DIRS if d in subs), None)
        test = "test" if "test" in subs else None
        extra = [d for d in subs if d not in ("train", val, test)]
        if extra:
            notes.append(f"ignored folder(s) next to train/: {', '.join(extra[:5])}" + (" ..." if len(extra) > 5
                                                                                        else ""))
        return {"train": "train", "val": val, "test": test}
    split_like = [d for d in subs if d in VAL_DIRS + ("test",)]
    if split_like and len(split_like) == len(subs):
        raise DataError(f"folder {root} has {', '.join(d + '/' for d in split_like)} but no train/; expected "
                        f"PATH/train/<class>/... (with optional val/ and test/) or PATH/<class>/...")
    return {"train": "", "val": None, "test": None}


def _file_list(root: str, notes: list):
    """Scan the folder: classes, and per split a list of (relative path, class index)."""
    layout = find_layout(root, notes)
    tdir = os.path.join(root, layout["train"]) if layout["train"] else root
    classes = class_names(tdir)
    try:
        loose = [e.name for e in os.scandir(tdir) if e.is_file() and not e.name.startswith(".")]
    except OSError:
        loose = []
    ignored = []
    if loose:
        ignored += [os.path.relpath(os.path.join(tdir, f), root) for f in loose]
    files = {}
    for split in ("train", "val", "test"):
        if layout[split] is None:
            continue
        sdir = os.path.join(root, layout[split]) if layout[split] else root
        if split != "train":
            check_split_classes(sdir, tdir, classes)
            for f in os.scandir(sdir):
                if f.is_file() and not f.name.startswith("."):
                    ignored.append(os.path.relpath(f.path, root))
        items = []
        for ci, c in enumerate(classes):
            cdir = os.path.join(sdir, c)
            if not os.path.isdir(cdir):
                continue
            imgs, others = _scan_class_dir(cdir, os.path.relpath(cdir, root))
            ignored += others
            if not imgs and split == "train":
                raise empty_class_error(cdir, len(others), others[0] if others else None)
            items += [(p, ci, size, mtime) for p, size, mtime in imgs]
        if split != "train" and not items:
            raise empty_split_error(sdir, tdir, classes)
        files[split] = items
    files["_tdir"] = tdir
    ignored = [f for f in ignored if not os.path.basename(f).startswith(".")]  # hidden files: silently
    if ignored:
        notes.append(f"ignored {len(ignored)} file(s) that are not images ({', '.join(IMAGE_EXTENSIONS)}): "
                     + ", ".join(ignored[:3]) + (" ..." if len(ignored) > 3 else ""))
    return classes, files


def folder_root(path: str) -> str:
    """The absolute path of the folder of `folder:PATH`; DataError when it is missing or a file."""
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(root):
        raise DataError(f"folder not found: {root}. Expected {root}/<class>/*.jpg|png|... (one subfolder per "
                        f"class) or {root}/train/<class>/... with optional val/ and test/")
    if not os.path.isdir(root):
        raise DataError(f"{root} is a file, not a folder. 'folder:PATH' needs a folder with one subfolder per "
                        f"class ({root}/<class>/*.jpg|png|...)")
    return root


def class_names(tdir: str) -> list:
    """The class folders of the training folder `tdir`, sorted; DataError when there are fewer than two."""
    classes = subdirs(tdir)
    if len(classes) < 2:
        raise DataError(f"folder {tdir} has {len(classes)} class folder(s){': ' + classes[0] if classes else ''}; "
                        f"at least 2 are needed. Expected one subfolder per class: {tdir}/<class>/*.jpg|png|...")
    return classes


def check_split_classes(sdir: str, tdir: str, classes: list):
    """Refuse class folders in val/ or test/ (`sdir`) that the training folder `tdir` lacks."""
    unknown = [c for c in subdirs(sdir) if c not in classes]
    if unknown:
        raise DataError(f"folder {sdir} has class folder(s) not in {tdir}: {', '.join(unknown[:5])}; "
                        f"the classes are: {', '.join(classes)}")


def empty_class_error(cdir: str, others: int, example: str | None) -> DataError:
    """A training class folder without image files; `others` files of other kinds, e.g. `example`."""
    msg = f"class folder {cdir} has no image files (allowed: {', '.join(IMAGE_EXTENSIONS)})"
    if others:
        msg += f"; it has {others} other file(s), e.g. {os.path.basename(example)}"
    return DataError(msg)


def empty_split_error(sdir: str, tdir: str, classes: list) -> DataError:
    """A val/ or test/ folder without images in any class folder."""
    return DataError(f"folder {sdir} has no images in class folders named like those of {tdir} "
                     f"({', '.join(classes[:5])}{' ...' if len(classes) > 5 else ''})")


def _memory_check(n: int, size: int, where: str):
    need = n * 3 * size * size
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > 0.7 * total:
        raise DataError(f"{where}: {n:,} images at {size}x{size} need {need / 2**30:.1f} GiB in memory, more than "
                        f"this machine can hold ({total / 2**30:.1f} GiB); use a smaller image_size")


def load_folder(path, data_dir, image_size, val_size, test_size, train_subset, seed, progress) -> Dataset:
    root = folder_root(path)
    name = f"folder:{root}"
    notes: list = []
    classes, files = _file_list(root, notes)
    tdir = files.pop("_tdir")
    total = sum(len(v) for v in files.values())
    _memory_check(total, image_size, f"folder {root}")
    key = cache_key(classes, files, image_size)
    cache_path, hit, stale = cache_paths(data_dir, root, image_size, key)
    t0 = time.time()
    cached = load_cache(hit, files, total)
    if cached is not None:
        cache_path = hit
        decoded = cached["splits"]
        failed = dict(zip(cached["failed_files"], cached["failed_reasons"]))
        notes.append(f"loaded {total - len(failed):,} decoded images from the cache {cache_path} in "
                     f"{time.time() - t0:.1f} s")
    else:
        decoded, failed = {}, {}
        for split, items in files.items():
            rels = [it[0] for it in items]
            imgs, ok, bad = decode_all(root, rels, image_size, progress)
            labels = torch.tensor([it[1] for it in items], dtype=torch.int64)
            decoded[split] = {"images": imgs[ok].contiguous(), "labels": labels[ok].contiguous()}
            failed.update(bad)
        save_cache(cache_path, {"version": CACHE_VERSION, "root": root, "classes": classes, "splits": decoded,
                                "failed_files": list(failed), "failed_reasons": list(failed.values())}, notes,
                   stale)
        notes.append(f"decoded {total - len(failed):,} images from {root} in {time.time() - t0:.1f} s "
                     f"(cached in {cache_path})")
    if failed:
        items = list(failed.items())
        notes.append(f"skipped {len(failed)} unreadable file(s) of {total:,}: "
                     + "; ".join(f"{r} ({why})" for r, why in items[:3]) + ("; ..." if len(items) > 3 else ""))
    tr = decoded["train"]
    counts = torch.bincount(tr["labels"], minlength=len(classes))
    empty = [c for c, k in zip(classes, counts.tolist()) if k == 0]
    if empty:
        bad = [f"{r} ({why})" for r, why in failed.items()][:3]
        raise DataError(f"class folder(s) {', '.join(os.path.join(tdir, c) for c in empty)} have no readable "
                        f"images; unreadable: {'; '.join(bad)}")
    x, y = tr["images"], tr["labels"]
    own_val, own_test = "val" in decoded, "test" in decoded
    n_val = 0 if own_val else resolve_size("val_size", val_size, 0.1, len(y))
    n_test = 0 if own_test else resolve_size("test_size", test_size, 0.1, len(y))
    for flag, v, what in ((own_val, val_size, "val_size"), (own_test, test_size, "test_size")):
        if flag and v:
            notes.append(f"{what}={v} ignored: the folder has its own {what[:-5]} split")
    tri, vai, tei = carve(y, n_val, n_test, seed, classes, f"folder {root}")
    val = (Split(decoded["val"]["images"], decoded["val"]["labels"]) if own_val else take(x, y, vai))
    if own_test:
        test = Split(decoded["test"]["images"], decoded["test"]["labels"])
    elif n_test > 0:
        test = take(x, y, tei)
    else:
        test = None
        notes.append("no test split (test_size=0)")
    if len(val) == 0:
        raise DataError(f"folder {root}: the validation split is empty; use val_size >= 1 or a fraction such as "
                        f"0.1, or put images in {root}/val/<class>/")
    carved = [s for s, own, k in (("validation", own_val, n_val), ("test", own_test, n_test)) if not own and k]
    if carved:
        notes.append(f"{' and '.join(carved)} split(s) carved from the training images "
                     f"({n_val:,} val, {n_test:,} test; stratified, fixed by seed {seed})")
    return finish(name, classes, take(x, y, tri), val, test, train_subset, seed, notes)
