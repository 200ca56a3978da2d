"""Sweeps: one configuration over seeds and chosen field values (their cross product), as ordinary runs.

`python -m enas sweep --name S --seeds 0-4 --controller enas,random` makes the runs S-enas-s0 ... S-random-s4,
each searched, derived and trained (final), and runs them: here one after another, or all at once as Ray
actors (`--ray`; the cluster queues what it cannot place yet). It prints one progress line per run, then each
run's derived architecture with its validation and test accuracy (whole splits, after final training) and per
group (one combination of field values) the mean ± sample standard deviation over seeds. The plan is
`<runs>/sweeps/S.json`, the tables `S.csv` (one row per run) and `S-groups.csv`. `--resume S` keeps the
finished runs and continues every other one from its newest checkpoint.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
import statistics
import sys
import time
from pathlib import Path

from enas.config import SPECS, Config, ConfigError
from enas.runs.store import LIVE, RunStore, StoreError, check_name, write_text_atomic
from enas.scale.executor import PHASES, checkpoint_epoch, remaining_phases


def sweeps_dir(runs_dir) -> Path:
    return Path(runs_dir) / "sweeps"


def axes(fields: dict) -> dict:
    """Flag values as lists of alternatives: comma-separated, except ops (a comma list itself), whose alternatives
    are separated by '/' (e.g. conv3x3,conv5x5/conv1x1,conv3x3)."""
    if "seed" in fields:
        raise ConfigError("a sweep takes its seeds from --seeds, not --seed")
    out = {}
    for name, text in fields.items():
        values = [v.strip() for v in str(text).split("/" if SPECS[name].type is tuple else ",")]
        if not all(values) or len(set(values)) != len(values):
            raise ConfigError(f"--{name.replace('_', '-')} {text}: give each value once, none empty")
        out[name] = values
    return out


def _shown(value) -> str:
    return "+".join(value) if isinstance(value, (list, tuple)) else f"{value:g}" if isinstance(value, float) \
        else str(value)


def plan(name: str, base: Config, fields: dict, seeds: list) -> dict:
    """The sweep's plan: every group (a combination of the varied fields' values) times every seed, each run
    named NAME-<values>-sSEED (NAME-gK-sSEED if that is not a valid, unique name). Every configuration is checked
    here, before any run exists."""
    check_name(name)
    alternatives = axes(fields)
    varied = {k: v for k, v in alternatives.items() if len(v) > 1}
    fixed = {k: v[0] for k, v in alternatives.items() if len(v) == 1}
    base = Config.from_dict({**base.to_dict(), **fixed})
    groups, runs, names = [], [], set()
    for k, combo in enumerate(itertools.product(*varied.values())):
        config = Config.from_dict({**base.to_dict(), **dict(zip(varied, combo))})
        values = {f: (list(v) if isinstance(v, tuple) else v) for f in varied for v in [getattr(config, f)]}
        label = ", ".join(f"{f}={_shown(v)}" for f, v in values.items()) or "all"
        slug = "-".join(re.sub(r"[^A-Za-z0-9._]", "_", _shown(v)) for v in values.values())
        groups.append({"label": label, "fields": values})
        for seed in seeds:
            run = f"{name}-{slug}-s{seed}" if slug else f"{name}-s{seed}"
            if run in names or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", run):
                run = f"{name}-g{k}-s{seed}"
            names.add(run)
            runs.append({"run": check_name(run), "group": k, "seed": seed})
    return {"name": name, "base": base.to_dict(), "varied": list(varied), "seeds": list(seeds), "groups": groups,
            "runs": runs, "created": time.time()}


def run_config(p: dict, run: dict) -> Config:
    return Config.from_stored({**p["base"], **p["groups"][run["group"]]["fields"], "seed": run["seed"]})


def save_plan(runs_dir, p: dict):
    path = sweeps_dir(runs_dir) / f"{p['name']}.json"
    if path.exists():
        raise StoreError(f"a sweep named {p['name']!r} exists: continue it with --resume {p['name']}, or give "
                         "another --name")
    write_text_atomic(path, json.dumps(p, indent=1) + "\n")


def load_plan(runs_dir, name: str) -> dict:
    path = sweeps_dir(runs_dir) / f"{check_name(name)}.json"
    if not path.is_file():
        raise StoreError(f"no sweep named {name!r} in {path.parent}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise StoreError(f"{path} is not a readable sweep plan: {e}") from None


def list_plans(runs_dir) -> list:
    """Every sweep plan under the runs folder, newest first (unreadable ones skipped)."""
    out = []
    for path in sweeps_dir(runs_dir).glob("*.json"):
        try:
            p = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(p, dict):
            out.append(p)
    return sorted(out, key=lambda p: p.get("created", 0), reverse=True)


def open_run(runs_dir, p: dict, run: dict) -> RunStore:
    """The run's store, made if the sweep has not made it yet; one made with other settings is refused."""
    config = run_config(p, run)
    try:
        store = RunStore.open(runs_dir, run["run"])
    except StoreError:
        return RunStore.create(runs_dir, run["run"], config)
    if not store.config().same_run(config):
        store.close()
        raise StoreError(f"run {run['run']} exists with other settings than sweep {p['name']} gives it")
    return store


def run_sweep(p: dict, runs_dir, executor, out=None, poll: float = 1.0) -> dict:
    """Run (or continue) every unfinished run of the sweep, `executor.parallel` at a time, drawing one progress
    line per run; returns `summary`. Ctrl-C stops the runs it started (each resumable) and re-raises."""
    out = out or sys.stdout
    stores = [open_run(runs_dir, p, r) for r in p["runs"]]
    try:
        busy = [s.name for s in stores if s.status() in LIVE]
        if busy:
            raise StoreError(f"run(s) {', '.join(busy)} of sweep {p['name']} are still running in another process")
        queue = [s for s in stores if remaining_phases(s, PHASES)]
        jobs, board = [], Board(stores, out)
        limit = executor.parallel or len(queue) or 1
        try:
            while queue or any(j.thread.is_alive() for j in jobs):
                running = sum(j.thread.is_alive() for j in jobs)
                while queue and running < limit:
                    jobs.append(executor.resume(queue.pop(0), PHASES))
                    running += 1
                board.draw()
                time.sleep(poll)
        except KeyboardInterrupt:
            for job in jobs:
                if job.thread.is_alive():
                    job.stop()
            for job in jobs:
                job.wait()
            raise
        board.draw()
    finally:
        for s in stores:
            s.close()
    return summary(p, runs_dir)


class Board:
    """One progress line per run: redrawn in place on a terminal, else printed when it changes."""

    def __init__(self, stores: list, out):
        self.stores, self.out, self.shown = stores, out, {}
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.width = max(len(s.name) for s in stores)

    def line(self, store: RunStore) -> str:
        m, status = store.meta(), store.status()
        result = m.get("result")
        if result and status == "finished":
            what = f"validation {result['val_acc']:.4f}, test {_acc(result['test_acc'])}  {result['arch']}"
        elif status == "queued":
            what = m.get("message", "")
        else:
            phase = m.get("phase") or "search"
            what = (f"search epoch {checkpoint_epoch(store)}/{m['config']['epochs']}" if phase == "search" else phase)
        return f"{store.name:<{self.width}}  {status:<11} {what}"

    def draw(self):
        lines = [self.line(s) for s in self.stores]
        if self.tty:
            up = f"\x1b[{len(lines)}F" if self.shown else ""
            self.out.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            self.shown = dict(enumerate(lines))
        else:
            for k, line in enumerate(lines):
                if self.shown.get(k) != line:
                    self.out.write(line + "\n")
                    self.shown[k] = line
        self.out.flush()


def _acc(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _stats(values: list) -> dict:
    """Mean and sample standard deviation (0 for one value; None for none)."""
    if not values:
        return {"mean": None, "std": None}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summary(p: dict, runs_dir) -> dict:
    """Each run's status, derived architecture and final validation and test accuracy, and per group the number
    of finished runs with the mean and sample standard deviation of both accuracies."""
    rows = []
    for run in p["runs"]:
        group = p["groups"][run["group"]]
        row = {"run": run["run"], "group": group["label"], "seed": run["seed"], "status": "not started",
               "arch": None, "val_acc": None, "test_acc": None, **{f: _shown(v) for f, v in group["fields"].items()}}
        try:
            store = RunStore.open(runs_dir, run["run"])
        except StoreError:
            rows.append(row)
            continue
        try:
            result = store.meta().get("result") or {}
            row.update(status=store.status(), arch=result.get("arch"), val_acc=result.get("val_acc"),
                       test_acc=result.get("test_acc"))
        finally:
            store.close()
        rows.append(row)
    groups = []
    for group in p["groups"]:
        done = [r for r in rows if r["group"] == group["label"] and r["val_acc"] is not None]
        val = _stats([r["val_acc"] for r in done])
        test = _stats([r["test_acc"] for r in done if r["test_acc"] is not None])
        groups.append({"group": group["label"], "runs": len(done), "val_mean": val["mean"], "val_std": val["std"],
                       "test_mean": test["mean"], "test_std": test["std"]})
    return {"name": p["name"], "varied": p["varied"], "rows": rows, "groups": groups,
            "unfinished": [r["run"] for r in rows if r["val_acc"] is None]}


def table(s: dict) -> str:
    """The summary as text: one line per run, then mean ± sample standard deviation per group."""
    w = max([len(r["group"]) for r in s["rows"]] + [5])
    lines = [f"sweep {s['name']}: each run's derived architecture, validation and test accuracy after final "
             "training (whole splits)", f"{'group':<{w}} {'seed':>4}  {'architecture':<44} {'val':>7} {'test':>7}"]
    for r in s["rows"]:
        lines.append(f"{r['group']:<{w}} {r['seed']:>4}  {r['arch'] or '(' + r['status'] + ')':<44} "
                     f"{_acc(r['val_acc']):>7} {_acc(r['test_acc']):>7}")
    lines.append(f"\n{'group':<{w}} {'runs':>4}  {'validation mean ± std':>22}  {'test mean ± std':>18}   "
                 "(std: sample standard deviation over seeds)")
    for g in s["groups"]:
        lines.append(f"{g['group']:<{w}} {g['runs']:>4}  {_pm(g['val_mean'], g['val_std']):>22}  "
                     f"{_pm(g['test_mean'], g['test_std']):>18}")
    if s["unfinished"]:
        lines.append(f"\n{len(s['unfinished'])} run(s) unfinished: python -m enas sweep --resume {s['name']}")
    return "\n".join(lines)


def _pm(mean, std) -> str:
    return "n/a" if mean is None else f"{mean:.4f} ± {std:.4f}"


def write_csv(runs_dir, s: dict) -> tuple:
    """`<runs>/sweeps/NAME.csv` (one row per run) and `NAME-groups.csv` (one per group); returns both paths."""
    paths = []
    for suffix, rows in (("", s["rows"]), ("-groups", s["groups"])):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path = sweeps_dir(runs_dir) / f"{s['name']}{suffix}.csv"
        write_text_atomic(path, buf.getvalue())
        paths.append(path)
    return tuple(paths)
