"""Issue 20's target 2 against a longer-trained reference: the same K architectures trained stand-alone for E
epochs instead of the protocol's, and every finished run's shared-weight scores ranked against it.

    python benchmarks/bench_reference_budget.py --epochs 15          # resumable: the same command continues
    python benchmarks/bench_reference_budget.py --epochs 15 --part 0/2 & \
    python benchmarks/bench_reference_budget.py --epochs 15 --part 1/2   # both cores: each trains every 2nd row

A run's shared-weight scores (`bench_quality.py`'s step `shared`, read from its state's done files) do not depend on
the reference's budget, so no run is searched or scored again: only the reference is trained (one torch thread; each
training saved as it ends, into the state's data-cache next to the protocol's reference). Prints, per run, Kendall
tau, Spearman rho and top-k agreement against the E-epoch reference beside the protocol's, and the new reference's
own seed-to-seed tau (its ceiling); writes benchmarks/results/quality-reference-E<epochs>.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_quality as bq  # noqa: E402
from enas.config import Config  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, required=True, help="stand-alone epochs E of the longer reference")
    p.add_argument("--state", default=str(bq.STATE), help="bench_quality's state (default %(default)s)")
    p.add_argument("--out", default=None, help="the result JSON (default benchmarks/results/"
                                               "quality-reference-E<epochs>.json)")
    p.add_argument("--part", default=None, metavar="I/N", help="train only the architectures n with n %% N == I "
                   "(one process per part shares the build); the ranking is printed once no architecture is left")
    args = p.parse_args(argv)
    state = Path(args.state).resolve()
    plan = state / "plan.json"
    if not plan.is_file():
        print(f"error: {plan} is missing: run benchmarks/bench_quality.py on this state first", file=sys.stderr)
        return 2
    if args.epochs < 1:
        print(f"error: --epochs {args.epochs}: train at least 1 epoch", file=sys.stderr)
        return 2
    jobs = json.loads(plan.read_text())
    ref = jobs[0]
    part = None
    if args.part is not None:
        i, _, n = args.part.partition("/")
        if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
            print(f"error: --part {args.part}: give I/N with 0 <= I < N, e.g. 0/2", file=sys.stderr)
            return 2
        part = {r for r in range(ref["k"]) if r % int(n) == int(i)}
    import torch
    from enas.engine.search import Engine
    from enas.quality.rank import bootstrap_interval, kendall_tau
    from enas.quality.reference import build_reference, check_result
    torch.set_num_threads(1)
    config = Config.from_dict({**ref["config"], "threads": 1})
    start, cpu = time.time(), time.process_time()

    def on_row(n, row, trained):
        print(f"reference E={args.epochs} {n + 1}/{ref['k']}: {row['arch']}  {row['standalone_a']:.4f} / "
              f"{row['standalone_b']:.4f}" + (" (trained now)" if trained else ""), flush=True)
    doc = build_reference(config, ref["k"], args.epochs, state / "data-cache",
                          lambda c: Engine(c, listeners=[bq.log_events]), on_row, part)
    left = [n for n, r in enumerate(doc["rows"]) if None in (r["standalone_a"], r["standalone_b"])]
    if left:
        print(f"part {args.part} done; architectures not yet trained by the other parts: {left}; once they are, "
              "run this without --part to rank")
        return 0
    vals = [(r["standalone_a"] + r["standalone_b"]) / 2 for r in doc["rows"]]
    rows = {}
    for job in jobs[1:]:
        shared, old = (bq.done(state, job["name"], s) for s in ("shared", "refcheck"))
        if not shared or "na" in shared["result"]:
            continue
        new = check_result(doc, [r["shared_acc"] for r in shared["result"]["rows"]], max(1, ref["k"] // 4))
        rows[job["name"]] = {"new": {k: new[k] for k in new if k != "rows"},
                             "protocol": old and {k: old["result"][k] for k in ("kendall_tau", "kendall_tau_95",
                                                                               "spearman_rho", "top_k_agreement")}}
    head = (f"reference: {ref['k']} architectures, {args.epochs} epochs stand-alone (the protocol's: {ref['epochs']}), "
            f"median validation {statistics.median(vals):.4f}, spread {min(vals):.4f}-{max(vals):.4f}")
    print("\n" + head)
    print(f"{'run':<20} {'tau E=' + str(args.epochs) + ' [95%]':>24} {'rho':>6} {'top-k':>6}   {'tau protocol':>12}")
    for name, r in rows.items():
        n, o = r["new"], r["protocol"]
        print(f"{name:<20} {n['kendall_tau']:+.2f} [{n['kendall_tau_95'][0]:+.2f}, {n['kendall_tau_95'][1]:+.2f}]"
              f"{'':>3} {n['spearman_rho']:+6.2f} {n['top_k_agreement']:6.2f}   "
              + (f"{o['kendall_tau']:+12.2f}" if o else f"{'-':>12}"))
    a, b = ([r[f"standalone_{t}"] for r in doc["rows"]] for t in "ab")
    ceiling = kendall_tau(a, b), bootstrap_interval(a, b, kendall_tau)
    print(f"ceiling (the E={args.epochs} reference's seed-to-seed tau): {ceiling[0]:+.2f} "
          f"[{ceiling[1][0]:+.2f}, {ceiling[1][1]:+.2f}]")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"quality-reference-E{args.epochs}.json"
    bq.write_json(out, {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": bq.machine(), "threads": 1,
                        "command": " ".join(["python", "benchmarks/bench_reference_budget.py", *(argv or sys.argv[1:])]),
                        "this_session": {"wall_s": time.time() - start, "cpu_s": time.process_time() - cpu},
                        "reference": {k: doc[k] for k in ("key", "k", "epochs", "rows")},
                        "val_median": statistics.median(vals), "ceiling_tau": ceiling[0],
                        "ceiling_tau_95": ceiling[1], "runs": rows})
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
