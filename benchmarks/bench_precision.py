"""Does bf16 cost accuracy? fp32 against bf16 autocast on the same seeds, in two settings (issue 23, item 2):

- `quick`: the quick preset end to end (search, derive, final training) on the built-in shapes data; test accuracy;
- `cifar`: a short laptop-preset search on the CIFAR-10 image folder (SHORT below: 5,000 training images, 6 epochs of
  which 2 warm-up); the controller's samples' and random architectures' validation accuracy on the shared weights
  at the last epoch, and the gap between them.

bf16's cost counts as within noise when its mean accuracy is lower than fp32's by no more than fp32's own
seed-to-seed standard deviation (a gain is no cost). Each run's result is written to `results/precision/<setting>-<precision>-s<seed>.json`
as it finishes, so a stopped benchmark resumes where it was; the summary goes to `results/precision.json`.

    python benchmarks/bench_precision.py                    # both settings, seeds 0-2 (about 25 min, one thread)
    python benchmarks/bench_precision.py --settings quick --seeds 0-4
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enas.cli.main import parse_seeds  # noqa: E402
from enas.config import Config  # noqa: E402
from enas.engine.search import Engine, load_data  # noqa: E402
from enas.hardware import cpu_flags  # noqa: E402
from enas.runs.store import write_text_atomic  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg" / "train"
OUT = ROOT / "benchmarks" / "results"
SHORT = {"train_subset": 5000, "epochs": 6, "warmup_epochs": 2, "threads": 1}
PRECISIONS = ("fp32", "bf16")


def quick_run(precision: str, seed: int) -> dict:
    """The quick preset end to end on shapes: its test accuracy and architecture."""
    engine = Engine(Config.from_dict({"precision": precision, "seed": seed, "threads": 1}, preset="quick"))
    engine.search()
    engine.derive()
    out = engine.train_final()
    return {"test_acc": out["test_acc"], "arch": out["arch"]}


def cifar_run(precision: str, seed: int) -> dict:
    """A short laptop-preset search on the CIFAR-10 folder: last epoch's shared-weight validation accuracy of the
    controller's samples and of random architectures (both on validation minibatches), and their gap."""
    events = []
    config = Config.from_dict({**SHORT, "dataset": f"folder:{DATA}", "precision": precision, "seed": seed},
                              preset="laptop")
    engine = Engine(config, dataset=load_data(config))
    engine.listeners.append(lambda ev: events.append(ev) if ev["kind"] == "epoch" else None)
    engine.search()
    last = events[-1]
    return {"val_acc": last["val_acc"], "random_val_acc": last["random_val_acc"],
            "gap_points": 100 * (last["val_acc"] - last["random_val_acc"]), "train_acc": last["train_acc"]}


SETTINGS = {"quick": (quick_run, "test_acc"), "cifar": (cifar_run, "val_acc")}


def measure(setting: str, precision: str, seed: int) -> dict:
    """One run's result, from its file when it has already run."""
    path = OUT / "precision" / f"{setting}-{precision}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    start, cpu = time.perf_counter(), time.process_time()
    res = {**SETTINGS[setting][0](precision, seed), "seconds": time.perf_counter() - start,
           "cpu_seconds": time.process_time() - cpu}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(res, indent=1) + "\n")
    print(f"{setting} {precision} seed {seed}: {res}", flush=True)
    return res


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def sd(xs: list) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else float("nan")


def summary(setting: str, runs: dict, seeds: list) -> dict:
    """Per precision: mean and seed-to-seed sd of each figure; bf16 minus fp32 (mean, sd of the paired
    differences); within_noise when bf16's main figure is lower by at most one fp32 seed-to-seed sd."""
    keys = [k for k, v in runs[(PRECISIONS[0], seeds[0])].items() if isinstance(v, float) and "seconds" not in k]
    out = {"figures": {}}
    for key in keys:
        per = {p: [runs[(p, s)][key] for s in seeds] for p in PRECISIONS}
        diffs = [b - a for a, b in zip(per["fp32"], per["bf16"])]
        out["figures"][key] = {**{p: {"mean": statistics.fmean(v), "sd": sd(v), "values": v} for p, v in per.items()},
                               "bf16_minus_fp32": {"mean": statistics.fmean(diffs), "sd": sd(diffs)}}
    main_key = SETTINGS[setting][1]
    fig = out["figures"][main_key]
    out["main"] = main_key
    out["within_noise"] = fig["bf16_minus_fp32"]["mean"] >= -fig["fp32"]["sd"]
    out["seconds"] = {p: statistics.fmean(runs[(p, s)]["seconds"] for s in seeds) for p in PRECISIONS}
    out["speedup"] = out["seconds"]["fp32"] / out["seconds"]["bf16"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="quick,cifar", help="comma-separated: quick, cifar")
    ap.add_argument("--seeds", default="0-2", help="e.g. 0-2 or 0,3,5")
    args = ap.parse_args(argv)
    settings = [s.strip() for s in args.settings.split(",")]
    bad = [s for s in settings if s not in SETTINGS]
    if bad:
        sys.exit(f"--settings: unknown {', '.join(bad)} (choose from {', '.join(SETTINGS)})")
    if "cifar" in settings and not DATA.is_dir():
        sys.exit(f"--settings cifar needs the CIFAR-10 folder {DATA}, which is absent")
    seeds = parse_seeds(args.seeds)
    flags = cpu_flags()
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "cores": os.cpu_count(),
           "bf16_flags": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"}), "torch": torch.__version__,
           "threads": 1, "seeds": seeds, "short_cifar": SHORT}
    for setting in settings:
        runs = {(p, s): measure(setting, p, s) for s in seeds for p in PRECISIONS}
        res[setting] = {"runs": {f"{p}/seed {s}": r for (p, s), r in runs.items()}, **summary(setting, runs, seeds)}
        m = res[setting]
        f = m["figures"][m["main"]]
        print(f"{setting}: {m['main']} fp32 {f['fp32']['mean']:.4f} (sd {f['fp32']['sd']:.4f}) bf16 "
              f"{f['bf16']['mean']:.4f} (sd {f['bf16']['sd']:.4f}); bf16-fp32 {f['bf16_minus_fp32']['mean']:+.4f} "
              f"(sd {f['bf16_minus_fp32']['sd']:.4f}); within noise: {m['within_noise']}; "
              f"bf16 {m['speedup']:.2f}x faster")
    write_text_atomic(OUT / "precision.json", json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
