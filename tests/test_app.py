"""The app's flows with Streamlit's AppTest: configure, start, watch, step through history, pause, stop,
derive and train, and reopen a run from the run list; tiny runs on the built-in shapes data."""
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import wait  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from app import final, history, widgets  # noqa: E402
from app.registry import get_registry  # noqa: E402
from enas.config import Config  # noqa: E402
from enas.data.load import DataError  # noqa: E402
from enas.runs.store import RunStore, StoreError  # noqa: E402
from enas.space import MAX_STRING, Architecture, ArchitectureError  # noqa: E402
from enas.teach import draw  # noqa: E402

TINY_INTS = {"warmup_epochs": 0, "nodes": 2, "channels": 8, "batch_size": 32, "steps_per_epoch": 4, "controller_steps": 2,
             "controller_children": 2, "derive_samples": 3, "final_epochs": 1}
TINY_TEXT = {"train_subset": "256", "val_size": "128"}


def new_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def configure(at: AppTest, epochs: int, **text):
    for name, value in {**TINY_INTS, "epochs": epochs}.items():
        at.sidebar.number_input(key=f"cfg_{name}").set_value(value)
    for name, value in {**TINY_TEXT, **text}.items():
        at.sidebar.text_input(key=f"cfg_{name}").set_value(value)
    at.run()
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]


def registry_of(runs: Path):
    return get_registry(str(runs.resolve()))


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def pictures(at: AppTest) -> list:
    """The architecture pictures on the page (inline SVG)."""
    return [m.value for m in at.markdown if m.value.startswith("<svg")]


def test_invalid_values_are_refused_next_to_the_field(runs):
    at = new_app()
    assert "No runs yet" in at.info[0].value
    at.sidebar.number_input(key="cfg_nodes").set_value(0).run()
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("field 'nodes'")
    assert at.sidebar.button(key="start_enas").disabled
    at.sidebar.number_input(key="cfg_nodes").set_value(3)
    at.sidebar.text_input(key="cfg_child_lr_min").set_value("1").run()
    assert [e.value for e in at.sidebar.error][0].startswith("field 'child_lr_min'")
    at.sidebar.text_input(key="cfg_child_lr_min").set_value("0.001")
    at.sidebar.text_input(key="cfg_name").set_value("../escape").run()
    assert "not allowed" in at.sidebar.error[0].value and at.sidebar.button(key="start_enas").disabled
    at.sidebar.text_input(key="cfg_name").set_value("").run()
    assert not at.sidebar.error and not at.sidebar.button(key="start_enas").disabled
    assert "Search space: 1,000 architectures" in at.sidebar.info[0].value   # 5^3 ops x 2^3 skips


def test_preset_fills_the_form(runs):
    at = new_app()
    at.sidebar.selectbox(key="cfg_preset").set_value("enas-paper").run()
    assert at.sidebar.number_input(key="cfg_epochs").value == 310
    assert at.sidebar.selectbox(key="cfg_sampling").value == "per-batch"
    assert at.sidebar.selectbox(key="cfg_skip_reduce").value == "node-mean"
    assert at.sidebar.checkbox(key="cfg_first_node_bn").value is False
    at.sidebar.selectbox(key="cfg_preset").set_value("seed").run()
    assert at.sidebar.number_input(key="cfg_controller_every").value == 2
    at.sidebar.checkbox(key="cfg_first_node_bn").check().run()
    assert not at.sidebar.error and at.sidebar.button(key="start_enas").disabled is False


def test_search_graph_charts_history_derive_final_and_reopen(runs):
    at = new_app()
    configure(at, epochs=2)
    at.sidebar.button(key="start_enas").click().run()
    registry = registry_of(runs)
    name = at.session_state.view
    entry = registry.view(name)
    wait(lambda: not entry.running_here, what="the search to finish")
    assert entry.live.status == "finished", entry.live.message
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="view").value == name
    svgs = pictures(at)
    assert svgs and all("node 0" in d and "node 1" in d for d in svgs)
    current = Architecture.parse(entry.live.arch())
    assert svgs[0] == draw.chain_svg(current, ops=entry.config.ops)        # the live graph is the newest sample
    assert len(at.get("plotly_chart")) >= 7          # six curves, policy and the reward scatter

    samples = entry.live.history()
    assert len(samples) == 2 * 2 * 2                 # epochs x controller steps x children
    assert any(f"**Sample {len(samples) - 1}**" in m.value for m in at.markdown)
    at.button(key="hist_prev").click().run()
    assert any(f"**Sample {len(samples) - 2}**" in m.value for m in at.markdown)
    next(s for s in at.slider if s.label == "sample").set_value(0).run()
    assert any("**Sample 0**" in m.value for m in at.markdown)
    assert any(samples[0]["arch"] in c.value for c in at.code)
    rows = history.samples_csv(entry.store).splitlines()   # the full record, from the run folder
    assert len(rows) == 1 + len(samples) and rows[1].split(",")[3] == samples[0]["arch"]

    at.number_input(key="derive_recheck").set_value(2)
    button(at, "Derive the best child").click().run()
    wait(lambda: not entry.running_here, what="derive")
    assert entry.live.best is not None
    ranking = entry.live.ranking()
    assert all("recheck_acc" in r for r in ranking[:2]) and ranking[0]["arch"] == entry.live.best
    at.run()
    assert any(entry.live.best in m.value for m in at.markdown)
    button(at, "Train the child").click().run()
    wait(lambda: not entry.running_here, what="final training")
    assert entry.live.result is not None, entry.live.message
    at.run()
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"JSON", "String", "DOT", "SVG", "Weights"} <= labels
    metrics = {m.label: m.value for m in at.metric}   # derive's and final training's accuracy side by side
    result = entry.live.result
    assert metrics["Validation accuracy at derive"] == f"{entry.live.derive_acc(result['arch']):.4f}"
    assert metrics["Validation accuracy"] == f"{result['val_acc']:.4f}"

    get_registry.clear()                             # a fresh server process: the run comes from disk
    again = new_app()
    assert again.selectbox(key="view").value == name
    assert again.selectbox(key="view").format_func(name) == f"{name} · ENAS controller"
    assert pictures(again) and len(again.get("plotly_chart")) >= 7
    reopened = registry_of(runs).view(name).live
    assert reopened.status == "finished" and reopened.history() == entry.live.history()
    assert reopened.result == entry.live.result


def test_pause_stops_the_engine_thread_and_stop_ends_it(runs):
    at = new_app()
    configure(at, epochs=1000)
    at.sidebar.button(key="start_enas").click().run()
    entry = registry_of(runs).view(at.session_state.view)
    wait(lambda: entry.live.progress()["step"] > 2, what="training steps")
    with pytest.raises(StoreError, match="busy"):   # one job per run at a time
        registry_of(runs).derive(entry.name)
    at.run()
    button(at, "Pause").click().run()
    wait(lambda: entry.live.status == "paused", what="the pause")
    step = entry.live.progress()["step"]
    time.sleep(1.0)
    assert entry.live.progress()["step"] == step and entry.thread.is_alive()
    at.run()
    assert button(at, "Resume").disabled is False and button(at, "Pause").disabled
    button(at, "Resume").click().run()
    wait(lambda: entry.live.progress()["step"] > step, what="training to go on")
    button(at, "Stop").click().run()
    wait(lambda: not entry.running_here, what="the stop")
    assert entry.live.status == "stopped" and RunStore.open(runs, entry.name).status() == "stopped"
    at.run()
    button(at, "Resume run").click().run()           # a stopped search continues from its checkpoint
    entry = registry_of(runs).view(entry.name)
    wait(lambda: entry.live.status == "running" and entry.live.progress()["step"] > 0, what="the resumed search")
    assert entry.live.series("child.loss")["child.loss"][0][0] == 1   # with the curves from before the stop
    registry_of(runs).stop(entry.name)
    wait(lambda: not entry.running_here, what="the second stop")


def test_runs_of_other_processes_are_followed_and_interrupted_ones_resumable(runs):
    store = RunStore.create(runs, "cli-run", Config.from_dict({"epochs": 3}, preset="quick"))
    store.set_status("running")                      # this pid is alive: as if a CLI search were writing it
    store.log("child_step", {"loss": 2.0, "acc": 0.1, "lr": 0.1, "arch": "c3", "images_per_s": 10.0,
                             "progress": 0.5}, 0, 1)
    store.commit()
    registry = registry_of(runs)
    entry = registry.view("cli-run")
    assert entry.follow and entry.live.series("child.loss")["child.loss"] == ([1], [2.0])
    store.log("child_step", {"loss": 1.5, "acc": 0.2, "lr": 0.1, "arch": "c5", "images_per_s": 10.0,
                             "progress": 1.0}, 0, 2)
    store.commit()
    wait(lambda: registry.view("cli-run").live.series("child.loss")["child.loss"] == ([1, 2], [2.0, 1.5]),
         what="the followed run's second step")
    at = new_app()
    assert at.selectbox(key="view").value == "cli-run"
    assert any("another process" in c.value for c in at.caption) and not any(b.label == "Pause" for b in at.button)
    store.set_meta(pid=2**22 + 12345)               # its process died: interrupted
    wait(lambda: registry.view("cli-run").live.status == "interrupted", what="the followed run interrupted")
    at.run()
    assert button(at, "Resume run") and pictures(at)


def test_a_dataset_that_cannot_be_loaded_is_refused_before_start(runs, tmp_path):
    at = new_app()
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("folder").run()
    at.sidebar.text_input(key="cfg_folder").set_value(str(tmp_path / "no-such-folder")).run()
    assert [e.value for e in at.sidebar.error] == [
        f"folder not found: {tmp_path / 'no-such-folder'}. Expected {tmp_path / 'no-such-folder'}/<class>/*.jpg|png|"
        f"... (one subfolder per class) or {tmp_path / 'no-such-folder'}/train/<class>/... with optional val/ and "
        "test/"]
    assert all(at.sidebar.button(key=k).disabled for k in ("start_enas", "start_random", "start_both"))
    config = Config.from_dict({"dataset": f"folder:{tmp_path / 'no-such-folder'}"}, preset="quick")
    with pytest.raises(DataError, match="folder not found"):      # the registry checks too: no failed run is made
        registry_of(runs).start(config)
    assert not runs.exists() or not any(runs.iterdir())


class Upload:
    """What `st.file_uploader` returns, as far as the training form reads it."""

    def __init__(self, data: bytes, name="arch.json"):
        self.name, self.size, self._data = name, len(data), data

    def getvalue(self):
        return self._data


def test_architecture_uploads_are_size_limited_and_validated():
    good = Architecture.parse("c3 c5:1")
    assert final.read_arch("upload a JSON file", None, "", Upload(good.to_json().encode())) == good
    assert final.read_arch("paste a string", None, "c3 c5:1", None) == good
    with pytest.raises(ArchitectureError, match="too large"):
        final.read_arch("upload a JSON file", None, "", Upload(b" " * (MAX_STRING + 1)))
    with pytest.raises(ArchitectureError, match="not valid JSON"):
        final.read_arch("upload a JSON file", None, "", Upload(b"{oops"))
    with pytest.raises(ArchitectureError, match="unknown op"):
        final.read_arch("paste a string", None, "c3 c7:1", None)
    with pytest.raises(ArchitectureError, match="choose a JSON file"):
        final.read_arch("upload a JSON file", None, "", None)


def test_live_charts_are_remade_at_most_every_few_seconds_unless_their_inputs_change():
    def script():
        import plotly.graph_objects as go
        import streamlit as st

        from app import widgets
        made = st.session_state.setdefault("made", [])
        sig = st.session_state.get("sig", "a")
        widgets.plot("c", lambda: made.append(sig) or go.Figure(go.Scatter(y=[len(made)])),
                   st.session_state.get("ticking", True), (sig,))

    at = AppTest.from_function(script)
    at.run()
    at.run()
    assert at.session_state.made == ["a"]              # live: the same figure is re-sent
    at.session_state.sig = "b"
    at.run()
    assert at.session_state.made == ["a", "b"]         # another run overlaid, another policy epoch: at once
    memo = at.session_state.chart_memo
    memo["c"] = (memo["c"][0] - widgets.CHARTS_EVERY, *memo["c"][1:])   # CHARTS_EVERY seconds later
    at.run()
    assert at.session_state.made == ["a", "b", "b"]
    at.session_state.ticking = False                    # not live: drawn fresh every time
    at.run()
    at.run()
    assert at.session_state.made == ["a", "b", "b", "b", "b"]
    assert not at.exception


def test_a_collapsing_search_shows_its_health_warning_and_why(runs):
    from conftest import tiny_config

    from enas.engine.search import Engine
    config = tiny_config(epochs=1, health_entropy_fraction=1.0)
    Engine(config, RunStore.create(runs, "collapsed", config)).run(("search",))
    at = new_app()
    assert at.selectbox(key="view").value == "collapsed"
    assert any("controller entropy" in w.value and "nearly stopped exploring" in w.value for w in at.warning)
    assert any(e.label == "Is the search healthy?" for e in at.expander)


def test_rank_check_from_the_derive_tab_draws_its_scatter(runs):
    from conftest import tiny_config

    from enas.engine.search import Engine
    config = tiny_config(derive_samples=6)
    Engine(config, RunStore.create(runs, "ranked", config)).run(("search", "derive"))
    at = new_app()
    assert at.selectbox(key="view").value == "ranked"
    at.number_input(key="rankcheck_k").set_value(3)
    button(at, "Run the rank check").click().run()
    entry = registry_of(runs).view("ranked")
    wait(lambda: not entry.running_here, what="the rank check")
    result = entry.live.rankcheck
    assert result is not None and result["k"] == 3, entry.live.message
    at.run()
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Rank check: Kendall tau" in t for t in titles)
    at.session_state["rank_pick_ranked"] = result["rows"][1]["arch"]   # as a click on the second point does
    at.run()
    assert any(m.value.startswith(f"**`{result['rows'][1]['arch']}`** · shared weights") for m in at.markdown)
    assert not at.exception


def test_races_are_drawn_with_their_verdict_and_a_broken_file_is_named(runs):
    from conftest import tiny_config

    from enas.scale.race import race
    result = race(tiny_config(epochs=1), runs, "demo", [0, 1], baseline=2, epochs=1)
    (runs / "races" / "broken.json").write_text("{not json")
    at = new_app()
    at.session_state["main_tabs"] = "All runs"
    at.run()
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Race demo: test accuracy after 1 epoch(s) from scratch" in t for t in titles)
    assert any(m.value == f"**{result['verdict']}**" for m in at.markdown)
    assert any("cannot read the race" in e.value and "broken.json" in e.value for e in at.error)
    assert not at.exception
