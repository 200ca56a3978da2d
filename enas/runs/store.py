"""The run store: one folder per run, readable while a search writes it and consistent after a crash.

    runs/<name>/
      run.db              SQLite in WAL mode: meta (config, status, errors) and events (every metric,
                          sampled architecture, policy snapshot, derive ranking, final result), by epoch
      ckpt-00012.pt       checkpoints after epoch 12 (temporary file, fsync, rename; the last K kept)
      best.json best.txt  the derived architecture; final.pt and final.json after final training

Events are committed in small transactions (at most `commit_every` seconds apart, and at every epoch end
before its checkpoint), so a kill -9 loses at most the last uncommitted second, never a file's integrity.
SQLite's WAL mode needs every reader and writer on one machine; a runs folder on a network file system, shared
by a Ray cluster, takes ENAS_STORE_JOURNAL=delete. A run launched on Ray is `claim`ed by its actor: one writer.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
import traceback
from pathlib import Path

from enas.config import Config, ConfigError
from enas.errors import DataError, StoreError
from enas.space import ArchitectureError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CKPT_RE = re.compile(r"^ckpt-(\d{5})\.pt$")
STALE_S = 30.0  # a run of another machine whose heartbeat is older than this was interrupted
LIVE = ("queued", "running", "paused")  # statuses of a run some process holds (interrupted if it died)
JOURNALS = ("wal", "delete")  # ENAS_STORE_JOURNAL: wal (one machine), delete (a runs folder on NFS: README)


class Busy(StoreError):
    """Another live process writes the run (or it was launched again since): this one must leave it alone."""


EXPECTED = (ConfigError, DataError, StoreError, ArchitectureError)  # failures shown without a traceback


def runs_dir_default() -> Path:
    return Path(os.environ.get("ENAS_RUNS_DIR", "runs"))


def check_name(name: str) -> str:
    """A run name: 1-64 letters, digits, '.', '_' or '-', not starting with '.', so it stays inside the runs folder."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name in (".", ".."):
        raise StoreError(f"run name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def run_path(runs_dir, name: str) -> Path:
    """The folder of run `name` under `runs_dir`, refusing names that would leave it."""
    root = Path(runs_dir).resolve()
    path = (root / check_name(name)).resolve()
    if path.parent != root:
        raise StoreError(f"run name {name!r} leaves the runs folder {root}")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_alive(m: dict) -> bool:
    """Is the process that holds a run (meta pid and host) alive: checked on this machine, else a recent heartbeat."""
    if m.get("host") == socket.gethostname():
        return _pid_alive(m.get("pid", -1))
    return time.time() - m.get("heartbeat", 0) < STALE_S


def _who(m: dict) -> str:
    return f"process {m.get('pid', '?')} on {m.get('host', '?')}"


def journal_mode() -> str:
    """SQLite's journal mode for run databases, from ENAS_STORE_JOURNAL (default wal)."""
    mode = os.environ.get("ENAS_STORE_JOURNAL", "wal").lower()
    if mode not in JOURNALS:
        raise StoreError(f"ENAS_STORE_JOURNAL={mode!r} is not allowed; allowed: {', '.join(JOURNALS)}")
    return mode


class RunStore:
    """One run's folder. Writers call `log` (buffered) and `commit`; readers use `events`, `meta` and `status`."""

    def __init__(self, path: Path, create: bool = False, commit_every: float = 1.0):
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=False)
        elif not (self.path / "run.db").is_file():
            raise StoreError(f"no run at {self.path} (it has no run.db)")
        self.commit_every = commit_every
        self._lock = threading.Lock()
        self._pending: list = []
        self._last_commit = time.monotonic()
        journal = journal_mode()
        self._db = sqlite3.connect(self.path / "run.db", check_same_thread=False, timeout=30)
        try:
            self._db.execute(f"PRAGMA journal_mode={journal}")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript("""
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, epoch INTEGER,
                    step INTEGER, t REAL NOT NULL, data TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id);
            """)
            self._db.commit()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"{self.path / 'run.db'} is not a readable run database: {e}") from None

    # --- creating and opening --------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir, name: str, config: Config) -> "RunStore":
        path = run_path(runs_dir, name)
        if path.exists():
            raise StoreError(f"a run named {name!r} already exists in {path.parent}")
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path, create=True)
        store.set_meta(config=config.to_dict(), name=name, created=time.time(), status="created")
        return store

    @classmethod
    def open(cls, runs_dir, name: str) -> "RunStore":
        return cls(run_path(runs_dir, name))

    def close(self):
        with self._lock:
            self._flush()
            self._db.close()

    # --- meta ------------------------------------------------------------------------------------
    def set_meta(self, **items):
        with self._lock:
            self._flush()
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in items.items()])
            self._db.commit()

    def meta(self) -> dict:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> Config:
        return Config.from_stored(self.meta()["config"])

    def set_status(self, status: str, message: str = "", **extra):
        self.set_meta(status=status, message=message, pid=os.getpid(), host=socket.gethostname(),
                      heartbeat=time.time(), **extra)

    def status(self) -> str:
        """created | queued | running | paused | stopped | finished | failed, or interrupted for a run whose
        process died (queued: waiting for a Ray cluster to place it; its process is the one that launched it)."""
        m = self.meta()
        status = m.get("status", "created")
        return "interrupted" if status in LIVE and not _holder_alive(m) else status

    def claim(self, owner: dict, wait: float = 0.0):
        """Make `owner` (a dict whose `id` names one launch) the run's only writer, in one SQLite write
        transaction: refused (Busy) when the run was launched again since (another id), or while another live
        process runs it; a dead one's heartbeat may take up to `wait` seconds to go stale."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:   # no flush: it would refresh the heartbeat of the holder this may replace
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    m = {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}
                    holder = m.get("owner") or {}
                    if holder.get("id") != owner["id"]:
                        raise Busy(f"run {self.name!r} was launched again since this process was started for it "
                                   f"(now held by {_who(holder)}): this one leaves it alone")
                    busy = m.get("status") in ("running", "paused") and _holder_alive(m)
                    if not busy:
                        mine = {"owner": owner, "pid": os.getpid(), "host": socket.gethostname(),
                                "heartbeat": time.time()}
                        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                             [(k, json.dumps(v)) for k, v in mine.items()])
                    self._db.commit()
                except BaseException:
                    self._db.rollback()
                    raise
            if not busy:
                return
            if time.monotonic() >= deadline:
                raise Busy(f"run {self.name!r} is being written by {_who(m)}: two processes never write one run")
            time.sleep(1.0)

    def fail(self, exc: BaseException):
        """Mark the run failed, keeping the message and, for an unexpected error, the traceback."""
        message, tb = failure(exc)
        (self.path / "error.txt").write_text(tb or message + "\n")
        self.set_status("failed", message, traceback=tb)

    # --- events ----------------------------------------------------------------------------------
    def log(self, kind: str, data: dict, epoch: int | None = None, step: int | None = None):
        """Buffer one event; committed within `commit_every` seconds (or at `commit`)."""
        with self._lock:
            self._pending.append((kind, epoch, step, time.time(), json.dumps(data)))
            if time.monotonic() - self._last_commit >= self.commit_every:
                self._flush()

    def commit(self):
        with self._lock:
            self._flush()

    def _flush(self):
        if self._pending:
            self._db.executemany("INSERT INTO events (kind, epoch, step, t, data) VALUES (?, ?, ?, ?, ?)",
                                 self._pending)
            self._pending.clear()
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)", (json.dumps(time.time()),))
        self._db.commit()
        self._last_commit = time.monotonic()

    def events(self, kind: str | None = None, after_id: int = 0, limit: int | None = None) -> list:
        """Committed events as dicts {id, kind, epoch, step, t, **data}, oldest first."""
        sql = "SELECT id, kind, epoch, step, t, data FROM events WHERE id > ?"
        args: list = [after_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [{"id": i, "kind": k, "epoch": e, "step": s, "t": t, **json.loads(d)} for i, k, e, s, t, d in rows]

    def add_events(self, rows):
        """Insert recorded events as they were: rows of (kind, epoch, step, t, data dict)."""
        with self._lock:
            self._flush()
            self._db.executemany("INSERT INTO events (kind, epoch, step, t, data) VALUES (?, ?, ?, ?, ?)",
                                 [(k, e, s, t, json.dumps(d)) for k, e, s, t, d in rows])
            self._db.commit()

    def last_id(self) -> int:
        """The id of the newest committed event (0 if none)."""
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def delete_events(self, kinds, from_epoch: int):
        """Drop events of `kinds` at or after `from_epoch` (written after the checkpoint a resume starts from)."""
        with self._lock:
            self._flush()
            self._db.executemany("DELETE FROM events WHERE kind = ? AND epoch >= ?", [(k, from_epoch) for k in kinds])
            self._db.commit()

    # --- checkpoints -----------------------------------------------------------------------------
    def checkpoints(self) -> list:
        """Checkpoint paths, oldest first."""
        return sorted(p for p in self.path.iterdir() if CKPT_RE.match(p.name))

    def save_checkpoint(self, state: dict, epoch: int, keep: int = 2) -> Path:
        """Write atomically (temp file, fsync, rename); then drop all but the last `keep`. Raises OSError."""
        path = self.path / f"ckpt-{epoch:05d}.pt"
        save_atomic(state, path)
        for old in self.checkpoints()[:-keep]:
            old.unlink(missing_ok=True)
        return path

    def load_checkpoint(self, path: Path | None = None) -> dict | None:
        """The newest checkpoint (or `path`), None if there is none; a bad file raises StoreError."""
        if path is None:
            ckpts = self.checkpoints()
            if not ckpts:
                return None
            path = ckpts[-1]
        return load_file(path)

    # --- files -----------------------------------------------------------------------------------
    def write_text(self, name: str, text: str):
        write_text_atomic(self.path / name, text)


def failure(exc: BaseException) -> tuple:
    """(message, traceback) of a failed run. Errors that say what to change (settings, data, run folders,
    architectures) are expected: their message alone, no traceback. Anything else is a bug: its traceback."""
    if isinstance(exc, EXPECTED):
        return str(exc), None
    return f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def write_atomic(path: Path, write):
    """Call `write(f)` on a temporary binary file beside `path`, flush it to disk, then rename it over `path`: the
    file is whole or untouched, and a failure leaves no temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str):
    """Write text (UTF-8) to `path` atomically (`write_atomic`)."""
    write_atomic(path, lambda f: f.write(text.encode()))


def save_atomic(obj, path: Path):
    """torch.save to `path` atomically (`write_atomic`)."""
    import torch
    write_atomic(path, lambda f: torch.save(obj, f))


def load_file(path) -> dict:
    """Load a checkpoint or weights file safely (weights_only), with a clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated, corrupt or foreign files
        raise StoreError(f"{path} is not a readable enas checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200] if str(e) else 'corrupt or truncated'})") from None
    if not isinstance(obj, dict) or obj.get("format") != "enas-explorer":
        raise StoreError(f"{path} is not an enas-explorer file (a PyTorch file of another kind)")
    return obj
