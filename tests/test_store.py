"""The run store: safe names, events readable while written, atomic checkpoints, clear errors for bad files."""
import os
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from enas.config import Config
from enas.data.load import DataError
from enas.runs.listing import delete_run, list_runs
from enas.runs.store import (
    RunStore,
    StoreError,
    check_name,
    failure,
    load_file,
    run_path,
)

CONFIG = Config.from_dict({}, preset="quick")


@pytest.mark.parametrize("name", ["../evil", "/etc", "a/b", "..", ".hidden", "", "x" * 65, "a\x00b", "run name"])
def test_names_that_would_escape_or_are_odd_are_refused(tmp_path, name):
    with pytest.raises(StoreError, match="not allowed"):
        run_path(tmp_path, name)


def test_good_names(tmp_path):
    assert check_name("run-20261128.1_a") == "run-20261128.1_a"
    assert run_path(tmp_path, "abc") == (tmp_path / "abc").resolve()


def test_create_twice_is_refused_and_open_missing_is_clear(tmp_path):
    RunStore.create(tmp_path, "r1", CONFIG).close()
    with pytest.raises(StoreError, match="already exists"):
        RunStore.create(tmp_path, "r1", CONFIG)
    with pytest.raises(StoreError, match="no run at"):
        RunStore.open(tmp_path, "r2")


def test_events_round_trip_and_a_second_connection_reads_while_writing(tmp_path):
    w = RunStore.create(tmp_path, "r", CONFIG)
    w.commit_every = 3600  # only explicit commits
    w.log("child_step", {"loss": 2.5}, epoch=0, step=1)
    r = RunStore.open(tmp_path, "r")
    assert r.events("child_step") == []  # not yet committed
    w.commit()
    ev = r.events("child_step")
    assert [(e["loss"], e["epoch"], e["step"]) for e in ev] == [(2.5, 0, 1)]
    w.log("sample", {"arch": "c3"}, epoch=0, step=1)
    w.log("sample", {"arch": "c5"}, epoch=1, step=2)
    w.commit()
    assert [e["arch"] for e in r.events("sample", after_id=ev[0]["id"])] == ["c3", "c5"]
    w.delete_events(["sample"], from_epoch=1)
    assert [e["arch"] for e in r.events("sample")] == ["c3"]
    assert r.config() == CONFIG
    w.close()
    r.close()


def test_checkpoints_are_atomic_and_only_the_last_k_are_kept(tmp_path):
    s = RunStore.create(tmp_path, "r", CONFIG)
    for e in range(1, 5):
        s.save_checkpoint({"format": "enas-explorer", "epoch": e, "w": torch.full((3,), float(e))}, e, keep=2)
    assert [p.name for p in s.checkpoints()] == ["ckpt-00003.pt", "ckpt-00004.pt"]
    assert s.load_checkpoint()["epoch"] == 4
    assert not list(s.path.glob("*.tmp"))


def test_a_failing_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    s = RunStore.create(tmp_path, "r", CONFIG)
    s.save_checkpoint({"format": "enas-explorer", "epoch": 1}, 1)

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        s.save_checkpoint({"format": "enas-explorer", "epoch": 2}, 2)
    monkeypatch.undo()
    assert [p.name for p in s.checkpoints()] == ["ckpt-00001.pt"]
    assert s.load_checkpoint()["epoch"] == 1
    assert not list(s.path.glob("*.tmp"))


def test_bad_checkpoint_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"format": "enas-explorer", "x": torch.ones(100)}, good)
    assert load_file(good)["x"].sum() == 100
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(300))
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "enas-explorer", "obj": Config()}, pickled)  # arbitrary objects are refused
    for path, message in [(truncated, "not a readable enas checkpoint"), (garbage, "not a readable enas checkpoint"),
                          (foreign, "not an enas-explorer file"), (pickled, "not a readable enas checkpoint"),
                          (tmp_path / "missing.pt", "no such file")]:
        with pytest.raises(StoreError, match=message):
            load_file(path)


def test_status_of_a_dead_process_is_interrupted(tmp_path):
    s = RunStore.create(tmp_path, "r", CONFIG)
    s.set_status("running")
    assert s.status() == "running"  # this process is alive
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    s.set_meta(pid=int(proc.stdout))  # a process that has exited
    assert s.status() == "interrupted"
    s.set_status("finished")
    assert s.status() == "finished"


def test_list_runs_reports_unreadable_runs_instead_of_crashing(tmp_path):
    RunStore.create(tmp_path, "good", CONFIG).close()
    time.sleep(0.01)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.db").write_bytes(b"this is not sqlite" * 100)
    runs = {r["name"]: r for r in list_runs(tmp_path)}
    assert runs["good"]["status"] == "created"
    assert runs["bad"]["status"] == "unreadable" and "not a readable run database" in runs["bad"]["message"]
    assert list_runs(tmp_path / "nothing") == []


def test_wal_mode(tmp_path):
    RunStore.create(tmp_path, "r", CONFIG).close()
    con = sqlite3.connect(tmp_path / "r" / "run.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_delete_removes_the_folder_and_refuses_running_unknown_and_escaping_runs(tmp_path):
    s = RunStore.create(tmp_path, "r", CONFIG)
    s.save_checkpoint({"format": "enas-explorer"}, 0)
    s.set_status("running")                         # this process is alive: it runs
    with pytest.raises(StoreError, match="'r' is running: stop it"):
        delete_run(tmp_path, "r")
    assert (tmp_path / "r" / "run.db").is_file()
    s.set_status("stopped")
    s.close()
    assert delete_run(tmp_path, "r", confirm=lambda path: False) is None     # not confirmed: kept
    assert [r["name"] for r in list_runs(tmp_path)] == ["r"]
    assert delete_run(tmp_path, "r") == (tmp_path / "r").resolve()
    assert list(tmp_path.iterdir()) == [] and list_runs(tmp_path) == []
    with pytest.raises(StoreError, match="no run named 'r'"):
        delete_run(tmp_path, "r")
    for name in ("../r", "..", ".trash-r"):
        with pytest.raises(StoreError, match="not allowed"):
            delete_run(tmp_path / "runs", name)
    bad = tmp_path / "bad"                          # an unreadable run can be deleted too
    bad.mkdir()
    (bad / "run.db").write_bytes(b"this is not sqlite" * 100)
    delete_run(tmp_path, "bad")
    assert not bad.exists()


def test_a_deletion_cut_short_leaves_no_run_listed(tmp_path, monkeypatch):
    RunStore.create(tmp_path, "r", CONFIG).close()
    def refuse(path):
        raise OSError(13, "Permission denied")
    monkeypatch.setattr("shutil.rmtree", refuse)
    with pytest.raises(StoreError, match="deleted from the list, but some of its files are left in .*trash-r-"):
        delete_run(tmp_path, "r")
    assert list_runs(tmp_path) == [] and [p.name[:8] for p in tmp_path.iterdir()] == [".trash-r"]


def test_expected_failures_keep_their_message_and_no_traceback(tmp_path):
    s = RunStore.create(tmp_path, "r", CONFIG)
    s.fail(DataError("folder not found: /nowhere"))
    assert s.status() == "failed" and s.meta()["message"] == "folder not found: /nowhere"
    assert s.meta()["traceback"] is None and (s.path / "error.txt").read_text() == "folder not found: /nowhere\n"
    try:
        {}["missing"]
    except KeyError as e:
        s.fail(e)
        assert failure(e)[0] == "KeyError: 'missing'"
    assert s.meta()["message"] == "KeyError: 'missing'" and "Traceback" in s.meta()["traceback"]
    assert "Traceback" in (s.path / "error.txt").read_text()
