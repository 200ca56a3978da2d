"""Issue 18, item 8: smaller things a newcomer hit, one test each (a to i)."""
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402
from test_app_checks import STARTS, new_app, under  # noqa: E402

from app import history  # noqa: E402
from enas.formats import parse_any  # noqa: E402
from enas.runs import recording  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402
from enas.space import Architecture, ArchitectureError  # noqa: E402

CIFAR_RELATIVE = "folder:../shared/data/cifar10-jpeg/train"


def enas(*args, runs_dir, cwd=None):
    return subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs_dir), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})


def stopped_run(runs, name: str, **changes) -> RunStore:
    store = RunStore.create(runs, name, tiny_config(**changes))
    store.set_status("finished", "search finished after 2 epochs")
    return store


# a. ------------------------------------------------------------------------------------------------
def test_samples_csv_counts_epochs_from_one_as_the_app(runs_dir):
    store = stopped_run(runs_dir, "csv")
    for epoch, step in ((0, 4), (1, 8)):
        store.log("sample", {"ctrl_step": step, "arch": "c3 c5:1", "accuracy": 0.5, "reward": 0.5}, epoch, step)
    store.commit()
    rows = [r.split(",") for r in history.samples_csv(store).splitlines()]
    assert rows[0][0] == "epoch (from 1)"
    assert [r[0] for r in rows[1:]] == ["1", "2"]      # the app's "epoch 1" is the events' epoch 0


# b. ------------------------------------------------------------------------------------------------
def test_export_of_a_searched_only_run_says_what_to_do_and_the_readme_runs_in_order(runs_dir):
    stopped_run(runs_dir, "demo").close()
    proc = enas("export", "demo", "--to", "oneline", runs_dir=runs_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "python -m enas derive demo" in proc.stderr and "--full" in proc.stderr
    # the README's first search makes a run that every later command (export included) can use
    block = (ROOT / "README.md").read_text().split("## Command line", 1)[1].split("```", 2)[1]
    searches = [line for line in block.splitlines() if line.startswith("python -m enas search --preset quick")]
    assert searches and "--name demo" in searches[0] and "--full" in searches[0].split("#")[0]


# c. ------------------------------------------------------------------------------------------------
def test_exported_child_without_or_with_unreadable_weights_is_one_line_and_status_2(runs_dir, tmp_path):
    assert enas("export", "c3 c5:1 mp:01", "--to", "pytorch", "-o", tmp_path / "child.py",
                runs_dir=runs_dir).returncode == 0
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")

    def child(*args):
        return subprocess.run([sys.executable, "child.py", *args], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    for args, says in (((), "final.pt: no such weights file"), (("junk.pt",), "cannot load the weights in junk.pt")):
        proc = child(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and says in proc.stderr


# d. ------------------------------------------------------------------------------------------------
def test_choosing_folder_prompts_for_a_path_and_start_waits(runs_dir):
    at = new_app()
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("folder").run()
    assert not at.exception and not at.sidebar.error
    assert under(at, "cfg_folder").value.startswith("Type the path of an image folder")
    assert not any("is not allowed" in str(getattr(e, "value", "")) for e in at.sidebar)
    assert all(at.sidebar.button(key=k).disabled for k in STARTS)
    assert any(c.value == "Type the path of an image folder to start." for c in at.sidebar.caption)


# e. ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("c3 c5:11", "node 1 has 1 skip bit, got 2"),
    ("c3:1", "node 0 has 0 skip bits, got 1"),
    ('{"ops": ["conv3x3", "conv5x5"], "skips": [[], [0, 1]]}', "node 1 has 1 skip bit, got 2"),
])
def test_too_many_skip_bits_are_a_miscount_not_a_skip_to_a_later_node(text, message):
    with pytest.raises(ArchitectureError) as e:
        parse_any(text)
    assert str(e.value).startswith(message) and "later node" not in str(e.value)
    with pytest.raises(ArchitectureError, match="node 1 has 1 skip bit, got 0"):
        Architecture.parse("c3 c5")


# f. ------------------------------------------------------------------------------------------------
def test_val_size_and_train_subset_errors_sit_under_their_fields(runs_dir, tmp_path):
    for c in ("cat", "dog"):
        (tmp_path / "two" / c).mkdir(parents=True)
        (tmp_path / "two" / c / "0.png").write_bytes(b"")
    at = new_app()
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("folder").run()
    at.sidebar.text_input(key="cfg_folder").set_value(str(tmp_path / "two")).run()   # quick's val_size 500
    assert under(at, "cfg_val_size").value.startswith("val_size 500: folder")
    assert under(at, "cfg_folder").value.startswith("val_size does not fit this data")
    assert [e.value for e in at.sidebar.error] == [under(at, "cfg_val_size").value]
    for i in range(1, 10):
        for c in ("cat", "dog"):
            (tmp_path / "two" / c / f"{i}.png").write_bytes(b"")
    at.sidebar.text_input(key="cfg_val_size").set_value("1").run()               # quick's train_subset 2000
    assert under(at, "cfg_train_subset").value.startswith("train_subset 2,000 is more than the 17 training images")
    assert all(at.sidebar.button(key=k).disabled for k in STARTS)
    (tmp_path / "two" / "dog").rename(tmp_path / "dog")                            # a dataset problem: its field
    at.run()
    assert "1 class folder(s): cat; at least 2 are needed" in under(at, "cfg_folder").value


# g. ------------------------------------------------------------------------------------------------
def test_an_unknown_url_parameter_is_named_then_removed_from_the_address(runs_dir):
    at = new_app(color="red", epochs="4")
    assert "URL parameter 'color' is not a setting; ignored" in [w.value for w in at.sidebar.warning]
    assert at.query_params == {"preset": "quick", "epochs": "4"}


# h. ------------------------------------------------------------------------------------------------
def test_delete_run_shows_a_notice_naming_the_run(runs_dir):
    for name in ("kept", "doomed"):
        stopped_run(runs_dir, name).close()
    at = new_app()
    assert at.selectbox(key="view").value == "doomed"
    at.button(key="delete_run").click().run()
    at.button(key="delete_confirm").click().run()
    assert not at.exception, at.exception
    assert not (runs_dir / "doomed").exists()
    assert [t.value for t in at.toast] == ["Deleted run **doomed** and all its files."]


# i. ------------------------------------------------------------------------------------------------
def test_a_recording_stores_a_dataset_another_machine_can_use(runs_dir, tmp_path):
    absolute = ROOT.parent / "shared" / "data" / "cifar10-jpeg" / "train"
    store = stopped_run(runs_dir, "rec", dataset=f"folder:{absolute}")
    recording.save(store, tmp_path / "rec.json.gz")
    assert recording.load(tmp_path / "rec.json.gz")["meta"]["config"]["dataset"] == CIFAR_RELATIVE
    assert recording.portable_dataset("shapes:800") == "shapes:800"
    assert recording.portable_dataset("folder:/data/img", project="/srv/enas", home="/home/u") == "folder:/data/img"
    assert recording.portable_dataset("folder:/home/u/img", project="/srv/enas", home="/home/u") == "folder:~/img"
    # the shipped demo: the same, and no absolute path of the recording machine in any stored config
    with gzip.open(recording.DEMO_FILE, "rt", encoding="utf-8") as f:
        text = f.read()
    rec = json.loads(text)
    assert rec["meta"]["config"]["dataset"] == CIFAR_RELATIVE
    assert not re.search(r'"dataset":"folder:/', text)
