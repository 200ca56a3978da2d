"""One controller update, step by step, for teaching: what REINFORCE sees and what it changes.

`one_update(seed)` runs the start of a tiny search with the project's own `Engine` on the built-in shapes data
(the `quick` preset on 3 nodes): a few epochs of shared-weight training, `earlier_steps` controller steps (so
that the baseline is a real moving average), then the step shown. That step samples M children, scores each
with the shared weights on one validation minibatch (the same batch for every child, so their rewards
compare; the search draws one per child), and applies one update with the project's `Reinforce`. The update
is Adam's first step (a fresh `Reinforce` with the run's settings, holding the baseline so far): its direction
is this step's gradient alone, not momentum from the earlier steps. Its learning rate is 10x the quick
preset's (which the earlier steps use), so that one step shows.

The op distribution at node k depends on the decisions at nodes 0..k-1 (the LSTM reads them). The op
probabilities before and after are taken along the decisions of the child with the largest advantage (`focus`),
by teacher forcing; node 0 has nothing before it, so its distribution is the same for every child.

The step raises the sum of advantage x log-probability over the children, to first order, but need not move each
op at a node the way that node's own choices ask: every node and every skip decision share the LSTM's weights
(with one node and one child it must; tests/test_lesson.py). `push` is minus the loss's gradient on each op's
bias in the output layer that every node shares (read after the step; Adam's first step moves each bias by the
learning rate in its direction): each child adds, at every node, its advantage x (1 if it chose the op there,
minus the op's probability there), scaled by the tanh's slope. Node 0's probabilities follow its signs for
nearly every op.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from enas.config import Config
from enas.controller import Reinforce
from enas.data.shapes import _one_thread
from enas.engine.search import Engine
from enas.seeds import stream

SETTINGS = {"dataset": "shapes:2000", "val_size": 200, "nodes": 3, "channels": 16, "batch_size": 64,
            "device": "cpu", "precision": "fp32", "threads": 1,   # one thread: the same numbers everywhere
            # the update the texts explain: no warm-up, a moving-average baseline, Adam's classic first step
            # (beta1 0.9, eps 1e-8: each parameter moves by the learning rate), the seed notebook's controller
            "warmup_epochs": 0, "reward_baseline": "moving-average", "reward_batch": "own", "lstm_layers": 2,
            "temperature": 5.0, "tanh_constant": 2.5, "controller_beta1": 0.9, "controller_eps": 1e-8}


@dataclass
class Lesson:
    """One update in plain data; per-child lists are in sampling order, probabilities are [node][op]."""
    seed: int
    ops: list
    children: list              # Architecture values
    accuracy: list              # on one validation minibatch, shared weights
    entropy: list               # the controller's entropy of each child's decisions
    rewards: list               # accuracy + entropy_weight x entropy
    earlier_rewards: list       # per earlier controller step, its children's rewards
    earlier_baselines: list     # the baseline after each earlier step
    baseline_before: float
    baseline_after: float
    advantages: list            # reward - baseline_before
    log_probs: list             # log-probability of each child under the policy before the update
    skip_penalty: list
    focus: int                  # the child whose earlier decisions condition `before` and `after`
    before: list                # op probabilities at each node along children[focus], before the update
    after: list                 # the same, after
    push: list                  # per op, minus the loss's gradient on its bias in the shared output layer
    metrics: dict               # what Reinforce.step returned (its means, baseline and loss)
    entropy_weight: float
    baseline_decay: float
    skip_weight: float
    lr: float
    batch_size: int             # images in the validation minibatch
    val_images: int             # images in the validation split
    child_steps: int            # shared-weight training steps before the controller's steps


def warm_up(seed: int = 0, nodes: int = 3, children: int = 4, earlier_steps: int = 2, child_epochs: int = 4,
            **settings) -> tuple[Engine, list, list]:
    """A tiny search up to the step shown: shared weights trained `child_epochs` passes over the training
    split, then `earlier_steps` controller steps of `children` children. Returns the engine, the earlier
    steps' rewards and baselines. `settings` are Config fields over SETTINGS (e.g. entropy_weight=0)."""
    if earlier_steps < 1:
        raise ValueError("earlier_steps must be at least 1: the baseline before the step is their moving average")
    config = Config.from_dict({**SETTINGS, "seed": seed, "nodes": nodes, "controller_children": children,
                               "controller_steps": earlier_steps, "epochs": child_epochs, **settings},
                              preset="quick")
    rewards, baselines = [], []

    def listen(event):   # a step's metrics come first, then its samples
        if event["kind"] == "controller_step":
            baselines.append(event["baseline"])
            rewards.append([])
        elif event["kind"] == "sample":
            rewards[-1].append(event["reward"])

    with torch.random.fork_rng():   # Engine seeds the global generator for its initial weights
        engine = Engine(config, listeners=[listen])
        for epoch in range(child_epochs):
            engine.train_children(epoch)
        engine.train_controller(child_epochs - 1)
    return engine, rewards, baselines


def update(engine: Engine, earlier_rewards: list, earlier_baselines: list, lr: float = 0.03) -> Lesson:
    """The step shown: sample, score on one validation minibatch, one REINFORCE update at learning rate `lr`
    (mutates the engine's controller)."""
    c, controller = engine.config, engine.sampler
    reinforce = Reinforce(controller, lr, c.entropy_weight, c.baseline_decay, c.skip_weight,
                          (c.controller_beta1, 0.999), c.controller_eps)
    reinforce.baseline = baseline = engine.reinforce.baseline
    sample = controller.sample(c.controller_children, generator=stream(c.seed, "lesson-children"))
    # the same validation minibatch for every child: each scored from a fresh copy of one stream
    accuracy = torch.cat([engine.rewards([a], stream(c.seed, "lesson-val")) for a in sample.archs])
    # per child, as Reinforce.step computes them (it reports their means only; the tests compare)
    rewards = (accuracy + c.entropy_weight * sample.entropy.detach()).tolist()
    advantages = [r - baseline for r in rewards]
    focus = max(range(len(rewards)), key=advantages.__getitem__)
    before = sample.op_probs[focus].tolist()
    metrics = reinforce.step(sample, accuracy)
    push = (-controller.op_head.bias.grad).tolist()   # Reinforce leaves the step's gradients in place
    with torch.no_grad():
        after = controller.score([sample.archs[focus]]).op_probs[0].tolist()
    return Lesson(
        seed=c.seed, ops=list(c.ops), children=list(sample.archs), accuracy=accuracy.tolist(),
        entropy=sample.entropy.tolist(), rewards=rewards, earlier_rewards=earlier_rewards,
        earlier_baselines=earlier_baselines, baseline_before=baseline, baseline_after=reinforce.baseline,
        advantages=advantages, log_probs=sample.log_prob.tolist(), skip_penalty=sample.skip_penalty.tolist(),
        focus=focus, before=before, after=after, push=push, metrics=metrics, entropy_weight=c.entropy_weight,
        baseline_decay=c.baseline_decay, skip_weight=c.skip_weight, lr=lr,
        batch_size=c.batch_size, val_images=len(engine.val_data), child_steps=engine.step)


def one_update(seed: int = 0, nodes: int = 3, children: int = 4, earlier_steps: int = 2, child_epochs: int = 4,
               lr: float = 0.03, **settings) -> Lesson:
    """One controller update of a tiny search on the shapes data, as plain data; the same for the same
    arguments. A few seconds on a CPU, on one intra-op thread (its ops are small: on a busy machine more
    threads wait for each other, see `shapes._one_thread`), which also keeps the numbers the same everywhere."""
    def run():
        engine, rewards, baselines = warm_up(seed, nodes, children, earlier_steps, child_epochs, **settings)
        return update(engine, rewards, baselines, lr)

    return _one_thread(run)
