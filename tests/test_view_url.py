"""The whole view in the page's address (`app.urlstate`): its parameters round-trip, a bad value is named in a
warning and the rest apply; a link opens the run, the tab, the replayed epoch, the sample, the red outline's
reference, the policy's epoch and the supergraph it names, and projector mode (real Streamlit, AppTest)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402
from test_demos import open_app as demos_app  # noqa: E402

from app import urlstate  # noqa: E402
from enas.teach import charts  # noqa: E402
from app import replay as app_replay  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

EVERY = {"run": "alpha", "page": "learn", "tab": "architectures", "epoch": "2", "policy": "1", "arch": "5",
         "ref": "likely", "supergraph": "1", "projector": "1"}


def test_every_view_parameter_round_trips_and_the_default_view_is_an_empty_address():
    view, warnings = urlstate.decode_view(EVERY)
    assert not warnings
    assert view == urlstate.View(run="alpha", page="learn", tab="architectures", epoch=2, policy=1, arch=5,
                                 ref="likely", supergraph=True, projector=True)
    assert urlstate.encode_view(view) == EVERY
    assert urlstate.encode_view(urlstate.View()) == {}
    for epoch in ("final", "off"):
        assert urlstate.encode_view(urlstate.decode_view({"epoch": epoch})[0]) == {"epoch": epoch}
    # a demo keeps the name old links give it; `run` names any run, demos too
    assert urlstate.decode_view({"demo": "cifar10-demo"})[0] == urlstate.View(run="cifar10-demo", demo=True)
    assert urlstate.encode_view(urlstate.View(run="cifar10-demo", demo=True)) == {"demo": "cifar10-demo"}


def test_a_bad_view_value_is_named_in_a_warning_and_the_rest_apply():
    view, warnings = urlstate.decode_view({"run": "alpha", "page": "home", "tab": "Architectures", "epoch": "0",
                                           "policy": "two", "arch": "-1", "ref": "best", "supergraph": "yes",
                                           "projector": "1"})
    assert warnings == [
        "URL parameter page='home' ignored: allowed: run, runs, learn",
        "URL parameter tab='Architectures' ignored: allowed: live, architectures, derive",
        "URL parameter epoch='0' ignored: a whole number from 1, final or off",
        "URL parameter policy='two' ignored: a whole number from 1",
        "URL parameter arch='-1' ignored: a whole number from 0",
        "URL parameter supergraph='yes' ignored: allowed: 1, 0"]
    assert view == urlstate.View(run="alpha", ref="best", projector=True)


def test_the_sidebar_and_the_view_write_their_own_parameters():
    address = {"preset": "quick", "epochs": "3", "color": "red", "run": "alpha", "arch": "4"}
    urlstate.sync(address, {"preset": "seed"})                       # the sidebar's: the view's stay
    assert address == {"preset": "seed", "run": "alpha", "arch": "4"}
    urlstate.sync(address, {"run": "beta"}, urlstate.VIEW_KEYS)      # the view's: the settings stay
    assert address == {"preset": "seed", "run": "beta"}
    assert urlstate.decode(address) == ("seed", {}, [])              # view parameters are not settings


def test_charts_grow_with_the_scale_hook(monkeypatch):
    policy = {"ops": ["conv3x3", "maxpool3x3"], "op_probs": [[0.5, 0.5], [0.3, 0.7]],
              "skip_probs": [[], [0.4]]}
    normal = charts.op_heatmap(policy).layout
    monkeypatch.setattr(charts, "scale", lambda: 1.5)
    big = charts.op_heatmap(policy).layout
    assert big.height == round(1.5 * normal.height) and big.font.size == 1.5 * normal.font.size
    assert big.title.font.size == 1.5 * normal.title.font.size


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`alpha`, a 2-epoch search of the built-in shapes data, derived; then `beta`, a search, the newest."""
    runs = tmp_path_factory.mktemp("runs")
    for name, phases in (("alpha", ("search", "derive")), ("beta", ("search",))):
        config = tiny_config()
        store = RunStore.create(runs, name, config)
        assert Engine(config, store, []).run(phases) == "finished"
        store.close()
    return runs


def open_app(monkeypatch, runs: Path, tmp_path: Path, query: dict):
    """The app on `runs` (no recorded demo), opened at the address `?query`."""
    return demos_app(monkeypatch, tmp_path / "no-assets", runs, tmp_path / "demo-cache", **query)


def sample_card(at) -> str:
    (card,) = [m.value for m in at.markdown if m.value.startswith("**Sample ")]
    return card


def view_warnings(at) -> list:
    return [w.value for w in at.main.warning if w.value.startswith("URL parameter")]


def test_a_link_opens_the_view_it_names_and_the_address_follows_the_user(runs, tmp_path, monkeypatch):
    link = {"run": "alpha", "tab": "architectures", "epoch": "1", "arch": "3", "ref": "likely", "supergraph": "1"}
    at = open_app(monkeypatch, runs, tmp_path, link)
    assert not view_warnings(at)
    assert at.selectbox(key="view").value == "alpha"                  # not the newest run, beta
    assert at.session_state["tabs-alpha"] == "Architectures"
    assert at.toggle(key="replay_on_alpha").value is True
    assert next(m.value for m in at.metric if m.label == "Epochs done") == "1/2"   # replayed after epoch 1
    assert sample_card(at).startswith("**Sample 3** · epoch 1")
    assert at.radio(key="diff_ref").value == "likely"
    assert at.toggle(key="supergraph").value is True
    assert any("supergraph" in m.value for m in at.markdown if m.value.startswith("<svg"))
    assert at.query_params == {**link, "preset": "quick"}

    at.button(key="hist_prev").click().run()                          # the user moves: the address follows
    at.radio(key="diff_ref").set_value("previous").run()
    at.select_slider(key="replay_slider_alpha_1").set_value(app_replay.END).run()
    assert at.query_params == {"run": "alpha", "tab": "architectures", "epoch": "final", "supergraph": "1",
                               "preset": "quick"}                     # a new moment: its newest sample again
    at.select_slider(key="policy_at").set_value(1).run()
    at.button(key="hist_prev").click().run()
    shown = (sample_card(at), next(c.value for c in at.caption if c.value.startswith("the policy after")))
    assert shown[1] == "the policy after search epoch 1 (picked; the newest shown is after epoch 2)"
    again = open_app(monkeypatch, runs, tmp_path, dict(at.query_params))   # a reload opens the same view
    assert not view_warnings(again) and again.query_params == at.query_params
    assert (sample_card(again), next(c.value for c in again.caption if c.value.startswith("the policy after"))) \
        == shown
    again.session_state["share"] = True                               # "Link to this view", opened
    again.run()
    (link,) = [c.value for c in again.main.code if "?" in c.value]
    assert link == f"?{'&'.join(f'{k}={v}' for k, v in again.query_params.items())}"


def test_values_that_do_not_exist_are_named_and_dropped_and_the_rest_apply(runs, tmp_path, monkeypatch):
    at = open_app(monkeypatch, runs, tmp_path, {"run": "ghost", "tab": "architectures", "epoch": "9", "arch": "999",
                                                "ref": "best", "supergraph": "1"})
    assert sorted(view_warnings(at)) == sorted([
        f"URL parameter run='ghost' ignored: no run of that name in {runs}",
        "URL parameter epoch='9' ignored: run beta replays search epochs 1 to 2 and final",
        "URL parameter arch='999' ignored: run beta shows no sample 999 here (samples 0 to 11)",
        "URL parameter ref='best' ignored: sample 11 of run beta can be compared with: previous, likely"])
    assert at.selectbox(key="view").value == "beta" and at.session_state["tabs-beta"] == "Architectures"
    assert at.toggle(key="supergraph").value is True
    assert sample_card(at).startswith("**Sample 11** · epoch 2")       # the newest: not in replay
    assert at.query_params == {"tab": "architectures", "supergraph": "1", "preset": "quick"}
    at.selectbox(key="view").set_value("alpha").run()                  # another run picked: the warnings go
    assert not view_warnings(at) and at.query_params["run"] == "alpha"


def chart_height(at, title: str) -> int:
    (spec,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if title in c.proto.spec]
    return spec["layout"]["height"]


def test_projector_mode_from_the_address_or_the_toggle(runs, tmp_path, monkeypatch):
    at = open_app(monkeypatch, runs, tmp_path, {"run": "alpha"})
    normal = chart_height(at, "Op probabilities per node")
    assert not [h for h in at.get("html") if "stSidebar" in h.proto.body]
    assert [p.proto.popover.label for p in at.get("popover")] == ["Link to this view"]
    at.toggle(key="projector").set_value(True).run()
    assert at.query_params["projector"] == "1"
    (style,) = [h.proto.body for h in at.get("html") if "stSidebar" in h.proto.body]
    assert "display: none" in style and "font-size: 21px" in style and ".st-key-stop" in style
    assert chart_height(at, "Op probabilities per node") > normal
    assert not at.get("popover")                                      # no link box on a projector
    learn = open_app(monkeypatch, runs, tmp_path, {"page": "learn", "projector": "1"})
    assert learn.toggle(key="projector").value is True
    assert "view" not in [s.key for s in learn.selectbox]                # the lesson, not a run
    assert any(m.value.startswith("**Step 1 of") for m in learn.markdown)
