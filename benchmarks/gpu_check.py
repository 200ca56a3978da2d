"""The GPU path in one short run (issue 23, item 3): `benchmarks/gpu_check.sh` on a machine with one GPU.

Prints, on DEVICE (cuda when there is one, else cpu, so that the same code runs in the test suite):
1. the child step's img/s: eager fp32 NCHW, channels-last, bf16 autocast, channels-last + cudnn.benchmark (CUDA);
2. the seed preset's search time per epoch (shapes data, 45,000 images' worth of steps scaled from STEPS steps)
   and the 100-epoch estimate against the 2-minute target on one H200;
3. peak GPU memory of that search;
4. whether a seed's tiny search gives the same losses on DEVICE as on the CPU (within TOL).
Writes benchmarks/results/gpu_check.json. `--tiny`: everything at a size that runs in seconds on a CPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_step import YARDSTICK_ARCH, child_step_ips  # noqa: E402

from enas.config import Config  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.runs.store import write_text_atomic  # noqa: E402

TOL = 1e-2          # relative difference of a loss between devices (cuDNN and the CPU sum in other orders)
IMAGES = 45_000     # the seed preset's training split on CIFAR-10


def step_figures(device: str, steps: int, batch: int) -> dict:
    """The child step's img/s with each speed-up, on `device`."""
    out = {"fp32_nchw": child_step_ips(YARDSTICK_ARCH, device=device, steps=steps, batch=batch, channels_last=False),
           "fp32_channels_last": child_step_ips(YARDSTICK_ARCH, device=device, steps=steps, batch=batch),
           "bf16_channels_last": child_step_ips(YARDSTICK_ARCH, device=device, steps=steps, batch=batch,
                                                precision="bf16")}
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        out["fp32_channels_last_cudnn_benchmark"] = child_step_ips(YARDSTICK_ARCH, device=device, steps=steps,
                                                                   batch=batch)
        torch.backends.cudnn.benchmark = False
    return out


def search_epoch(device: str, steps: int, **fields) -> dict:
    """Seconds per seed-preset search epoch on `device` (STEPS child steps plus the controller, scaled to the
    45,000-image epoch), and peak GPU memory."""
    config = Config.from_dict({"dataset": "shapes", "device": device, "epochs": 1, "steps_per_epoch": steps,
                               "threads": 1, **fields}, preset="seed")
    engine = Engine(config)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    events = []
    engine.listeners.append(lambda ev: events.append(ev) if ev["kind"] == "epoch" else None)
    start = time.perf_counter()
    engine.search()
    seconds = time.perf_counter() - start
    epoch_s = seconds * (IMAGES / config.batch_size) / steps
    return {"steps": steps, "seconds": seconds, "epoch_s_at_45000": epoch_s, "est_100_epochs_min": 100 * epoch_s / 60,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
            "train_loss": events[-1]["train_loss"]}


def same_seed(device: str, **fields) -> dict:
    """A tiny search with one seed on the CPU and on `device`: its epochs' training losses and their difference."""
    losses = {}
    for dev in ("cpu", device):
        config = Config.from_dict({"dataset": "shapes:400", "train_subset": 128, "val_size": 64, "nodes": 3,
                                   "channels": 8, "epochs": 2, "steps_per_epoch": 3, "batch_size": 32,
                                   "controller_steps": 1, "controller_children": 2, "device": dev, "threads": 1,
                                   **fields}, preset="seed")
        events = []
        Engine(config, listeners=[lambda ev: events.append(ev) if ev["kind"] == "epoch" else None]).search()
        losses[dev] = [e["train_loss"] for e in events]
    diff = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(losses["cpu"], losses[device]))
    return {"losses": losses, "max_relative_difference": diff, "match": diff <= TOL, "tolerance": TOL}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="seconds on a CPU: the test suite's size")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check.json")
    args = ap.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(1)   # the CPU side (and the CPU half of the seed check) as the engine's tests run it
    steps, search_steps = (3, 2) if args.tiny else (50, 100)
    small = {"nodes": 3, "channels": 8, "controller_steps": 1, "controller_children": 2} if args.tiny else {}
    res = {"device": torch.cuda.get_device_name() if device == "cuda" else f"cpu (no CUDA device: {device} only)",
           "torch": torch.__version__, "tiny": args.tiny}
    res["step_img_s"] = step_figures(device, steps, 16 if args.tiny else 128)
    res["seed_search"] = search_epoch(device, search_steps, **small)
    res["same_seed_as_cpu"] = same_seed(device)
    print(f"device: {res['device']}, torch {res['torch']}")
    for name, ips in res["step_img_s"].items():
        print(f"child step {name:<36} {ips:>10.0f} img/s")
    s = res["seed_search"]
    print(f"seed preset search: {s['epoch_s_at_45000']:.1f} s per 45,000-image epoch, 100 epochs ~ "
          f"{s['est_100_epochs_min']:.1f} min (target 2 min on one H200)"
          + (f", peak GPU memory {s['peak_gpu_mb']:.0f} MB" if s["peak_gpu_mb"] is not None else ""))
    m = res["same_seed_as_cpu"]
    print(f"same seed on {device} as on cpu: max relative loss difference {m['max_relative_difference']:.2e} "
          f"({'within' if m['match'] else 'OUTSIDE'} {TOL:g})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(res, indent=1) + "\n")
    return 0 if m["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
