"""The search's levers (issue 20): warm-up, eval-mode rewards, a shared reward batch and its size, the leave-one-out
baseline, the entropy bonus and the policy's movement, each against what it promises, computed here by hand."""
import pytest
import torch
from conftest import tiny_config

from enas.config import Config, ConfigError
from enas.controller import Reinforce, Sample
from enas.engine.search import Engine
from enas.space import Architecture

ARCHS = [Architecture.parse("c3 c5:1 mp:01"), Architecture.parse("ap mp:0 c1:11"), Architecture.parse("c1 c3:0 c5:10")]


def test_warm_up_trains_random_children_and_never_calls_the_controller():
    engine = Engine(tiny_config(epochs=3, warmup_epochs=2, controller_every=1))
    calls, forward = [], engine.sampler.forward
    engine.sampler.forward = lambda *a, **k: calls.append(engine.epoch) or forward(*a, **k)
    steps, step = [], engine.reinforce.step
    engine.reinforce.step = lambda *a: steps.append(engine.epoch) or step(*a)
    events = []
    engine.listeners.append(events.append)
    engine.search()
    assert steps and set(steps) == {2}                           # controller steps in epoch 2 only
    policy_calls = 3                                              # the policy event of each epoch asks it too
    assert sorted(set(calls)) == [0, 1, 2] and calls.count(0) == calls.count(1) == 1 < policy_calls
    assert calls.count(2) == 1 + 2 + 1     # after it: epoch 2's 4 children in one call, its 2 controller steps, its policy
    children = [e["arch"] for e in events if e["kind"] == "child_step" and e["epoch"] < 2]
    assert len(children) == 8 and len(set(children)) > 4          # a new random child every minibatch
    assert [e["val_acc"] is None for e in events if e["kind"] == "epoch"] == [True, True, False]


def test_warm_up_must_leave_the_controller_an_epoch():
    with pytest.raises(ConfigError, match="warmup_epochs"):
        tiny_config(epochs=3, warmup_epochs=3)
    assert tiny_config(epochs=3, warmup_epochs=3, controller="random").warmup_epochs == 3


def test_rewards_are_scored_without_dropout():
    engine = Engine(tiny_config(dropout=0.9))
    engine.train_children(0)
    first = engine.rewards(ARCHS * 2, torch.Generator().manual_seed(3))
    assert engine.supergraph.training                            # back in training mode for the next child step
    engine.supergraph.dropout.p = 0.0
    torch.testing.assert_close(engine.rewards(ARCHS * 2, torch.Generator().manual_seed(3)), first)


def test_a_shared_reward_batch_scores_every_child_on_the_same_images_of_its_size():
    sizes = []
    for mode in ("own", "shared"):
        engine = Engine(tiny_config(reward_batch=mode, reward_batch_size=24))
        seen, draw = [], engine.val_data.random_batch
        engine.val_data.random_batch = lambda n, g, **k: seen.append(n) or draw(n, g, **k)
        engine.train_children(0)
        rewards = engine.rewards([ARCHS[0]] * 6, torch.Generator().manual_seed(1))
        sizes.append(seen)
        if mode == "shared":
            assert len(set(rewards.tolist())) == 1                # one batch: one architecture, one reward
        else:
            assert len(set(rewards.tolist())) > 1
    assert sizes == [[24] * 6, [24]]


def fake_sample(log_prob, entropy):
    b = len(log_prob)
    return Sample(ARCHS[:b], log_prob, entropy, torch.zeros(b), torch.zeros(b, 3, 5), torch.zeros(b, 3, 3))


def test_leave_one_out_advantage_is_each_reward_against_the_mean_of_the_others():
    log_prob = torch.zeros(3, requires_grad=True)
    rl = Reinforce(torch.nn.Linear(1, 1), entropy_weight=0.0, skip_weight=0.0, reward_baseline="leave-one-out")
    rl.optimizer = None                                             # only the loss and its gradient are checked
    m = rl.step(fake_sample(log_prob, torch.zeros(3)), torch.tensor([0.1, 0.2, 0.6]))
    loss = (-log_prob * torch.tensor([0.1 - 0.4, 0.2 - 0.35, 0.6 - 0.15])).mean()
    assert m["controller_loss"] == pytest.approx(loss.item())
    assert m["baseline"] == pytest.approx(0.3) and m["advantage"] == pytest.approx(0.0, abs=1e-7)


def test_moving_average_baseline_is_unchanged_and_the_entropy_bonus_is_reported():
    rl = Reinforce(torch.nn.Linear(1, 1), entropy_weight=0.01, baseline_decay=0.5)
    rl.optimizer = None
    m = rl.step(fake_sample(torch.zeros(2), torch.tensor([2.0, 4.0])), torch.tensor([0.2, 0.4]))
    # rewards 0.22 and 0.44; baseline starts at their mean 0.33, then 0.5 x 0.33 + 0.5 x 0.22, then with 0.44
    assert m["baseline"] == pytest.approx(0.5 * (0.5 * 0.33 + 0.5 * 0.22) + 0.5 * 0.44)
    assert m["entropy_bonus"] == pytest.approx(0.03)
    assert m["reward"] == pytest.approx(0.33)


def test_leave_one_out_needs_two_children():
    with pytest.raises(ConfigError, match="reward_baseline"):
        Config.from_dict({"reward_baseline": "leave-one-out", "controller_children": 1})
    with pytest.raises(ValueError, match="baseline"):
        Reinforce(torch.nn.Linear(1, 1), reward_baseline="median")


def test_policy_events_say_how_far_each_node_moved_from_the_untrained_policy():
    config = tiny_config(epochs=2, controller_lr=0.3, controller_steps=6, controller_every=1)
    engine = Engine(config)
    untrained = engine.sampler.policy(256, generator=torch.Generator().manual_seed(9))["op_probs"]
    events = []
    engine.listeners.append(events.append)
    engine.search()
    policies = [e for e in events if e["kind"] == "policy"]
    assert len(policies) == 2
    assert Engine(config).start_policy == engine.start_policy       # the same start on a resume or a rerun
    for p in policies:
        hand = [0.5 * sum(abs(a - b) for a, b in zip(now, then))
                for now, then in zip(p["op_probs"], engine.start_policy)]
        assert p["moved"] == pytest.approx(hand)
    # the start is the untrained policy (up to its 256-draw estimate), and a large learning rate moves away
    assert max(abs(a - b) for r, q in zip(untrained, engine.start_policy) for a, b in zip(r, q)) < 0.05
    assert max(policies[-1]["moved"]) > 0.1


@pytest.mark.parametrize("lr, warns", [(0.0, True), (0.3, False)])
def test_the_engine_warns_that_a_frozen_controller_is_not_learning(lr, warns):
    engine = Engine(tiny_config(epochs=3, warmup_epochs=1, controller_every=1, controller_steps=6, controller_lr=lr,
                                health_still_epochs=2, health_still_move=0.05))
    events = []
    engine.listeners.append(events.append)
    engine.search()
    still = [e for e in events if e["kind"] == "alert" and e.get("check") == "still"]
    assert [e["epoch"] for e in still] == ([2] if warns else [])   # 2 controller epochs after 1 of warm-up


def test_random_architectures_are_scored_in_groups_like_the_controllers_children():
    engine = Engine(tiny_config(reward_batch="shared", controller_steps=4, controller_children=3))
    seen, draw = [], engine.val_data.random_batch
    engine.val_data.random_batch = lambda n, g, **k: seen.append(n) or draw(n, g, **k)
    engine.random_reference(0)
    assert seen == [engine.config.batch_size] * 4          # 12 random architectures, 3 to a minibatch
