"""The rank check: can the shared-weight ranking be trusted? Retrain K derived architectures stand-alone from
scratch and compare their stand-alone validation accuracy with their shared-weight validation accuracy. Also
derive's re-check, which retrains derive's top K briefly and keeps the best by that.

Both accuracies are over the whole validation split in eval mode: derive's with the shared weights and each
child's own recalibrated BN statistics, the stand-alone one after `epochs` epochs of the run's final-training
recipe from scratch (the same initial-weight seed and data order for every architecture). Results are events
of the run (`rankcheck_child`, `rankcheck_result`), so a stopped check resumes without retraining what it did.
"""
from __future__ import annotations

import json

from enas.errors import StoreError
from enas.quality.rank import bootstrap_interval, kendall_tau, spearman_rho
from enas.space import Architecture


def pick_spread(ranking: list, k: int) -> list:
    """K rows of a ranking (best first): the top half of K, then the rest spread evenly down to the last."""
    if k >= len(ranking):
        return list(ranking)
    top = (k + 1) // 2
    rest, m = ranking[top:], k - top
    idx = [round(i * (len(rest) - 1) / (m - 1)) for i in range(m)] if m > 1 else [len(rest) - 1]
    return ranking[:top] + [rest[i] for i in idx]


def check_recheck(k: int, epochs: int):
    """Refuse a re-check that cannot run (k < 0 or epochs < 1) with a clear message."""
    if k < 0 or epochs < 1:
        raise ValueError(f"--recheck {k} --recheck-epochs {epochs}: a re-check needs --recheck 0 or more and "
                         "--recheck-epochs 1 or more")


def recheck_top(engine, ranking: list, k: int, epochs: int) -> list:
    """Derive's re-check: train the top `k` of the shared-weight ranking from scratch for `epochs` epochs; their
    rows gain `recheck_acc` (validation, whole split) and come first, best by it, the rest as they were."""
    top = ranking[:k]
    for n, row in enumerate(top):
        engine.wait()
        row["recheck_acc"] = engine.standalone_accuracy(Architecture.parse(row["arch"]), epochs, "recheck")["val_acc"]
        engine.emit("recheck_child", engine.epoch, n, arch=row["arch"], val_acc=row["val_acc"],
                    recheck_acc=row["recheck_acc"], epochs=epochs, progress=(n + 1) / len(top))
    return sorted(top, key=lambda r: -r["recheck_acc"]) + ranking[k:]


def plan(store, k: int, epochs: int) -> list:
    """The derive rows a rank check of `k` architectures retrains; a clear error when it cannot run."""
    if store is None:
        raise StoreError("a rank check needs a run on disk")
    if k < 2 or epochs < 1:
        raise ValueError(f"a rank check needs k >= 2 architectures and epochs >= 1, got k={k}, epochs={epochs}")
    derived = store.events("derive_result")
    if not derived:
        raise StoreError("no derive ranking yet: run derive first")
    ranking = derived[-1]["ranking"]
    if len(ranking) < 2:
        raise ValueError("derive found a single architecture; derive more samples to rank")
    return pick_spread(ranking, k)


def rank_check(engine, k: int = 8, epochs: int = 1, executor=None) -> dict:
    """Run the rank check on a searched and derived run; returns (and stores) the table and the statistics.
    With an `executor` (Ray) the retrainings run there, all at once."""
    store = engine.store
    picks = plan(store, k, epochs)
    done = {e["arch"]: e["standalone_acc"] for e in store.events("rankcheck_child") if e["epochs"] == epochs}
    store.set_meta(phase="rankcheck")
    engine.set_status("running", f"rank check: retraining {len(picks)} architectures from scratch, "
                                 f"{epochs} epoch(s) each" + (" at once, on Ray" if executor is not None else ""))
    ready = {}   # on Ray: every retraining at once, before the loop records them in order
    todo = list(dict.fromkeys(r["arch"] for r in picks if r["arch"] not in done))
    if executor is not None and todo:
        ready = dict(zip(todo, executor.standalone([(engine.config, a) for a in todo], epochs, "rankcheck")))
    rows = []
    for n, r in enumerate(picks):
        engine.wait()
        if r["arch"] not in done:
            accs = ready.get(r["arch"]) or engine.standalone_accuracy(Architecture.parse(r["arch"]), epochs,
                                                                       "rankcheck")
            done[r["arch"]] = accs["val_acc"]
            engine.emit("rankcheck_child", engine.epoch, n, arch=r["arch"], shared_acc=r["val_acc"],
                        standalone_acc=done[r["arch"]], epochs=epochs, progress=(n + 1) / len(picks))
        rows.append({"arch": r["arch"], "shared_acc": r["val_acc"], "standalone_acc": done[r["arch"]]})
    x, y = [r["shared_acc"] for r in rows], [r["standalone_acc"] for r in rows]
    result = {"epochs": epochs, "k": len(rows), "rows": rows,
              "kendall_tau": kendall_tau(x, y), "kendall_tau_95": bootstrap_interval(x, y, kendall_tau),
              "spearman_rho": spearman_rho(x, y), "spearman_rho_95": bootstrap_interval(x, y, spearman_rho)}
    engine.emit("rankcheck_result", engine.epoch, None, **result)
    if not result["kendall_tau"] >= engine.config.health_min_tau:  # nan too: all stand-alone accuracies tied
        engine.emit("alert", engine.epoch, None, level="warning", check="rank", message=(
            f"rank check: Kendall tau {result['kendall_tau']:.2f} between shared-weight and stand-alone accuracy is "
            f"below {engine.config.health_min_tau:g}: here the shared weights rank architectures close to chance, "
            "so derive's choice says little; re-check derive's top architectures (derive --recheck)"))
    store.write_text("rankcheck.json", json.dumps(result, indent=1) + "\n")
    store.set_meta(rankcheck=result)
    engine.set_status("finished", f"rank check of {len(rows)} architectures ({epochs} epoch(s)): Kendall tau "
                                  f"{result['kendall_tau']:.2f}, Spearman rho {result['spearman_rho']:.2f}")
    return result
