"""What Ray costs and gives on this machine (issue 13).

1. Overhead: the wall time of `python -m enas search --preset quick` as a fresh process (imports, data, search,
   exit), run three ways, interleaved, `--reps` times each: in that process; with `--ray local` (Ray starts a
   cluster here, runs the search as an actor, stops it); with `--ray ADDRESS` of a cluster already running
   (`ray start --head`, as on a lab's or classroom's machines). Every search trains with one torch thread
   (OMP_NUM_THREADS=1 here, one CPU asked of Ray there): on this shared 2-core machine two threads stall each
   other under load (tests/conftest.py), which would bury the start-up cost in noise. The engine's own time
   (the sum of its epochs' seconds) is taken out too: on a machine shared with other work it varies far more
   between repetitions than the start-up does, so the overhead is also given as the median of (wall - engine)
   against the in-process one.
2. Per run, from a process already on that cluster (as the app and a sweep are): the same search started by
   `LocalExecutor` (a thread of this process) and by `RayExecutor` (an actor), timed from `start` to its end.
3. Throughput, with that cluster: `sweep --preset quick` (search, derive, final) of 1 run, then of 2 runs at
   once, each asking for 1 CPU, interleaved, `--reps` times: runs per minute.
4. Ray alone: `ray.init(address="local")` and `ray.shutdown()` in a fresh process, what `--ray local` adds of Ray's.

Run:  python benchmarks/bench_ray.py [--reps 2] [--parts overhead,warm,throughput,ray_alone] [--json F [--merge]]
      python benchmarks/bench_ray.py --report results/ray.json     (print the figures of a saved run)
Needs the ray extra (pip install -e '.[ray]'). Starts and stops its own head node (by its process id).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enas.runs.store import RunStore  # noqa: E402

CPUS = os.cpu_count() or 2


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {CPUS} cores"
    return f"{platform.processor()}, {CPUS} cores"


TOKEN = secrets.token_hex(32)   # this benchmark's own cluster token: nothing is written to ~/.ray


def env() -> dict:
    # the Ray 2.60 head uses token authentication: the head and every driver must carry the token
    return {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN,
            "ENAS_RAY_CPUS": "1", "OMP_NUM_THREADS": "1"}


def timed(cmd: list, cwd) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def engine_seconds(runs, name) -> float:
    store = RunStore.open(runs, name)
    try:
        return sum(e["seconds"] for e in store.events("epoch"))
    finally:
        store.close()


def start_head(work: Path) -> tuple:
    """`ray start --head --block` in the background: (process, address)."""
    log = open(work / "head.log", "w")
    proc = subprocess.Popen(["ray", "start", "--head", "--block", "--port", "6392", "--num-cpus", str(CPUS),
                             "--include-dashboard", "false", "--disable-usage-stats"], cwd=work, env=env(),
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        text = (work / "head.log").read_text()
        found = re.search(r"ray start --address='([^']+)'", text)
        if found and "block forever" in text:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"ray start failed:\n{text[-3000:]}")
        time.sleep(0.5)
    raise SystemExit("ray start did not come up in 120 s")


def overhead(runs: Path, address: str, reps: int, out: dict):
    base = [sys.executable, "-m", "enas", "--runs-dir", str(runs), "search", "--preset", "quick"]
    modes = {"in-process": [], "ray local (starts Ray)": ["--ray", "local"],
             "ray cluster (running)": ["--ray", address]}
    walls = {m: [] for m in modes}
    engine = {m: [] for m in modes}
    for rep in range(reps):
        for mode, extra in modes.items():
            name = f"o{rep}-{len(walls[mode])}-{mode.split()[1] if ' ' in mode else 'here'}"
            walls[mode].append(timed(base + ["--name", name] + extra, ROOT))
            engine[mode].append(engine_seconds(runs, name))
            print(f"  rep {rep + 1}, {mode}: {walls[mode][-1]:.1f} s wall, {engine[mode][-1]:.1f} s in the engine",
                  flush=True)
    for mode in modes:
        out[mode] = {"wall_s": walls[mode], "engine_s": engine[mode]}


def report(out: dict):
    """Each mode against its reference: by median wall time, and by median wall time outside the engine."""
    for reference, modes in (("in-process", ("ray local (starts Ray)", "ray cluster (running)")),
                             ("warm: thread here", ("warm: actor",))):
        if reference not in out:
            continue
        here, here_rest = _median(out[reference], "wall"), _median(out[reference], "rest")
        for mode in (reference,) + modes:
            wall, rest, n = _median(out[mode], "wall"), _median(out[mode], "rest"), len(out[mode]["wall_s"])
            print(f"quick search, {mode}: median of {n}: wall {wall:.1f} s ({100 * (wall - here) / here:+.0f}% "
                  f"against {reference}), outside the engine {rest:.1f} s ({rest - here_rest:+.1f} s = "
                  f"{100 * (rest - here_rest) / here:+.0f}% of the {reference} wall time)  [{out['cpu']}]")
    alone = out.get("ray_alone")
    if alone:
        print(f"Ray alone, ray.init(address='local') then ray.shutdown() in a fresh process, median of "
              f"{len(alone['init_s'])}: {statistics.median(alone['init_s']):.1f} s + "
              f"{statistics.median(alone['shutdown_s']):.1f} s  [{out['cpu']}]")
    t = out.get("throughput")
    if t:
        one, two = statistics.median(t["one_run_s"]), statistics.median(t["two_runs_s"])
        print(f"quick sweep runs (search, derive, final) on the cluster, 1 CPU each, median of {len(t['two_runs_s'])}: "
              f"1 run {one:.1f} s ({t['runs_per_min_1']:.2f} runs/min); 2 runs at once {two:.1f} s "
              f"({t['runs_per_min_2']:.2f} runs/min): throughput x{t['ratio']:.2f}  [{out['cpu']}]")
    print(f"load average {out['load_before'][0]:.1f} at the start, {out['load_after'][0]:.1f} at the end")


def _median(r: dict, key: str) -> float:
    return statistics.median(r["wall_s"] if key == "wall" else [w - e for w, e in zip(r["wall_s"], r["engine_s"])])


def warm(runs: Path, address: str, reps: int, out: dict):
    import torch

    from enas.config import Config
    from enas.scale.executor import LocalExecutor
    from enas.scale.ray_executor import RayExecutor
    torch.set_num_threads(1)
    actor = RayExecutor(address, cpus=1)
    actor.check_shared(runs)   # once per process, as the app and a sweep do
    config = Config.from_dict({}, preset="quick")
    modes = {"warm: thread here": LocalExecutor(), "warm: actor": actor}
    for mode in modes:
        out[mode] = {"wall_s": [], "engine_s": []}
    for rep in range(reps):
        for mode, executor in modes.items():
            name = f"w{rep}-{mode.split()[-1]}"
            store = RunStore.create(runs, name, config)
            start = time.perf_counter()
            assert executor.start(store, ("search",)).wait() == "finished"
            out[mode]["wall_s"].append(time.perf_counter() - start)
            out[mode]["engine_s"].append(engine_seconds(runs, name))
            store.close()
            print(f"  rep {rep + 1}, {mode}: {out[mode]['wall_s'][-1]:.1f} s from start to end, "
                  f"{out[mode]['engine_s'][-1]:.1f} s in the engine", flush=True)


def throughput(runs: Path, address: str, reps: int, out: dict):
    base = [sys.executable, "-m", "enas", "--runs-dir", str(runs), "sweep", "--preset", "quick", "--ray", address]
    ones, twos = [], []
    for rep in range(reps):   # interleaved: the load of other work falls on both alike
        ones.append(timed(base + ["--name", f"tp1-{rep}", "--seeds", "0"], ROOT))
        twos.append(timed(base + ["--name", f"tp2-{rep}", "--seeds", "0-1"], ROOT))
        print(f"  rep {rep + 1}: 1 run {ones[-1]:.1f} s, 2 runs at once {twos[-1]:.1f} s (1 CPU each)", flush=True)
    one, two = statistics.median(ones), statistics.median(twos)
    out["throughput"] = {"one_run_s": ones, "two_runs_s": twos, "runs_per_min_1": 60 / one,
                         "runs_per_min_2": 120 / two, "ratio": (120 / two) / (60 / one)}


RAY_ALONE = """import time, ray
t = time.perf_counter(); ray.init(address="local", include_dashboard=False, log_to_driver=False)
u = time.perf_counter(); ray.shutdown(); print(u - t, time.perf_counter() - u)"""


def ray_alone(runs: Path, address: str, reps: int, out: dict):
    """Ray's own start and stop of a cluster in a fresh process (what `--ray local` adds), nothing of enas."""
    starts, stops = [], []
    for _ in range(reps):
        done = subprocess.run([sys.executable, "-c", RAY_ALONE], env=env(), capture_output=True, text=True,
                              check=True)
        start, stop = map(float, done.stdout.split()[-2:])
        starts.append(start)
        stops.append(stop)
    out["ray_alone"] = {"init_s": starts, "shutdown_s": stops,
                        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "ray.json"))
    ap.add_argument("--parts", default="overhead,warm,throughput,ray_alone",
                    help="which of overhead, warm, throughput, ray_alone")
    ap.add_argument("--report", metavar="FILE", help="print the figures of a saved JSON, run nothing")
    ap.add_argument("--merge", action="store_true", help="keep the other parts' figures already in --json")
    args = ap.parse_args()
    if args.report:
        return report(json.loads(Path(args.report).read_text()))
    os.environ.update(env())   # this process joins the cluster too (warm)
    out = json.loads(Path(args.json).read_text()) if args.merge and Path(args.json).is_file() else {}
    out.update({"cpu": cpu_name(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_before": os.getloadavg()} if not out else {})
    print(f"{out['cpu']}; load average {out['load_before'][0]:.1f} at the start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        head, address = start_head(work)
        try:
            for part in args.parts.split(","):
                parts = {"overhead": overhead, "warm": warm, "throughput": throughput, "ray_alone": ray_alone}
                parts[part](work / "runs", address, args.reps, out)
        finally:
            head.send_signal(signal.SIGTERM)   # --block: the head stops its own processes
            head.wait(60)
            current = Path("/tmp/ray/ray_current_cluster")   # left behind; `ray.init()` would try it
            if current.is_file() and current.read_text().strip() == address:
                current.unlink()
    out.setdefault("load_after", os.getloadavg())
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    report(out)


if __name__ == "__main__":
    main()
