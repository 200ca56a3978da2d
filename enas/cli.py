"""Command line: `python -m enas search | derive | train | show | list`.

Every configuration field is a flag (`--child-lr 0.05`), on top of `--preset` and `--config FILE.json`.
Runs are written to the same run store the app reads. Errors are one clear line, exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import PRESETS, SPECS, Config, ConfigError
from .space import MAX_STRING, Architecture, ArchitectureError, space_size
from .store import RunStore, StoreError, check_name, list_runs, new_run_name, runs_dir_default


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
    add_config_flags(rc)

    d = sub.add_parser("derive", help="sample children from a searched run and keep the best on validation")
    d.add_argument("run")
    d.add_argument("--samples", type=int, default=None, help="children to sample (default: the run's derive_samples)")
    d.add_argument("--recheck", type=int, default=0, metavar="K",
                   help="also train the top K from scratch briefly and keep the best by that (default 0: no)")
    d.add_argument("--recheck-epochs", type=int, default=1, metavar="E", help="epochs of each re-check (default 1)")

    t = sub.add_parser("train", help="fine-tune or retrain a child of a run, report validation and test accuracy")
    t.add_argument("run")
    t.add_argument("--arch", default=None, help="an architecture string or JSON file (default: the derived best)")
    t.add_argument("--mode", choices=("finetune", "scratch"), default=None)
    t.add_argument("--epochs", type=int, default=None)

    r = sub.add_parser("rankcheck", help="retrain K derived architectures from scratch and measure how well the "
                                         "shared-weight accuracy ranks them (Kendall tau, Spearman rho)")
    r.add_argument("run")
    r.add_argument("--k", type=int, default=8, help="architectures: derive's top half of K, then a spread over "
                                                    "the rest of its ranking (default 8)")
    r.add_argument("--epochs", type=int, default=1, help="epochs of stand-alone training each, with the run's "
                                                         "final-training recipe (default 1)")

    sh = sub.add_parser("show", help="describe an architecture (string or JSON file) or a run")
    sh.add_argument("what", help="an architecture string like 'c3 c5:1', a JSON file, or a run name")
    sh.add_argument("--channels", type=int, default=32)

    sub.add_parser("list", help="list the runs")
    return p


def add_config_flags(parser):
    """One flag per configuration field."""
    for name, spec in SPECS.items():
        parser.add_argument(_flag(name), dest=name, metavar=spec.type.__name__.upper(),
                            help=spec.help + (f" ({'|'.join(spec.choices)})" if spec.choices else ""))


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


def read_arch(text: str) -> Architecture:
    """An architecture from a one-line string or a JSON file path."""
    path = Path(text)
    if text.endswith(".json") or path.is_file():
        if not path.is_file():
            raise ArchitectureError(f"{text}: no such architecture file")
        if path.stat().st_size > MAX_STRING:
            raise ArchitectureError(f"{text}: too large for an architecture file ({path.stat().st_size} bytes)")
        return Architecture.from_json(path.read_text())
    return Architecture.parse(text)


def progress_listener():
    """A listener that draws tqdm progress bars for the engine's events."""
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
    from .search import Engine, load_data
    dataset = None
    if "resume" in args:
        extra = sorted(k for k in vars(args) if k in SPECS or k in ("preset", "config", "name"))
        if extra:
            raise ConfigError(f"--resume continues a run with its own configuration; drop {', '.join(map(_flag, extra))}")
        store = RunStore.open(runs_dir, args.resume)
        if store.status() in ("running", "paused"):
            raise StoreError(f"run {args.resume!r} is still running in another process")
        config = store.config()
    else:
        config = config_from_args(args)
        name = check_name(getattr(args, "name", None) or new_run_name())
        dataset = load_data(config)  # before the run folder exists: bad input leaves nothing behind
        store = RunStore.create(runs_dir, name, config)
    print(f"run {store.name} in {store.path}  (search space: {space_size(config.nodes, config.ops):,} architectures)")
    engine = Engine(config, store, [progress_listener()], dataset=dataset)
    phases = ("search", "derive", "final") if "full" in args else ("search",)
    return 0 if engine.run(phases) == "finished" else 1


def cmd_phase(args, runs_dir, phase) -> int:
    from .rankcheck import check_recheck, plan, rank_check
    from .search import Engine
    store = RunStore.open(runs_dir, args.run)
    if store.status() in ("running", "paused"):
        raise StoreError(f"run {args.run!r} is still running in another process")
    engine = Engine(store.config(), store, [progress_listener()])
    if phase == "derive":
        if args.samples is not None and args.samples < 1:
            raise ConfigError(f"--samples {args.samples}: must be at least 1")
        check_recheck(args.recheck, args.recheck_epochs)  # refuse before the run is touched
        phase = lambda: engine.derive(args.samples, args.recheck, args.recheck_epochs)  # noqa: E731
    elif phase == "rankcheck":
        plan(store, args.k, args.epochs)  # refuse before the run is touched
        phase = lambda: print_rank_check(rank_check(engine, args.k, args.epochs))  # noqa: E731
    else:
        arch = read_arch(args.arch) if args.arch else None
        mode = args.mode or engine.config.final_mode
        least = 1 if mode == "scratch" else 0
        if args.epochs is not None and args.epochs < least:
            raise ConfigError(f"--epochs {args.epochs}: must be at least {least} with mode {mode} (0 epochs of "
                              "finetune evaluates the inherited child)")
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
    from .race import race
    config = config_from_args(args)
    seeds = parse_seeds(args.seeds)
    check_name(args.name)
    result = race(config, runs_dir, args.name, seeds, args.baseline, args.retrain_epochs, [progress_listener()])
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


def cmd_show(args, runs_dir) -> int:
    try:
        arch = read_arch(args.what)
    except ArchitectureError as arch_error:
        try:
            store = RunStore.open(runs_dir, args.what)
        except StoreError:
            raise arch_error from None
        m = store.meta()
        print(f"run {store.name}: {store.status()} ({m.get('phase', '')}) {m.get('message', '')}")
        print(json.dumps({k: m[k] for k in ("best", "best_val_acc", "result") if k in m}, indent=1))
        return 0
    c = args.channels
    print(f"architecture  {arch}")
    for i, op in enumerate(arch.ops):
        skips = arch.inputs(i)
        print(f"  node {i}: {op:<11}" + (f" + skips from nodes {skips}" if skips else ""))
    print(f"parameters    {arch.param_count(c):,} (channels {c})")
    print(f"FLOPs         {arch.flops(c):,} per 32x32 image")
    print(f"JSON          {arch.to_json()}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    runs_dir = Path(args.runs_dir) if args.runs_dir else runs_dir_default()
    try:
        if args.command == "search":
            return cmd_search(args, runs_dir)
        if args.command == "race":
            return cmd_race(args, runs_dir)
        if args.command in ("derive", "train", "rankcheck"):
            return cmd_phase(args, runs_dir, args.command)
        if args.command == "show":
            return cmd_show(args, runs_dir)
        for r in list_runs(runs_dir):
            print(f"{r['name']:<36} {r['status']:<12} {r['phase']:<7} {r['message']}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; the run can be resumed with: python -m enas search --resume NAME", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:  # ConfigError, ArchitectureError, StoreError, DataError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
