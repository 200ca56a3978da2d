"""The shipped demos (`app.replay.DEMOS`): each recording in the assets folder is offered under its title, one not
recorded yet is not; picking one replays it, and the page's address holds the choice (AppTest)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402

from app import replay as app_replay  # noqa: E402
from enas.cli.main import main as enas  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.runs import recording  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

SEED, LAPTOP = "cifar10-demo", "cifar10-laptop-demo"
TITLES = {d.name: f"{d.title} · recorded demo (read-only)" for d in app_replay.DEMOS}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A runs folder holding `tiny`, a 2-epoch search of the built-in shapes data, and its recording made with
    `python -m enas record`."""
    runs = tmp_path_factory.mktemp("runs")
    store = RunStore.create(runs, "tiny", tiny_config())
    Engine(store.config(), store).run(("search",))
    store.close()
    path = runs.parent / "tiny.json.gz"
    assert enas(["--runs-dir", str(runs), "record", "tiny", str(path), "--note", "a tiny shapes search"]) == 0
    return runs, path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One rebuilt copy of each recording for the module's tests."""
    return tmp_path_factory.mktemp("cache")


def open_app(monkeypatch, assets: Path, runs: Path, cache: Path, **query):
    """The app with the demos of `assets` and the runs of `runs`, opened at the address `?query`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setattr(app_replay, "ASSETS", assets)
    monkeypatch.setenv("ENAS_RUNS_DIR", str(runs))
    monkeypatch.setenv("ENAS_DEMO_CACHE", str(cache))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def shipped(tmp_path, laptop: Path | None = None) -> Path:
    """An assets folder holding the shipped seed-settings recording and, if given, `laptop` as the laptop demo."""
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / f"{SEED}.json.gz").symlink_to(recording.DEMO_FILE)
    if laptop:
        (assets / f"{LAPTOP}.json.gz").symlink_to(laptop)
    return assets


def shown(at):
    """(run picked, its epochs done, the demo in the address, the caption under the picker)."""
    done = next(m.value for m in at.metric if m.label == "Epochs done")
    caption = next((c.value for c in at.main.caption if "Recorded: " in c.value), None)
    return at.selectbox(key="view").value, done, at.query_params.get("demo"), caption


def test_with_only_the_seed_recording_the_app_offers_it_under_its_title_and_replays_it(tmp_path, monkeypatch,
                                                                                       cache):
    at = open_app(monkeypatch, shipped(tmp_path), tmp_path / "runs", cache)
    assert at.selectbox(key="view").options == [TITLES[SEED]]        # the laptop demo is not recorded yet
    assert TITLES[SEED] == ("CIFAR-10, seed report's settings: the controller barely moves · recorded demo "
                            "(read-only)")
    assert "replay one of the recorded CIFAR-10 demos below" in at.info[0].value
    picked, done, demo, caption = shown(at)
    assert (picked, done, demo) == (SEED, "1/100", None)                # opened as the only run: not picked
    assert caption.startswith("With the seed report's settings the controller barely moves: after 100 epochs")
    assert "Recorded: seed preset, CIFAR-10 folder (20,000 training images), 100 epochs" in caption
    assert at.toggle(key=f"replay_on_{SEED}").value is True


def test_every_shipped_demo_is_offered_and_the_address_holds_the_one_picked(tiny_runs, tmp_path, monkeypatch,
                                                                             cache):
    runs, tiny = tiny_runs
    assets = shipped(tmp_path, laptop=tiny)
    at = open_app(monkeypatch, assets, runs, cache)
    assert at.selectbox(key="view").options == ["tiny · ENAS controller", TITLES[LAPTOP], TITLES[SEED]]
    assert at.selectbox(key="view").value == "tiny" and "demo" not in at.query_params   # a run of one's own
    at.selectbox(key="view").set_value(LAPTOP).run()
    picked, done, demo, caption = shown(at)
    assert (picked, done, demo) == (LAPTOP, "1/2", LAPTOP)               # the tiny recording's 2 epochs
    assert caption.startswith("What a learning controller looks like") and "Recorded: a tiny shapes search." in caption
    assert any(h.value.startswith(f"{LAPTOP} · ENAS controller · recorded, read-only") for h in at.subheader)
    at.selectbox(key="view").set_value(SEED).run()
    assert shown(at)[:3] == (SEED, "1/100", SEED)
    at.selectbox(key="view").set_value("tiny").run()
    assert "demo" not in at.query_params and at.query_params["preset"] == "quick"   # the sidebar's settings stay

    # a reload or a shared link opens the demo its address names; one not shipped here is named in a warning
    at = open_app(monkeypatch, assets, runs, cache, demo=LAPTOP)
    assert shown(at)[:3] == (LAPTOP, "1/2", LAPTOP)
    assert not at.sidebar.warning                                       # `demo` is not a setting the sidebar refuses
    at = open_app(monkeypatch, assets, runs, cache, demo="cifar100-demo")
    assert at.selectbox(key="view").value == "tiny" and "demo" not in at.query_params
    assert [w.value for w in at.main.warning if w.value.startswith("URL parameter")] == [
        f"URL parameter demo='cifar100-demo' is not a demo shipped here (shipped: {LAPTOP}, {SEED})"]
