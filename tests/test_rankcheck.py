"""The rank check: rank statistics against hand-computed values, which architectures it retrains, and the
whole check on a tiny run (deterministic, resumable, from the command line)."""
import json
import math

import pytest
from conftest import tiny_config
from test_cli import enas, flags

from enas.engine.search import Engine
from enas.quality.rank import (
    bootstrap_interval,
    kendall_tau,
    ranks,
    spearman_rho,
    top,
    top_k_agreement,
)
from enas.quality.rankcheck import pick_spread, rank_check
from enas.runs.store import RunStore
from enas.space import Architecture


@pytest.mark.parametrize("x, y, tau, rho", [
    ([1, 2, 3, 4], [1, 3, 2, 4], 4 / 6, 0.8),            # 5 concordant pairs, 1 discordant; sum d^2 = 2
    ([1, 2, 2, 3], [1, 2, 3, 3], 0.8, 3.75 / 4.5),       # tau-b: one tie on each side
    ([0.1, 0.2, 0.3], [3, 2, 1], -1.0, -1.0),
    ([0.5, 0.7, 0.6], [0.2, 0.9, 0.4], 1.0, 1.0),
])
def test_rank_statistics_by_hand(x, y, tau, rho):
    assert kendall_tau(x, y) == pytest.approx(tau)
    assert spearman_rho(x, y) == pytest.approx(rho)


def test_ties_share_their_average_rank_and_constant_scores_have_no_correlation():
    assert ranks([0.3, 0.1, 0.3, 0.2]) == [3.5, 1.0, 3.5, 2.0]
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3])) and math.isnan(spearman_rho([1, 2, 3], [5, 5, 5]))
    with pytest.raises(ValueError, match="different lengths"):
        kendall_tau([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2 architectures"):
        spearman_rho([1], [1])


@pytest.mark.parametrize("x, y, k, agreement", [
    ([0.1, 0.4, 0.3, 0.2], [0.2, 0.1, 0.4, 0.3], 2, 0.5),   # tops {1, 2} and {2, 3}
    ([0.5, 0.5, 0.5, 0.1], [0.1, 0.5, 0.5, 0.5], 2, 0.5),   # ties by position: {0, 1} and {1, 2}
    ([1, 2, 3], [3, 2, 1], 1, 0.0),
    ([1, 2, 3, 4], [10, 20, 30, 40], 3, 1.0),
])
def test_top_k_agreement_by_hand(x, y, k, agreement):
    assert top_k_agreement(x, y, k) == agreement == top_k_agreement(y, x, k)


def test_top_k_breaks_ties_by_position_and_refuses_a_k_out_of_range():
    assert top([0.3, 0.5, 0.5, 0.1], 3) == [1, 2, 0]
    for k in (0, 4):
        with pytest.raises(ValueError, match="1 <= k <= 3"):
            top_k_agreement([1, 2, 3], [1, 2, 3], k)


def test_bootstrap_interval_contains_the_statistic_and_is_reproducible():
    x = [0.31, 0.35, 0.30, 0.40, 0.38, 0.33, 0.29, 0.36]
    y = [0.52, 0.55, 0.50, 0.58, 0.51, 0.56, 0.49, 0.57]
    lo, hi = bootstrap_interval(x, y, kendall_tau)
    assert lo <= kendall_tau(x, y) <= hi and -1 <= lo < hi <= 1
    assert bootstrap_interval(x, y, kendall_tau) == (lo, hi)
    assert bootstrap_interval(x, x, kendall_tau) == (1.0, 1.0)


def test_the_architectures_retrained_are_the_top_half_and_a_spread_over_the_rest():
    ranking = [{"arch": str(i)} for i in range(10)]
    assert [r["arch"] for r in pick_spread(ranking, 4)] == ["0", "1", "2", "9"]
    assert [r["arch"] for r in pick_spread(ranking, 3)] == ["0", "1", "9"]
    assert [r["arch"] for r in pick_spread(ranking, 7)] == ["0", "1", "2", "3", "4", "6", "9"]
    assert pick_spread(ranking, 12) == ranking


def test_rank_check_of_a_tiny_run_is_exact_and_resumes_without_retraining(runs_dir):
    config = tiny_config(derive_samples=8, health_min_tau=1.0)
    store = RunStore.create(runs_dir, "rc", config)
    engine = Engine(config, store)
    engine.run(("search", "derive"))
    ranking = store.events("derive_result")[0]["ranking"]
    events = []
    engine.listeners.append(events.append)
    result = rank_check(engine, k=3, epochs=1)
    rows = result["rows"]
    assert [r["arch"] for r in rows] == [r["arch"] for r in pick_spread(ranking, 3)]
    assert [r["shared_acc"] for r in rows] == [r["val_acc"] for r in pick_spread(ranking, 3)]
    again = Engine(config)                      # stand-alone accuracy: the final recipe, from scratch
    for r in rows:
        _, acc, _ = again.train_child(Architecture.parse(r["arch"]), "scratch", 1, "rankcheck")
        assert acc == r["standalone_acc"]
    x, y = [r["shared_acc"] for r in rows], [r["standalone_acc"] for r in rows]
    assert result["kendall_tau"] == kendall_tau(x, y) or math.isnan(result["kendall_tau"])
    assert json.loads((store.path / "rankcheck.json").read_text())["rows"] == rows
    assert store.meta()["rankcheck"]["rows"] == rows and store.status() == "finished"
    assert sum(e["kind"] == "rankcheck_child" for e in events) == 3
    warned = [e for e in events if e["kind"] == "alert" and e.get("check") == "rank"]
    assert len(warned) == (0 if result["kendall_tau"] >= 1.0 else 1)
    events.clear()
    assert rank_check(Engine(config, RunStore.open(runs_dir, "rc")), k=3, epochs=1)["rows"] == rows
    assert not [e for e in events if e["kind"].startswith("rankcheck_")]   # nothing retrained


def test_rank_check_from_the_command_line(tmp_path):
    runs = tmp_path / "runs"
    enas("search", "--preset", "quick", "--name", "r", *flags(), runs_dir=runs)
    refused = enas("rankcheck", "r", runs_dir=runs, check=False)
    assert refused.returncode == 2 and "no derive ranking yet: run derive first" in refused.stderr
    assert RunStore.open(runs, "r").status() == "finished"     # refused before the run was touched
    enas("derive", "r", "--samples", 6, runs_dir=runs)
    out = enas("rankcheck", "r", "--k", 3, "--epochs", 1, runs_dir=runs).stdout
    assert "rank check: 3 architectures, each trained 1 epoch(s) from scratch" in out
    assert "Kendall tau" in out and "Spearman rho" in out and "95% bootstrap interval" in out
    bad = enas("rankcheck", "r", "--k", 1, runs_dir=runs, check=False)
    assert bad.returncode == 2 and "k >= 2" in bad.stderr


def test_derive_recheck_keeps_the_best_after_training_from_scratch(runs_dir):
    config = tiny_config(derive_samples=8)
    engine = Engine(config, RunStore.create(runs_dir, "re", config))
    engine.run(("search",))
    plain = engine.derive()
    ranking = engine.derive(recheck=3, recheck_epochs=1)
    top = {r["arch"] for r in plain[:3]}
    assert {r["arch"] for r in ranking[:3]} == top and all("recheck_acc" in r for r in ranking[:3])
    assert [r["recheck_acc"] for r in ranking[:3]] == sorted((r["recheck_acc"] for r in ranking[:3]), reverse=True)
    assert ranking[3:] == plain[3:] and not any("recheck_acc" in r for r in ranking[3:])
    again = Engine(config)
    for r in ranking[:3]:
        assert again.train_child(Architecture.parse(r["arch"]), "scratch", 1, "recheck")[1] == r["recheck_acc"]
    assert engine.store.meta()["best"] == ranking[0]["arch"] == str(engine.best)
    result = engine.store.events("derive_result")[-1]
    assert (result["recheck"], result["recheck_epochs"], result["best"]) == (3, 1, ranking[0]["arch"])


def test_derive_recheck_from_the_command_line(tmp_path):
    runs = tmp_path / "runs"
    enas("search", "--preset", "quick", "--name", "d", *flags(), runs_dir=runs)
    out = enas("derive", "d", "--samples", 6, "--recheck", 2, runs_dir=runs).stdout
    assert "re-check: derive's top 2 trained 1 epoch(s) from scratch" in out and "re-checked" in out
    bad = enas("derive", "d", "--recheck", -1, runs_dir=runs, check=False)
    assert bad.returncode == 2 and "--recheck -1" in bad.stderr
