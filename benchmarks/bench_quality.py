"""Is the search any good, on real data? The whole protocol of issue 11 on the CIFAR-10 image folder.

ENAS and random search with the same settings and budget (`enas.scale.race`: search, derive, the derived architecture
of each side and R uniformly random architectures retrained from scratch with one recipe), then the rank check
of the ENAS run (`enas.quality.rankcheck`: K of its derived architectures retrained, Kendall tau and Spearman rho with
bootstrap intervals). Prints the table and saves JSON (benchmarks/results/quality.json).

    python benchmarks/bench_quality.py                      # the default budget: about 35 min on 2 cores
    python benchmarks/bench_quality.py --epochs 20 --seeds 0-2 --retrain-epochs 5   # a longer one

Validation and test splits are carved from the 50,000 training images (5,000 each, stratified by seed), as
everywhere in this project; the CIFAR-10 test split is never used.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from enas.cli.main import parse_seeds  # noqa: E402
from enas.config import Config  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.quality.rankcheck import rank_check  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402
from enas.scale.race import race  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg" / "train"


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="an image folder (default: ../shared's CIFAR-10 folder)")
    p.add_argument("--preset", default="seed")
    p.add_argument("--epochs", type=int, default=10, help="search epochs of each side")
    p.add_argument("--train-subset", type=int, default=20_000, help="training images (0: all 40,000)")
    p.add_argument("--seeds", default="0", help="seeds of each side, e.g. 0-2")
    p.add_argument("--baseline", type=int, default=8, help="random architectures retrained (R)")
    p.add_argument("--retrain-epochs", type=int, default=2, help="epochs of stand-alone training of every contestant")
    p.add_argument("--rank-k", type=int, default=6, help="architectures of the rank check (K)")
    p.add_argument("--derive-samples", type=int, default=30)
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", help="any other config field")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "quality.json"))
    args = p.parse_args(argv)
    if not Path(args.data).is_dir():
        print(f"error: no image folder at {args.data}", file=sys.stderr)
        return 2
    fields = dict(f.split("=", 1) for f in args.field)
    config = Config.from_dict({"dataset": f"folder:{args.data}", "epochs": args.epochs,
                               "train_subset": args.train_subset or None, "derive_samples": args.derive_samples,
                               "device": "cpu", **fields}, preset=args.preset)
    start = time.time()
    with tempfile.TemporaryDirectory() as runs:
        result = race(config, runs, "quality", parse_seeds(args.seeds), args.baseline, args.retrain_epochs)
        race_s = time.time() - start
        engine = Engine(RunStore.open(runs, f"quality-enas-s{result['seeds'][0]}").config(),
                        RunStore.open(runs, f"quality-enas-s{result['seeds'][0]}"))
        ranks = rank_check(engine, args.rank_k, args.retrain_epochs)
    base = sorted(r["test_acc"] for r in result["baseline"])
    enas_acc = result["summary"]["enas"]["mean"]
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_name(), "threads": torch.get_num_threads(),
           "command": " ".join(["python benchmarks/bench_quality.py", *(argv if argv is not None else sys.argv[1:])]),
           "config": config.to_dict(), "seconds": {"race": race_s, "total": time.time() - start},
           "race": result, "rankcheck": ranks,
           "targets": {"enas_minus_random_arch_median_points": 100 * (enas_acc - result["baseline_median"]),
                       "enas_rank_among_random_archs": sum(b < enas_acc for b in base) / len(base),
                       "kendall_tau": ranks["kendall_tau"], "kendall_tau_95": ranks["kendall_tau_95"]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{out['cpu']}, {out['threads']} threads, {out['seconds']['total'] / 60:.1f} min")
    for side in ("enas", "random"):
        for r in result[side]:
            print(f"{side:<8} seed {r['seed']}  {r['arch']:<44} val {r['val_acc']:.4f}  test {r['test_acc']:.4f}")
    print("random architectures, test: " + " ".join(f"{b:.4f}" for b in base)
          + f"  (median {result['baseline_median']:.4f})")
    print(result["verdict"])
    t = out["targets"]
    print(f"ENAS - random-architecture median: {t['enas_minus_random_arch_median_points']:+.1f} points (target >= 2); "
          f"ENAS beats {t['enas_rank_among_random_archs']:.0%} of them (target: top quartile, >= 75%)")
    lo, hi = ranks["kendall_tau_95"]
    print(f"rank check ({ranks['k']} architectures, {ranks['epochs']} epoch(s)): Kendall tau "
          f"{ranks['kendall_tau']:+.2f} [{lo:+.2f}, {hi:+.2f}], Spearman rho {ranks['spearman_rho']:+.2f}")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
