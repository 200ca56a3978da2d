"""Health warnings: each condition from a planted stream of controller steps, once; and through the engine."""
import pytest
from conftest import tiny_config

from enas.engine.search import Engine
from enas.quality.health import HealthCheck, policy_moved
from enas.runs.store import RunStore
from enas.space import Architecture

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


def test_no_better_than_random_for_k_epochs_in_a_row_warns_once():
    h = HealthCheck(random_epochs=3)
    assert h.update_epoch(0.40, 0.41) == [] and h.update_epoch(0.40, 0.40) == []
    assert h.update_epoch(0.45, 0.40) == []                       # ahead: the count starts again
    assert h.update_epoch(0.30, 0.35) == [] and h.update_epoch(0.30, 0.35) == []
    (w,) = h.update_epoch(0.30, 0.36)
    assert w["code"] == "random" and w["message"].startswith("for 3 epochs the controller's samples scored no "
                                                             "better than uniformly random architectures")
    assert h.update_epoch(0.20, 0.36) == [] and HealthCheck(random_epochs=0).update_epoch(0.1, 0.9) == []


def test_the_random_reference_is_reported_and_leaves_the_search_unchanged(runs_dir, monkeypatch):
    config = tiny_config(epochs=2)
    engine = Engine(config, RunStore.create(runs_dir, "ref", config))
    engine.run(("search",))
    refs = [e["random_val_acc"] for e in engine.store.events("epoch")]
    assert all(0 <= r <= 1 for r in refs) and len(refs) == 2
    monkeypatch.setattr(Engine, "random_reference", lambda self, epoch: 0.0)
    without = Engine(config, RunStore.create(runs_dir, "ref0", config))
    without.run(("search",))
    for k, v in engine.supergraph.state_dict().items():
        assert without.supergraph.state_dict()[k].equal(v), k
    rnd = tiny_config(epochs=1, controller="random")
    random_run = Engine(rnd, RunStore.create(runs_dir, "rnd", rnd))
    random_run.run(("search",))
    assert [e["random_val_acc"] for e in random_run.store.events("epoch")] == [None]


def test_policy_moved_is_the_total_variation_distance_per_node():
    start = [[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]]
    assert policy_moved(start, start) == [0.0, 0.0]
    assert policy_moved([[0.4, 0.1, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]], start) == pytest.approx([0.15, 1.0])


def test_a_frozen_policy_warns_once_after_still_epochs_of_controller_training():
    h = HealthCheck(still_epochs=10, still_move=0.05)
    frozen = [0.001, 0.012, 0.004]
    assert h.policy_conditions(frozen, 9) == {} and h.update_policy(frozen, 9) == []   # too early: off
    (w,) = h.update_policy(frozen, 10)
    assert w["code"] == "still" and w["message"].startswith(
        "the controller is not learning: after 10 epochs of controller training, no node's op probabilities have "
        "moved more than 0.012 from where they started (largest at node 1; warns under 0.05)")
    assert h.update_policy(frozen, 11) == []                          # warned once
    assert h.policy_conditions(frozen, 11)["still"][0]                # but its state still holds


def test_a_moving_policy_does_not_warn_and_says_how_far_it_moved():
    h = HealthCheck(still_epochs=3, still_move=0.05)
    assert h.update_policy([0.01, 0.08], 5) == []
    holds, message = h.policy_conditions([0.01, 0.08], 5)["still"]
    assert not holds and message == ("after 5 epochs of controller training, node 1's op probabilities have moved "
                                     "0.080 from where they started, the most of any node (warns under 0.05).")
    assert HealthCheck(still_epochs=0).update_policy([0.0], 100) == []   # off


def test_the_check_reads_the_still_thresholds_of_a_config():
    h = HealthCheck.of(tiny_config(health_still_epochs=4, health_still_move=0.2))
    assert (h.still_epochs, h.still_move) == (4, 0.2)
