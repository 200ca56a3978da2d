"""Is the search any good? Issue 20's protocol on the CIFAR-10 image folder, resumable.

The `laptop` preset on seeds 0-2, each with ENAS and with random search (the same config and budget but the
controller), and the `seed` and `enas-paper` presets on seed 0 beside it (the laptop preset's 20,000 training
images, search epochs capped at 30), all measured against one reference set: K uniformly random architectures
trained stand-alone with the laptop preset's final-training recipe for E epochs, twice (`enas.quality.reference`).
Jobs, each a subprocess (`bench_quality.py --job NAME`), two at once, one torch thread each:

- `reference`: build_reference, into (or read from) `<state>/data-cache`;
- a run `<preset>-<controller>-s<seed>`: `search`; `shared` (the K reference architectures scored with the run's
  shared weights, whole validation split: all the reference check needs of the run); `derive` (its preset's
  derive_samples); `retrain` (the derived architecture trained exactly as a reference architecture is: the
  reference's recipe and data split, E epochs, both training seeds; validation and test accuracy); `refcheck`
  (`shared` against the reference's stand-alone accuracy, once the reference is built). `shared` and `refcheck`
  are n/a for a run whose recipe is not the reference's.

Every finished step is `<state>/done/<job>.<step>.json`; runs live in `<state>/runs` and resume from their last
checkpoint, the reference from its cache file. Stop it any time (Ctrl-C, kill): the same command resumes. The
small files (`done/`, `data-cache/`, `plan.json`, `sessions.jsonl`) are committed, so that a new checkout resumes
too; `runs/` is not: a run whose folder is gone while `shared` or `derive` still needs its weights is searched again (`lost`). The
table is printed and saved with the machine, the command and CPU times (benchmarks/results/quality-laptop.json).

    nohup python benchmarks/bench_quality.py > quality.log 2>&1 &   # start, or resume
    python benchmarks/bench_quality.py --status                       # what is done, what remains
    python benchmarks/bench_quality.py --state S --out S.json --only laptop-enas-s2 --field epochs=50 \
        --field warmup_epochs=30                                      # one lever on one run, in its own state
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# this process only plans, schedules and prints: torch is imported by the jobs (the step functions) alone
from enas.cli.main import parse_seeds  # noqa: E402
from enas.config import PRESETS, Config, ConfigError  # noqa: E402
from enas.runs.store import RunStore, StoreError, write_text_atomic  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg" / "train"
STATE = ROOT / "benchmarks" / "results" / "quality-runs"
OUT = ROOT / "benchmarks" / "results" / "quality-laptop.json"
# --tiny: the whole protocol in seconds on the built-in shapes data (tests/test_bench_quality.py)
TINY = {"dataset": "shapes:800", "train_subset": 256, "val_size": 128, "nodes": 3, "channels": 8, "epochs": 2,
        "warmup_epochs": 1, "batch_size": 32, "steps_per_epoch": 4, "controller_steps": 2,
        "controller_children": 3, "derive_samples": 4, "final_epochs": 1, "lstm_size": 16}
STEPS = {"reference": ("build",), "run": ("search", "shared", "derive", "retrain", "refcheck")}
KINDS = ("reference-a", "reference-b")   # the reference's training seeds (enas.quality.reference.TRAININGS)
# targets (issue 20, item 8)
GAP, TOP_OP, TAU, TAU_SLACK, TAU_LOW, OVER_MEDIAN = 3.0, 0.5, 0.65, 0.1, 0.2, 2.0
COLLAPSE = ("entropy", "op", "skips")   # health checks that mean collapse (op-N: one per node)
PARENT = "BENCH_QUALITY_PARENT"


# --- the plan: jobs as plain data -------------------------------------------------------------------
def plan(args) -> list:
    """The job list: the reference, then the runs in the order they are started."""
    if any("=" not in f for f in args.field):
        raise ConfigError(f"--field {next(f for f in args.field if '=' not in f)}: use NAME=VALUE")
    fields = {**(TINY if args.tiny else {}), **dict(f.split("=", 1) for f in args.field)}
    base = {"dataset": f"folder:{Path(args.data).resolve()}", "device": "cpu", "threads": 1}
    laptop = Config.from_dict({**base, **fields}, preset="laptop")
    k = args.k or (4 if args.tiny else 16)
    epochs = args.ref_epochs or laptop.final_epochs
    reference = {"config": laptop.to_dict(), "k": k, "epochs": epochs}
    runs = [("laptop", controller, seed, None) for seed in parse_seeds(args.seeds) for controller in ("enas", "random")]
    runs += [("seed", "enas", 0, args.seed_epochs), ("enas-paper", "enas", 0, args.paper_epochs)]
    jobs = [{"name": "reference", "kind": "reference", **reference}]
    for preset, controller, seed, cap in runs:
        capped = {"epochs": min(cap, Config.from_dict({}, preset=preset).epochs)} if cap else {}
        config = Config.from_dict({**base, "train_subset": PRESETS["laptop"]["train_subset"], **capped,
                                   "controller": controller, "seed": seed, **fields}, preset=preset)
        jobs.append({"name": f"{preset}-{controller}-s{seed}", "kind": "run", "preset": preset,
                     "config": config.to_dict(), "reference_config": reference["config"], "k": k, "epochs": epochs})
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in {j["name"] for j in jobs[1:]}]
        if unknown:
            raise ConfigError(f"--only {','.join(unknown)}: no such run; the runs are "
                              + ", ".join(j["name"] for j in jobs[1:]))
        jobs = jobs[:1] + [j for j in jobs[1:] if j["name"] in names]
    return json.loads(json.dumps(jobs))   # as read back from JSON


def done_path(state: Path, name: str, step: str) -> Path:
    return state / "done" / f"{name}.{step}.json"


def read_json(path: Path):
    return json.loads(path.read_text())


def write_json(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def done(state: Path, name: str, step: str) -> dict | None:
    path = done_path(state, name, step)
    return read_json(path) if path.is_file() else None


def needs(job: dict, step: str) -> list:
    """The (job, step) pairs that must be done before `step` of `job`."""
    return {"shared": [(job["name"], "search")], "derive": [(job["name"], "search")],
            "retrain": [(job["name"], "derive")],
            "refcheck": [(job["name"], "shared"), ("reference", "build")]}.get(step, [])


def ready(job: dict, state: Path) -> list:
    """The steps of `job` not done whose inputs are."""
    return [s for s in STEPS[job["kind"]] if not done_path(state, job["name"], s).is_file()
            and all(done_path(state, *n).is_file() for n in needs(job, s))]


def lost(job: dict, state: Path) -> bool:
    """A run whose search is done but whose folder (its shared weights) is gone while a step still needs it: the
    state's small files (done steps, the reference cache) are kept in git across sessions, the runs are not. Only
    `shared` and `derive` read the shared weights, and they run right after the search, in the same job."""
    return (job["kind"] == "run" and done_path(state, job["name"], "search").is_file()
            and not all(done_path(state, job["name"], s).is_file() for s in ("shared", "derive"))
            and not any((state / "runs" / job["name"]).glob("ckpt-*.pt")))


def forget(job: dict, state: Path):
    """Start a lost run again: every step is redone, so that they measure one run."""
    for step in STEPS["run"]:
        done_path(state, job["name"], step).unlink(missing_ok=True)


def stale(jobs: list, state: Path) -> list:
    """'job.step' of every done step that was made with other settings than the plan's."""
    return [f"{j['name']}.{s}" for j in jobs for s in STEPS[j["kind"]]
            if (d := done(state, j["name"], s)) is not None and d["spec"] != j]


# --- a job: its steps, run in the job's own process ---------------------------------------------------
def log_events(ev: dict):
    """The job's log: search epochs, warnings, derive, stand-alone training epochs, reference rows."""
    kind = ev["kind"]
    if kind == "epoch":
        ctrl = "-" if ev["val_acc"] is None else f"{ev['val_acc']:.3f}"
        rand = "-" if ev["random_val_acc"] is None else f"{ev['random_val_acc']:.3f}"
        print(f"epoch {ev['epoch'] + 1}/{ev['epochs']}: train acc {ev['train_acc']:.3f}, controller's samples "
              f"{ctrl}, random architectures {rand}, {ev['seconds']:.0f} s", flush=True)
    elif kind == "alert":
        print(f"[{ev['level']}] {ev.get('check', '')} {ev['message']}", flush=True)
    elif kind == "derive_result":
        print(f"derived {ev['best']} (shared weights: {ev['ranking'][0]['val_acc']:.4f})", flush=True)
    elif kind.endswith("_epoch") and kind != "epoch":
        print(f"{kind[:-6]} epoch {ev['epoch'] + 1}/{ev['epochs']}: validation {ev['val_acc']:.4f}", flush=True)


def run_store(state: Path, job: dict) -> RunStore:
    """The job's run, made or reopened (refused if it exists with other settings)."""
    config = Config.from_dict(job["config"])
    try:
        store = RunStore.open(state / "runs", job["name"])
    except StoreError:
        store = RunStore.create(state / "runs", job["name"], config)
    if not store.config().same_run(config):
        raise StoreError(f"run {job['name']} in {state / 'runs'} exists with other settings")
    return store


def engine_of(state: Path, job: dict):
    from enas.engine.search import Engine
    store = run_store(state, job)
    return Engine(store.config(), store, [log_events])


def step_build(state: Path, job: dict) -> dict:
    """The reference set (read from its cache file, trained where it lacks rows), its median and ceiling."""
    from enas.engine.search import Engine
    from enas.quality.rank import bootstrap_interval, kendall_tau
    from enas.quality.reference import build_reference

    def on_row(n, row, trained):
        print(f"reference {n + 1}/{job['k']}: {row['arch']}  {row['standalone_a']:.4f} / {row['standalone_b']:.4f}"
              + (" (trained now)" if trained else ""), flush=True)
    doc = build_reference(Config.from_dict(job["config"]), job["k"], job["epochs"], state / "data-cache",
                          lambda c: Engine(c, listeners=[log_events]), on_row)
    a, b = ([r[f"standalone_{t}"] for r in doc["rows"]] for t in "ab")
    rows = [{"arch": r["arch"], "val_a": x, "val_b": y, "val_acc": (x + y) / 2} for r, x, y in zip(doc["rows"], a, b)]
    return {"key": doc["key"], "rows": rows, "val_median": statistics.median(r["val_acc"] for r in rows),
            "ceiling_tau": kendall_tau(a, b), "ceiling_tau_95": bootstrap_interval(a, b, kendall_tau)}


def step_search(state: Path, job: dict) -> dict:
    """Search (resumed from the last checkpoint), then what its events say about the controller."""
    engine = engine_of(state, job)
    engine.run(("search",))
    store, ops = engine.store, engine.config.ops
    epochs = store.events("epoch")
    gaps = [100 * (e["val_acc"] - e["random_val_acc"]) for e in epochs
            if e["val_acc"] is not None and e["random_val_acc"] is not None][-3:]
    policy = store.events("policy")[-1]
    node = max(range(len(policy["op_probs"])), key=lambda n: max(policy["op_probs"][n]))
    probs = policy["op_probs"][node]
    return {"epochs": len(epochs), "search_s": sum(e["seconds"] for e in epochs),
            "gap_points": statistics.fmean(gaps) if gaps else None, "gap_epochs": len(gaps),
            "top_op": {"p": max(probs), "op": ops[probs.index(max(probs))], "node": node},
            "moved": max(policy["moved"]),
            "alerts": [{"check": a["check"], "epoch": a["epoch"], "message": a["message"]}
                       for a in store.events("alert") if "check" in a]}


def step_derive(state: Path, job: dict) -> dict:
    engine = engine_of(state, job)
    engine.run(("derive",))
    result = engine.store.events("derive_result")[-1]
    return {"arch": result["best"], "shared_val_acc": result["ranking"][0]["val_acc"],
            "samples": engine.config.derive_samples, "distinct": len(result["ranking"])}


def step_retrain(state: Path, job: dict) -> dict:
    """The derived architecture trained exactly as each reference architecture is: the reference's engine (its
    recipe and data split), E epochs from scratch, once per reference training seed; validation and test."""
    from enas.engine.search import Engine
    from enas.quality.reference import reference_config
    from enas.space import Architecture
    arch = done(state, job["name"], "derive")["result"]["arch"]
    engine = Engine(reference_config(Config.from_dict(job["reference_config"])), listeners=[log_events])
    runs = {kind: engine.standalone_accuracy(Architecture.parse(arch), job["epochs"], kind) for kind in KINDS}
    return {"arch": arch, "trainings": runs,
            **{f"{m}_acc": statistics.fmean(r[f"{m}_acc"] for r in runs.values()) for m in ("val", "test")}}


def other_recipe(job: dict) -> dict:
    """{field: [the run's, the reference's]} of every reference field in which the run's recipe differs."""
    from enas.quality.reference import reference_fields
    ours, ref = (reference_fields(Config.from_dict(job[c])) for c in ("config", "reference_config"))
    return {f: [v, ref[f]] for f, v in ours.items() if ref[f] != v}


def step_shared(state: Path, job: dict) -> dict:
    """The K reference architectures scored with the run's shared weights (n/a when its recipe is not the
    reference's): all that the reference check needs of the run, measured while its folder is here."""
    from enas.quality.reference import reference_archs, shared_scores
    if differ := other_recipe(job):
        return {"na": "other recipe", "differ": differ}
    engine, scores = engine_of(state, job), []

    def score():
        engine.restore_for_use()
        scores.extend(shared_scores(engine, job["k"]))
    engine.run((score,))
    archs = reference_archs(engine.config, job["k"])
    for n, (arch, acc) in enumerate(zip(archs, scores)):
        print(f"reference {n + 1}: {arch} shared {acc:.4f}", flush=True)
    return {"rows": [{"arch": str(a), "shared_acc": acc} for a, acc in zip(archs, scores)]}


def step_refcheck(state: Path, job: dict) -> dict:
    """The reference check: the run's shared scores (step `shared`) against the reference; n/a like `shared`."""
    from enas.quality.reference import check_result, reference_path
    shared = done(state, job["name"], "shared")["result"]
    if "na" in shared:
        return shared
    doc = read_json(reference_path(state / "data-cache", Config.from_dict(job["reference_config"]), job["k"],
                                   job["epochs"]))
    if [r["arch"] for r in doc["rows"]] != [r["arch"] for r in shared["rows"]]:
        raise RuntimeError(f"{job['name']}.shared scored other architectures than the reference's")
    return check_result(doc, [r["shared_acc"] for r in shared["rows"]], max(1, job["k"] // 4))


STEP = {"build": step_build, "search": step_search, "shared": step_shared, "derive": step_derive,
        "retrain": step_retrain, "refcheck": step_refcheck}


def die_with_parent():
    """A SIGINT (as Ctrl-C) when the benchmark process dies, even by SIGKILL (Linux): the job stops, resumable.
    SIGINT is made to stop the job even where it was ignored (a benchmark started with `&` or nohup)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, int(signal.SIGINT))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_job(state: Path, name: str) -> int:
    """Run every step of job `name` that is not done and whose inputs are; each writes its done file."""
    die_with_parent()
    if os.environ.get(PARENT) not in (None, str(os.getppid())):
        return 130   # the benchmark died before this job could follow it
    job = next(j for j in read_json(state / "plan.json") if j["name"] == name)
    try:
        for step in STEPS[job["kind"]]:
            if step not in ready(job, state):
                continue
            print(f"--- {name}.{step}", flush=True)
            cpu, wall = cpu_self(), time.time()
            result = STEP[step](state, job)
            write_json(done_path(state, name, step), {"spec": job, "result": result, "cpu_s": cpu_self() - cpu,
                                                      "wall_s": time.time() - wall,
                                                      "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    except KeyboardInterrupt:
        print(f"--- {name}: stopped; it resumes when the benchmark runs again", flush=True)
        return 130
    return 0


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- the runner ---------------------------------------------------------------------------------------
def lock_holder(path: Path) -> int | None:
    """The pid written in `path`, if that process is alive."""
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def finished(job: dict, state: Path) -> set:
    return {s for s in STEPS[job["kind"]] if done_path(state, job["name"], s).is_file()}


def start(job: dict, state: Path) -> subprocess.Popen:
    """The job as a process of its own, its output appended to <state>/logs/<job>.log."""
    log = state / "logs" / f"{job['name']}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", PARENT: str(os.getpid())}
    print(f"start   {job['name']} ({', '.join(ready(job, state))}; log {log})", flush=True)
    with open(log, "a") as out:   # a session of its own: a Ctrl-C reaches the benchmark, which passes it on once
        return subprocess.Popen([sys.executable, __file__, "--job", job["name"], "--state", str(state)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def run_all(jobs: list, state: Path, slots: int) -> list:
    """Run the jobs `slots` at a time, in plan order, each again whenever it has ready steps; returns the failed
    (an exit status other than 0, or no step done)."""
    running, failed = {}, []   # name: (process, the job, its steps done before it started)
    try:
        while True:
            for name, (proc, job, before) in list(running.items()):
                if proc.poll() is not None:
                    del running[name]
                    new = [s for s in STEPS[job["kind"]] if s in finished(job, state) - before]
                    if proc.returncode or not new:
                        failed.append(name)
                    print(f"failed  {name} (exit {proc.returncode}): see {state / 'logs' / name}.log"
                          if name in failed else f"done    {name}: {', '.join(new)}", flush=True)
            for job in [j for j in jobs if j["name"] not in running and j["name"] not in failed
                        and ready(j, state)][:slots - len(running)]:
                running[job["name"]] = (start(job, state), job, finished(job, state))
            if not running:
                return failed
            time.sleep(0.2)
    finally:   # stopped (Ctrl-C, kill): each job stops as on Ctrl-C, resumable
        for proc, _, _ in running.values():
            proc.send_signal(signal.SIGINT)
        for proc, _, _ in running.values():
            proc.wait()


def machine() -> dict:
    """CPU model and the flags that matter for training speed, cores, torch and Python versions, load."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.*)$", info, re.MULTILINE).group(1)
        flags = set(re.search(r"^flags\s*:\s*(.*)$", info, re.MULTILINE).group(1).split())
    except (OSError, AttributeError):
        cpu, flags = platform.processor() or "unknown", set()
    return {"cpu": cpu, "flags": {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile")},
            "cpus": os.cpu_count(), "torch": importlib.metadata.version("torch"),
            "python": platform.python_version(), "load_average": list(os.getloadavg())}


# --- results ------------------------------------------------------------------------------------------
def results(jobs: list, state: Path) -> dict:
    """Every done step's file, by job and step (None: not done)."""
    return {j["name"]: {s: done(state, j["name"], s) for s in STEPS[j["kind"]]} for j in jobs}


def result_of(res: dict, name: str, step: str) -> dict | None:
    d = res[name][step]
    return d and d["result"]


def targets(jobs: list, res: dict) -> dict:
    """Each ENAS run's targets, as far as measured: {target: {"value", "text", "met"}} (met None: n/a)."""
    ref = result_of(res, "reference", "build")
    out = {}
    for job in (j for j in jobs if j["kind"] == "run" and j["config"]["controller"] == "enas"):
        search, check, retrain = (result_of(res, job["name"], s) for s in ("search", "refcheck", "retrain"))
        t = out[job["name"]] = {}
        if search:
            gap, top = search["gap_points"], search["top_op"]["p"]
            collapse = sorted({a["check"] for a in search["alerts"] if a["check"].split("-")[0] in COLLAPSE})
            t["gap"] = {"value": gap, "text": fmt(gap, "+.1f"), "met": gap is not None and gap >= GAP}
            t["top_op"] = {"value": top, "text": f"{top:.2f}", "met": top >= TOP_OP}
            t["no_collapse"] = {"value": collapse, "text": ",".join(collapse) or "none", "met": not collapse}
        if check and "na" in check:
            t["tau"] = {"value": None, "text": "n/a (other recipe)", "met": None}
        elif check:
            tau, low, ceiling = check["kendall_tau"], check["kendall_tau_95"][0], check["ceiling_tau"]
            bar = TAU if ceiling >= TAU else ceiling - TAU_SLACK
            t["tau"] = {"value": tau, "low": low, "bar": bar, "text": f"{tau:+.2f} (low {low:+.2f})",
                        "met": tau >= bar and low > TAU_LOW}
        if retrain and ref:
            over = 100 * (retrain["val_acc"] - ref["val_median"])
            t["over_median"] = {"value": over, "text": f"{over:+.1f}", "met": over >= OVER_MEDIAN}
    return out


def laptop_runs(jobs: list, controller: str) -> list:
    return [j["name"] for j in jobs if j.get("preset") == "laptop" and j["config"]["controller"] == controller]


def every_seed(jobs: list, met: dict) -> dict:
    """Per target, whether the laptop preset's ENAS runs met it on every seed (None until all are measured)."""
    values = {key: [met[n].get(key, {}).get("met") for n in laptop_runs(jobs, "enas")] for key in LABELS}
    return {key: None if None in v else all(v) for key, v in values.items()}


LABELS = {"gap": f"gap >= {GAP:g} points, last 3 epochs", "top_op": f"an op >= {TOP_OP:g} at some node",
          "no_collapse": "no collapse warning (entropy, op, skips)",
          "tau": f"ref. tau >= {TAU:g} (or ceiling-{TAU_SLACK:g}), low > {TAU_LOW:g}",
          "over_median": f"derived - ref. median >= {OVER_MEDIAN:g} points"}
COLUMNS = (("run", -20), ("epochs", 6), ("gap", 6), ("top op", 22), ("moved", 6), ("warnings", -16),
           ("ref tau [95%]", 21), ("rho", 6), ("top-k", 6), ("val", 7), ("test", 7), ("val-med", 8), ("CPU min", 8))


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def run_cells(job: dict, res: dict, ref: dict | None) -> list:
    """One run's row of the table ('...': not measured yet)."""
    n = job["name"]
    s, c, r = (result_of(res, n, step) for step in ("search", "refcheck", "retrain"))
    cells = [n] + ([str(s["epochs"]), fmt(s["gap_points"], "+.1f"),
                    f"{s['top_op']['p']:.2f} {s['top_op']['op']} n{s['top_op']['node']}", f"{s['moved']:.2f}",
                    ",".join(sorted({a["check"] for a in s["alerts"]})) or "-"] if s else ["..."] * 5)
    if c and "na" in c:
        cells += ["n/a (other recipe)", "", ""]
    else:
        cells += ([f"{c['kendall_tau']:+.2f} [{c['kendall_tau_95'][0]:+.2f}, {c['kendall_tau_95'][1]:+.2f}]",
                   f"{c['spearman_rho']:+.2f}", f"{c['top_k_agreement']:.2f}"] if c else ["..."] * 3)
    cells += ([f"{r['val_acc']:.4f}", f"{r['test_acc']:.4f}",
               f"{100 * (r['val_acc'] - ref['val_median']):+.1f}" if ref else "..."] if r else ["..."] * 3)
    return cells + [f"{sum(d['cpu_s'] for d in res[n].values() if d) / 60:.1f}"]


def line(cells: list) -> str:
    """Cells in COLUMNS' widths (negative: left-aligned)."""
    return " ".join(f"{c:<{-w}.{-w}}" if w < 0 else f"{c:>{w}.{w}}" for c, (_, w) in zip(cells, COLUMNS)).rstrip()


def table(jobs: list, res: dict, met: dict) -> str:
    """The reference, the runs, their derived architectures, and each ENAS run's targets, met or not."""
    ref, rj = result_of(res, "reference", "build"), jobs[0]
    lines = [f"reference: {rj['k']} uniformly random architectures, {rj['epochs']} epoch(s) stand-alone with the "
             "laptop recipe, 2 training seeds each: " + (
                 f"median validation accuracy {ref['val_median']:.4f}; seed-to-seed tau "
                 f"{ref['ceiling_tau']:+.2f} [{ref['ceiling_tau_95'][0]:+.2f}, {ref['ceiling_tau_95'][1]:+.2f}]"
                 if ref else "..."), "", line([name for name, _ in COLUMNS])]
    lines += [line(run_cells(j, res, ref)) for j in jobs[1:]]
    lines += ["", "derived architectures (val, test: trained as the reference's are, mean of its 2 seeds; val-med: "
              "val minus the reference's median, points):"]
    lines += [f"  {j['name']:<20} {result_of(res, j['name'], 'derive')['arch']}" for j in jobs[1:]
              if result_of(res, j["name"], "derive")]
    lines += ["", f"{'target':<44}" + "".join(f"{n:>27}" for n in met)]
    for key, label in LABELS.items():
        cells = [(t["text"] + ("" if t["met"] is None else " met" if t["met"] else " NOT met")) if t else "..."
                 for t in (met[n].get(key) for n in met)]
        lines.append(f"{label:<44.44}" + "".join(f"{c:>27.26}" for c in cells))
    randoms = [(n, result_of(res, n, "retrain")) for n in laptop_runs(jobs, "random")]
    lines.append("random search's derived architecture - ref. median (points): " + ", ".join(
        f"{n} {100 * (r['val_acc'] - ref['val_median']):+.1f}" if r and ref else f"{n} ..." for n, r in randoms))
    lines.append(f"laptop ENAS on every seed ({', '.join(laptop_runs(jobs, 'enas'))}): " + "; ".join(
        f"{key} {'...' if v is None else 'met' if v else 'NOT met'}" for key, v in every_seed(jobs, met).items()))
    return "\n".join(lines)


def status(jobs: list, state: Path) -> str:
    """What is done and what remains, step by step, from the files alone."""
    holder = lock_holder(state / "bench.pid")
    lines = [f"state {state}" + (f": the benchmark is running now (pid {holder})" if holder else "")]
    old = set(stale(jobs, state))
    for job in jobs:
        cells = []
        for s in STEPS[job["kind"]]:
            d = done(state, job["name"], s)
            if f"{job['name']}.{s}" in old:
                cells.append(f"{s} STALE (other settings)")
            elif d:
                cells.append(f"{s} done ({d['cpu_s'] / 60:.1f} CPU min)")
            elif s == "search" and (ckpts := sorted((state / "runs" / job["name"]).glob("ckpt-*.pt"))):
                cells.append(f"search at epoch {int(ckpts[-1].stem[5:])}/{job['config']['epochs']}")
            else:
                waits = [".".join(n) for n in needs(job, s) if not done_path(state, *n).is_file()]
                cells.append(f"{s} " + (f"waits for {', '.join(waits)}" if waits else "to do"))
        lines.append(f"{job['name']:<20} " + "; ".join(cells))
    left = sum(not done_path(state, j["name"], s).is_file() for j in jobs for s in STEPS[j["kind"]])
    lines.append(f"{left} of {sum(len(STEPS[j['kind']]) for j in jobs)} steps remain")
    return "\n".join(lines)


def save(out: Path, head: dict, jobs: list, state: Path, res: dict, met: dict):
    """The result JSON: `head` (machine, command), CPU and wall time, the plan, every step's result, the targets."""
    sessions = [json.loads(line) for line in (state / "sessions.jsonl").read_text().splitlines()] \
        if (state / "sessions.jsonl").is_file() else []
    steps = [d for r in res.values() for d in r.values() if d]
    write_json(out, {
        **head, "state": str(state), "complete": all(d for r in res.values() for d in r.values()),
        "seconds": {"cpu_of_steps": sum(d["cpu_s"] for d in steps), "wall_of_steps": sum(d["wall_s"] for d in steps),
                    "sessions": sessions},
        "plan": jobs, "results": {n: {s: d and {k: d[k] for k in ("result", "cpu_s", "wall_s", "finished")}
                                      for s, d in r.items()} for n, r in res.items()},
        "targets": met, "every_seed": every_seed(jobs, met)})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="an image folder (default: ../shared's CIFAR-10 folder)")
    p.add_argument("--state", default=str(STATE), help="where runs, caches and done steps are kept "
                                                          "(default %(default)s)")
    p.add_argument("--out", default=str(OUT), help="the result JSON (default %(default)s)")
    p.add_argument("--seeds", default="0-2", help="seeds of the laptop runs (default 0-2)")
    p.add_argument("--k", type=int, default=None, help="reference architectures K (default 16; --tiny: 4)")
    p.add_argument("--ref-epochs", type=int, default=None, help="epochs E of every stand-alone training (default: "
                                                                "the laptop preset's final_epochs)")
    p.add_argument("--seed-epochs", type=int, default=30, help="cap on the seed preset's search epochs (default 30)")
    p.add_argument("--paper-epochs", type=int, default=30, help="cap on enas-paper's search epochs (default 30)")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                   help="a config field of every job (over presets and caps)")
    p.add_argument("--only", metavar="RUN[,RUN]", help="these runs alone (and the reference they need), e.g. "
                                                      "laptop-enas-s2 with --field: one lever on one seed")
    p.add_argument("--tiny", action="store_true", help="the tests' tiny protocol on the built-in shapes data")
    p.add_argument("--jobs", type=int, default=2, help="jobs at once, one torch thread each (default 2)")
    p.add_argument("--status", action="store_true", help="print what is done and what remains; run nothing")
    p.add_argument("--job", help=argparse.SUPPRESS)   # run one job's ready steps (what the benchmark starts)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    state = Path(args.state).resolve()
    if args.job:
        return run_job(state, args.job)
    try:
        jobs = plan(args)
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: run at least 1 job at a time")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dataset = jobs[0]["config"]["dataset"]
    if dataset.startswith("folder:") and not Path(dataset[len("folder:"):]).is_dir():
        print(f"skipped: no image folder at {dataset[len('folder:'):]} (give one with --data)")
        return 0
    if args.status:
        print(status(jobs, state))
        return 0
    old = stale(jobs, state)
    if old:
        print(f"error: {state} holds steps made with other settings ({', '.join(old)}); use the options it was "
              "started with, or another --state", file=sys.stderr)
        return 2
    holder = lock_holder(state / "bench.pid")
    if holder:
        print(f"error: the benchmark is already running on {state} (pid {holder})", file=sys.stderr)
        return 2
    write_json(state / "bench.pid", os.getpid())
    on_term = signal.signal(signal.SIGTERM, signal.default_int_handler)   # kill: stop the jobs as Ctrl-C does
    command = shlex.join(["python", os.path.relpath(__file__), *(argv if argv is not None else sys.argv[1:])])
    write_json(state / "plan.json", jobs)
    for job in (j for j in jobs if lost(j, state)):
        print(f"{job['name']}: its run folder is gone (a new checkout?) and a step still needs it: searched again",
              flush=True)
        forget(job, state)
    todo = sum(bool(ready(j, state)) for j in jobs)
    print(f"{len(jobs)} jobs, {args.jobs} at once, 1 torch thread each; state {state}; "
          + (f"{todo} with steps to run" if todo else "nothing to run: every step is done or waits"), flush=True)
    wall, failed = time.time(), []
    try:
        failed = run_all(jobs, state, args.jobs)
    except KeyboardInterrupt:
        print("stopped; the same command resumes", file=sys.stderr)
        return 130
    finally:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        if todo:
            with open(state / "sessions.jsonl", "a") as log:
                log.write(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)),
                                      "wall_s": time.time() - wall, "cpu_children_s": r.ru_utime + r.ru_stime,
                                      "jobs": args.jobs, "command": command}) + "\n")
        (state / "bench.pid").unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, on_term)
    res = results(jobs, state)
    met = targets(jobs, res)
    m = machine()
    save(Path(args.out), {"date": time.strftime("%Y-%m-%d %H:%M"), "command": command, "machine": m,
                          "jobs_at_once": args.jobs, "threads": 1}, jobs, state, res, met)
    print(f"\n{m['cpu']} ({', '.join(k for k, v in m['flags'].items() if v) or 'no AVX2'}), torch {m['torch']}")
    print(table(jobs, res, met))
    print(f"saved {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
