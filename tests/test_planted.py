"""The search-quality tools on planted structure: accuracies come from a known function of the architecture
(plus noise) instead of trained networks, so what each tool must conclude is known.

- One op truly better: the controller learns it, the race says ENAS is ahead, the rank check's tau is near 1.
- Pure noise: the rank check's tau is near 0 and the "no better than random" warning fires.
"""
import random

import torch
from conftest import tiny_config

import enas.scale.race
from enas.engine.search import Engine
from enas.quality.rankcheck import rank_check
from enas.runs.store import RunStore
from enas.scale.race import race

WEIGHTS = (0.30, 0.20, 0.10)     # conv3x3 at node 0, 1, 2 is worth this much
SKIP_WEIGHTS = (0.016, 0.008, 0.004)


def good_op(arch) -> float:
    """conv3x3 is truly better; every architecture has its own value (few ties)."""
    bits = [b for row in arch.skips for b in row]
    return 0.2 + sum(w for w, op in zip(WEIGHTS, arch.ops) if op == "conv3x3") + \
        sum(w for w, b in zip(SKIP_WEIGHTS, bits) if b)


def noise(arch) -> float:
    return 0.5


def planted(quality, sigma):
    class Planted(Engine):
        """An engine whose accuracies are quality(arch) + Gaussian noise of `sigma` (its own seeded stream)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.rng = random.Random(self.config.seed)

        def score(self, arch):
            return quality(arch) + self.rng.gauss(0.0, sigma)

        def rewards(self, archs, generator=None):
            return torch.tensor([self.score(a) for a in archs])

        def shared_accuracy(self, arch):
            return self.score(arch)

        def standalone_accuracy(self, arch, epochs, kind):
            acc = self.score(arch)
            return {"val_acc": acc, "test_acc": acc}
    return Planted


CONFIG = dict(epochs=8, steps_per_epoch=1, controller_steps=10, controller_children=10, controller_lr=5e-3,
              entropy_weight=0.0, derive_samples=30)


def test_a_truly_better_op_is_learned_wins_the_race_and_ranks_with_tau_near_1(runs_dir, monkeypatch):
    Planted = planted(good_op, 0.002)
    monkeypatch.setattr(enas.scale.race, "Engine", Planted)
    config = tiny_config(**{**CONFIG, "derive_samples": 3})    # derive keeps the best of 3 samples on each side
    result = race(config, runs_dir, "good", [0, 1, 2], baseline=8, epochs=1)
    assert result["verdict"].startswith("ENAS ahead by"), result["verdict"]
    assert all(r["arch"].split()[0] == "c3" for r in result["enas"])             # the best op at the best node
    assert result["summary"]["enas"]["mean"] > result["baseline_median"] + 0.2
    diverse = tiny_config(**{**CONFIG, "controller": "random"})                   # 30 samples of every kind
    engine = Planted(diverse, RunStore.create(runs_dir, "diverse", diverse))
    engine.run(("search", "derive"))
    ranks = rank_check(engine, k=10, epochs=1)
    assert ranks["kendall_tau"] > 0.8 and ranks["kendall_tau_95"][0] > 0.5, ranks


def test_pure_noise_ranks_with_tau_near_0_and_warns_that_enas_is_no_better_than_random(runs_dir):
    Planted = planted(noise, 0.05)
    config = tiny_config(**{**CONFIG, "epochs": 12, "health_random_epochs": 2})
    engine = Planted(config, RunStore.create(runs_dir, "noise", config))
    engine.run(("search", "derive"))
    warned = [e for e in engine.store.events("alert") if e.get("check") == "random"]
    assert len(warned) == 1 and "no better than uniformly random architectures" in warned[0]["message"]
    ranks = rank_check(engine, k=16, epochs=1)
    assert abs(ranks["kendall_tau"]) < 0.35, ranks
    lo, hi = ranks["kendall_tau_95"]
    assert lo < 0 < hi                                                             # no evidence of any order
