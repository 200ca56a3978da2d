"""BN calibration before and after issue 20, on one searched run: the shared-weight validation accuracy of N
uniformly random architectures with every BN's statistics computed in one training-mode pass (before) and in one
eval-mode pass, each BN from what the BNs before it output (now, `enas.model.calibrate_bn`).

    python benchmarks/bench_calibration.py RUNS_DIR RUN [--archs 48]

Prints each architecture whose accuracy moved by more than a point, how many scored at chance before and now,
and the largest change of the others; saves benchmarks/results/calibration.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from bench_threads import cpu_info  # noqa: E402
from torch import nn  # noqa: E402

from enas.controller import RandomSampler  # noqa: E402
from enas.engine.children import evaluate  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.model import ChildNet  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402
from enas.seeds import stream  # noqa: E402


@torch.no_grad()
def calibrate_before(net: nn.Module, batches) -> None:
    """The calibration before issue 20: every BN's running averages over the batches, in training mode."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for x in batches:
        net(x)
    net.eval()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs_dir")
    p.add_argument("run")
    p.add_argument("--archs", type=int, default=48)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "calibration.json"))
    args = p.parse_args(argv)
    store = RunStore.open(args.runs_dir, args.run)
    engine = Engine(store.config().replace(threads=1), store)
    engine.restore_for_use()
    c, start = engine.config, time.time()
    archs = RandomSampler(c.nodes, c.ops).sample(args.archs, generator=stream(0, "bench-calibration")).archs
    rows = []
    for arch in archs:
        now = engine.shared_accuracy(arch)
        net = ChildNet.from_supergraph(engine.supergraph, arch).to(memory_format=torch.channels_last)
        gen = stream(c.seed, "calibration")   # the same images as inherited_child's
        calibrate_before(net, [engine.train_data.random_batch(c.batch_size, gen, augment=False)[0]
                               for _ in range(c.calibration_batches)])
        rows.append({"arch": str(arch), "before": evaluate(net, engine.val_data), "now": now})
        print(f"{rows[-1]['arch']:<44} before {rows[-1]['before']:.4f}  now {now:.4f}", flush=True)
    chance = 1.5 / engine.classes
    moved = [r for r in rows if abs(r["now"] - r["before"]) > 0.01]
    rest = [abs(r["now"] - r["before"]) for r in rows if r not in moved]
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_info(), "run": args.run, "config": c.to_dict(),
           "seconds": time.time() - start, "rows": rows,
           "at_chance_before": sum(r["before"] < chance for r in rows),
           "at_chance_now": sum(r["now"] < chance for r in rows),
           "moved_over_1_point": moved, "largest_change_of_the_rest": max(rest, default=0.0)}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{len(rows)} architectures of run {args.run} (shared weights, whole validation split): "
          f"{out['at_chance_before']} below {chance:.2f} before, {out['at_chance_now']} now; "
          f"{len(moved)} moved by more than a point; the rest by at most {100 * out['largest_change_of_the_rest']:.2f}"
          f" points. CPU: {out['cpu']['model']} ({', '.join(out['cpu']['flags'])}). saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
