"""The runs folder: list its runs, name a new one, delete one (never while a process runs it)."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

from enas.runs.store import (
    LIVE,
    NAME_RE,
    RunStore,
    StoreError,
    check_name,
    run_path,
    runs_dir_default,
)

TRASH = ".trash-"  # a run being deleted is renamed to .trash-<name>-<random> first: never listed half-deleted


def list_runs(runs_dir=None) -> list:
    """All runs under `runs_dir`: dicts with name, path, status, created, config and message; newest first."""
    root = Path(runs_dir or runs_dir_default())
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        if not (p / "run.db").is_file() or not NAME_RE.match(p.name):
            continue
        try:
            store = RunStore(p)
            try:
                m = store.meta()
                out.append({"name": p.name, "path": str(p), "status": store.status(), "created": m.get("created", 0),
                            "config": m.get("config", {}), "message": m.get("message", ""),
                            "phase": m.get("phase", "")})
            finally:
                store.close()
        except (StoreError, sqlite3.DatabaseError, json.JSONDecodeError) as e:
            out.append({"name": p.name, "path": str(p), "status": "unreadable", "created": 0, "config": {},
                        "message": str(e), "phase": ""})
    return sorted(out, key=lambda r: r["created"], reverse=True)


def new_run_name(prefix: str = "run") -> str:
    """A fresh, sortable run name such as run-20261128-221502-3f2a."""
    return check_name(f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}")


def delete_run(runs_dir, name: str, confirm=None) -> Path | None:
    """Delete run `name` and all its files, unless a process is running it or `confirm(folder)` says no (then
    None); returns the folder it had. The folder is first renamed to a hidden name, so a deletion cut short
    never leaves a half-deleted run listed."""
    path = run_path(runs_dir, name)
    if not (path / "run.db").is_file():
        raise StoreError(f"no run named {name!r} in {path.parent}")
    try:
        store = RunStore(path)
        try:
            status = store.status()
        finally:
            store.close()
    except (StoreError, sqlite3.DatabaseError, json.JSONDecodeError):
        status = "unreadable"  # a broken run.db: no process can be running it
    if status in LIVE:
        raise StoreError(f"run {name!r} is {status}: stop it before deleting it")
    if confirm is not None and not confirm(path):
        return None
    trash = path.with_name(f"{TRASH}{name}-{os.urandom(4).hex()}")
    try:
        path.rename(trash)
    except OSError as e:
        raise StoreError(f"cannot delete run {name!r}: {e}") from None
    try:
        shutil.rmtree(trash)
    except OSError as e:
        raise StoreError(f"run {name!r} is deleted from the list, but some of its files are left in {trash}: "
                         f"{e}") from None
    return path
