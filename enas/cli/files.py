"""The command line's commands on architectures and run files: show, record, export, slides, delete; and
`read_arch`, which reads an architecture in any format from text or a file."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from enas.config import ConfigError
from enas.formats import export, parse_any
from enas.runs.listing import delete_run
from enas.runs.store import RunStore, StoreError, check_name, write_text_atomic
from enas.space import MAX_STRING, Architecture, ArchitectureError


def read_arch(text: str, ids: str = "enas") -> Architecture:
    """An architecture in any format that `formats.parse_any` reads, given as text or as a file holding it."""
    path = Path(text)
    if text.endswith(".json") or os.path.isfile(text):
        if not path.is_file():
            raise ArchitectureError(f"{text}: no such architecture file")
        if path.stat().st_size > MAX_STRING:
            raise ArchitectureError(f"{text}: too large for an architecture file ({path.stat().st_size} bytes)")
        return parse_any(path.read_text(), ids)
    return parse_any(text, ids)


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


def cmd_record(args, runs_dir) -> int:
    from enas.runs.recording import save
    store = RunStore.open(runs_dir, args.run)
    try:
        done = save(store, args.file, args.note)
    finally:
        store.close()
    print(f"recorded {args.run}: {done['events']:,} events in {args.file} ({done['bytes'] / 1e6:.2f} MB)")
    return 0


def cmd_export(args, runs_dir) -> int:
    if args.events is not None:
        return export_events(args, runs_dir)
    if args.to is None:
        raise ConfigError("export needs --to FORMAT (a child or an architecture) or --events FILE (a run's events)")
    ids = args.ids or "enas"
    arch, config, classes = export_source(args.what, runs_dir, ids)
    text = export(arch, args.to, ids, config, classes)
    if args.output:
        write_text_atomic(args.output, text)
        print(f"wrote {arch} as {args.to} to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def export_events(args, runs_dir) -> int:
    """`export RUN --events FILE`: every event of the run as CSV or Parquet (by FILE's suffix), written atomically."""
    from enas.runs.export import write_events   # pandas: imported only here
    extra = [flag for flag, value in (("--to", args.to), ("--ids", args.ids), ("-o", args.output)) if value]
    if extra:
        raise ConfigError(f"--events writes the events of run {args.what!r}, not a child: drop {', '.join(extra)} "
                          "(export the child with a second command)")
    store = RunStore.open(runs_dir, args.what)
    try:
        rows = write_events(store.events(), args.events)
    finally:
        store.close()
    print(f"wrote {rows} events of run {store.name} to {args.events}")
    return 0


def export_source(what: str, runs_dir, ids: str) -> tuple:
    """(architecture, configuration, classes): an architecture in any format (default configuration, 10 classes),
    or else run `what`'s trained child, or its derived best."""
    try:
        return read_arch(what, ids), None, 10
    except ArchitectureError as arch_error:
        try:
            check_name(what)
        except StoreError:
            raise arch_error from None
        try:
            store = RunStore.open(runs_dir, what)
        except StoreError as e:
            raise ArchitectureError(f"{what!r} is neither an architecture ({arch_error}) nor a run ({e})") from None
    try:
        meta, config, status = store.meta(), store.config(), store.status()
    finally:
        store.close()
    arch = meta.get("result", {}).get("arch") or meta.get("best")
    if arch is None:
        raise StoreError(no_child_message(what, status))
    return Architecture.parse(arch), config, meta.get("classes", 10)


def no_child_message(run: str, status: str) -> str:
    """What to do when run `run` (search `status`) has nothing to export yet: `search` alone only searches."""
    return (f"run {run!r} has no derived or trained child yet (its search is {status}; `search` without --full only "
            f"searches). Derive one: python -m enas derive {run}   (then, to train it: python -m enas train {run}), "
            f"and export again; `python -m enas search ... --full` searches, derives and trains in one go")


def cmd_slides(args, runs_dir) -> int:
    from enas.teach.slides import export
    store = RunStore.open(runs_dir, args.run)
    gif, html = args.gif, args.html
    if gif is None and html is None:
        gif, html = store.path / "slides.gif", store.path / "slides.html"
    done = export(store, gif, html, args.every, args.fps)
    for path, size in done["files"].items():
        print(f"{path}: {done['frames']} frames, {size / 1e6:.2f} MB")
    return 0


def cmd_delete(args, runs_dir) -> int:
    def confirm(path) -> bool:
        if args.yes:
            return True
        try:
            answer = input(f"delete run {args.run!r} and all its files in {path}? [y/N] ")
        except EOFError:   # no terminal: no
            return False
        return answer.strip().lower() in ("y", "yes")

    if delete_run(runs_dir, args.run, confirm) is None:
        print(f"run {args.run!r} not deleted (confirm with y, or pass --yes)", file=sys.stderr)
        return 1
    print(f"deleted run {args.run}")
    return 0
