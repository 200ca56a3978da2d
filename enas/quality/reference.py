"""The rank check against a fixed reference set: do a run's shared weights rank architectures as training them
alone does, measured on the same K architectures for every run of a space and recipe?

The reference: K distinct architectures drawn uniformly (ops uniform, each skip bit 1/2) from a fixed stream
(REFERENCE_SEED's), each trained from scratch for E epochs with the run's final-training recipe twice, by the
training seeds `reference-a` and `reference-b` (initial weights and data order); its stand-alone accuracy is the
mean of the two (validation, whole split). It is trained once, by an engine of `reference_config` (the run's
FIELDS, seed REFERENCE_SEED: runs of every seed share it; its data split is REFERENCE_SEED's), and kept as JSON
in the data cache folder, `reference-<key>.json`, written atomically after every training: a stopped build
resumes, a built one is read back. Kendall tau of seed a against seed b is the ceiling: no score of these
architectures can be expected to agree with the stand-alone ranking much better than training them again does.

A run's side: each architecture's validation accuracy (the run's split, whole) with the shared weights and its own
recalibrated BN statistics. Events of the run: `refcheck_child` (one per architecture), `refcheck_result`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from pathlib import Path

from enas.config import Config
from enas.controller import RandomSampler
from enas.errors import StoreError
from enas.quality.rank import (
    bootstrap_interval,
    kendall_tau,
    spearman_rho,
    top_k_agreement,
)
from enas.seeds import stream
from enas.space import Architecture, space_size

REFERENCE_SEED = 0
# what the data split and the final-training recipe depend on: the reference is shared by runs equal in these
FIELDS = ("dataset", "image_size", "train_subset", "val_size", "nodes", "channels", "ops", "first_node_bn", "bn",
          "dropout", "batch_size", "momentum", "weight_decay", "grad_clip", "final_lr", "precision",
          "steps_per_epoch")
TRAININGS = ("a", "b")   # the training seeds: kinds reference-a, reference-b
MIN_K = 4
FORMAT = "enas-reference"


def reference_config(config: Config) -> Config:
    """The configuration that trains the reference: `config`'s FIELDS, its device, data_dir and threads (where and
    how, not what), seed REFERENCE_SEED, the rest the defaults."""
    d = config.to_dict()
    return Config.from_dict({**{f: d[f] for f in FIELDS}, "seed": REFERENCE_SEED, "device": d["device"],
                             "data_dir": d["data_dir"], "threads": d["threads"]})


def reference_fields(config: Config) -> dict:
    """The FIELDS of `config`, as stored in the cache file."""
    d = config.to_dict()
    return {f: d[f] for f in FIELDS}


def reference_key(config: Config, k: int, epochs: int) -> str:
    """Hash of exactly what the reference depends on: `config`'s FIELDS, K, E and REFERENCE_SEED."""
    what = {"fields": reference_fields(config), "k": k, "epochs": epochs, "reference_seed": REFERENCE_SEED}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def reference_path(cache_dir, config: Config, k: int, epochs: int) -> Path:
    """The reference's cache file: `<cache_dir>/reference-<key>.json`."""
    return Path(cache_dir) / f"reference-{reference_key(config, k, epochs)}.json"


def reference_archs(config: Config, k: int) -> list:
    """K distinct architectures of `config`'s space, drawn one at a time, uniformly, from REFERENCE_SEED's stream
    (duplicates drawn again): the same for every run of the space, whatever its seed."""
    sampler, gen, archs = RandomSampler(config.nodes, config.ops), stream(REFERENCE_SEED, "reference-archs"), []
    while len(archs) < k:
        arch = sampler.sample(1, generator=gen).archs[0]
        if arch not in archs:
            archs.append(arch)
    return archs


def check_reference(store, config: Config, k: int, epochs: int, top_k: int | None = None):
    """Refuse a reference check that cannot run, with a clear message: no run on disk, no checkpoint (the shared
    weights), K < MIN_K or above the space's size, epochs < 1, top_k outside 1..K."""
    if store is None:
        raise StoreError("a reference check needs a run on disk")
    if k < MIN_K or epochs < 1:
        raise ValueError(f"a reference check needs K >= {MIN_K} architectures and epochs >= 1, got K={k}, "
                         f"epochs={epochs}")
    size = space_size(config.nodes, config.ops)
    if k > size:
        raise ValueError(f"K={k}: the space ({config.nodes} nodes, {len(config.ops)} ops) has only {size} "
                         "architectures")
    if top_k is not None and not 1 <= top_k <= k:
        raise ValueError(f"top_k={top_k}: must be 1 to K={k}")
    if not store.checkpoints():
        raise StoreError("no search checkpoint yet (the shared weights): search at least one epoch first")


def build_reference(config: Config, k: int, epochs: int, cache_dir, make_engine, on_row=None, rows=None) -> dict:
    """The reference of `config`'s space and recipe, as its cache file holds it (fields, key, rows of arch,
    standalone_a, standalone_b): what the file lacks is trained by `make_engine(reference_config(config))`, built
    only then, and saved after every training. `on_row(n, row, trained)` follows each architecture. `rows`: the
    indices this call may train and follow (default all), so that processes can share one build; a row outside them
    is as the file held it at this call's last save (None while no process had trained it)."""
    path = reference_path(cache_dir, config, k, epochs)
    fresh = {"format": FORMAT, "key": reference_key(config, k, epochs), "fields": reference_fields(config), "k": k,
             "epochs": epochs, "reference_seed": REFERENCE_SEED,
             "trainings": [f"reference-{t}" for t in TRAININGS],
             "measures": f"validation accuracy (whole split) after {epochs} epoch(s) from scratch, the final-training "
                         "recipe, once per training seed",
             "rows": [{"arch": str(a), **{f"standalone_{t}": None for t in TRAININGS}}
                      for a in reference_archs(config, k)]}
    doc = _read(path, fresh) or fresh
    engine = None
    for n, row in enumerate(doc["rows"]):
        trained = False
        for t in TRAININGS:
            if row[f"standalone_{t}"] is None and (rows is None or n in rows):
                if engine is None:
                    engine = make_engine(reference_config(config))
                row[f"standalone_{t}"] = engine.standalone_accuracy(Architecture.parse(row["arch"]), epochs,
                                                                    f"reference-{t}")["val_acc"]
                _save(path, doc)
                trained = True
        if on_row is not None and (rows is None or n in rows):
            on_row(n, row, trained)
    return doc


def _read(path: Path, expected: dict) -> dict | None:
    """The cache file, or None when missing, unreadable, or not this reference (key, architectures)."""
    try:
        doc = json.loads(path.read_text())
        same = (doc["format"] == FORMAT and doc["key"] == expected["key"]
                and [r["arch"] for r in doc["rows"]] == [r["arch"] for r in expected["rows"]])
        if same and all(isinstance(r[f"standalone_{t}"], (float, int, type(None)))
                        for r in doc["rows"] for t in TRAININGS):
            return doc
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _save(path: Path, doc: dict):
    """Write atomically (temp file, then rename), after taking in what another process saved meanwhile; the
    read and the write hold a lock on the folder, so that two processes saving at once lose neither's trainings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)   # released when the descriptor closes
        disk = _read(path, doc)
        for row, old in zip(doc["rows"], disk["rows"] if disk else ()):
            for t in TRAININGS:
                if row[f"standalone_{t}"] is None:
                    row[f"standalone_{t}"] = old[f"standalone_{t}"]
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(doc, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        os.close(folder)


def reference_stats(rows: list, top_k: int) -> dict:
    """Kendall tau, Spearman rho and top-k agreement of shared_acc against standalone_acc, and the ceiling (Kendall
    tau of standalone_a against standalone_b), each with its 95% bootstrap interval (`<name>_95`)."""
    x, y = [r["shared_acc"] for r in rows], [r["standalone_acc"] for r in rows]
    a, b = [r["standalone_a"] for r in rows], [r["standalone_b"] for r in rows]
    agree = lambda u, v: top_k_agreement(u, v, top_k)  # noqa: E731
    out = {}
    for name, statistic, (u, v) in (("kendall_tau", kendall_tau, (x, y)), ("spearman_rho", spearman_rho, (x, y)),
                                    ("top_k_agreement", agree, (x, y)), ("ceiling_tau", kendall_tau, (a, b))):
        out[name], out[f"{name}_95"] = statistic(u, v), bootstrap_interval(u, v, statistic)
    return out


def run_engine_factory(engine):
    """Reference engines of the run's engine class, steered by the run: its pauses, stops and status."""
    def make(config):
        ref = type(engine)(config, control=engine.control)
        ref.wait = engine.wait   # between the reference's training steps, as between the run's
        return ref
    return make


def shared_scores(engine, k: int) -> list:
    """The K reference architectures' validation accuracy (the run's split, whole) with the engine's shared weights,
    each with its own recalibrated BN statistics; `engine.wait()` between them (pauses, stops)."""
    shared = []
    for arch in reference_archs(engine.config, k):
        engine.wait()
        shared.append(engine.shared_accuracy(arch))
    return shared


def check_result(doc: dict, shared: list, top_k: int) -> dict:
    """A reference check's rows (arch, shared_acc, standalone_acc: the mean of the two trainings, and each) and
    statistics, from the reference `doc` and the run's `shared` scores of its architectures, in its order."""
    rows = [{"arch": r["arch"], "shared_acc": s, "standalone_acc": (r["standalone_a"] + r["standalone_b"]) / 2,
             "standalone_a": r["standalone_a"], "standalone_b": r["standalone_b"]} for r, s in zip(doc["rows"], shared)]
    return {"k": doc["k"], "epochs": doc["epochs"], "top_k": top_k, "key": doc["key"],
            "reference_seed": doc["reference_seed"], "rows": rows, **reference_stats(rows, top_k)}


def reference_check(engine, k: int, epochs: int, cache_dir, make_engine=None, top_k: int | None = None) -> dict:
    """Rank a searched run's shared-weight accuracy of the K reference architectures against their stand-alone
    accuracy (the reference: read from `cache_dir`, or trained there by `make_engine(config)`, default
    `run_engine_factory(engine)`); top-k agreement with k = top_k, default max(1, K // 4). Returns (and stores as
    `refcheck.json` and meta `refcheck`) the rows and the statistics."""
    store = engine.store
    check_reference(store, engine.config, k, epochs, top_k)
    top_k = top_k or max(1, k // 4)
    engine.restore_for_use()
    store.set_meta(phase="refcheck")
    engine.set_status("running", f"reference check: scoring {k} random architectures with the shared weights")
    shared = shared_scores(engine, k)
    path = reference_path(cache_dir, engine.config, k, epochs)
    engine.set_status("running", f"reference check: the stand-alone reference of {k} architectures ({epochs} "
                                 f"epoch(s), 2 seeds each; trained once, kept in {path})")

    def on_row(n, row, trained):
        engine.emit("refcheck_child", engine.epoch, n, arch=row["arch"], shared_acc=shared[n],
                    standalone_a=row["standalone_a"], standalone_b=row["standalone_b"], trained=trained,
                    epochs=epochs, progress=(n + 1) / k)
    doc = build_reference(engine.config, k, epochs, cache_dir, make_engine or run_engine_factory(engine), on_row)
    result = {"run": store.name, **check_result(doc, shared, top_k), "cache": str(path), "fields": doc["fields"]}
    engine.emit("refcheck_result", engine.epoch, None, **result)
    store.write_text("refcheck.json", json.dumps(result, indent=1) + "\n")
    store.set_meta(refcheck=result)
    engine.set_status("finished", f"reference check of {k} architectures ({epochs} epoch(s)): Kendall tau "
                                  f"{result['kendall_tau']:.2f} (ceiling {result['ceiling_tau']:.2f}), top-{top_k} "
                                  f"agreement {result['top_k_agreement']:.2f}")
    return result
