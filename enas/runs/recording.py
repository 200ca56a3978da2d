"""A run's record as one compact file, and the read-only run made back from it (the CIFAR-10 demo in assets/).

`save` writes the run's meta (config, status, best, result) and every event as gzipped JSON, with a folder
dataset's path made portable (`portable_dataset`: relative to the project folder, or to `~`), and the final
child's weights when the run has them (`final`: final.json and final.pt, base64, with its sha256; a recording
without them, as the older ones, loads all the same); `materialize` re-creates a run folder from it (run.db, and
final.pt and final.json when carried: no checkpoints, so nothing can be trained from it) under a cache folder
keyed by the file's sha256, so every session and every app process shares one copy.

    python -m enas record RUN assets/cifar10-demo.json.gz       # how the demo was made (see assets/README.md)
"""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from enas.runs.store import RunStore, StoreError, check_name

FORMAT = "enas-recording/1"
LOCAL = ("pid", "host", "heartbeat", "traceback")   # meta of the machine that ran it, not of the run
DEMO_NAME = "cifar10-demo"
PROJECT = Path(__file__).resolve().parents[2]
DEMO_FILE = PROJECT / "assets" / "cifar10-demo.json.gz"


class RecordingError(StoreError):
    """A recording that cannot be written or read, with a message that says why."""


def portable_dataset(dataset, project=PROJECT, home=None):
    """`dataset` as another machine can use it: `folder:PATH` with an absolute PATH beside or inside the project
    folder becomes relative to it (`folder:../shared/data/cifar10-jpeg/train`, as the README's commands, run from
    the project folder, give it), one under the home folder `~/...`; anything else is kept as it is."""
    if not isinstance(dataset, str) or not dataset.startswith("folder:"):
        return dataset
    path = os.path.expanduser(dataset[len("folder:"):].strip())
    if not os.path.isabs(path):
        return dataset
    path, project = os.path.normpath(path), os.path.normpath(str(project))
    home = os.path.normpath(home or os.path.expanduser("~"))
    beside = os.path.dirname(project)
    if beside != os.path.dirname(beside) and os.path.commonpath([path, beside]) == beside:   # not "/"
        return "folder:" + os.path.relpath(path, project)
    if home != os.path.dirname(home) and os.path.commonpath([path, home]) == home:
        return "folder:" + os.path.join("~", os.path.relpath(path, home))
    return dataset


def save(store: RunStore, path, note: str = "") -> dict:
    """Write `store`'s meta, events and final weights (those of its result's architecture, if it has them) to `path`
    (gzipped JSON, written atomically); returns a summary: {events, weights (bytes of final.pt, 0: none), bytes}."""
    meta = {k: v for k, v in store.meta().items() if k not in LOCAL}
    if isinstance(meta.get("config"), dict) and "dataset" in meta["config"]:
        meta["config"] = {**meta["config"], "dataset": portable_dataset(meta["config"]["dataset"])}
    if meta.get("status") not in ("finished", "stopped"):
        raise RecordingError(f"run {store.name!r} is {meta.get('status')}: record a finished or stopped run")
    if note:
        meta["recording"] = note
    events = [[ev["kind"], ev["epoch"], ev["step"], round(ev["t"], 2),
               {k: v for k, v in ev.items() if k not in ("id", "kind", "epoch", "step", "t")}]
              for ev in store.events()]
    rec = {"format": FORMAT, "meta": meta, "events": events}
    final = final_weights(store.path)
    if final is not None and final["result"].get("arch") == (meta.get("result") or {}).get("arch"):
        rec["final"] = final
    body = json.dumps(rec, separators=(",", ":"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(body)
    os.replace(tmp, path)
    return {"events": len(events), "weights": len(base64.b64decode(final["pt"])) if "final" in rec else 0,
            "bytes": path.stat().st_size}


def final_weights(folder) -> dict | None:
    """The trained child of the run folder `folder` as a recording carries it: {result: final.json, sha256, pt:
    final.pt's bytes in base64}, or None when the folder has no final.pt and final.json."""
    folder = Path(folder)
    try:
        result = json.loads((folder / "final.json").read_text())
        data = (folder / "final.pt").read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict):
        return None
    return {"result": result, "sha256": hashlib.sha256(data).hexdigest(), "pt": base64.b64encode(data).decode()}


def weights_bytes(rec: dict, path) -> bytes | None:
    """The bytes of final.pt that the recording `rec` (read from `path`) carries, checked against their sha256;
    None when it carries none."""
    final = rec.get("final")
    if final is None:
        return None
    try:
        data = base64.b64decode(final["pt"], validate=True)
        ok = isinstance(final["result"], dict) and hashlib.sha256(data).hexdigest() == final["sha256"]
    except (TypeError, KeyError, binascii.Error):
        ok = False
    if not ok:
        raise RecordingError(f"{path}: the final weights it carries are damaged (not the bytes their sha256 names)")
    return data


def load(path) -> dict:
    """The recording at `path` as {format, meta, events}, or a RecordingError saying what is wrong with it."""
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rec = json.load(f)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such recording") from None
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordingError(f"{path} is not a readable recording ({type(e).__name__}: {e})") from None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise RecordingError(f"{path} is not an {FORMAT} file")
    if not isinstance(rec.get("meta"), dict) or "config" not in rec["meta"] or not isinstance(rec.get("events"), list):
        raise RecordingError(f"{path} lacks its config or events")
    return rec


def materialize(path, name: str = DEMO_NAME, cache=None) -> Path:
    """A runs folder holding run `name` rebuilt from the recording at `path`; built once per file content."""
    check_name(name)
    path = Path(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as e:
        raise RecordingError(f"cannot read the recording {path}: {e.strerror or e}") from None
    root = Path(cache or os.environ.get("ENAS_DEMO_CACHE") or Path(tempfile.gettempdir()) / "enas-recordings")
    runs_dir = root / digest
    if (runs_dir / name / "run.db").is_file():
        return runs_dir
    rec = load(path)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=root))
    try:
        store = RunStore(work / name, create=True)
        store.set_meta(**rec["meta"])
        store.add_events(rec["events"])
        store.close()
        weights = weights_bytes(rec, path)
        if weights is not None:
            (work / name / "final.pt").write_bytes(weights)
            (work / name / "final.json").write_text(json.dumps(rec["final"]["result"], indent=1) + "\n")
        try:
            os.replace(work, runs_dir)        # another process may have built it meanwhile: theirs is the same
        except OSError:
            if not (runs_dir / name / "run.db").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return runs_dir
