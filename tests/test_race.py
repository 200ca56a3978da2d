"""The honest race: its verdict sentence, seeds, and a tiny race end to end (resumable, from the command line)."""
import json

import pytest
from conftest import tiny_config
from test_cli import enas, flags

from enas.cli.main import parse_seeds
from enas.config import ConfigError
from enas.runs.store import RunStore
from enas.scale.race import race, verdict


def result(enas_mean, enas_std, random_mean, random_std):
    return {"epochs": 2, "seeds": [0, 1, 2], "summary": {"enas": {"mean": enas_mean, "std": enas_std, "n": 3},
                                                         "random": {"mean": random_mean, "std": random_std, "n": 3}}}


def test_verdict_weighs_the_gap_against_the_seed_spread():
    assert verdict(result(0.62, 0.01, 0.58, 0.02)) == (
        "ENAS ahead by 4.0 points of test accuracy, 2.0 times the seed-to-seed spread, at this budget "
        "(2 epoch(s) of stand-alone training, 3 seed(s)).")
    assert verdict(result(0.60, 0.03, 0.58, 0.01)).startswith(
        "No difference at this budget (2 epoch(s) of stand-alone training, 3 seed(s)): ENAS +2.0 points")
    assert verdict(result(0.50, 0.01, 0.55, 0.01)).startswith("Random search ahead by 5.0 points")
    assert verdict(result(0.50, 0.0, 0.45, 0.0)).endswith("+5.0 points against random search at this budget (2 "
                                                          "epoch(s) of stand-alone training, 3 seed(s)), with no "
                                                          "seed-to-seed spread to weigh it against: run more seeds.")


def test_seeds_as_lists_and_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0-2, 7") == [0, 1, 2, 7]
    for bad in ("a", "1,1", "3-x", ""):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_a_tiny_race_end_to_end_and_resumed(runs_dir):
    config = tiny_config(epochs=1)
    first = race(config, runs_dir, "tiny", [0, 1], baseline=2, epochs=1)
    assert [r["seed"] for r in first["enas"]] == [0, 1] and [r["seed"] for r in first["random"]] == [0, 1]
    assert len(first["baseline"]) == 2 and first["metric"] == "test accuracy (whole test split)"
    for side in ("enas", "random"):
        for r in first[side]:
            store = RunStore.open(runs_dir, f"tiny-{side}-s{r['seed']}")
            assert store.config().controller == side and store.meta()["best"] == r["arch"]
            (event,) = [e for e in store.events("race_child") if e["arch"] == r["arch"]]
            assert event["test_acc"] == r["test_acc"]
    tests = [r["test_acc"] for r in first["enas"]]
    assert first["summary"]["enas"]["mean"] == pytest.approx(sum(tests) / 2)
    assert json.loads((runs_dir / "races" / "tiny.json").read_text()) == json.loads(json.dumps(first))
    again = race(config, runs_dir, "tiny", [0, 1], baseline=2, epochs=1)   # everything reused, nothing retrained
    assert again == first
    counts = [len(RunStore.open(runs_dir, f"tiny-{s}-s{k}").events("race_child")) for s in ("enas", "random")
              for k in (0, 1)]
    assert counts == [3, 1, 1, 1]   # the first ENAS run also holds the 2 random architectures
    with pytest.raises(ValueError, match="race run tiny-enas-s0 exists with other settings"):
        race(config.replace(channels=4), runs_dir, "tiny", [0, 1], baseline=2, epochs=1)


def test_race_from_the_command_line(tmp_path):
    runs = tmp_path / "runs"
    out = enas("race", "--preset", "quick", "--name", "r", "--seeds", "0-1", "--baseline", 2, *flags(epochs=1),
               runs_dir=runs).stdout
    assert "race r: test accuracy (whole test split) after 1 epoch(s) of training from scratch" in out
    assert "ENAS           mean" in out and "random architectures: median" in out
    assert ("ahead by" in out) or ("No difference" in out)
    bad = enas("race", "--seeds", "x", runs_dir=runs, check=False)
    assert bad.returncode == 2 and "--seeds x" in bad.stderr
