"""Every view follows the moment shown (issue 18): the policy follows the replay scrubber, playback and a live
run; health and rank-check banners name the epoch or check they describe and show its newest state; playback
keeps its stated rate. Playback runs on a clock the test moves (no sleeps); a real tiny run's events, with
planted accuracies and rank checks, make the banners' figures known."""
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config, wait  # noqa: E402

from app import replay as app_replay  # noqa: E402
from app.registry import get_registry  # noqa: E402
from enas.engine.search import Engine  # noqa: E402
from enas.quality.health import HealthCheck  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

EPOCHS = 6
NAME = "planted"
# epoch (1-based) -> (controller samples' accuracy, random architectures'): no better for epochs 1-3, then ahead
ACCS = {1: (0.30, 0.40), 2: (0.31, 0.41), 3: (0.32, 0.42), 4: (0.50, 0.40), 5: (0.51, 0.41), 6: (0.52, 0.42)}
TAUS = (0.07, 0.33)   # two rank checks: the first warns, the newest does not
ROWS = [{"arch": a, "shared_acc": s, "standalone_acc": t} for a, s, t in
        (("c3 c5:1 mp:01", 0.5, 0.6), ("c1 ap:0 c3:10", 0.4, 0.5), ("mp c3:1 c5:00", 0.3, 0.2))]


@pytest.fixture(scope="module")
def real_events(tmp_path_factory):
    """The events of a real tiny ENAS run: EPOCHS search epochs, then derive."""
    config = tiny_config(epochs=EPOCHS, health_entropy_fraction=0.0)
    store = RunStore.create(tmp_path_factory.mktemp("real"), "real", config)
    assert Engine(config, store).run(("search", "derive")) == "finished"
    store.commit()
    return config, store.events()


def plant(runs: Path, config, events: list) -> RunStore:
    """Run NAME in `runs`: the real events with ACCS as each epoch's accuracies and the engine's own alerts for
    them (a start warning, the random warning at epoch 3), then two rank checks, the first alerting."""
    store = RunStore.create(runs, NAME, config)
    health = HealthCheck.of(config)

    def log(kind, epoch=None, step=None, **data):
        store.log(kind, data, epoch, step)
    log("alert", 0, 0, level="warning", message="fp16 is slow on this device")
    for ev in events:
        kind, epoch, step = ev["kind"], ev["epoch"], ev["step"]
        data = {k: v for k, v in ev.items() if k not in ("id", "kind", "epoch", "step", "t")}
        if kind == "alert":
            continue
        if kind == "policy":
            for w in health.update_epoch(*ACCS[epoch + 1]):
                log("alert", epoch, step, level="warning", message=w["message"], check=w["code"])
        if kind == "epoch":
            data["val_acc"], data["random_val_acc"] = ACCS[epoch + 1]
        log(kind, epoch, step, **data)
    for tau in TAUS:
        log("rankcheck_result", EPOCHS, None, epochs=1, k=len(ROWS), rows=ROWS, kendall_tau=tau,
            kendall_tau_95=[tau - 0.5, tau + 0.5], spearman_rho=tau, spearman_rho_95=[tau - 0.5, tau + 0.5])
        if tau < config.health_min_tau:
            log("alert", EPOCHS, None, level="warning", check="rank",
                message=f"rank check: Kendall tau {tau:.2f} between shared-weight and stand-alone accuracy is low")
    store.set_status("finished", "planted")
    store.commit()
    return store


class Clock:
    """The replay's clock, moved by the test."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def app(real_events, tmp_path, monkeypatch):
    """The app on a runs folder holding the planted run, opened in replay at epoch 1; no demo; a test clock."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    runs = tmp_path / "runs"
    plant(runs, *real_events)
    monkeypatch.setenv("ENAS_RUNS_DIR", str(runs))
    monkeypatch.setattr(app_replay, "ASSETS", tmp_path / "no-assets")   # no demo offered
    clock = Clock()
    monkeypatch.setattr(app_replay, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    at.toggle(key=f"replay_on_{NAME}").set_value(True).run()
    assert not at.exception, at.exception
    at.clock = clock
    return at


def scrub(at, position):
    next(s for s in at.select_slider if s.key.startswith("replay_slider_")).set_value(position).run()
    assert not at.exception, at.exception


def policy_caption(at) -> str:
    (caption,) = [c.value for c in at.caption if c.value.startswith("the policy after")]
    return caption


def epochs_done(at) -> str:
    return next(m.value for m in at.metric if m.label == "Epochs done")


def test_advance_keeps_the_rate_and_skips_epochs_when_redraws_are_slow():
    advance = app_replay.advance
    assert advance(3, 10, due=5.0, now=4.9, rate=1.0) == (3, 5.0)            # not due yet
    assert advance(3, 10, due=5.0, now=5.0, rate=1.0) == (4, 6.0)
    assert advance(3, 10, due=5.0, now=5.3, rate=5.0) == (5, 5.4)            # 5.0 and 5.2 were due: two epochs
    assert advance(3, 10, due=5.0, now=9.0, rate=1.0) == (8, 10.0)           # a slow redraw skips epochs
    assert advance(9, 10, due=5.0, now=9.0, rate=1.0) == (10, 10.0)          # at most to the end
    i, due, now = 0, 0.2, 0.0
    for _ in range(20):          # redraws taking 0.5 s at 5 epochs/s: 50 epochs in 10 s all the same
        now += 0.5
        i, due = advance(i, 1000, due, now, 5.0)
    assert (i, now) == (50, 10.0)
    assert list(app_replay.SPEEDS.values()) == [0.5, 1.0, 2.0, 5.0]        # the labels' epochs per second


def test_the_policy_follows_the_scrubber_to_the_end(app):
    at = app
    assert policy_caption(at) == "the policy after search epoch 1"
    scrub(at, 3)
    assert policy_caption(at) == "the policy after search epoch 3"
    scrub(at, app_replay.END)
    assert policy_caption(at) == f"the policy after search epoch {EPOCHS}"
    scrub(at, 2)
    assert policy_caption(at) == "the policy after search epoch 2"


def test_a_picked_epoch_holds_for_its_moment_only(app):
    at = app
    scrub(at, 5)
    at.select_slider(key="policy_at").set_value(2).run()
    assert policy_caption(at) == "the policy after search epoch 2 (picked; the newest shown is after epoch 5)"
    at.run()
    assert policy_caption(at).startswith("the policy after search epoch 2 ")   # kept while the moment stays
    scrub(at, 4)
    assert policy_caption(at) == "the policy after search epoch 4"


def test_the_policy_follows_playback_at_the_chosen_speed(app):
    at = app
    next(b for b in at.button if b.label == "Play").click().run()
    for k in range(2, EPOCHS + 1):
        at.clock.now += 1.0                   # 1 epoch/s: one epoch due per second
        at.run()
        assert (epochs_done(at), policy_caption(at)) == (f"{k}/{EPOCHS}", f"the policy after search epoch {k}")
    at.clock.now += 1.0
    at.run()
    assert policy_caption(at) == f"the policy after search epoch {EPOCHS}"   # derive & final: the end
    assert [b.label for b in at.button if b.label in ("Play", "Pause")] == ["Play"]   # stopped there
    scrub(at, 1)
    at.selectbox(key=f"replay_speed_{NAME}").set_value("5 epochs/s").run()
    next(b for b in at.button if b.label == "Play").click().run()
    at.clock.now += 0.5                       # a slow redraw: 2 epochs were due (0.2 s and 0.4 s after Play)
    at.run()
    assert (epochs_done(at), policy_caption(at)) == (f"3/{EPOCHS}", "the policy after search epoch 3")


def test_the_random_warning_names_its_epoch_and_shows_the_moment_s_figures(app):
    at = app
    scrub(at, 2)
    assert not [w for w in at.warning if "no better than" in w.value]       # 2 epochs behind: under the 3
    scrub(at, 3)
    (w,) = [w.value for w in at.warning if "no better than" in w.value]
    assert w.startswith("**Search epoch 3**: for 3 epochs") and "0.320 against 0.420" in w
    scrub(at, 5)
    assert not [w for w in at.warning if "no better than" in w.value]
    (note,) = [i.value for i in at.info if "no longer holds" in i.value]
    assert note.startswith("**Search epoch 5**: the controller's samples scored 0.510 against 0.410")
    assert "ahead of them" in note and "The warning of search epoch 3 (no better than random)" in note
    (start,) = [w.value for w in at.warning if "fp16" in w.value]
    assert start == "**Search epoch 1**: fp16 is slow on this device"       # an alert names its moment too


def test_the_rank_banner_agrees_with_the_newest_rank_check(app):
    at = app
    scrub(at, app_replay.END)
    assert not [w for w in at.warning if "Kendall tau" in w.value]
    (note,) = [i.value for i in at.info if "Kendall tau" in i.value]
    assert note.startswith("**Rank check 2**: Kendall tau +0.33") and "rank check 1" in note
    (caption,) = [c.value for c in at.caption if c.value.startswith("Rank check")]
    assert caption.startswith("Rank check 2, the newest") and "Kendall tau +0.33" in caption


def test_a_live_run_shows_its_newest_policy_when_it_ends(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    runs = tmp_path / "runs"
    monkeypatch.setenv("ENAS_RUNS_DIR", str(runs))
    monkeypatch.setattr(app_replay, "ASSETS", tmp_path / "no-assets")   # no demo offered
    st.cache_resource.clear()
    registry = get_registry(str(runs.resolve()))
    epochs = 8
    name = registry.start(tiny_config(epochs=epochs))
    entry = registry.view(name)
    try:
        wait(lambda: len(entry.live.policies()) >= 2, what="two epochs")
        registry.pause(name)
        wait(lambda: entry.live.status == "paused", what="the pause")
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
        at.run()
        at.selectbox(key="view").set_value(name).run()
        seen = len(entry.live.policies())
        assert seen < epochs and policy_caption(at) == f"the policy after search epoch {seen}"
        registry.unpause(name)
        wait(lambda: not entry.running_here, what="the search to finish")
        at.run()
        assert not at.exception, at.exception
        assert epochs_done(at) == f"{epochs}/{epochs}"
        assert policy_caption(at) == f"the policy after search epoch {epochs}"
    finally:
        if entry.running_here:
            registry.stop(name)
        if entry.thread is not None:
            entry.thread.join(30)


def test_the_cifar10_demo_follows_to_the_end(tmp_path, monkeypatch):
    """The shipped recording (its alerts made before they were followed): the policy and the banner follow."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ENAS_DEMO_CACHE", str(tmp_path / "cache"))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.query_params["demo"] = "cifar10-demo"      # the seed-preset recording, whatever other demos ship
    at.run()
    scrub(at, 29)
    (w,) = [w.value for w in at.warning if "no better than" in w.value]
    assert w.startswith("**Search epoch 28**: for 3 epochs") and "0.408 against 0.417" in w
    scrub(at, 31)
    assert policy_caption(at) == "the policy after search epoch 31"
    (note,) = [i.value for i in at.info if "no longer holds" in i.value]
    assert note.startswith("**Search epoch 30**: the controller's samples scored 0.419 against 0.394")
    scrub(at, 81)
    assert not [w for w in at.warning if "no better than" in w.value]
    (note,) = [i.value for i in at.info if "no longer holds" in i.value]
    assert note.startswith("**Search epoch 80**: the controller's samples scored 0.506 against 0.525")
    assert "The warning of search epoch 66" in note
    scrub(at, app_replay.END)
    assert policy_caption(at) == "the policy after search epoch 100"


def sample_card(at) -> str:
    (card,) = [m.value for m in at.markdown if m.value.startswith("**Sample ")]
    return card


def test_the_architectures_tab_follows_the_scrubber_and_keeps_the_outline_choice(app):
    at = app
    at.session_state[f"tabs-{NAME}"] = "Architectures"
    scrub(at, 3)
    newest = sample_card(at)
    assert " · epoch 3 · " in newest
    at.button(key="hist_prev").click().run()               # a pick of an earlier sample, at this moment
    picked = sample_card(at)
    assert picked != newest
    at.radio(key="diff_ref").set_value("likely").run()     # outline against the policy's most likely
    at.run()
    assert sample_card(at) == picked                       # the pick holds while the moment stays
    scrub(at, 5)
    assert " · epoch 5 · " in sample_card(at)              # a new moment: its newest sample
    radio = at.radio(key="diff_ref")
    assert radio.value == "likely" and "(after epoch 5)" in radio.format_func(radio.value)
