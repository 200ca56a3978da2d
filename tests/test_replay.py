"""Recordings and replay: a real tiny run saved to one file, rebuilt read-only, and replayed epoch by epoch; the
final trainings kept apart; the app's demo entry and replay controls (AppTest)."""
import gzip
import json
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402

from app import replay as app_replay  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.runs import recording, replay  # noqa: E402
from enas.runs.live import LiveRun  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402
from enas.space import Architecture  # noqa: E402

EPOCHS = 3


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny real run: 3 search epochs, derive, then two final trainings (finetune 1 epoch, scratch 2)."""
    runs = tmp_path_factory.mktemp("runs")
    store = RunStore.create(runs, "tiny", tiny_config(epochs=EPOCHS))
    engine = Engine(store.config(), store)
    assert engine.run(("search", "derive", "final")) == "finished"
    engine.train_final(mode="scratch", epochs=2)
    store.commit()
    return store


def key(ev):
    return ev["kind"], ev["epoch"], ev["step"], {k: v for k, v in ev.items() if k not in ("id", "t", "kind", "epoch",
                                                                                          "step")}


def test_a_recording_rebuilds_the_run_event_for_event(finished, tmp_path):
    path = tmp_path / "rec.json.gz"
    done = recording.save(finished, path, note="made by the test")
    assert done["events"] == len(finished.events()) and done["bytes"] == path.stat().st_size
    runs = recording.materialize(path, "demo", cache=tmp_path / "cache")
    rebuilt = RunStore.open(runs, "demo")
    assert [key(e) for e in rebuilt.events()] == [key(e) for e in finished.events()]
    meta = rebuilt.meta()
    assert meta["status"] == "finished" and meta["recording"] == "made by the test"
    assert meta["config"] == finished.meta()["config"] and meta["result"] == finished.meta()["result"]
    assert "pid" not in meta and not rebuilt.checkpoints()      # nothing of the recording machine, no weights
    # built once per content: a second call reuses the folder
    (runs / "demo" / "marker").write_text("x")
    assert recording.materialize(path, "demo", cache=tmp_path / "cache") == runs
    assert (runs / "demo" / "marker").exists()


def test_a_recording_keeps_each_event_once_and_its_time(finished, tmp_path, monkeypatch):
    finished.set_meta(status="stopped")          # a stopped run can be recorded too
    try:
        path = tmp_path / "nested" / "folder" / "rec.json.gz"
        recording.save(finished, path)
    finally:
        finished.set_meta(status="finished")
    rows = recording.load(path)["events"]
    assert all(not {"id", "kind", "epoch", "step", "t"} & set(data) for *_, data in rows)
    monkeypatch.setenv("ENAS_DEMO_CACHE", str(tmp_path / "env-cache"))
    runs = recording.materialize(path, "again")
    assert runs.parent == tmp_path / "env-cache"
    rebuilt = RunStore.open(runs, "again").events()
    assert max(abs(a["t"] - b["t"]) for a, b in zip(rebuilt, finished.events())) <= 0.005 + 1e-9
    with pytest.raises(recording.RecordingError, match="cannot read the recording"):
        recording.materialize(tmp_path / "gone.json.gz")


def test_bad_recordings_are_refused_clearly(finished, tmp_path):
    with pytest.raises(recording.RecordingError, match="no such recording"):
        recording.load(tmp_path / "missing.json.gz")
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(recording.RecordingError, match="not a readable recording"):
        recording.load(tmp_path / "junk.gz")
    with gzip.open(tmp_path / "other.gz", "wt") as f:
        json.dump({"format": "something else"}, f)
    with pytest.raises(recording.RecordingError, match="is not an enas-recording/1 file"):
        recording.load(tmp_path / "other.gz")
    with gzip.open(tmp_path / "bare.gz", "wt") as f:
        json.dump({"format": recording.FORMAT, "meta": {"name": "x"}, "events": []}, f)
    with pytest.raises(recording.RecordingError, match="lacks its config or events"):
        recording.load(tmp_path / "bare.gz")
    running = RunStore.create(tmp_path / "runs", "busy", tiny_config())
    running.set_status("running")
    with pytest.raises(recording.RecordingError, match="is running: record a finished or stopped run"):
        recording.save(running, tmp_path / "busy.json.gz")
    assert not (tmp_path / "busy.json.gz").exists()


def test_cuts_count_the_events_up_to_each_search_epoch():
    evs = [{"kind": "status", "epoch": None}, {"kind": "child_step", "epoch": 0}, {"kind": "epoch", "epoch": 0},
           {"kind": "status", "epoch": None}, {"kind": "child_step", "epoch": 1}, {"kind": "policy", "epoch": 1},
           {"kind": "derive_child", "epoch": 2}, {"kind": "final_step", "epoch": 0}]
    assert replay.cuts(evs) == [3, 6]
    gap = [{"kind": "epoch", "epoch": 0}, {"kind": "status", "epoch": None}, {"kind": "epoch", "epoch": 2}]
    assert replay.cuts(gap) == [1, 1, 3]        # an epoch without search events ends where the one before did


def test_the_run_after_epoch_k_holds_epochs_1_to_k_only(finished):
    events, config = finished.events(), finished.config()
    marks = replay.cuts(events)
    assert len(marks) == EPOCHS
    for k in range(1, EPOCHS + 1):
        live = replay.live_at(config, events, k, marks)
        assert live.series("epoch.train_acc")["epoch.train_acc"][0] == list(range(1, k + 1))
        assert [p["epoch"] for p in live.policies()] == list(range(k))
        assert {h["epoch"] for h in live.history()} == set(range(k))
        assert live.progress()["epoch"] == k and live.status == "replay" and not live.active
        assert live.message == f"the run as it was after search epoch {k} of {EPOCHS}"
        assert replay.live_at(config, events, k).series() == live.series()     # marks found when not given
        assert live.best is None and live.result is None and not live.trainings()
    whole = replay.live_at(config, events, EPOCHS + 1, marks)
    assert whole.status == "finished" and whole.best and whole.result["mode"] == "scratch"
    with pytest.raises(ValueError, match="replay starts after epoch 1"):
        replay.live_at(config, events, 0, marks)


def test_each_final_training_is_its_own_series(finished):
    live = LiveRun(finished.config())
    live.replay(finished)
    first, second = live.trainings()
    assert (first["mode"], first["epochs"], second["mode"], second["epochs"]) == ("finetune", 1, "scratch", 2)
    steps = finished.config().steps_per_epoch
    assert first["series"]["final.loss"][0] == list(range(1, steps + 1))
    assert second["series"]["final.loss"][0] == list(range(1, 2 * steps + 1))   # starts again at 1, apart
    assert second["series"]["final.val_acc"][0] == [1, 2]
    assert live.series("final.loss")["final.loss"] == second["series"]["final.loss"]
    assert first["result"]["mode"] == "finetune" and second["result"] == live.result


def test_final_trainings_logged_before_final_start_existed_are_split_where_the_step_drops():
    live = LiveRun()
    for n, steps in enumerate((3, 2)):
        for s in range(1, steps + 1):
            live({"kind": "final_step", "epoch": 0, "step": s, "loss": 1.0 / s, "acc": 0.5, "t": 1.0})
        live({"kind": "final_result", "epoch": 1, "step": steps, "arch": f"c{2 * n + 1}", "mode": "finetune",
              "epochs": 1, "val_acc": 0.5, "test_acc": 0.5, "t": 1.0})
    assert [t["series"]["final.loss"][0] for t in live.trainings()] == [[1, 2, 3], [1, 2]]
    assert [t["arch"] for t in live.trainings()] == ["c1", "c3"]


def test_final_steps_report_their_progress_and_a_plausible_speed(finished):
    steps = finished.config().steps_per_epoch
    final = [e for e in finished.events("final_step")]
    assert [e["progress"] for e in final] == [((e["step"] - 1) % steps + 1) / steps for e in final]
    child = sorted(e["images_per_s"] for e in finished.events("child_step"))
    median = child[len(child) // 2]
    assert all(median / 20 < e["images_per_s"] < median * 20 for e in final)   # the same machine, the same nets


def test_final_training_reports_its_speed_while_it_runs(finished):
    live = LiveRun(finished.config())
    for ev in finished.events():
        live(ev)
        if ev["kind"] == "final_step":
            break
    assert live.phase == "final" and live.progress()["images_per_s"] > 0
    training = live.trainings()[-1]          # known from its start, before any result: the Live tab draws it
    assert (training["arch"], training["mode"], training["result"]) == (finished.meta()["best"], "finetune", None)


def test_the_policy_s_most_likely_architecture():
    arch = Architecture.most_likely(("conv1x1", "conv3x3", "maxpool3x3"),
                                    [[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6]],
                                    [[], [0.51], [0.49, 0.9]])
    assert str(arch) == "c3 c1:1 mp:01"


# --- the app --------------------------------------------------------------------------------------
@pytest.fixture
def demo(finished, tmp_path, monkeypatch):
    """The app's demo entry made from the tiny run's recording, shipped as the seed demo's file (the only demo),
    with an empty runs folder."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    recording.save(finished, tmp_path / "assets" / f"{recording.DEMO_NAME}.json.gz")
    monkeypatch.setattr(app_replay, "ASSETS", tmp_path / "assets")
    monkeypatch.setenv("ENAS_DEMO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_resource.clear()    # the demo folder cached by an earlier app test is not this one
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_the_demo_opens_read_only_in_replay_with_an_empty_runs_folder(demo):
    at = demo
    assert at.selectbox(key="view").value == recording.DEMO_NAME
    assert "No runs yet" in at.info[0].value
    assert at.toggle(key=f"replay_on_{recording.DEMO_NAME}").value is True
    assert metric(at, "Epochs done") == f"1/{EPOCHS}"
    assert not [b for b in at.button if b.label in ("Resume run",)]
    assert not [f for f in at.get("form")]       # no derive or train forms on a recording
    assert any("A recorded run" in c.value for c in at.caption)


def test_play_advances_pause_stops_and_the_scrubber_drives_every_view(demo, monkeypatch):
    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(app_replay, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    at = demo
    next(b for b in at.button if b.label == "Play").click().run()
    seen = []
    for _ in range(2):                 # AppTest runs no timers: a page run one second later is one tick
        clock.now += 1.0
        at.run()
        seen.append(metric(at, "Epochs done"))
    assert seen == [f"2/{EPOCHS}", f"3/{EPOCHS}"], seen
    next(b for b in at.button if b.label == "Pause").click().run()
    clock.now += 1.0
    at.run()
    assert metric(at, "Epochs done") == f"3/{EPOCHS}"                  # paused: no tick
    at.select_slider[0].set_value("derive & final").run()
    assert not at.exception, at.exception
    assert metric(at, "Final epochs") == "2/2"
    at.select_slider[0].set_value(2).run()
    assert metric(at, "Epochs done") == f"2/{EPOCHS}"
    assert at.select_slider(key="policy_at").value == 2                # the policy as it was then


@pytest.mark.parametrize("warmup, every", [(0, 1), (0, 2), (2, 1), (1, 2)])
def test_the_architectures_tab_names_the_epoch_a_real_run_first_samples_in(tmp_path, warmup, every):
    """Before the first sample the tab says when it comes (warm-up, controller_every): the epoch it names is the one
    in which a real run's first sample event falls, counted from 1 as the app counts."""
    import re

    from app.history import empty_note

    config = tiny_config(epochs=4, warmup_epochs=warmup, controller_every=every)
    store = RunStore.create(tmp_path, "when", config)
    assert Engine(config, store).run(("search",)) == "finished"
    first = min(ev["epoch"] for ev in store.events() if ev["kind"] == "sample") + 1
    note = empty_note(config)
    named = re.search(r"first samples in epoch (\d+)", note)
    assert (int(named.group(1)) if named else 1) == first, note
    assert ("warm up" in note) == bool(warmup)
    assert "no controller steps" in empty_note(config.replace(controller_steps=0))
