"""LiveRun: bounded, decimated series and history; status, progress and ETA; replay from the run store."""
import threading

import pytest

from enas.config import Config
from enas.runs import replay
from enas.runs.live import Decimated, LiveRun
from enas.runs.store import RunStore


def child(step, loss=1.0, arch="c3 c5:1", epoch=0, progress=0.5, t=None):
    return {"kind": "child_step", "epoch": epoch, "step": step, "t": t, "loss": loss, "acc": 0.5, "lr": 0.1,
            "arch": arch, "images_per_s": 100.0, "progress": progress}


def sample(n, arch, reward=0.5):
    return {"kind": "sample", "epoch": 0, "step": n, "t": None, "ctrl_step": n, "arch": arch, "accuracy": reward,
            "reward": reward}


def test_decimated_keeps_evenly_spaced_points_and_the_latest():
    d = Decimated(cap=10)
    for i in range(1000):
        d.add(i)
    assert len(d.items) <= 10
    gaps = {b - a for a, b in zip(d.items, d.items[1:])}
    assert gaps == {d.stride} and d.items[0] == 0
    assert d.list()[-1] == 999


def test_stays_bounded_after_100k_events():
    live = LiveRun(cap=500, unique_cap=300)
    for i in range(100_000):
        live(child(i, loss=1.0 / (i + 1)))
        live(sample(i, f"arch-{i % 1000}", reward=i / 100_000))
    xs, ys = live.series("child.loss")["child.loss"]
    assert len(xs) <= 501 and xs[0] == 0 and xs[-1] == 99_999
    assert xs == sorted(xs)
    assert len(live.history()) <= 501 and live.samples_seen() == 100_000
    table = live.table()
    assert len(table) <= 300 and live.tally_dropped() > 0
    total = sum(len(v[0]) for v in live.series().values())
    assert total <= 4 * 501
    assert live.version == 200_000


def test_table_counts_and_rewards_of_unique_architectures():
    live = LiveRun()
    for arch, r in [("c3", 0.2), ("c5", 0.4), ("c3", 0.6)]:
        live(sample(0, arch, r))
    rows = {r["arch"]: r for r in live.table()}
    assert rows["c3"]["count"] == 2 and rows["c3"]["mean_reward"] == pytest.approx(0.4)
    assert rows["c3"]["best_reward"] == 0.6 and rows["c5"]["count"] == 1
    assert live.count("c3") == 2 and live.count("mp") == 0
    assert [h["n"] for h in live.history()] == [0, 1, 2] and live.arch() == "c3"


def test_concurrent_writer_and_readers():
    live = LiveRun(cap=100)
    errors = []

    def read():
        try:
            for _ in range(300):
                xs, ys = live.series("child.loss")["child.loss"]
                assert len(xs) == len(ys)
                live.history(), live.table(), live.progress()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    for i in range(20_000):
        live(child(i))
        if i % 10 == 0:
            live(sample(i, "c3"))
    for r in readers:
        r.join()
    assert not errors


def test_elapsed_excludes_pauses_and_eta_follows_progress():
    clock = [100.0]
    live = LiveRun(Config(epochs=10), clock=lambda: clock[0])
    live({"kind": "status", "status": "running", "message": "", "t": 100.0})
    live(child(1, epoch=0, progress=0.0, t=100.0))
    live.progress()  # the ETA is measured from the first look at a running phase
    clock[0] = 110.0
    live(child(2, epoch=0, progress=1.0, t=110.0))   # 1 of 10 epochs in 10 s
    p = live.progress()
    assert p["fraction"] == pytest.approx(0.1) and p["elapsed"] == pytest.approx(10.0)
    assert p["eta"] == pytest.approx(90.0)
    live({"kind": "status", "status": "paused", "message": "paused by the user", "t": 110.0})
    clock[0] = 500.0
    p = live.progress()
    assert p["elapsed"] == pytest.approx(10.0) and p["eta"] is None and p["status"] == "paused"


def test_failure_keeps_message_and_traceback():
    live = LiveRun()
    live({"kind": "status", "status": "running", "message": "", "t": 1.0})
    live.fail("DataError: no such folder", "Traceback ...")
    assert not live.active and live.status == "failed"
    assert live.error == "DataError: no such folder" and live.traceback == "Traceback ..."


def test_replay_from_store_matches_the_live_view_and_reads_only_new_events(tmp_path):
    store = RunStore.create(tmp_path, "r1", Config())
    live = LiveRun()
    events = [{"kind": "status", "status": "running", "message": ""}] + [child(i) for i in range(5)] + \
             [sample(i, "c3 c5:1") for i in range(3)] + \
             [{"kind": "policy", "epoch": 0, "step": 5, "ops": ["conv3x3"], "op_probs": [[1.0]], "skip_probs": [[0.0]]},
              {"kind": "epoch", "epoch": 0, "step": 5, "train_loss": 1.0, "train_acc": 0.5, "val_acc": 0.4,
               "seconds": 1.0, "images_per_s": 10.0, "epochs": 2}]
    for ev in events:
        ev = dict(ev, t=1.0)
        live(ev)
        kind, epoch, step = ev.pop("kind"), ev.pop("epoch", None), ev.pop("step", None)
        store.log(kind, {k: v for k, v in ev.items() if k != "t"}, epoch, step)
    store.commit()
    again = LiveRun()
    assert again.replay(store) == len(events)
    assert again.series() == live.series() and again.history() == live.history()
    assert again.policies() == live.policies() and again.progress()["epoch"] == 1
    store.log("child_step", {k: v for k, v in child(6).items() if k not in ("kind", "epoch", "step", "t")}, 1, 6)
    store.commit()
    assert again.replay(store) == 1 and again.series("child.loss")["child.loss"][0][-1] == 6
    again.interrupted()
    assert again.status == "interrupted" and not again.active


def policy_run(epochs: int, op_probs, moved=None) -> list:
    """Search events of a run whose controller trains after every 2nd epoch (1-based 2, 4, ...); its policy is
    `op_probs(e)` after epoch e (0-based), with `moved(e)` if given."""
    events = []
    for e in range(epochs):
        if e % 2 == 1:
            events.append({"kind": "controller_step", "epoch": e, "step": e, "t": 1.0, "ctrl_step": e})
        pol = {"kind": "policy", "epoch": e, "step": e, "t": 1.0, "ops": ["conv3x3", "maxpool3x3"],
               "op_probs": op_probs(e), "skip_probs": [[0.0, 0.0], [0.5, 0.0]]}
        events.append(pol if moved is None else {**pol, "moved": moved(e)})
        events.append({"kind": "epoch", "epoch": e, "step": e, "t": 1.0, "train_loss": 1.0, "train_acc": 0.5})
    return events


def still(live):
    return next((h for h in live.health() if h["code"] == "still"), None)


def test_a_frozen_policy_of_an_old_run_shows_the_still_banner_from_its_epoch_on():
    config = Config(nodes=2, controller_every=2, health_still_epochs=3)
    events = policy_run(8, lambda e: [[0.5, 0.5], [0.5 + 0.001 * e, 0.5 - 0.001 * e]])   # no `moved`: old run
    assert still(replay.live_at(config, events, 5)) is None              # 2 epochs of controller training
    banner = still(replay.live_at(config, events, 6))
    assert banner["holds"] and banner["at"] == "search epoch 6"
    assert "after 3 epochs of controller training, no node's op probabilities have moved more than 0.005" in \
        banner["message"] and "(largest at node 1; warns under 0.05)" in banner["message"]
    live = replay.live_at(config, events, 9)
    assert still(live)["at"] == "search epoch 8" and "after 4 epochs" in still(live)["message"]
    assert [p["moved"][1] for p in live.policies()] == pytest.approx([0.001 * e for e in range(8)])
    assert all(p["from_first"] for p in live.policies())


def test_the_engine_s_moved_is_used_and_a_policy_that_moves_ends_the_banner():
    config = Config(nodes=2, controller_every=2, health_still_epochs=2)
    live = LiveRun(config)
    for ev in policy_run(6, lambda e: [[0.5, 0.5], [0.5, 0.5]], moved=lambda e: [0.0, 0.0 if e < 4 else 0.3]):
        live(ev)
    banner = still(live)
    assert not banner["holds"] and banner["warned"] == "search epoch 4" and banner["at"] == "search epoch 6"
    assert banner["message"].startswith("after 3 epochs of controller training, node 1's op probabilities have "
                                        "moved 0.300")
    assert not any(p["from_first"] for p in live.policies()) and live.policies()[-1]["moved"] == [0.0, 0.3]
