"""Whether the controller learnt (issue 20): the shipped seed-preset recording's policy never moves, and the
'not learning' banner says so; the Live tab draws how far the policy moved, for runs with and without `moved`."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402

from app import replay as app_replay  # noqa: E402
from enas.runs import recording, replay  # noqa: E402
from enas.runs.live import LiveRun  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402


def still(live):
    return next((h for h in live.health() if h["code"] == "still"), None)


def test_the_cifar10_demo_shows_a_controller_that_is_not_learning(tmp_path):
    store = RunStore.open(recording.materialize(recording.DEMO_FILE, cache=tmp_path), recording.DEMO_NAME)
    config, events = store.config(), store.events()
    assert (config.controller_every, config.health_still_epochs) == (2, 10)
    assert still(replay.live_at(config, events, 19)) is None             # 9 epochs of controller training
    assert still(replay.live_at(config, events, 20))["at"] == "search epoch 20"
    live = LiveRun(config)
    live.replay(store)                                                     # as the app reads a run
    banner = still(live)
    assert banner["holds"] and banner["at"] == "search epoch 100"
    assert banner["message"].startswith("the controller is not learning: after 50 epochs of controller training, "
                                        "no node's op probabilities have moved more than 0.007")
    assert max(live.policies()[-1]["moved"]) < 0.01 and live.policies()[0]["moved"] == [0.0] * config.nodes


def planted_run(runs: Path, name: str, with_moved: bool):
    """A finished 3-epoch run of hand-made events: a 2-node policy after every epoch (with `moved` or without, as
    runs made before it), and the controller's samples 2 points ahead of random architectures."""
    config = tiny_config(nodes=2)
    store = RunStore.create(runs, name, config)
    store.log("status", {"status": "running", "message": ""})
    for e in range(3):
        store.log("controller_step", {"ctrl_step": e + 1, "reward": 0.5, "entropy": 2.0}, e, e)
        store.log("sample", {"ctrl_step": e + 1, "arch": "c3 c5:1", "accuracy": 0.5, "reward": 0.5}, e, e)
        probs = [[0.2] * 5, [0.2 + 0.1 * e, 0.2 - 0.1 * e, 0.2, 0.2, 0.2]]
        policy = {"ops": list(config.ops), "op_probs": probs, "skip_probs": [[0.0, 0.0], [0.5, 0.0]]}
        store.log("policy", {**policy, "moved": [0.0, 0.1 * e]} if with_moved else policy, e, e)
        store.log("epoch", {"train_loss": 1.0, "train_acc": 0.5, "val_acc": 0.42, "random_val_acc": 0.40}, e, e)
    store.set_status("finished", "planted")
    store.commit()


@pytest.mark.parametrize("with_moved, start", [
    (True, "from the untrained controller's: 0 = unchanged"),
    (False, ("from those of the run's first recorded policy, after epoch 1 (this run did not record the untrained "
             "controller's): 0 = unchanged"))])
def test_the_live_tab_draws_how_far_the_policy_moved(tmp_path, monkeypatch, with_moved, start):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    runs = tmp_path / "runs"
    planted_run(runs, "planted", with_moved)
    monkeypatch.setenv("ENAS_RUNS_DIR", str(runs))
    monkeypatch.setattr(app_replay, "ASSETS", tmp_path / "no-assets")   # no demo offered
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    (spec,) = [c.proto.spec for c in at.get("plotly_chart") if "How far the policy moved" in c.proto.spec]
    assert "'not learning' under this" in spec and '"node 1"' in spec
    captions = [c.value for c in at.caption]
    assert any(c.startswith("How far the policy moved: the total-variation distance of each node's op "
                            f"probabilities {start}") for c in captions)
    assert ("controller's samples minus random architectures, same shared weights, validation minibatches, epoch 3: "
            "+2.0 points") in captions
