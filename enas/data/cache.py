"""The decode cache of image folders: the decoded tensors in `<data_dir>/cache/`, keyed by the folder's file
list (relative path, class, size, mtime) and the image size; written atomically, stale files removed."""
from __future__ import annotations

import hashlib
import os

import torch

from enas.data.splits import Split, data_root

CACHE_VERSION = 2  # bump when decoding changes (2: EXIF orientation)


def cache_key(classes, files: dict, image_size: int) -> str:
    """Hash of what the decoded tensors depend on: the file list with sizes and mtimes, classes, image size."""
    h = hashlib.sha256()
    h.update(f"enas-folder-cache v{CACHE_VERSION} size={image_size} classes={classes}\n".encode())
    for split in ("train", "val", "test"):
        h.update(f"[{split}]\n".encode())
        h.update("".join(f"{rel}\t{ci}\t{size}\t{mtime}\n" for rel, ci, size, mtime in files.get(split, []))
                 .encode())
    return h.hexdigest()[:32]


def save_cache(path: str, obj: dict, notes: list, stale: list):
    """Write atomically (temp file, then rename); then remove `stale` (older caches of the same folder)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except Exception as e:  # noqa: BLE001 - no cache is slower, not wrong
        notes.append(f"could not write the decode cache {path} ({e}); the next start decodes again")
        try:
            os.remove(tmp)
        except OSError:
            pass
        return
    for f in stale:
        try:
            os.remove(f)
        except OSError:
            pass


def load_cache(path: str | None, files: dict, total: int):
    """The cached decode, or None when missing, unreadable or not matching the file list."""
    if path is None:
        return None
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
        if obj.get("version") != CACHE_VERSION or set(obj["splits"]) != set(files):
            return None
        n = sum(int(v["images"].shape[0]) for v in obj["splits"].values())
        for v in obj["splits"].values():
            Split(v["images"], v["labels"])  # types and shapes
        if n + len(obj["failed_files"]) != total or len(obj["failed_files"]) != len(obj["failed_reasons"]):
            return None
        return obj
    except Exception:  # noqa: BLE001 - a missing or bad cache file just means decoding again
        return None


def cache_paths(data_dir, root: str, image_size: int, key: str):
    """(the cache file to use, an existing file with this key if any, older caches of this folder and size).
    Files are named folder-<hash of the folder's path>-s<size>-<key>.pt: the key alone finds a moved folder's
    cache; the path hash finds the stale caches of a folder whose files changed."""
    cache = os.path.join(data_root(data_dir), "cache")
    where = hashlib.sha256(root.encode()).hexdigest()[:8]
    path = os.path.join(cache, f"folder-{where}-s{image_size}-{key}.pt")
    try:
        names = os.listdir(cache)
    except OSError:
        names = []
    hit = path if os.path.basename(path) in names else next(
        (os.path.join(cache, n) for n in names if n.startswith("folder-") and n.endswith(f"-{key}.pt")), None)
    stale = [os.path.join(cache, n) for n in names
             if n.startswith(f"folder-{where}-s{image_size}-") and n.endswith(".pt") and not n.endswith(f"-{key}.pt")]
    return path, hit, stale
