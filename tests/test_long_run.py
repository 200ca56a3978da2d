"""Memory stays flat over a long run: the live view's histories are bounded, the full record is on disk."""
import gc
import tracemalloc

from conftest import tiny_config
from enas.live import LiveRun
from enas.search import Engine
from enas.store import RunStore


def test_a_long_tiny_run_keeps_memory_flat(runs_dir):
    config = tiny_config(nodes=2, channels=4, batch_size=8, train_subset=64, val_size=32, steps_per_epoch=8,
                         epochs=400, controller_steps=2, controller_children=2)
    store = RunStore.create(runs_dir, "long", config)
    live = LiveRun(config, cap=200, policy_cap=20, unique_cap=300)
    marks = {}

    def measure(e):
        if e["kind"] == "epoch" and e["epoch"] in (50, 399):
            gc.collect()
            marks[e["epoch"]] = tracemalloc.get_traced_memory()[0]
    tracemalloc.start()
    try:
        Engine(config, store, [live, measure]).run()
    finally:
        tracemalloc.stop()
    # 8x more epochs after the first mark: growth is a small constant, not proportional to the run
    growth = marks[399] - marks[50]
    assert growth < 1_000_000, f"python heap grew {growth / 1e6:.2f} MB from epoch 50 to 400"
    assert len(live.series("child.loss")["child.loss"][0]) <= 201
    assert len(live.history()) <= 201 and len(live.policies()) <= 21 and len(live.table()) <= 300
    # ... while the store holds everything
    assert len(store.events("child_step")) == 400 * 8
    assert len(store.events("sample")) == 400 * 2 * 2
