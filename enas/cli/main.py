"""Command line: `python -m enas search | steer | sweep | derive | train | show | list` (and more: --help).

Every configuration field is a flag (`--child-lr 0.05`), on top of `--preset` and `--config FILE.json`.
Runs are written to the same run store the app reads. Errors are one clear line, exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from enas.cli.files import (
    cmd_delete,
    cmd_export,
    cmd_record,
    cmd_show,
    cmd_slides,
    read_arch,
)
from enas.cli.steer import add_steer_parser, cmd_steer
from enas.cli.tensorboard import cmd_tensorboard
from enas.config import PRESETS, SPECS, Config, ConfigError
from enas.formats import FORMATS, IDS
from enas.hardware import resolve_threads, threads_text
from enas.runs.listing import list_runs, new_run_name
from enas.runs.store import LIVE, RunStore, StoreError, check_name, runs_dir_default
from enas.space import space_size


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m enas", description="ENAS on CIFAR-10 (or any image folder).")
    p.add_argument("--runs-dir", default=None, help="where runs live (default ENAS_RUNS_DIR or ./runs)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="start (or --resume) a search", argument_default=argparse.SUPPRESS)
    s.add_argument("--preset", choices=list(PRESETS), help="starting values: " + ", ".join(PRESETS))
    s.add_argument("--config", metavar="FILE", help="a JSON file of configuration fields")
    s.add_argument("--name", help="run name (default: a fresh timestamped one)")
    s.add_argument("--resume", metavar="RUN", help="resume an interrupted or stopped run")
    s.add_argument("--full", action="store_true", help="then derive and train the best child")
    add_ray_flags(s)
    add_config_flags(s)

    rc = sub.add_parser("race", help="ENAS against random search on equal budgets, several seeds, with random "
                                     "architectures as a third contestant", argument_default=argparse.SUPPRESS)
    rc.add_argument("--preset", choices=list(PRESETS), help="starting values: " + ", ".join(PRESETS))
    rc.add_argument("--config", metavar="FILE", help="a JSON file of configuration fields")
    rc.add_argument("--name", default="race", help="the race's name: its runs are NAME-enas-sSEED, NAME-random-sSEED")
    rc.add_argument("--seeds", default="0,1,2", help="seeds, e.g. 0,1,2 or 0-4 (default 0,1,2)")
    rc.add_argument("--baseline", type=int, default=8, help="uniformly random architectures retrained (default 8)")
    rc.add_argument("--retrain-epochs", type=int, default=1, help="epochs of stand-alone training from scratch for "
                                                                  "every contestant (default 1)")
    add_ray_flags(rc)
    add_config_flags(rc)

    sw = sub.add_parser("sweep", help="one configuration over seeds and field values (--controller enas,random), "
                                      "each run searched, derived and trained; a table and CSV of the results",
                        argument_default=argparse.SUPPRESS)
    sw.add_argument("--preset", choices=list(PRESETS), help="starting values: " + ", ".join(PRESETS))
    sw.add_argument("--config", metavar="FILE", help="a JSON file of configuration fields")
    sw.add_argument("--name", default="sweep", help="the sweep's name: its runs are NAME-<values>-sSEED")
    sw.add_argument("--seeds", default="0", help="seeds, e.g. 0-9 or 0,1,2 (default 0)")
    sw.add_argument("--resume", metavar="NAME", help="continue the sweep's unfinished runs from their checkpoints")
    add_ray_flags(sw)
    add_config_flags(sw)

    d = sub.add_parser("derive", help="sample children from a searched run and keep the best on validation")
    d.add_argument("run")
    d.add_argument("--samples", type=int, default=None, help="children to sample (default: the run's derive_samples)")
    d.add_argument("--recheck", type=int, default=0, metavar="K",
                   help="also train the top K from scratch briefly and keep the best by that (default 0: no)")
    d.add_argument("--recheck-epochs", type=int, default=1, metavar="E", help="epochs of each re-check (default 1)")

    t = sub.add_parser("train", help="fine-tune or retrain a child of a run, report validation and test accuracy")
    t.add_argument("run")
    t.add_argument("--arch", default=None, help="an architecture in any format (one-line, JSON, fixed_arc, NNI "
                                                "JSON) or a file of one (default: the derived best)")
    t.add_argument("--mode", choices=("finetune", "scratch"), default=None)
    t.add_argument("--epochs", type=int, default=None)

    r = sub.add_parser("rankcheck", help="retrain K derived architectures from scratch and measure how well the "
                                         "shared-weight accuracy ranks them (Kendall tau, Spearman rho); with "
                                         "--reference K, against a fixed reference set of K random architectures")
    r.add_argument("run")
    r.add_argument("--k", type=int, default=None, help="architectures: derive's top half of K, then a spread over "
                                                       "the rest of its ranking (default 8)")
    r.add_argument("--reference", type=int, default=None, metavar="K", help="instead: K >= 4 uniformly random "
                   "architectures, the same for every run of this space and recipe, trained stand-alone once (2 "
                   "seeds, cached in the data folder) and reused; no derive needed")
    r.add_argument("--epochs", type=int, default=1, help="epochs of stand-alone training each, with the run's "
                                                         "final-training recipe (default 1)")
    add_ray_flags(r)   # the retrainings as Ray tasks, all at once

    sh = sub.add_parser("show", help="describe an architecture (string or JSON file) or a run")
    sh.add_argument("what", help="an architecture in any format (e.g. 'c3 c5:1', an ENAS fixed_arc, JSON, NNI "
                                 "JSON) or a file of one, or a run name")
    sh.add_argument("--channels", type=int, default=32)

    rec = sub.add_parser("record", help="save a finished run's events as one compact file that the app replays "
                                        "read-only (how assets/cifar10-demo.json.gz was made)")
    rec.add_argument("run")
    rec.add_argument("file", help="where to write it, e.g. assets/cifar10-demo.json.gz")
    rec.add_argument("--note", default="", help="how the run was made (shown with the recording)")

    ex = sub.add_parser("export", help="write a run's child (the trained one, else the derived best) or any "
                                       "architecture as the one-line form, JSON, ENAS fixed_arc, NNI JSON or "
                                       "PyTorch; or, with --events, every event of a run as CSV or Parquet")
    ex.add_argument("what", help="a run name, or an architecture in any format (one-line, JSON, fixed_arc, NNI JSON) "
                                 "or a file of one")
    ex.add_argument("--to", choices=FORMATS, help="pytorch: a standalone .py file that defines the network and loads "
                                                  "the run's final.pt (required, unless --events)")
    ex.add_argument("--events", metavar="FILE", help="instead: every event of run WHAT, one row each (epochs from 1, "
                                                     "as the app shows them), to FILE.csv or FILE.parquet")
    ex.add_argument("--ids", choices=IDS, help="op ids of fixed_arc and NNI: enas (0 conv3x3, 1 "
                    "sep-conv3x3, 2 conv5x5, 3 sep-conv5x5, 4 avg pool, 5 max pool; default) or project (the index "
                    "in conv1x1 conv3x3 conv5x5 maxpool3x3 avgpool3x3)")
    ex.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of printing")

    sl = sub.add_parser("slides", help="the run's sampled architecture and policy, epoch by epoch, as an animated "
                                       "GIF and a self-contained HTML page (default: both, in the run's folder)")
    sl.add_argument("run")
    sl.add_argument("--gif", metavar="FILE", help="write the animated GIF (1280x720) to FILE")
    sl.add_argument("--html", metavar="FILE", help="write the HTML page, with its player, to FILE")
    sl.add_argument("--every", type=int, default=1, metavar="K", help="one frame every K epochs, and the last "
                                                                      "(default 1)")
    sl.add_argument("--fps", type=float, default=2.0, metavar="F", help="frames per second (default 2)")

    dl = sub.add_parser("delete", help="delete a run and all its files (not while it runs)")
    dl.add_argument("run")
    dl.add_argument("--yes", action="store_true", help="delete without asking for confirmation")

    tb = sub.add_parser("tensorboard", help="write a run's curves, sampled architectures and configuration as a "
                                            "TensorBoard log in DIR/RUN (needs the [tensorboard] extra)")
    tb.add_argument("run")
    tb.add_argument("--logdir", metavar="DIR", required=True, help="the log folder; the run's log goes to DIR/RUN")

    add_steer_parser(sub)
    sub.add_parser("list", help="list the runs")
    return p


def add_config_flags(parser):
    """One flag per configuration field."""
    for name, spec in SPECS.items():
        parser.add_argument(_flag(name), dest=name, metavar=spec.type.__name__.upper(),
                            help=spec.help + (f" ({'|'.join(spec.choices)})" if spec.choices else ""))


def add_ray_flags(parser):
    parser.add_argument("--ray", metavar="ADDRESS", help="run as Ray actors on the cluster at ADDRESS (auto, "
                        "ray://HOST:10001, or local: a new one here; default ENAS_RAY_ADDRESS, else this process)")
    parser.add_argument("--ray-cpus", type=int, metavar="N", help="CPUs each Ray run asks for on a CPU (default "
                        "ENAS_RAY_CPUS, else --threads, else 1; threads auto becomes this; a GPU run asks for 1 CPU)")
    parser.add_argument("--ray-gpus", metavar="X", help="GPUs each Ray run asks for on a GPU cluster, e.g. 0.25 packs "
                        "4 runs on each GPU; default ENAS_RAY_GPUS, else 1 (a fraction in (0, 1], or a whole number)")


def ray_executor(args):
    """The RayExecutor that --ray (or ENAS_RAY_ADDRESS) names, or None: run in this process."""
    from enas.scale.ray_executor import RayExecutor, ray_address, ray_gpus
    address, gpus = ray_address(getattr(args, "ray", None)), getattr(args, "ray_gpus", None)
    if gpus is not None:   # a bad value is an error with or without a cluster to run on
        ray_gpus(gpus)
    return RayExecutor(address, getattr(args, "ray_cpus", None), gpus) if address else None


def parse_seeds(text: str) -> list:
    """'0,1,2' or '0-4' (or both, e.g. '0-2,7') as a list of seeds."""
    seeds = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or dash and not hi.isdigit():
            raise ConfigError(f"--seeds {text}: use whole numbers, e.g. 0,1,2 or 0-4")
        seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text}: give at least one seed, each once")
    return seeds


def progress_listener(tqdm=None):
    """A listener that draws progress bars of the `tqdm` class (default: the terminal's) for the engine's events."""
    if tqdm is None:
        from tqdm import tqdm
    state = {"bar": None, "key": None}

    def bar(key, total, desc):
        if state["key"] != key:
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"], state["key"] = tqdm(total=total, desc=desc, unit="step", leave=False), key
        return state["bar"]

    def listen(ev):
        kind = ev["kind"]
        if kind == "child_step":
            b = bar(("epoch", ev["epoch"]), 1000, f"epoch {ev['epoch'] + 1}")
            b.n = int(ev["progress"] * 1000)
            b.set_postfix(loss=f"{ev['loss']:.3f}", acc=f"{ev['acc']:.3f}", img_s=f"{ev['images_per_s']:.0f}")
        elif kind == "epoch":
            rewards = ("controller not trained this epoch" if ev["val_acc"] is None else
                       f"controller's samples on validation minibatches {ev['val_acc']:.3f}")
            tqdm.write(f"epoch {ev['epoch'] + 1}/{ev['epochs']}: train loss {ev['train_loss']:.3f} "
                       f"acc {ev['train_acc']:.3f}, {rewards}, {ev['seconds']:.1f}s")
        elif kind == "derive_child":
            b = bar("derive", 1000, "derive")
            b.n = int(ev["progress"] * 1000)
            b.set_postfix(best=ev["arch"], acc=f"{ev['val_acc']:.3f}")
        elif kind == "derive_result":
            r = ev["ranking"][0]
            if ev.get("recheck"):
                tqdm.write(recheck_table(ev["ranking"][:ev["recheck"]], ev["recheck_epochs"]))
            tqdm.write(f"best of derive: {r['arch']}  validation accuracy {r['val_acc']:.4f} (whole split, shared "
                       "weights, BN recalibrated)" + (f", {r['recheck_acc']:.4f} re-checked" if ev.get("recheck")
                                                     else ""))
        elif kind == "final_step":
            b = bar(("final", ev["epoch"]), 1000, f"final epoch {ev['epoch'] + 1}")
            b.n = int(ev["progress"] * 1000)
            b.set_postfix(loss=f"{ev['loss']:.3f}")
        elif kind == "final_epoch":
            tqdm.write(f"final epoch {ev['epoch'] + 1}/{ev['epochs']}: validation accuracy {ev['val_acc']:.4f}")
        elif kind == "rankcheck_child":
            tqdm.write(f"rank check {ev['step'] + 1}: {ev['arch']}  shared {ev['shared_acc']:.4f}  stand-alone "
                       f"{ev['standalone_acc']:.4f}")
        elif kind == "final_result":
            test = f"{ev['test_acc']:.4f}" if ev["test_acc"] is not None else "n/a"
            tqdm.write(f"final {ev['arch']}: validation {ev['val_acc']:.4f}, test {test}, {ev['params']} params")
        elif kind == "alert":
            tqdm.write(f"[{ev['level']}] {ev['message']}")
    return listen


def config_from_args(args) -> Config:
    fields = {k: v for k, v in vars(args).items() if k in SPECS}
    base = {}
    if "config" in args:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"--config {args.config}: no such file")
        try:
            base = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"--config {args.config}: not valid JSON ({e})") from None
        if not isinstance(base, dict):
            raise ConfigError(f"--config {args.config}: must hold a JSON object of fields")
    return Config.from_dict({**base, **fields}, preset=getattr(args, "preset", None) or base.pop("preset", "seed"))


def cmd_search(args, runs_dir) -> int:
    from enas.scale.executor import follow
    dataset, executor = None, ray_executor(args)
    if "resume" in args:
        extra = sorted(k for k in vars(args) if k in SPECS or k in ("preset", "config", "name"))
        if extra:
            raise ConfigError(f"--resume continues a run with its own configuration; drop {', '.join(map(_flag, extra))}")
        store = RunStore.open(runs_dir, args.resume)
        if store.status() in LIVE:
            raise StoreError(f"run {args.resume!r} is still running in another process")
        config = store.config()
        if executor is not None:
            executor.prepare(config)
    else:
        config = config_from_args(args)
        # threads auto becomes a number stored with the run, as in the app: the same seed, the same result
        config = config.replace(threads=executor.threads(config) if executor else resolve_threads(config.threads))
        name = check_name(getattr(args, "name", None) or new_run_name())
        if executor is None:  # the data of a Ray run is loaded where it runs
            from enas.engine.search import load_data
            from enas.hardware import apply_threads
            apply_threads(config.threads)   # as the engine will: the data too is made on the run's threads
            dataset = load_data(config)  # before the run folder exists: bad input leaves nothing behind
        else:
            executor.prepare(config)   # the actor starts while the runs folder is checked and the run written
            executor.check_shared(runs_dir)
        store = RunStore.create(runs_dir, name, config)
    threads = executor.threads(config) if executor else resolve_threads(config.threads)
    if executor is None:   # what precision auto becomes here, as the engine will decide it
        from enas.hardware import precision_text, resolve_device
        precision = precision_text(config.precision, resolve_device(config.device))
    else:
        precision = "auto, decided where the run runs" if config.precision == "auto" else config.precision
    print(f"run {store.name} in {store.path}  (search space: {space_size(config.nodes, config.ops):,} architectures, "
          f"{threads_text(threads)}, precision {precision})")
    phases = ("search", "derive", "final") if "full" in args else ("search",)
    if executor is not None:
        job = executor.resume(store, phases) if "resume" in args else executor.start(store, phases)
        outcome = follow(job, progress_listener()) if job else "finished"
        print(f"run {store.name}: {outcome}" + (f" ({job.error})" if job and job.error else ""))
        return 0 if outcome == "finished" else 1
    from enas.engine.search import (
        Engine,  # torch: a launcher of Ray runs never imports it
    )
    engine = Engine(config, store, [progress_listener()], dataset=dataset)
    return 0 if engine.run(phases) == "finished" else 1


def cmd_sweep(args, runs_dir) -> int:
    from enas.scale.executor import LocalExecutor
    from enas.scale.sweep import load_plan, plan, run_sweep, save_plan, table, write_csv
    ray = ray_executor(args)
    if "resume" in args:
        extra = sorted(k for k in vars(args) if k in SPECS or k in ("preset", "config"))
        if extra:
            raise ConfigError(f"--resume continues a sweep with its own plan; drop {', '.join(map(_flag, extra))}")
        p = load_plan(runs_dir, args.resume)
    else:
        base = config_from_args(argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in SPECS}))
        p = plan(args.name, base, {k: v for k, v in vars(args).items() if k in SPECS}, parse_seeds(args.seeds))
        if ray:
            ray.check_shared(runs_dir)
        save_plan(runs_dir, p)
    print(f"sweep {p['name']}: {len(p['runs'])} run(s), {len(p['groups'])} group(s) x {len(p['seeds'])} seed(s), "
          + ("as Ray actors" if ray else "one after another in this process"))
    try:
        s = run_sweep(p, runs_dir, ray or LocalExecutor())
    except KeyboardInterrupt:
        print(f"\nstopped; continue with: python -m enas sweep --resume {p['name']}", file=sys.stderr)
        return 130
    print(table(s))
    print("tables: " + " and ".join(map(str, write_csv(runs_dir, s))))
    return 0 if not s["unfinished"] else 1


def cmd_phase(args, runs_dir, phase) -> int:
    from enas.engine.children import check_derive, check_final
    from enas.engine.search import Engine
    from enas.quality.rankcheck import plan, rank_check
    store = RunStore.open(runs_dir, args.run)
    if store.status() in ("running", "paused"):
        raise StoreError(f"run {args.run!r} is still running in another process")
    engine = Engine(store.config(), store, [progress_listener()])
    if phase == "derive":
        check_derive(args.samples, args.recheck, args.recheck_epochs)  # refuse before the run is touched
        phase = lambda: engine.derive(args.samples, args.recheck, args.recheck_epochs)  # noqa: E731
    elif phase == "rankcheck" and args.reference is not None:
        from enas.data.splits import data_root
        from enas.quality.reference import check_reference, reference_check
        if args.k is not None or getattr(args, "ray", None):
            raise ConfigError("--reference K draws its own architectures and trains them here: drop --k and --ray")
        check_reference(store, engine.config, args.reference, args.epochs)  # refuse before the run is touched
        cache = Path(data_root(engine.config.data_dir)) / "cache"
        engine.listeners.append(reference_progress)
        phase = lambda: print_reference_check(reference_check(engine, args.reference, args.epochs, cache))  # noqa: E731
    elif phase == "rankcheck":
        k = 8 if args.k is None else args.k
        plan(store, k, args.epochs)  # refuse before the run is touched
        ray = ray_executor(args)
        phase = lambda: print_rank_check(rank_check(engine, k, args.epochs, ray))  # noqa: E731
    else:
        arch = read_arch(args.arch) if args.arch else None
        check_final(args.mode or engine.config.final_mode, args.epochs)
        phase = lambda: engine.train_final(arch, args.mode, args.epochs)  # noqa: E731
    return 0 if engine.run((phase,)) == "finished" else 1


def recheck_table(rows: list, epochs: int) -> str:
    """Derive's top K ranked two ways, side by side: by shared weights, and re-checked from scratch."""
    by_shared = sorted(rows, key=lambda r: -r["val_acc"])
    lines = [f"re-check: derive's top {len(rows)} trained {epochs} epoch(s) from scratch (validation accuracy, "
             "whole split)", f"{'rank':>4}  {'by shared weights':<44} {'acc':>6}   {'re-checked':<44} {'acc':>6}"]
    for n, (a, b) in enumerate(zip(by_shared, rows)):
        lines.append(f"{n + 1:>4}  {a['arch']:<44} {a['val_acc']:.4f}   {b['arch']:<44} {b['recheck_acc']:.4f}")
    return "\n".join(lines)


def cmd_race(args, runs_dir) -> int:
    from enas.scale.race import race
    config = config_from_args(args)
    seeds = parse_seeds(args.seeds)
    check_name(args.name)
    executor = ray_executor(args)   # the searches as Ray actors, then the retrainings as tasks, all at once
    if executor is not None:
        executor.check_shared(runs_dir)
    result = race(config, runs_dir, args.name, seeds, args.baseline, args.retrain_epochs, [progress_listener()],
                  executor)
    print(f"\nrace {args.name}: {result['metric']} after {result['epochs']} epoch(s) of training from scratch")
    print(f"{'contestant':<14} {'seed':>4}  {'architecture':<44} {'val':>7} {'test':>7}")
    for side in ("enas", "random"):
        for r in result[side]:
            print(f"{side:<14} {r['seed']:>4}  {r['arch']:<44} {r['val_acc']:>7.4f} {_acc(r['test_acc']):>7}")
    for label, side in (("ENAS", "enas"), ("random search", "random")):
        m = result["summary"][side]
        print(f"{label:<14} mean {m['mean']:.4f} +- {m['std']:.4f} over {m['n']} seed(s)")
    print(f"random architectures: median {result['baseline_median']:.4f} of {len(result['baseline'])}")
    print(result["verdict"])
    return 0


def _acc(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def print_rank_check(result: dict):
    """The rank check's table and statistics."""
    print(f"\nrank check: {result['k']} architectures, each trained {result['epochs']} epoch(s) from scratch; "
          "validation accuracy over the whole split")
    print(f"{'architecture':<44} {'shared weights':>14} {'stand-alone':>12}")
    for r in result["rows"]:
        print(f"{r['arch']:<44} {r['shared_acc']:>14.4f} {r['standalone_acc']:>12.4f}")
    for name, key in (("Kendall tau", "kendall_tau"), ("Spearman rho", "spearman_rho")):
        lo, hi = result[key + "_95"]
        print(f"{name:<13} {result[key]:+.3f}   95% bootstrap interval [{lo:+.3f}, {hi:+.3f}]")


def reference_progress(ev: dict):
    """A listener that prints each architecture of a reference check as it is done."""
    if ev["kind"] == "refcheck_child":
        how = "trained now" if ev["trained"] else "from the cache"
        print(f"reference {ev['step'] + 1}: {ev['arch']}  shared {ev['shared_acc']:.4f}  stand-alone "
              f"{ev['standalone_a']:.4f} / {ev['standalone_b']:.4f} ({how})", flush=True)


def print_reference_check(result: dict):
    """The reference check's table and statistics, each with what it measures."""
    print(f"\nreference check of run {result['run']}: shared-weight validation accuracy (run {result['run']}, whole "
          f"split) against stand-alone validation accuracy after {result['epochs']} epoch(s), mean of 2 seeds; "
          f"{result['k']} uniformly random architectures, the same for every run of this space and recipe "
          f"(reference {result['key']})")
    print(f"{'architecture':<44} {'shared weights':>14} {'stand-alone':>12} {'seed a':>7} {'seed b':>7}")
    for r in result["rows"]:
        print(f"{r['arch']:<44} {r['shared_acc']:>14.4f} {r['standalone_acc']:>12.4f} {r['standalone_a']:>7.4f} "
              f"{r['standalone_b']:>7.4f}")
    k = result["top_k"]
    for name, key, what in (
            ("Kendall tau", "kendall_tau", "pairs ordered alike minus pairs ordered oppositely, as a share"),
            ("Spearman rho", "spearman_rho", "correlation of the two rankings"),
            (f"top-{k} agreement", "top_k_agreement", f"share of the {k} best stand-alone that are among the {k} "
                                                      "best by shared weights"),
            ("ceiling tau", "ceiling_tau", "Kendall tau of seed a against seed b: how well training again agrees "
                                           "with itself")):
        lo, hi = result[key + "_95"]
        print(f"{name:<16} {result[key]:+.3f}   95% bootstrap interval [{lo:+.3f}, {hi:+.3f}]   {what}")


COMMANDS = {"search": cmd_search, "race": cmd_race, "sweep": cmd_sweep, "show": cmd_show, "record": cmd_record,
            "export": cmd_export, "slides": cmd_slides, "delete": cmd_delete, "steer": cmd_steer,
            "tensorboard": cmd_tensorboard}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    runs_dir = Path(args.runs_dir) if args.runs_dir else runs_dir_default()
    try:
        command = COMMANDS.get(args.command)
        if command is not None:
            return command(args, runs_dir)
        if args.command in ("derive", "train", "rankcheck"):
            return cmd_phase(args, runs_dir, args.command)
        for r in list_runs(runs_dir):
            print(f"{r['name']:<36} {r['status']:<12} {r['phase']:<7} {r['message']}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; the run can be resumed with: python -m enas search --resume NAME", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:  # ConfigError, ArchitectureError, StoreError, DataError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
