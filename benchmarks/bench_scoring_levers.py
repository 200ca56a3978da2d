"""Issue 20's target 2, levers on the scoring side: one searched run's shared weights score the K reference
architectures in several ways, each ranked against the stand-alone references (5 and 10 epochs).

    python benchmarks/bench_scoring_levers.py --runs DIR --run laptop-enas-s2          # fine-tune 50 and 156 steps
    python benchmarks/bench_scoring_levers.py --runs DIR --run laptop-enas-s2 --steps 0   # the cheap ways only

Ways, each on the run's whole validation split: `base` (the protocol's: the newest checkpoint, BN statistics
recalibrated on `calibration_batches` training batches); `calib50` (50 batches); `ftN` (the inherited child
fine-tuned N steps on the training split, SGD lr 0.01 cosine to 0, the same batches for every child, then
recalibrated); `ckpt-prev` and `mean-2` (the checkpoint one epoch older, and the mean of the two). Writes
benchmarks/results/quality-lever-scoring-<run>.json (`--out`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_quality as bq  # noqa: E402
from enas.engine.children import cosine_lr, evaluate  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.model import calibrate_bn  # noqa: E402
from enas.quality.rank import bootstrap_interval, kendall_tau  # noqa: E402
from enas.quality.reference import reference_archs  # noqa: E402
from enas.runs.store import RunStore, StoreError  # noqa: E402
from enas.seeds import stream  # noqa: E402

CACHE = ROOT / "benchmarks" / "results" / "quality-runs" / "data-cache"
REFERENCES = [f"E5={CACHE / 'reference-b0e2ff59b1a632e5.json'}", f"E10={CACHE / 'reference-6dbdcd92b02911f2.json'}"]
LR = 0.01


def finetuned(eng, arch, steps: int):
    """`arch` inheriting the shared weights, trained `steps` steps on the same batches as every other child."""
    c = eng.config
    torch.manual_seed(0)
    net = eng.inherited_child(arch)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=c.weight_decay)
    gen, scaler, step = stream(c.seed, "ft-data"), torch.amp.GradScaler("cpu", enabled=False), 0
    params = list(net.parameters())
    net.train()
    while step < steps:
        for x, y in eng.train_data.epoch(c.batch_size, gen):
            if step >= steps:
                break
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step / steps, 1, LR, 0.0)
            eng.train_step(net, x, y, opt, scaler, params)
            step += 1
    return net


def recalibrated(eng, net, batches: int):
    c, gen = eng.config, stream(eng.config.seed, "calibration")
    calibrate_bn(net, (eng.train_data.random_batch(c.batch_size, gen, augment=False)[0] for _ in range(batches)))
    return net.eval()


def score_all(eng, store, steps: list, k: int) -> dict:
    eng.restore_for_use()
    archs, scores = reference_archs(eng.config, k), {}

    def put(way, arch, acc):
        scores.setdefault(way, []).append(acc)
        print(f"{way:10s} {arch}  {acc:.4f}", flush=True)
    for arch in archs:
        put("base", arch, eng.shared_accuracy(arch))
        put("calib50", arch, evaluate(recalibrated(eng, eng.inherited_child(arch), 50), eng.val_data))
        for n in steps:
            net = finetuned(eng, arch, n)
            put(f"ft{n}", arch, evaluate(recalibrated(eng, net, eng.config.calibration_batches), eng.val_data))
    prev, last = (torch.load(p, weights_only=False, map_location="cpu")["supergraph"] for p in store.checkpoints()[-2:])
    for way, sd in (("ckpt-prev", prev), ("mean-2", {n: (prev[n].float() + last[n].float()) / 2 for n in last})):
        eng.supergraph.load_state_dict(sd)
        for arch in archs:
            put(way, arch, eng.shared_accuracy(arch))
    return {"archs": [str(a) for a in archs], "scores": scores}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, help="the runs folder holding the searched run")
    p.add_argument("--run", required=True, help="the run's name, e.g. laptop-enas-s2")
    p.add_argument("--steps", default="50,156", help="fine-tuning steps, comma-separated (0: none)")
    p.add_argument("--reference", action="append", metavar="LABEL=FILE",
                   help="a reference cache file to rank against (repeatable; default: the protocol's 5- and 10-epoch)")
    p.add_argument("--out", help="the result JSON (default benchmarks/results/quality-lever-scoring-<run>.json)")
    a = p.parse_args(argv)
    try:
        if not all(s.strip().isdigit() for s in a.steps.split(",")):
            raise ValueError(f"--steps {a.steps}: use whole numbers, comma-separated")
        steps = [int(s) for s in a.steps.split(",") if int(s) > 0]
        if bad := [r for r in a.reference or () if "=" not in r]:
            raise ValueError(f"--reference {bad[0]}: use LABEL=FILE")
        refs = {e: json.loads(Path(f).read_text()) for e, f in (r.split("=", 1) for r in a.reference or REFERENCES)}
        store = RunStore.open(a.runs, a.run)
        archs = [str(x) for x in reference_archs(store.config(), next(iter(refs.values()))["k"])]
        if other := [e for e, doc in refs.items() if [r["arch"] for r in doc["rows"]] != archs]:
            raise ValueError(f"reference {other[0]} holds other architectures than {a.run}'s space draws")
        if len(store.checkpoints()) < 2:
            raise ValueError(f"{a.run} has fewer than 2 checkpoints: ckpt-prev and mean-2 need the last two")
    except (ValueError, OSError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    eng, out, t0 = Engine(store.config(), store, []), {}, time.time()
    eng.run((lambda: out.update(score_all(eng, store, steps, next(iter(refs.values()))["k"])),))
    stats = {}
    for way, s in out["scores"].items():
        for e, doc in refs.items():
            ref = [(r["standalone_a"] + r["standalone_b"]) / 2 for r in doc["rows"]]
            stats.setdefault(way, {})[e] = {"kendall_tau": kendall_tau(s, ref),
                                            "kendall_tau_95": bootstrap_interval(s, ref, kendall_tau)}
        print(way, "  ".join(f"{e} tau {v['kendall_tau']:.3f} [{v['kendall_tau_95'][0]:.2f}, "
                             f"{v['kendall_tau_95'][1]:.2f}]" for e, v in stats[way].items()), flush=True)
    doc = {"command": "python benchmarks/bench_scoring_levers.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": bq.machine(),
           "wall_s": time.time() - t0, "fine_tune_lr": LR, **out, "stats": stats}
    path = Path(a.out or ROOT / "benchmarks" / "results" / f"quality-lever-scoring-{a.run}.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
