"""Every event of a run exported (`enas/runs/export.py`, `export RUN --events FILE`, `tensorboard RUN --logdir DIR`,
the app's events downloads): read back, each holds every event and every field of a tiny real run, epochs from 1."""
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402

from enas.cli.main import main  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.errors import StoreError  # noqa: E402
from enas.runs import export  # noqa: E402
from enas.runs.export import events_frame, read_events, write_events  # noqa: E402
from enas.runs.live import SERIES  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

FIXED = ("id", "t", "kind", "epoch", "step")
# values the tiny run does not hold: true/false, a field of two types (JSON text), an empty text, nested dicts
EDGE = [{"id": 10_001, "kind": "edge", "epoch": None, "step": None, "t": 1.5, "flag": True, "mixed": "x", "note": "",
         "deep": {"a": [1, 2.5, None], "b": {"c": "d"}}},
        {"id": 10_002, "kind": "edge", "epoch": 0, "step": 7, "t": 2.5, "flag": False, "mixed": 3, "note": "n/a"}]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny real run: 2 search epochs, derive, then two final trainings (finetune 1 epoch, scratch 1)."""
    runs = tmp_path_factory.mktemp("runs")
    store = RunStore.create(runs, "tiny", tiny_config(epochs=2))
    engine = Engine(store.config(), store)
    assert engine.run(("search", "derive", "final")) == "finished"
    engine.train_final(mode="scratch", epochs=1)
    store.commit()
    return store


def cli(runs, *args) -> int:
    return main(["--runs-dir", str(runs), *map(str, args)])


def one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and all(w in err for w in words), err
    return err


def assert_holds(frame: pd.DataFrame, events: list):
    """Each row is its event: the same id, time and kind, the epoch from 1, and every field (nested ones as JSON)."""
    fields = list(dict.fromkeys(k for ev in events for k in ev if k not in FIXED))
    assert list(frame.columns) == [*FIXED, *fields] and len(frame) == len(events)
    for row, ev in zip(frame.to_dict("records"), events):
        assert (row["id"], row["t"], row["kind"]) == (ev["id"], ev["t"], ev["kind"])
        assert pd.isna(row["epoch"]) if ev["epoch"] is None else row["epoch"] == ev["epoch"] + 1
        for name in ["step", *fields]:
            value, cell = ev.get(name), row[name]
            if value is None:
                assert pd.isna(cell), (ev["kind"], name, cell)
            elif isinstance(value, (list, dict)) or name == "mixed":
                assert json.loads(cell) == value, (ev["kind"], name)
            else:
                assert cell == value, (ev["kind"], name, cell, value)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_export_read_back_holds_every_event_and_field_with_epochs_from_1(finished, tmp_path, suffix, capsys):
    path = tmp_path / f"events{suffix}"
    assert cli(finished.path.parent, "export", "tiny", "--events", path) == 0
    events = finished.events()
    assert f"wrote {len(events)} events of run tiny" in capsys.readouterr().out
    back = read_events(path)
    assert_holds(back, events)
    pd.testing.assert_frame_equal(back, events_frame(events), check_exact=True)   # the same columns and types
    assert list(back.loc[back["kind"] == "epoch", "epoch"]) == [1, 2]
    assert {"sample", "policy", "derive_result", "final_result", "status"} <= set(back["kind"])

    write_events(events + EDGE, path)
    back = read_events(path)
    assert_holds(back, events + EDGE)
    pd.testing.assert_frame_equal(back, events_frame(events + EDGE), check_exact=True)
    edge = back[back["kind"] == "edge"]
    assert list(edge["note"]) == ["", "n/a"] and str(edge["flag"].dtype) == "boolean"
    assert str(back["epoch"].dtype) == "Int64" and str(back["val_acc"].dtype) == "float64"


def test_the_events_of_one_kind_have_that_kind_s_columns(finished):
    frame = events_frame(finished.events(), kind="epoch")
    assert set(frame["kind"]) == {"epoch"} and list(frame["epoch"]) == [1, 2]
    assert list(frame.columns) == [*FIXED, *[k for k in finished.events("epoch")[0] if k not in FIXED]]
    assert list(frame["val_acc"]) == [e["val_acc"] for e in finished.events("epoch")]


def test_a_bad_suffix_a_missing_run_and_clashing_flags_are_one_line_errors(finished, tmp_path, capsys):
    runs = finished.path.parent
    assert cli(runs, "export", "tiny", "--events", tmp_path / "events.txt") == 2
    one_line_error(capsys, "events.txt", ".csv or .parquet")
    assert cli(runs, "export", "nosuch", "--events", tmp_path / "events.csv") == 2
    one_line_error(capsys, "no run")
    assert cli(runs, "export", "tiny", "--events", tmp_path / "events.csv", "--to", "json") == 2
    one_line_error(capsys, "drop --to")
    assert cli(runs, "export", "tiny") == 2
    one_line_error(capsys, "--to", "--events")
    assert cli(runs, "tensorboard", "nosuch", "--logdir", tmp_path / "tb") == 2
    one_line_error(capsys, "no run")
    assert sorted(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="CSV or Parquet"):
        write_events([], tmp_path / "events.json")
    with pytest.raises(StoreError, match="no such file"):
        read_events(tmp_path / "none.parquet")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_write_that_fails_leaves_no_half_written_file(finished, tmp_path, monkeypatch, capsys, suffix):
    old, new = tmp_path / f"old{suffix}", tmp_path / f"new{suffix}"
    old.write_text("the previous export")

    def fail(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", fail)    # after the data went to the temporary file
    with pytest.raises(OSError, match="disk full"):
        write_events(finished.events(), old)
    assert cli(finished.path.parent, "export", "tiny", "--events", new) == 2
    one_line_error(capsys, "disk full")
    assert sorted(tmp_path.iterdir()) == [old] and old.read_text() == "the previous export"


def test_the_tensorboard_log_holds_every_series_point_each_epoch_s_architecture_and_the_config(finished, tmp_path,
                                                                                               capsys):
    pytest.importorskip("tensorboard")
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from enas.cli.tensorboard import IMAGE_TAG, arch_image
    assert cli(finished.path.parent, "tensorboard", "tiny", "--logdir", tmp_path) == 0
    log = EventAccumulator(str(tmp_path / "tiny"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    log.Reload()
    got = {tag: [(s.step, s.value) for s in log.Scalars(tag)] for tag in log.Tags()["scalars"]}
    events = finished.events()

    def points(kind, field, x="step"):
        return [(ev["epoch"] + 1 if x == "epoch" else ev[x], ev[field]) for ev in events if ev["kind"] == kind]

    finals = [e["id"] for e in events if e["kind"] == "final_start"]
    assert len(finals) == 2
    expected = {
        "Child training loss/loss": points("child_step", "loss"),
        "Child training accuracy/accuracy": points("child_step", "acc"),
        "Controller reward and baseline/reward": points("controller_step", "reward", "ctrl_step"),
        "Controller reward and baseline/baseline": points("controller_step", "baseline", "ctrl_step"),
        "Controller entropy/entropy": points("controller_step", "entropy", "ctrl_step"),
        "Controller loss/loss": points("controller_step", "controller_loss", "ctrl_step"),
        "Accuracy of sampled children (minibatches)/validation (rewards)": points("epoch", "val_acc", "epoch"),
        "Accuracy of sampled children (minibatches)/training": points("epoch", "train_acc", "epoch"),
        "Accuracy of sampled children (minibatches)/random architectures, validation":
            points("epoch", "random_val_acc", "epoch"),
        "derive/val_acc": points("derive_child", "val_acc"),
        "final result/val_acc": [(k + 1, v) for k, (_, v) in enumerate(points("final_result", "val_acc"))],
        "final result/test_acc": [(k + 1, v) for k, (_, v) in enumerate(points("final_result", "test_acc"))],
    }
    for k, start in enumerate(finals):   # each final training its own lines
        end = finals[k + 1] if k + 1 < len(finals) else float("inf")
        expected[f"Final training loss/loss, training {k + 1}"] = [
            (e["step"], e["loss"]) for e in events if e["kind"] == "final_step" and start < e["id"] < end]
        expected[f"Final validation accuracy (whole split)/validation, training {k + 1}"] = [
            (e["epoch"] + 1, e["val_acc"]) for e in events if e["kind"] == "final_epoch" and start < e["id"] < end]
    for tag, want in expected.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in want] and want, tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in want], rel=1e-6), tag   # float32
    total = sum(ev.get(f) is not None for ev in events if ev["kind"] in SERIES for f in SERIES[ev["kind"]][2])
    assert sum(map(len, got.values())) == total + 2 * 2     # and the two final results' two accuracies

    last = {}
    for ev in finished.events("sample"):
        last[ev["epoch"]] = ev["arch"]
    images = log.Images(IMAGE_TAG)
    assert [im.step for im in images] == [1, 2]
    for im, epoch in zip(images, sorted(last)):   # the last sample of each epoch, drawn
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(im.encoded_image_string)).convert("RGB")),
                              arch_image(last[epoch]))
    text = log.Tensors("Configuration/text_summary")[0].tensor_proto.string_val[0].decode()
    assert json.loads(text) == finished.meta()["config"]

    capsys.readouterr()
    assert cli(finished.path.parent, "tensorboard", "tiny", "--logdir", tmp_path) == 2   # never two logs in one
    one_line_error(capsys, "already holds a TensorBoard log")


def test_without_tensorboard_the_command_says_how_to_install_it(finished, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # as if it were not installed
    assert cli(finished.path.parent, "tensorboard", "tiny", "--logdir", tmp_path) == 2
    one_line_error(capsys, 'pip install -e ".[tensorboard]"')
    assert not any(tmp_path.iterdir())


def test_the_app_offers_every_event_of_the_whole_run(finished, runs):
    from test_app import new_app, registry_of

    from app import history
    finished.commit()
    shutil.copytree(finished.path, runs / "tiny")
    at = new_app()
    assert at.selectbox(key="view").value == "tiny"
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Every event of this run, whole run (CSV)", "Every event of this run, whole run (Parquet)"} <= labels
    store = registry_of(runs).view("tiny").store
    for suffix in (".csv", ".parquet"):
        path = runs.parent / f"download{suffix}"
        path.write_bytes(history.events_file(store, path.name))
        assert_holds(read_events(path), finished.events())
