"""Samplers of architectures: the ENAS LSTM `Controller`, a uniform `RandomSampler`, and `Reinforce`, its trainer.

The controller runs two LSTM steps per node (Pham et al. 2018, macro search): one whose output gives the op
logits, then one whose output h_i is node i's anchor. Node i's skip to node j < i is on with probability
q = v^T tanh(W1 h_j + W2 h_i). The next step's input is the chosen op's embedding after an op step, and the
mean of the chosen anchors (or the start embedding when there are none) after a skip step.

Temperature T and tanh constant c shape every logit, op and skip alike: l -> c tanh(l / T), as in ENAS. ENAS
samples a skip from a two-way softmax over (-q', q'), so the skip is on with probability sigmoid(2 q'): with
c = 1.5 it stays inside [0.047, 0.953]. Both samplers work on a batch of B architectures at once, and both
draw only what `Constraints` allow (a steered run): banned ops' logits are masked to -inf and forced skips are
not decisions, so log-probabilities and entropies are those of the restricted policy (a pinned node's are 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from enas.constraints import ConstraintError, Constraints
from enas.space import OPS, Architecture


@dataclass
class Sample:
    """B sampled (or scored) architectures and, per architecture, the tensors REINFORCE needs."""
    archs: list
    log_prob: torch.Tensor      # [B] summed log-probability of all decisions
    entropy: torch.Tensor       # [B] summed entropy of all decision distributions
    skip_penalty: torch.Tensor  # [B] KL(skip probability || target), reduced over skips as the sampler says
    op_probs: torch.Tensor      # [B, N, K] op probabilities at each node
    skip_probs: torch.Tensor    # [B, N, N] probability of skip i <- j (0 where j >= i)

    @property
    def skip_count(self) -> torch.Tensor:
        return torch.tensor([a.skip_count for a in self.archs], dtype=torch.float32)


def bernoulli_kl(p: torch.Tensor, q: float) -> torch.Tensor:
    """KL(Bernoulli(p) || Bernoulli(q)), elementwise."""
    p = p.clamp(1e-7, 1 - 1e-7)
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


SKIP_REDUCE = ("sum", "node-mean", "pair-mean")


def reduce_skip_kl(kl_per_node: torch.Tensor, nodes: int, how: str) -> torch.Tensor:
    """The skip penalty from the summed KL of each node's skips [B]: `sum` over all N(N-1)/2 skips (seed
    notebook), `node-mean` over the N-1 nodes that have skips (ENAS), or `pair-mean` over the skips."""
    if how not in SKIP_REDUCE:
        raise ValueError(f"skip_reduce must be one of {', '.join(SKIP_REDUCE)}, got {how!r}")
    divisor = {"sum": 1, "node-mean": nodes - 1, "pair-mean": nodes * (nodes - 1) // 2}[how]
    return kl_per_node / max(divisor, 1)


def masks(constraints: Constraints | None, nodes: int, ops, device) -> tuple:
    """(op_mask [N, K] True where an op may be drawn, skip_fixed [N, N] True where a skip is forced, skip_value
    [N, N] its forced bit), or Nones without constraints."""
    if not constraints:
        return None, None, None
    constraints.check(nodes, ops)
    op_mask = torch.tensor([[op in constraints.allowed(i, ops) for op in ops] for i in range(nodes)], device=device)
    fixed = torch.zeros(nodes, nodes, dtype=torch.bool, device=device)
    value = torch.zeros(nodes, nodes, device=device)
    for (i, j), bit in constraints.skips.items():
        fixed[i, j], value[i, j] = True, float(bit)
    return op_mask, fixed, value


def check_admitted(arch: Architecture, constraints: Constraints | None):
    """Refuse to score an architecture the constraints forbid (its probability is 0)."""
    if constraints and not constraints.admits(arch):
        raise ConstraintError(f"{arch} breaks the constraints in force ({constraints.describe()})")


class Controller(nn.Module):
    """The ENAS LSTM policy over architectures of `nodes` nodes with candidate `ops`."""

    trainable = True

    def __init__(self, nodes: int = 6, ops=OPS, lstm_size: int = 64, lstm_layers: int = 2,
                 temperature: float = 5.0, tanh_constant: float = 2.5, skip_target: float = 0.4,
                 skip_reduce: str = "sum"):
        super().__init__()
        reduce_skip_kl(torch.zeros(1), nodes, skip_reduce)  # refuse an unknown reduction now, not at the first step
        self.nodes, self.ops = nodes, tuple(ops)
        self.temperature, self.tanh_constant, self.skip_target = temperature, tanh_constant, skip_target
        self.skip_reduce = skip_reduce
        self.lstm = nn.LSTM(lstm_size, lstm_size, lstm_layers)
        self.start = nn.Parameter(torch.empty(1, lstm_size).uniform_(-0.1, 0.1))
        self.op_embedding = nn.Embedding(len(self.ops), lstm_size)
        self.op_head = nn.Linear(lstm_size, len(self.ops))
        self.w1 = nn.Linear(lstm_size, lstm_size, bias=False)
        self.w2 = nn.Linear(lstm_size, lstm_size, bias=False)
        self.v = nn.Linear(lstm_size, 1, bias=False)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def shape(self, logits: torch.Tensor) -> torch.Tensor:
        """Temperature, then tanh constant: l -> c tanh(l / T) (either step skipped when its value is 0)."""
        if self.temperature:
            logits = logits / self.temperature
        if self.tanh_constant:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def forward(self, batch: int = 1, archs=None, generator: torch.Generator | None = None,
                constraints: Constraints | None = None) -> Sample:
        """Sample `batch` architectures, or score the given `archs` (teacher forcing), under `constraints`."""
        n, dev = self.nodes, self.start.device
        if archs is not None:
            batch = len(archs)
            for a in archs:
                check_admitted(a.check_space(self.nodes, self.ops), constraints)
        op_mask, skip_fixed, skip_value = masks(constraints, n, self.ops, dev)
        inputs, state = self.start.expand(batch, -1), None
        anchors, anchors_w1 = [], []
        log_prob = torch.zeros(batch, device=dev)
        entropy = torch.zeros(batch, device=dev)
        kl_sum = torch.zeros(batch, device=dev)
        op_probs, skip_probs = [], torch.zeros(batch, n, n, device=dev)
        chosen_ops, chosen_skips = [], []
        for i in range(n):
            out, state = self.lstm(inputs.unsqueeze(0), state)
            logits = self.shape(self.op_head(out[0]))
            if op_mask is not None:
                logits = logits.masked_fill(~op_mask[i], -math.inf)
            logp = F.log_softmax(logits, -1)
            probs = logp.exp()
            if archs is None:
                op = torch.multinomial(probs.detach(), 1, generator=generator).squeeze(1)
            else:
                op = torch.tensor([self.ops.index(a.ops[i]) for a in archs], device=dev)
            log_prob = log_prob + logp.gather(1, op[:, None]).squeeze(1)
            entropy = entropy - (probs * (logp if op_mask is None else logp.masked_fill(~op_mask[i], 0))).sum(1)
            op_probs.append(probs)
            chosen_ops.append(op)

            out, state = self.lstm(self.op_embedding(op).unsqueeze(0), state)
            h = out[0]
            if i > 0:
                q = self.v(torch.tanh(torch.stack(anchors_w1, 1) + self.w2(h).unsqueeze(1))).squeeze(2)  # [B, i]
                logit = 2 * self.shape(q)  # softmax over (-q', q') = sigmoid(2 q')
                p = torch.sigmoid(logit)
                if archs is None:
                    bits = torch.bernoulli(p.detach(), generator=generator)
                else:
                    bits = torch.tensor([a.skips[i] for a in archs], dtype=p.dtype, device=dev)
                ll = bits * F.logsigmoid(logit) + (1 - bits) * F.logsigmoid(-logit)
                ent = -(p * F.logsigmoid(logit) + (1 - p) * F.logsigmoid(-logit))
                kl = bernoulli_kl(p, self.skip_target)
                if skip_fixed is not None:   # a forced skip is no decision: no log-probability, entropy or penalty
                    free, value = ~skip_fixed[i, :i], skip_value[i, :i]
                    bits = torch.where(free, bits, value)
                    ll, ent, kl = ll * free, ent * free, kl * free
                    p = torch.where(free, p, value)
                log_prob = log_prob + ll.sum(1)
                entropy = entropy + ent.sum(1)
                kl_sum = kl_sum + kl.sum(1)
                skip_probs[:, i, :i] = p
                chosen_skips.append(bits)
                inputs = (bits.unsqueeze(2) * torch.stack(anchors, 1)).sum(1) / (1 + bits.sum(1, keepdim=True))
            else:
                chosen_skips.append(torch.zeros(batch, 0, device=dev))
                inputs = self.start.expand(batch, -1)
            anchors.append(h)
            anchors_w1.append(self.w1(h))
        if archs is None:
            ops = torch.stack(chosen_ops, 1).tolist()
            skips = [s.long().tolist() for s in chosen_skips]
            archs = [Architecture(tuple(self.ops[k] for k in ops[b]), tuple(tuple(skips[i][b]) for i in range(n)))
                     for b in range(batch)]
        skip_penalty = reduce_skip_kl(kl_sum, n, self.skip_reduce)
        return Sample(archs, log_prob, entropy, skip_penalty, torch.stack(op_probs, 1), skip_probs)

    def sample(self, batch: int = 1, generator: torch.Generator | None = None,
               constraints: Constraints | None = None) -> Sample:
        return self(batch, generator=generator, constraints=constraints)

    def score(self, archs, constraints: Constraints | None = None) -> Sample:
        """Log-probabilities (and the rest) of the given architectures under the current policy."""
        return self(archs=archs, constraints=constraints)

    @torch.no_grad()
    def policy(self, samples: int = 256, generator: torch.Generator | None = None,
               constraints: Constraints | None = None) -> dict:
        """The policy as marginals over `samples` draws: op probabilities per node, skip probabilities per pair."""
        s = self(samples, generator=generator, constraints=constraints)
        return {"ops": list(self.ops), "op_probs": s.op_probs.mean(0).tolist(),
                "skip_probs": s.skip_probs.mean(0).tolist()}


class RandomSampler(nn.Module):
    """Uniform random search with the controller's interface: every architecture equally likely."""

    trainable = False

    def __init__(self, nodes: int = 6, ops=OPS, skip_prob: float = 0.5):
        super().__init__()
        self.nodes, self.ops, self.skip_prob = nodes, tuple(ops), skip_prob

    def forward(self, batch: int = 1, archs=None, generator: torch.Generator | None = None,
                constraints: Constraints | None = None) -> Sample:
        n, k, q = self.nodes, len(self.ops), self.skip_prob
        if constraints:
            constraints.check(n, self.ops)
        allowed = [constraints.allowed(i, self.ops) if constraints else list(self.ops) for i in range(n)]
        forced = constraints.skips if constraints else {}
        if archs is None:
            if constraints:   # uniform over each node's allowed ops
                u = torch.rand((batch, n), generator=generator).tolist()
                ops = [[self.ops.index(allowed[i][int(u[b][i] * len(allowed[i]))]) for i in range(n)]
                       for b in range(batch)]
            else:
                ops = torch.randint(0, k, (batch, n), generator=generator).tolist()
            bits = torch.bernoulli(torch.full((batch, n, n), q), generator=generator).long().tolist()
            for (i, j), bit in forced.items():
                for b in range(batch):
                    bits[b][i][j] = bit
            archs = [Architecture(tuple(self.ops[o] for o in ops[b]), tuple(tuple(bits[b][i][:i]) for i in range(n)))
                     for b in range(batch)]
        for a in archs:
            check_admitted(a.check_space(n, self.ops), constraints)
        batch, free, forced_on = len(archs), n * (n - 1) // 2 - len(forced), sum(forced.values())
        choices = sum(math.log(len(a)) for a in allowed)
        skip_ll = torch.tensor([(a.skip_count - forced_on) * math.log(q) + (free - a.skip_count + forced_on)
                                * math.log(1 - q) for a in archs])
        entropy = torch.full((batch,), choices - free * (q * math.log(q) + (1 - q) * math.log(1 - q)))
        op_probs = torch.tensor([[1 / len(allowed[i]) if op in allowed[i] else 0.0 for op in self.ops]
                                 for i in range(n)])
        skip_probs = torch.full((n, n), q).tril(-1)
        for (i, j), bit in forced.items():
            skip_probs[i, j] = float(bit)
        return Sample(archs, -choices + skip_ll, entropy, torch.zeros(batch), op_probs.expand(batch, n, k).clone(),
                      skip_probs.expand(batch, n, n).clone())

    sample = Controller.sample
    score = Controller.score
    policy = Controller.policy


BASELINES = ("moving-average", "leave-one-out")


class Reinforce:
    """REINFORCE with a baseline, an entropy bonus and a skip penalty, optimised with Adam.

    reward = accuracy + entropy_weight x entropy; advantage = reward - baseline. loss = mean(-log p x advantage
    + skip_weight x skip_penalty). Baselines:
    - `moving-average` (ENAS): the baseline as it was before this step (it starts at the mean reward of the
      first step); then baseline <- decay x baseline + (1 - decay) x reward, once per child. ENAS takes the
      advantage after moving the baseline, which leaves it at zero when decay is 0; taken before, every decay in
      [0, 1] learns.
    - `leave-one-out`: each child's baseline is the mean reward of the other children of its step, so a reward
      counts only by how it compares with its neighbours (the `baseline` reported is their mean: the step's mean
      reward).
    """

    def __init__(self, controller, lr: float = 1e-4, entropy_weight: float = 1e-4, baseline_decay: float = 0.999,
                 skip_weight: float = 0.8, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 reward_baseline: str = "moving-average"):
        if reward_baseline not in BASELINES:
            raise ValueError(f"reward_baseline must be one of {', '.join(BASELINES)}, got {reward_baseline!r}")
        self.controller, self.baseline_mode = controller, reward_baseline
        self.entropy_weight, self.baseline_decay, self.skip_weight = entropy_weight, baseline_decay, skip_weight
        self.baseline, self.advantages = None, []
        params = list(controller.parameters())
        self.optimizer = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps) if params else None

    def step(self, sample: Sample, accuracy: torch.Tensor) -> dict:
        """One update from B sampled architectures and their accuracies [B]; returns the step's metrics."""
        reward = accuracy.float() + self.entropy_weight * sample.entropy.detach()
        rewards = reward.tolist()
        if self.baseline_mode == "leave-one-out":
            if len(rewards) < 2:
                raise ValueError("a leave-one-out baseline needs 2 or more children per step")
            advantage = reward - (reward.sum() - reward) / (len(rewards) - 1)
            self.baseline = sum(rewards) / len(rewards)
        else:
            if self.baseline is None:
                self.baseline = sum(rewards) / len(rewards)
            advantage = reward - self.baseline
            for r in rewards:
                self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * r
        self.advantages = advantage.tolist()   # per child, for a single step's view
        loss = (-sample.log_prob * advantage + self.skip_weight * sample.skip_penalty).mean()
        if self.optimizer is not None and loss.requires_grad:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return {"reward": reward.mean().item(), "accuracy": accuracy.float().mean().item(),
                "baseline": self.baseline, "advantage": advantage.mean().item(),
                "entropy": sample.entropy.mean().item(),
                "entropy_bonus": self.entropy_weight * sample.entropy.mean().item(),
                "skip_penalty": sample.skip_penalty.mean().item(), "skip_count": sample.skip_count.mean().item(),
                "controller_loss": loss.item() if self.optimizer is not None else 0.0}

    def state_dict(self) -> dict:
        return {"baseline": self.baseline, "optimizer": self.optimizer.state_dict() if self.optimizer else None}

    def load_state_dict(self, d: dict):
        self.baseline = d["baseline"]
        if self.optimizer is not None:
            self.optimizer.load_state_dict(d["optimizer"])
