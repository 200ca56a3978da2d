"""Torch threads of a search: 1 or 2 threads (and 2 with OpenMP's passive waiting), on a quiet machine and
beside two busy processes. Picks nothing itself: the figures are behind `enas.hardware.auto_threads`.

    python benchmarks/bench_threads.py            # about 3-4 minutes on 2 cores
    python benchmarks/bench_threads.py --reps 1   # about half that

Each measurement is a fresh process (OMP_WAIT_POLICY must be set before torch is imported) that builds an
`Engine` of the quick preset with the `threads` field set and times one shortened search epoch of it: 12 child
steps (per-batch sampling), 8 controller steps of 5 children and the random reference (40 children), the
steps `python -m enas search --preset quick` runs (23 and 20 of them an epoch). "Busy" runs it beside two `python -c "while True: pass"` processes (a load of about
2 more than the machine's own), started here and killed after. Settings alternate within each repetition;
the medians of --reps are reported. Prints a table and writes benchmarks/results/threads.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = {"epochs": 1, "steps_per_epoch": 12, "controller_steps": 8}
SETTINGS = (("1 thread", 1, None), ("2 threads", 2, None), ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, "PASSIVE"))


def measure(threads: int) -> dict:
    """In the child process: seconds of one quick-preset search epoch on `threads` torch threads."""
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import torch

    from enas.config import Config
    from enas.engine.search import Engine
    imported = time.perf_counter()
    engine = Engine(Config.from_dict(WORKLOAD, preset="quick").replace(threads=threads))
    built = time.perf_counter()
    parts = {}
    for name in ("train_children", "train_controller", "random_reference"):
        method = getattr(engine, name)

        def timed(*args, _method=method, _name=name):
            t = time.perf_counter()
            try:
                return _method(*args)
            finally:
                parts[_name] = time.perf_counter() - t
        setattr(engine, name, timed)
    t = time.perf_counter()
    engine.search_epoch()
    epoch = time.perf_counter() - t
    return {"torch_threads": torch.get_num_threads(), "import_s": imported - start, "build_s": built - imported,
            "epoch_s": epoch, "child_s": parts["train_children"], "controller_s": parts["train_controller"],
            "random_reference_s": parts.get("random_reference", 0.0), "child_steps": engine.step}


def run_one(threads: int, policy: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    load = os.getloadavg()[0]
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", str(threads)], env=env, capture_output=True,
                         text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall_s=time.perf_counter() - t, load_before=load)
    return result


def spinners(n: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def cpu_info() -> dict:
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return {"model": model, "cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "flags": [f for f in wanted if f in flags]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return
    import torch
    results = {"cpu": cpu_info(), "torch": torch.__version__, "parallel": torch.__config__.parallel_info().split(
        "\n")[0:3], "date": time.strftime("%Y-%m-%d"), "workload": "one search epoch of the quick preset "
               "with " + json.dumps(WORKLOAD) + " (12 child steps, 8 controller steps x 5 children, random "
               "reference of 40)", "cases": {}}
    for case, busy in (("quiet", 0), ("busy", 2)):
        procs = spinners(busy)
        try:
            time.sleep(1.0 if busy else 0.0)
            runs = {label: [] for label, _, _ in SETTINGS}
            for rep in range(args.reps):
                order = SETTINGS if rep % 2 == 0 else SETTINGS[::-1]
                for label, threads, policy in order:
                    r = run_one(threads, policy)
                    runs[label].append(r)
                    print(f"{case:<6} {label:<36} epoch {r['epoch_s']:6.2f} s  (child {r['child_s']:.2f}, "
                          f"controller {r['controller_s']:.2f}; load before {r['load_before']:.2f})", flush=True)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        results["cases"][case] = {
            label: {"epoch_s": statistics.median(r["epoch_s"] for r in rs),
                    "child_s": statistics.median(r["child_s"] for r in rs),
                    "controller_s": statistics.median(r["controller_s"] for r in rs),
                    "build_s": statistics.median(r["build_s"] for r in rs), "runs": rs}
            for label, rs in runs.items()}
    print(f"\n{results['cpu']['model']}, {results['cpu']['cpus']} CPUs ({', '.join(results['cpu']['flags'])}); "
          f"medians of {args.reps}")
    print(f"{'setting':<36} {'quiet epoch s':>13} {'busy epoch s':>13}  {'busy child s':>12} {'busy ctrl s':>11}")
    q, b = results["cases"]["quiet"], results["cases"]["busy"]
    for label, _, _ in SETTINGS:
        print(f"{label:<36} {q[label]['epoch_s']:>13.2f} {b[label]['epoch_s']:>13.2f}  {b[label]['child_s']:>12.2f} "
              f"{b[label]['controller_s']:>11.2f}")
    out = ROOT / "benchmarks" / "results" / "threads.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
