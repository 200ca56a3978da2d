"""Health warnings: each condition from a planted stream of controller steps, once; and through the engine."""
import pytest

from conftest import tiny_config
from enas.health import HealthCheck
from enas.search import Engine
from enas.space import Architecture
from enas.store import RunStore

MIXED = [Architecture.parse(s) for s in ("c3 c5:1 mp:01", "c1 ap:0 c3:10", "mp c3:1 c5:00", "ap c1:0 mp:11")]


def test_a_healthy_stream_raises_nothing():
    h = HealthCheck(window=8)
    assert all(h.update(3.0 - 0.1 * k, MIXED) == [] for k in range(10))


def test_entropy_collapse_warns_once():
    h = HealthCheck(entropy_fraction=0.5, window=8)
    assert h.update(4.0, MIXED) == [] and h.update(2.1, MIXED) == []
    (w,) = h.update(1.9, MIXED)
    assert w["code"] == "entropy" and "1.90 is below 0.5 of its starting value 4.00" in w["message"]
    assert h.update(1.0, MIXED) == []


def test_one_op_taking_a_node_warns_naming_node_and_op():
    h = HealthCheck(op_share=0.9, window=10)
    collapsed = [Architecture.parse(s) for s in ("c3 c5:1 mp:01", "c3 ap:0 c3:10")]
    assert h.update(3.0, MIXED + collapsed) == []       # the window is not full yet
    warnings = h.update(3.0, collapsed * 5)
    assert [w["code"] for w in warnings] == ["op-0"]
    assert warnings[0]["message"].startswith("node 0: conv3x3 in 10 of the last 10 samples")


@pytest.mark.parametrize("text, near", [("c3 c5:0 mp:00", "0"), ("c3 c5:1 mp:11", "1")])
def test_skip_rate_pinned_warns(text, near):
    h = HealthCheck(window=4, op_share=1.0)
    (w,) = h.update(3.0, [Architecture.parse(text)] * 4)
    assert w["code"] == "skips" and f"pinned near {near}" in w["message"]


def test_the_engine_emits_each_warning_once_and_not_again_after_a_resume(runs_dir):
    config = tiny_config(epochs=2, health_entropy_fraction=1.0)   # any step after the first is "below" 1.0 x
    store = RunStore.create(runs_dir, "h", config)
    engine = Engine(config, store)
    engine.run(("search",))
    warnings = [e for e in store.events("alert") if e.get("check")]
    assert [w["check"] for w in warnings] == ["entropy"] and warnings[0]["level"] == "warning"
    resumed = Engine(config.replace(epochs=3), RunStore.open(runs_dir, "h"))
    resumed.run(("search",))
    assert [e["check"] for e in resumed.store.events("alert") if e.get("check")] == ["entropy"]


def test_random_search_is_not_watched(runs_dir):
    assert Engine(tiny_config(controller="random")).health is None
