"""Speed of the search's hot paths, as ratios to the seed report's step measured in the same run.

    python benchmarks/bench_step.py              # rows 1-4 and 8 (about 3 minutes on 2 cores)
    python benchmarks/bench_step.py --all        # also 5 (quick preset) and 7 (memory)

bf16's accuracy cost (row 2b) is measured by benchmarks/bench_precision.py.

Rows (issue "Performance"): 1 fp32 child step vs the yardstick, its share of its convolutions alone, and its
FLOP/s over a 1024x1024 fp32 matmul's; 2 mixed precision (bf16 autocast) vs the yardstick; 3 step cost vs number
of candidate ops and vs nodes; 4 controller step vs child step, and sampling alone; 5 the quick preset end to end,
by phase; 7 peak memory of a seed-preset search on the 50,000-image folder; 8 GPU (skipped without CUDA).
Timed rows are interleaved with the yardstick and reported as medians of --reps repetitions.
Prints a table and writes benchmarks/results/step.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(SHARED / "bench"))
sys.path.insert(0, str(ROOT))

from enas.config import Config  # noqa: E402
from enas.controller import Controller, Reinforce  # noqa: E402
from enas.model import Supergraph  # noqa: E402
from enas.space import KERNEL, OPS, Architecture  # noqa: E402

try:
    import seed_reference  # noqa: E402
except ImportError:
    seed_reference = None

# the yardstick's architecture, in this project's notation (its skip index k is node k-1's output)
YARDSTICK_ARCH = Architecture.parse("c3 c5:1 c1:10 mp:011 c3:1001 ap:00101")


def child_step_ips(arch: Architecture, nodes=6, channels=32, batch=64, ops=OPS, precision="fp32", steps=20,
                   device="cpu", channels_last=True) -> float:
    """Images/s of the engine's child step (forward, backward, SGD) on data already in memory."""
    torch.manual_seed(0)
    dev = torch.device(device)
    sg = Supergraph(nodes, channels, ops).to(dev)
    x = torch.randn(batch, 3, 32, 32, device=dev)
    if channels_last:
        sg = sg.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=dev)
    opt = torch.optim.SGD(sg.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def step():
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            loss = F.cross_entropy(sg(x, arch), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - start)


def convs_only_ips(arch: Architecture, channels=32, batch=64, steps=20) -> float:
    """Images/s of the child's convolutions alone (forward, input and weight gradients), channels-last:
    a ceiling for any step that computes the same convolutions in fp32."""
    torch.manual_seed(0)
    cl = torch.channels_last
    shapes = [(3, 32, 3, 32)] + [(channels, channels, KERNEL[op], 16) for op in arch.ops if op in KERNEL]
    shapes.append((channels, channels, 3, 8))
    layers = [(torch.nn.Conv2d(ci, co, k, padding=k // 2).to(memory_format=cl),
               torch.randn(batch, ci, hw, hw).contiguous(memory_format=cl).requires_grad_(ci != 3))
              for ci, co, k, hw in shapes]

    def step():
        for conv, x in layers:
            conv(x).sum().backward()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def yardstick_ips(steps=20) -> float:
    return seed_reference.images_per_second(batch=64, channels=32, nodes=6, steps=steps, warmup=3)


def interleaved(fns: dict, reps: int) -> dict:
    """Run each function once per repetition, in turn; medians per name."""
    out = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            out[k].append(fn())
    return {k: statistics.median(v) for k, v in out.items()}


def matmul_flops(n=1024, reps=10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start)


def step_flops(arch: Architecture, channels=32) -> float:
    """FLOPs of one training image: forward convs and classifier x 3 (forward, input and weight gradients)."""
    return 3 * arch.flops(channels)


def chain(nodes: int) -> Architecture:
    """conv3x3 at every node, a residual skip at every other node: cost linear in nodes."""
    return Architecture(("conv3x3",) * nodes, tuple(tuple(int(j == i - 1 and i % 2 == 0) for j in range(i))
                                                    for i in range(nodes)))


def engine_ips(dataset) -> float:
    """Images/s of the engine's whole training loop at the seed settings (sampling, batches, step, logging), on
    the threads the other rows use (the engine's own auto count would be 1 on 2 cores)."""
    from enas.engine.search import Engine
    config = Config.from_dict({"dataset": "shapes", "epochs": 1, "steps_per_epoch": 20, "controller_steps": 0,
                               "sampling": "per-batch", "threads": torch.get_num_threads()}, preset="seed")
    engine = Engine(config, dataset=dataset)
    start = time.perf_counter()
    _, _, images = engine.train_children(0)
    return images / (time.perf_counter() - start)


def controller_figures(reps: int) -> dict:
    """Seconds of one controller step (5 children scored on val minibatches + update) and of one child step."""
    torch.manual_seed(0)
    sg = Supergraph(6, 32).to(memory_format=torch.channels_last)
    ctrl = Controller()
    rl = Reinforce(ctrl)
    xv = torch.randn(64, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    yv = torch.randint(0, 10, (64,))
    gen = torch.Generator().manual_seed(0)

    def controller_step():
        start = time.perf_counter()
        s = ctrl.sample(5, generator=gen)
        with torch.inference_mode():
            acc = torch.stack([(sg(xv, a).argmax(1) == yv).float().mean() for a in s.archs])
        rl.step(s, acc)
        return time.perf_counter() - start

    def sampling():
        start = time.perf_counter()
        with torch.no_grad():
            ctrl.sample(256, generator=gen)
        return 256 / (time.perf_counter() - start)

    def child_step():
        return 64 / child_step_ips(YARDSTICK_ARCH, steps=5)

    m = interleaved({"controller_step_s": controller_step, "child_step_s": child_step,
                     "samples_per_s": sampling}, reps)
    m["controller_over_child"] = m["controller_step_s"] / m["child_step_s"]
    return m


def quick_preset_phases(**changes) -> dict:
    """Wall time of the quick preset (search, derive, final) on shapes, by phase, and the final result."""
    from enas.engine.search import Engine, load_data
    config = Config.from_dict(changes, preset="quick")
    start = time.perf_counter()
    engine = Engine(config, dataset=load_data(config))
    times = {"data_s": time.perf_counter() - start}
    for phase, fn in (("search_s", engine.search), ("derive_s", engine.derive), ("final_s", engine.train_final)):
        t = time.perf_counter()
        out = fn()
        times[phase] = time.perf_counter() - t
    times["total_s"] = sum(times.values())
    return {**times, "result": out}


def peak_memory_seed_folder() -> dict:
    """Peak RSS of a seed-preset search (one short epoch) on the 50,000-image folder, in a fresh process."""
    folder = SHARED / "data" / "cifar10-jpeg" / "train"
    if not folder.is_dir():
        return {"skipped": f"{folder} is absent"}
    code = (
        "import resource, sys; sys.path.insert(0, %r)\n"
        "from enas.config import Config\nfrom enas.engine.search import Engine\n"
        "c = Config.from_dict({'dataset': 'folder:%s', 'epochs': 1, 'steps_per_epoch': 20, 'derive_samples': 5},"
        " preset='seed')\n"
        "e = Engine(c)\ne.search()\ne.derive()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n" % (str(ROOT), folder))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    kib = int(out.stdout.strip().splitlines()[-1])
    return {"peak_rss_mb": kib / 1024, "target_mb": 1536}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--all", action="store_true", help="also rows 5 (quick preset) and 7 (memory)")
    args = ap.parse_args()
    if seed_reference is None:
        sys.exit(f"the yardstick {SHARED / 'bench' / 'seed_reference.py'} is missing")
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.processor() or platform.machine()}, "
           f"{torch.get_num_threads()} threads, torch {torch.__version__}", "reps": args.reps}
    rows = []

    if args.all:  # first, while the shapes data is not yet generated in this process
        m = quick_preset_phases()
        res["quick_preset"] = m
        rows.append(("5 quick preset: data/search/derive/final, s",
                     f"{m['data_s']:.1f}/{m['search_s']:.0f}/{m['derive_s']:.0f}/{m['final_s']:.0f}",
                     f"total {m['total_s']:.0f} s (target 180)"))

    # 1 and 2: fp32 and bf16 child step vs the yardstick, interleaved
    m = interleaved({"yardstick": yardstick_ips,
                     "fp32_nchw": lambda: child_step_ips(YARDSTICK_ARCH, channels_last=False),
                     "fp32": lambda: child_step_ips(YARDSTICK_ARCH),
                     "bf16": lambda: child_step_ips(YARDSTICK_ARCH, precision="bf16"),
                     "convs_only": lambda: convs_only_ips(YARDSTICK_ARCH)}, args.reps)
    from enas.engine.search import load_data
    shapes = load_data(Config.from_dict({"dataset": "shapes"}))
    m.update(interleaved({"yardstick_2": yardstick_ips, "engine": lambda: engine_ips(shapes)}, args.reps))
    peak = matmul_flops()
    res["step"] = {**m, "matmul_gflops": peak / 1e9,
                   "fp32_share_of_matmul_peak": m["fp32"] * step_flops(YARDSTICK_ARCH) / peak,
                   "fp32_share_of_convs": m["fp32"] / m["convs_only"]}
    rows += [("1 yardstick (seed step), img/s", f"{m['yardstick']:.0f}", ""),
             ("1 child step fp32 NCHW, img/s", f"{m['fp32_nchw']:.0f}", f"{m['fp32_nchw'] / m['yardstick']:.2f}x"),
             ("1 child step fp32 channels-last, img/s", f"{m['fp32']:.0f}", f"{m['fp32'] / m['yardstick']:.2f}x"),
             ("1 engine training loop (sampling, data, step), img/s", f"{m['engine']:.0f}",
              f"{m['engine'] / m['yardstick_2']:.2f}x"),
             ("1 ceiling: the child's convolutions alone, img/s", f"{m['convs_only']:.0f}",
              f"{m['convs_only'] / m['yardstick']:.2f}x"),
             ("1 fp32 step's share of that ceiling", f"{res['step']['fp32_share_of_convs']:.1%}", "target 80%"),
             ("1 step FLOP/s over a 1024x1024 fp32 matmul's", f"{res['step']['fp32_share_of_matmul_peak']:.1%}",
              f"{peak / 1e9:.0f} GFLOP/s (no ceiling: above 100% where the matmul is the slower)"),
             ("2 child step bf16 autocast, img/s", f"{m['bf16']:.0f}", f"{m['bf16'] / m['yardstick']:.2f}x")]

    # 3: candidate ops (3 vs 5) and nodes (6, 12, 24)
    a3 = Architecture.parse("c3 c3:1 c1:01 mp:011 c3:1001 c1:00101")
    m = interleaved({"ops5": lambda: child_step_ips(a3, ops=OPS),
                     "ops3": lambda: child_step_ips(a3, ops=("conv1x1", "conv3x3", "maxpool3x3"))}, args.reps)
    res["ops"] = m
    rows.append(("3 step with 5 vs 3 candidate ops, img/s", f"{m['ops5']:.0f} / {m['ops3']:.0f}",
                 f"{m['ops5'] / m['ops3']:.2f}x"))
    m = interleaved({n: (lambda n=n: 64 / child_step_ips(chain(n), nodes=n, steps=20)) for n in (6, 12, 24)},
                    args.reps)
    res["nodes_step_s"] = m
    rows.append(("3 step seconds at 6 / 12 / 24 nodes", " / ".join(f"{m[n]:.3f}" for n in (6, 12, 24)),
                 f"x{m[12] / m[6]:.2f}, x{m[24] / m[6]:.2f}"))

    # 4: controller
    m = controller_figures(args.reps)
    res["controller"] = m
    rows += [("4 controller step (5 children + update), s", f"{m['controller_step_s']:.3f}",
              f"{m['controller_over_child']:.2f}x a child step"),
             ("4 controller sampling, architectures/s", f"{m['samples_per_s']:.0f}", "")]

    if args.all:
        m = peak_memory_seed_folder()
        res["memory"] = m
        rows.append(("7 peak memory, seed preset on 50k folder", f"{m.get('peak_rss_mb', 0):.0f} MB"
                     if "peak_rss_mb" in m else m["skipped"], "target 1536 MB"))

    if torch.cuda.is_available():
        m = interleaved({"fp32": lambda: child_step_ips(YARDSTICK_ARCH, device="cuda", batch=64, steps=50),
                         "bf16": lambda: child_step_ips(YARDSTICK_ARCH, device="cuda", precision="bf16", steps=50)},
                        args.reps)
        epoch_s = 45_000 / max(m.values())
        res["gpu"] = {**m, "device": torch.cuda.get_device_name(), "est_100_epochs_min": 100 * epoch_s / 60}
        rows.append(("8 GPU child step fp32 / bf16, img/s", f"{m['fp32']:.0f} / {m['bf16']:.0f}",
                     f"100 epochs ~ {res['gpu']['est_100_epochs_min']:.1f} min (child steps only)"))
    else:
        rows.append(("8 GPU", "skipped: no CUDA device on this machine", ""))

    res["load_average"] = list(__import__("os").getloadavg())
    res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    width = max(len(r[0]) for r in rows)
    print(f"{res['date']}  {res['machine']}  (load average {res['load_average'][0]:.1f})")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "step.json").write_text(json.dumps(res, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
