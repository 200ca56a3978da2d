"""The honest race: did ENAS find a better architecture than chance, on equal budgets?

For each seed, one ENAS search and one random search with the same settings (same data split, same budget),
each derived as usual; each side's derived architecture is then retrained stand-alone from scratch with the
run's final-training recipe for `epochs` epochs, and so are `baseline` uniformly random architectures (the
third contestant: the median of those). The race compares test accuracy (validation picked the
architectures): mean and spread over seeds per side. Every run is an ordinary run (`<name>-<side>-s<seed>`),
every retraining an event in it, so a stopped race resumes where it was; the table goes to
`<runs>/races/<name>.json`.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from enas.controller import RandomSampler
from enas.engine.search import Engine
from enas.runs.store import RunStore, StoreError, write_text_atomic
from enas.seeds import stream
from enas.space import Architecture

SIDES = ("enas", "random")


def side_store(config, runs_dir, name: str, side: str, seed: int) -> RunStore:
    """The run of one side and seed, made or reopened (refused if it exists with other settings)."""
    run = f"{name}-{side}-s{seed}"
    config = config.replace(controller=side, seed=seed)
    try:
        store = RunStore.open(runs_dir, run)
    except StoreError:
        store = RunStore.create(runs_dir, run, config)
    if not store.config().same_run(config):
        raise StoreError(f"race run {run} exists with other settings; give the race another --name, or the "
                         "settings it was started with")
    return store


def side_run(config, runs_dir, name: str, side: str, seed: int, listeners=()) -> Engine:
    """The searched and derived run of one side and seed (made, or reopened and finished if it exists)."""
    store = side_store(config, runs_dir, name, side, seed)
    engine = Engine(store.config(), store, listeners)
    if not store.events("derive_result"):
        if engine.run(("search", "derive")) != "finished":
            raise StoreError(f"race run {store.name} was stopped; run the race again to resume it")
    engine.best = Architecture.parse(store.meta()["best"])
    return engine


def search_sides(stores: list, executor, say=print):
    """Search and derive every side's run at once on `executor` (Ray actors across a cluster): the long part of
    a race. Runs already derived are kept; `side_run` then finds each one done."""
    jobs = []
    for store in stores:
        if not store.events("derive_result"):
            jobs.append(executor.resume(store, ("search", "derive")))
            say(f"race run {store.name}: started")
    for job in jobs:
        if job.wait() != "finished":
            raise StoreError(f"race run {job.store.name} ended {job.outcome}" + (f" ({job.error})" if job.error
                             else "") + "; run the race again to resume it")
        say(f"race run {job.store.name}: searched and derived")


def retrained(engine: Engine, arch: Architecture, epochs: int, role: str) -> dict:
    """`arch` trained from scratch for `epochs` epochs in this run (kept as a `race_child` event, reused)."""
    for e in engine.store.events("race_child"):
        if e["arch"] == str(arch) and e["epochs"] == epochs:
            return {"arch": e["arch"], "val_acc": e["val_acc"], "test_acc": e["test_acc"]}
    accs = engine.standalone_accuracy(arch, epochs, "race")
    engine.emit("race_child", engine.epoch, None, arch=str(arch), role=role, epochs=epochs, **accs)
    engine.store.commit()
    return {"arch": str(arch), **accs}


def retrain_all(stores: list, baseline: list, epochs: int, executor, say=print):
    """Every retraining the race still needs, at once on `executor` (Ray tasks): each side's derived architecture
    in its own run, the baseline's in the first (ENAS) run. Each result is kept as a `race_child` event, where
    `retrained` then finds it."""
    todo = {(store.name, store.meta()["best"]): (store, store.config().controller) for store in stores}
    for a in baseline:
        todo.setdefault((stores[0].name, str(a)), (stores[0], "baseline"))
    todo = {k: v for k, v in todo.items() if not any(e["arch"] == k[1] and e["epochs"] == epochs
                                                     for e in v[0].events("race_child"))}
    if todo:
        say(f"race: {len(todo)} retrainings from scratch, at once")
        results = executor.standalone([(store.config(), arch) for (_, arch), (store, _) in todo.items()], epochs,
                                      "race")
        for ((_, arch), (store, role)), accs in zip(todo.items(), results):
            store.log("race_child", {"arch": arch, "role": role, "epochs": epochs, **accs}, store.config().epochs)
            store.commit()


def summary(values: list) -> dict:
    """Mean, standard deviation (0 for one value) and count."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def verdict(result: dict) -> str:
    """One sentence: who is ahead, by how much, against the seed-to-seed spread."""
    enas, rand = result["summary"]["enas"], result["summary"]["random"]
    gap = 100 * (enas["mean"] - rand["mean"])
    spread = 100 * max(enas["std"], rand["std"])
    budget = f"at this budget ({result['epochs']} epoch(s) of stand-alone training, {len(result['seeds'])} seed(s))"
    if spread == 0:
        return (f"ENAS {gap:+.1f} points against random search {budget}, with no seed-to-seed spread to weigh "
                "it against: run more seeds.")
    if abs(gap) <= spread:
        return (f"No difference {budget}: ENAS {gap:+.1f} points against random search, within the "
                f"seed-to-seed spread of {spread:.1f} points.")
    leader = "ENAS" if gap > 0 else "Random search"
    return (f"{leader} ahead by {abs(gap):.1f} points of test accuracy, {abs(gap) / spread:.1f} times the "
            f"seed-to-seed spread, {budget}.")


def race(config, runs_dir, name: str, seeds, baseline: int = 8, epochs: int = 1, listeners=(),
         executor=None) -> dict:
    """Run (or resume) the race; returns the table, also written to `<runs_dir>/races/<name>.json`. With an
    `executor` (Ray) the searches run there, all at once, and then the stand-alone retrainings, all at once."""
    seeds = list(seeds)
    if not seeds or baseline < 1 or epochs < 1:
        raise ValueError(f"a race needs at least one seed, baseline >= 1 and epochs >= 1, got seeds {seeds}, "
                         f"baseline {baseline}, epochs {epochs}")
    archs = RandomSampler(config.nodes, config.ops).sample(baseline, generator=stream(seeds[0], "race-baseline")).archs
    if executor is not None:   # the first store is the first seed's ENAS run, which holds the baseline
        stores = [side_store(config, runs_dir, name, side, seed) for side in SIDES for seed in seeds]
        search_sides(stores, executor)
        retrain_all(stores, archs, epochs, executor)
    result = {"name": name, "epochs": epochs, "seeds": seeds}
    first = None
    for side in SIDES:
        rows = []
        for seed in seeds:
            engine = side_run(config, runs_dir, name, side, seed, listeners)
            first = first or engine
            rows.append({"seed": seed, **retrained(engine, engine.best, epochs, side)})
        result[side] = rows
    result["baseline"] = [retrained(first, a, epochs, "baseline") for a in archs]
    score = "test_acc" if first.test_data is not None else "val_acc"
    result["metric"] = "test accuracy (whole test split)" if score == "test_acc" else "validation accuracy"
    result["summary"] = {side: summary([r[score] for r in result[side]]) for side in SIDES}
    result["baseline_median"] = statistics.median(r[score] for r in result["baseline"])
    result["verdict"] = verdict(result)
    path = Path(runs_dir) / "races" / f"{name}.json"
    write_text_atomic(path, json.dumps(result, indent=1) + "\n")
    return result
