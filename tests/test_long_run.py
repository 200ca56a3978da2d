"""Memory stays flat over a long run: the live view's histories are bounded, the full record is on disk."""
import gc

from conftest import tiny_config

from enas.engine.search import Engine
from enas.runs.live import LiveRun
from enas.runs.store import RunStore


def test_a_long_tiny_run_keeps_memory_flat(runs_dir):
    config = tiny_config(nodes=2, channels=4, batch_size=8, train_subset=128, val_size=32, steps_per_epoch=16,
                         epochs=60, controller_steps=4, controller_children=2)
    store = RunStore.create(runs_dir, "long", config)
    live = LiveRun(config, cap=100, policy_cap=10, unique_cap=100)
    objects = {}

    def measure(e):
        if e["kind"] == "epoch" and e["epoch"] in (12, 59):
            gc.collect()
            objects[e["epoch"]] = len(gc.get_objects())
    Engine(config, store, [live, measure]).run()
    # 5x more epochs after the first mark: live Python objects do not grow with the run
    growth = objects[59] - objects[12]
    assert growth < 2000, f"{growth} more live Python objects at epoch 60 than at epoch 12"
    assert len(live.series("child.loss")["child.loss"][0]) <= 101
    assert len(live.history()) <= 101 and len(live.policies()) <= 11 and len(live.table()) <= 100
    # ... while the store holds everything
    assert len(store.events("child_step")) == 60 * 16
    assert len(store.events("sample")) == 60 * 4 * 2
