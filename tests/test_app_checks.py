"""The app before and after a run (Streamlit's AppTest): the dataset is checked under its field before Start, a
run that failed on its data says why without a traceback or a Resume that would fail again, Delete asks first,
and the sidebar's settings live in the page's address."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from app import urlstate  # noqa: E402
from enas.data.load import DataError  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

STARTS = ("start_enas", "start_random", "start_both")


def new_app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def under(at: AppTest, key: str):
    """The sidebar element right below the widget `key`."""
    nodes = list(at.sidebar)
    return nodes[next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == key) + 1]


def labels(at: AppTest) -> list:
    return [b.label for b in at.button]


def test_the_dataset_is_checked_under_its_field_and_start_waits_for_it(runs, tmp_path):
    at = new_app()
    assert under(at, "cfg_dataset_kind").value.startswith("built-in shapes, 14,000 generated images: 10 classes")
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("folder").run()
    at.sidebar.text_input(key="cfg_folder").set_value("/nonexistent").run()
    assert under(at, "cfg_folder").value.startswith("folder not found: /nonexistent.")
    assert all(at.sidebar.button(key=k).disabled for k in STARTS)
    one = tmp_path / "one" / "cat"
    one.mkdir(parents=True)
    (one / "0.png").write_bytes(b"")
    at.sidebar.text_input(key="cfg_folder").set_value(str(tmp_path / "one")).run()
    assert "1 class folder(s): cat; at least 2 are needed" in under(at, "cfg_folder").value
    (tmp_path / "one" / "dog").mkdir()
    (tmp_path / "one" / "dog" / "0.png").write_bytes(b"")
    at.run()                                          # quick's val_size 500 and train_subset 2000: too many
    assert under(at, "cfg_val_size").value.startswith(f"val_size 500: folder {tmp_path / 'one'} has 2 training")
    for i in range(1, 10):
        (tmp_path / "one" / "cat" / f"{i}.png").write_bytes(b"")
        (tmp_path / "one" / "dog" / f"{i}.png").write_bytes(b"")
    at.sidebar.text_input(key="cfg_val_size").set_value("1").run()
    assert under(at, "cfg_train_subset").value.startswith("train_subset 2,000 is more than the 17 training images")
    assert all(at.sidebar.button(key=k).disabled for k in STARTS)
    at.sidebar.text_input(key="cfg_train_subset").set_value("").run()
    assert under(at, "cfg_folder").value == f"folder {tmp_path / 'one'}: 2 classes; 17 train, 1 val, 2 test images"
    assert not at.sidebar.error and not any(at.sidebar.button(key=k).disabled for k in STARTS)


def test_a_run_failed_by_its_data_says_why_without_traceback_or_resume(runs, tmp_path):
    config = tiny_config(dataset=f"folder:{tmp_path / 'gone'}")
    with pytest.raises(DataError):
        Engine(config, RunStore.create(runs, "bad-data", config))
    at = new_app()
    assert at.selectbox(key="view").value == "bad-data"
    gone = tmp_path / "gone"
    assert [e.value for e in at.main.error] == [f"This run failed: folder not found: {gone}. Expected {gone}/<class>/"
                                                f"*.jpg|png|... (one subfolder per class) or {gone}/train/<class>/... "
                                                "with optional val/ and test/"]
    assert not any(ex.label == "Traceback" for ex in at.expander)
    assert "Resume run" not in labels(at) and "Delete run" in labels(at)
    assert any(c.value.startswith("Resuming would fail the same way") for c in at.caption)

    buggy = RunStore.create(runs, "buggy", tiny_config())   # an unexpected error: its traceback, and Resume
    try:
        raise RuntimeError("a bug")
    except RuntimeError as e:
        buggy.fail(e)
    at.run()
    at.selectbox(key="view").set_value("buggy").run()
    assert any(e.value == "This run failed: RuntimeError: a bug" for e in at.main.error)
    assert any(ex.label == "Traceback" for ex in at.expander) and "Resume run" in labels(at)


def test_delete_asks_first_and_the_run_leaves_the_picker(runs):
    for name in ("kept", "doomed"):
        store = RunStore.create(runs, name, tiny_config())
        store.set_status("stopped")
        store.close()
    at = new_app()
    assert at.selectbox(key="view").value == "doomed"   # the newest
    at.button(key="delete_run").click().run()
    assert (runs / "doomed").is_dir() and "Confirm delete" in labels(at)
    assert any("Delete run **doomed** and all its files" in w.value for w in at.warning)
    at.button(key="delete_cancel").click().run()
    assert "Confirm delete" not in labels(at) and (runs / "doomed").is_dir()
    at.button(key="delete_run").click().run()
    at.button(key="delete_confirm").click().run()
    assert not at.exception, at.exception
    assert not (runs / "doomed").exists() and (runs / "kept").is_dir()
    assert "doomed" not in at.selectbox(key="view").options and at.selectbox(key="view").value == "kept"


def test_settings_come_from_the_address_and_go_back_to_it(runs, tmp_path):
    at = new_app(preset="enas-paper", epochs="3", ops="conv3x3,maxpool3x3", first_node_bn="true",
                 dataset=f"folder:{tmp_path}", train_subset="")
    assert at.sidebar.selectbox(key="cfg_preset").value == "enas-paper"
    assert at.sidebar.number_input(key="cfg_epochs").value == 3
    assert at.sidebar.multiselect(key="cfg_ops").value == ["conv3x3", "maxpool3x3"]
    assert at.sidebar.checkbox(key="cfg_first_node_bn").value is True
    assert at.sidebar.selectbox(key="cfg_dataset_kind").value == "folder"
    assert at.sidebar.text_input(key="cfg_folder").value == str(tmp_path)
    assert at.sidebar.number_input(key="cfg_controller_steps").value == 50          # the rest: the preset's
    assert not at.sidebar.warning
    at.sidebar.number_input(key="cfg_nodes").set_value(4)
    at.sidebar.number_input(key="cfg_epochs").set_value(310).run()                 # back to the preset's value
    assert at.query_params == {"preset": "enas-paper", "ops": "conv3x3,maxpool3x3", "first_node_bn": "true",
                               "dataset": f"folder:{tmp_path}", "nodes": "4"}
    link = next(c.value for c in at.sidebar.code)
    assert link.endswith(f"?preset=enas-paper&dataset=folder:{tmp_path}&nodes=4&ops=conv3x3,maxpool3x3"
                         "&first_node_bn=true")
    at.sidebar.selectbox(key="cfg_preset").set_value("seed").run()                # a new preset: only its name
    assert at.query_params == {"preset": "seed"}


def test_bad_address_values_are_named_and_the_rest_applied(runs):
    at = new_app(preset="fast", nodes="abc", epochs="4", color="red", dataset="auto", child_lr="0.2")
    assert sorted(w.value for w in at.sidebar.warning) == sorted([
        "URL parameter 'preset': 'fast' is not a preset (allowed: seed, enas-paper, quick, laptop); using quick",
        "URL parameter nodes='abc' ignored: field 'nodes': value 'abc' must be a whole number",
        "URL parameter 'color' is not a setting; ignored",
        "URL parameter dataset='auto' ignored: the form offers shapes, cifar10, folder"])
    assert at.sidebar.number_input(key="cfg_epochs").value == 4
    assert at.sidebar.text_input(key="cfg_child_lr").value == "0.2"
    assert at.sidebar.number_input(key="cfg_nodes").value == 6                      # quick's
    assert at.query_params == {"preset": "quick", "epochs": "4", "child_lr": "0.2"}
    assert not at.sidebar.button(key="start_enas").disabled


def test_url_parameters_round_trip_every_kind_of_field():
    values = {"epochs": 7, "ops": ["conv1x1", "avgpool3x3"], "first_node_bn": True, "train_subset": None,
              "val_size": "0.25", "child_lr": "1e-05", "dataset": "shapes:300", "nodes": 0}
    params = urlstate.encode("quick", values)
    assert "nodes" not in params                     # invalid (being typed): left out
    preset, decoded, warnings = urlstate.decode(params)
    assert preset == "quick" and not warnings
    assert decoded == {"epochs": 7, "ops": ("conv1x1", "avgpool3x3"), "first_node_bn": True, "train_subset": None,
                       "val_size": 0.25, "child_lr": 1e-05, "dataset": "shapes:300"}
