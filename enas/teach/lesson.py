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

The knobs: `prepare(seed)` does the expensive part once (the tiny search up to the step, its children and their
accuracies, and a copy of the controller before the update) and `replay(draw, lr=..., entropy_weight=...,
baseline_decay=..., accuracy={child: accuracy})` makes the update again from that same state with other values:
exactly the project's `Reinforce` step, in milliseconds. The baseline before the step is the draw's (the earlier
steps made it): the decay sets only how this step's rewards move it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from enas.config import Config
from enas.controller import Controller, Reinforce
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
class Draw:
    """The step shown up to its update, by seed: the controller just before it (a copy), the children it sampled
    and their accuracies, and the draw's own knobs; `replay` makes the update from it."""
    seed: int
    ops: list
    children: list              # Architecture values, in sampling order
    accuracy: list              # on one validation minibatch, shared weights
    earlier_rewards: list       # per earlier controller step, its children's rewards
    earlier_baselines: list     # the baseline after each earlier step
    baseline: float             # the moving-average baseline before the step
    controller: Controller      # the controller before the step
    lr: float                   # the draw's own knobs
    entropy_weight: float
    baseline_decay: float
    skip_weight: float
    betas: tuple                # Adam's
    eps: float
    batch_size: int             # images in the validation minibatch
    val_images: int             # images in the validation split
    child_steps: int            # shared-weight training steps before the controller's steps


@dataclass
class Lesson:
    """One update in plain data; per-child lists are in sampling order, probabilities are [node][op]."""
    seed: int
    ops: list
    children: list              # Architecture values
    accuracy: list              # on one validation minibatch, shared weights (or as set by `replay`)
    entropy: list               # the controller's entropy of each child's decisions
    rewards: list               # accuracy + entropy_weight x entropy
    earlier_rewards: list       # per earlier controller step, its children's rewards
    earlier_baselines: list     # the baseline after each earlier step
    baseline_before: float
    baseline_after: float
    advantages: list            # reward - baseline_before
    log_probs: list             # log-probability of each child under the policy before the update
    log_probs_after: list       # the same, after
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
    own: dict                   # the draw's own lr, entropy_weight, baseline_decay and accuracy (list)
    batch_size: int             # images in the validation minibatch
    val_images: int             # images in the validation split
    child_steps: int            # shared-weight training steps before the controller's steps


# each knob's range (the Config fields' ranges)
KNOBS = {"lr": (0.0, 10.0), "entropy_weight": (0.0, 100.0), "baseline_decay": (0.0, 1.0)}


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


def sample_step(engine: Engine, earlier_rewards: list, earlier_baselines: list, lr: float = 0.03) -> Draw:
    """The step shown up to its update: sample the children, score each on one validation minibatch, and keep a
    copy of the controller as it is; `lr` is the step's learning rate."""
    c, controller = engine.config, engine.sampler
    sample = controller.sample(c.controller_children, generator=stream(c.seed, "lesson-children"))
    # the same validation minibatch for every child: each scored from a fresh copy of one stream
    accuracy = torch.cat([engine.rewards([a], stream(c.seed, "lesson-val")) for a in sample.archs])
    return Draw(seed=c.seed, ops=list(c.ops), children=list(sample.archs), accuracy=accuracy.tolist(),
                earlier_rewards=earlier_rewards, earlier_baselines=earlier_baselines,
                baseline=engine.reinforce.baseline, controller=copy.deepcopy(controller), lr=lr,
                entropy_weight=c.entropy_weight, baseline_decay=c.baseline_decay, skip_weight=c.skip_weight,
                betas=(c.controller_beta1, 0.999), eps=c.controller_eps, batch_size=c.batch_size,
                val_images=len(engine.val_data), child_steps=engine.step)


def _knob(name: str, value) -> float:
    lo, hi = KNOBS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _accuracies(draw: Draw, accuracy: dict) -> list:
    scores, m = list(draw.accuracy), len(draw.children)
    for k, a in accuracy.items():
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < m:
            raise ValueError(f"accuracy: no child {k!r}; the draw has {m} children, numbered 0 to {m - 1}")
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a <= 1:
            raise ValueError(f"the accuracy of child {k} must be a number in [0, 1], got {a!r}")
        scores[k] = float(a)
    return scores


def replay(draw: Draw, controller: Controller | None = None, *, lr: float | None = None,
           entropy_weight: float | None = None, baseline_decay: float | None = None,
           accuracy: dict | None = None) -> Lesson:
    """The draw's update with the knobs given (None: the draw's own) and `accuracy` {child index: accuracy}
    in place of those children's scores: a fresh `Reinforce`, holding the draw's baseline, steps `controller`
    (by default a copy of the draw's; one passed must be in the draw's state, and is updated)."""
    knobs = {"lr": lr, "entropy_weight": entropy_weight, "baseline_decay": baseline_decay}
    knobs = {name: getattr(draw, name) if v is None else _knob(name, v) for name, v in knobs.items()}
    scores = _accuracies(draw, accuracy or {})
    controller = copy.deepcopy(draw.controller) if controller is None else controller
    return _one_thread(_step, draw, controller, knobs, scores)


def _step(draw: Draw, controller: Controller, knobs: dict, scores: list) -> Lesson:
    w = knobs["entropy_weight"]
    reinforce = Reinforce(controller, knobs["lr"], w, knobs["baseline_decay"], draw.skip_weight, draw.betas,
                          draw.eps)
    reinforce.baseline = draw.baseline
    sample = controller.score(draw.children)
    accuracy = torch.tensor(scores, dtype=torch.float32)
    # per child, as Reinforce.step computes them (it reports their means only; the tests compare)
    rewards = (accuracy + w * sample.entropy.detach()).tolist()
    advantages = [r - draw.baseline for r in rewards]
    focus = max(range(len(rewards)), key=advantages.__getitem__)
    before = sample.op_probs[focus].tolist()
    metrics = reinforce.step(sample, accuracy)
    push = (-controller.op_head.bias.grad).tolist()   # Reinforce leaves the step's gradients in place
    with torch.no_grad():
        after = controller.score(draw.children)
    return Lesson(
        seed=draw.seed, ops=list(draw.ops), children=list(draw.children), accuracy=scores,
        entropy=sample.entropy.tolist(), rewards=rewards, earlier_rewards=draw.earlier_rewards,
        earlier_baselines=draw.earlier_baselines, baseline_before=draw.baseline, baseline_after=reinforce.baseline,
        advantages=advantages, log_probs=sample.log_prob.tolist(), log_probs_after=after.log_prob.tolist(),
        skip_penalty=sample.skip_penalty.tolist(), focus=focus, before=before, after=after.op_probs[focus].tolist(),
        push=push, metrics=metrics, entropy_weight=w, baseline_decay=knobs["baseline_decay"],
        skip_weight=draw.skip_weight, lr=knobs["lr"],
        own={"lr": draw.lr, "entropy_weight": draw.entropy_weight, "baseline_decay": draw.baseline_decay,
             "accuracy": list(draw.accuracy)},
        batch_size=draw.batch_size, val_images=draw.val_images, child_steps=draw.child_steps)


def update(engine: Engine, earlier_rewards: list, earlier_baselines: list, lr: float = 0.03) -> Lesson:
    """The step shown: sample, score on one validation minibatch, one REINFORCE update at learning rate `lr`
    (mutates the engine's controller)."""
    return replay(sample_step(engine, earlier_rewards, earlier_baselines, lr), engine.sampler)


def prepare(seed: int = 0, nodes: int = 3, children: int = 4, earlier_steps: int = 2, child_epochs: int = 4,
            lr: float = 0.03, **settings) -> Draw:
    """The expensive part of `one_update` (a few seconds), the same for the same arguments: the tiny search up
    to the step shown, its children and their accuracies; `replay` makes the update."""
    def run():
        engine, rewards, baselines = warm_up(seed, nodes, children, earlier_steps, child_epochs, **settings)
        return sample_step(engine, rewards, baselines, lr)

    return _one_thread(run)


def one_update(seed: int = 0, nodes: int = 3, children: int = 4, earlier_steps: int = 2, child_epochs: int = 4,
               lr: float = 0.03, **settings) -> Lesson:
    """One controller update of a tiny search on the shapes data, as plain data; the same for the same
    arguments. A few seconds on a CPU, on one intra-op thread (its ops are small: on a busy machine more
    threads wait for each other, see `shapes._one_thread`), which also keeps the numbers the same everywhere."""
    return replay(prepare(seed, nodes, children, earlier_steps, child_epochs, lr, **settings))
