"""`python -m enas tensorboard RUN --logdir DIR`: a run as a TensorBoard log in DIR/RUN, so that several runs sit side
by side (`tensorboard --logdir DIR`). TensorBoard is an optional extra: pip install -e ".[tensorboard]".

Scalars: every numeric series the app keeps (`enas.runs.live.SERIES`), tagged "<chart title>/<line name>" as the
app's charts (`enas.teach.charts`) name them, the others "<series>/<field>" ("child/lr"), and the final results'
validation and test accuracy ("final result/val_acc"). Each scalar's step is the x of the app's chart: the child
step (child_step's `step`), the controller step (`ctrl_step`), the epoch counted from 1, derive's child number
(`step`, from 0), the final training's step (`step`); a final training's tags end in ", training K", K counting
final trainings from 1, and its result's step is K. Per epoch (step: the epoch from 1) the last architecture sampled
in it, as an image. The run's configuration as text. The scalars' wall times are the events' own.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from enas.runs.live import SERIES
from enas.runs.store import RunStore, StoreError

INSTALL = 'TensorBoard is not installed: pip install -e ".[tensorboard]" (or pip install tensorboard)'
CHUNK = 20_000          # events read at a time
IMAGE_TAG = "Sampled architecture (the epoch's last sample)"
RESULTS = ("val_acc", "test_acc")   # final_result's scalars


def chart_tags() -> dict:
    """{series ("child.loss"): tag ("Child training loss/loss")} of every series the app charts."""
    from enas.teach.charts import FINAL_CHARTS, SEARCH_CHARTS
    return {series: f"{title}/{line}" for title, _, lines in SEARCH_CHARTS + FINAL_CHARTS for series, line in lines}


def scalars(events, charted: dict):
    """(tag, value, step, wall time) of every numeric series point of `events` (see the module's docstring)."""
    training = 0
    for ev in events:
        kind = ev["kind"]
        if kind == "final_start" or (kind.startswith("final_") and not training):
            training += 1
        if kind in SERIES:
            prefix, xfield, fields = SERIES[kind]
            x = ev["epoch"] + 1 if kind in ("epoch", "final_epoch") else ev.get(xfield)
            for f in fields:
                if ev.get(f) is not None and x is not None:
                    tag = charted.get(f"{prefix}.{f}", f"{prefix}/{f}")
                    yield tag + (f", training {training}" if prefix == "final" else ""), ev[f], x, ev["t"]
        elif kind == "final_result":
            yield from ((f"final result/{f}", ev[f], training, ev["t"]) for f in RESULTS if ev.get(f) is not None)


def arch_image(arch: str):
    """The architecture drawn as the slides draw it (Pillow, no graphviz), its one-line form below: HxWx3 uint8."""
    import numpy as np
    from PIL import Image, ImageDraw

    from enas.space import Architecture
    from enas.teach.slides_gif import INK, M, W, draw_chain, font
    img = Image.new("RGB", (W, 250), "white")
    d = ImageDraw.Draw(img)
    draw_chain(d, Architecture.parse(arch), 8, 196)
    size = max(9, min(24, int((W - 2 * M) / (0.62 * max(len(arch), 1)))))   # a monospace character: ~0.6 em
    d.text((W / 2, 222), arch, font=font(size, "Mono"), fill=INK, anchor="mm")
    return np.asarray(img)


def store_events(store):
    """Every event of the store, oldest first, read `CHUNK` at a time."""
    after = 0
    while True:
        events = store.events(after_id=after, limit=CHUNK)
        yield from events
        if len(events) < CHUNK:
            return
        after = events[-1]["id"]


def cmd_tensorboard(args, runs_dir) -> int:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print(f"error: {INSTALL}", file=sys.stderr)
        return 2
    from enas.teach.frames import last_samples
    store = RunStore.open(runs_dir, args.run)
    path = Path(args.logdir) / store.name
    try:
        if path.is_dir() and any(path.glob("events.out.tfevents.*")):
            raise StoreError(f"{path} already holds a TensorBoard log: delete it, or pick another --logdir")
        writer = SummaryWriter(log_dir=str(path))
        try:
            config = json.dumps(store.meta()["config"], indent=1).splitlines()
            writer.add_text("Configuration", "\n".join("    " + line for line in config))   # Markdown: a code block
            n = 0
            for tag, value, step, t in scalars(store_events(store), chart_tags()):
                writer.add_scalar(tag, value, step, walltime=t)
                n += 1
            samples = last_samples(store)
            for epoch, arch in sorted(samples.items()):
                writer.add_image(IMAGE_TAG, arch_image(arch), epoch + 1, dataformats="HWC")
        finally:
            writer.close()
    finally:
        store.close()
    print(f"wrote {n} scalars and {len(samples)} architecture images of run {store.name} to {path}; "
          f"view them with: tensorboard --logdir {args.logdir}")
    return 0
