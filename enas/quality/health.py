"""Health warnings: signs that an ENAS controller has collapsed or stalled, read from what it samples.

`HealthCheck.update(entropy, archs)` takes one controller step (its mean policy entropy and the architectures
it sampled) and returns the warnings that became true at that step, each condition once per run (the engine's
alerts); `step_conditions` and `epoch_conditions` give every checked condition's state, held or not, with
figures (the app's banners, which describe the moment shown):
- entropy: the policy's entropy fell below `entropy_fraction` of its value at the first step;
- op: at some node one op was chosen in more than `op_share` of the last `window` samples;
- skips: the skip rate of the last `window` samples is within `skip_margin` of 0 or of 1;
- random (`update_epoch`): for `random_epochs` epochs in a row, the controller's samples scored no better on
  validation minibatches than uniformly random architectures on the same shared weights;
- still (`update_policy`): `still_epochs` epochs of controller training in, no node's op probabilities have
  moved `still_move` (total-variation distance, `policy_moved`) from where they started: it is not learning.
Collapse is not always failure (a good policy also sharpens), but early or total collapse means the search
stopped exploring: the shared weights of the ops it left behind stop training, and the ranking goes stale.
"""
from __future__ import annotations

from collections import Counter, deque

from enas.space import Architecture

WHY = ("ENAS controllers can collapse onto one op or skip pattern before the shared weights can tell the ops "
       "apart (see 'Is the search healthy?' in the app, or README.md)")


TITLES = {"entropy": "entropy collapse", "op": "one op taking a node", "skips": "skip rate pinned",
          "random": "no better than random", "rank": "low rank agreement", "still": "the controller is not learning"}


def title(code: str) -> str:
    """A warning's short name: `op-3` is "one op taking a node"."""
    return TITLES.get(code.split("-")[0], code)


def policy_moved(op_probs, start_op_probs) -> list:
    """Per node, the total-variation distance 0.5 * sum |p - p0| of its op probabilities from the start's (0:
    unchanged, 1: all mass moved)."""
    return [0.5 * sum(abs(p - q) for p, q in zip(row, start)) for row, start in zip(op_probs, start_op_probs)]


class HealthCheck:
    """Watches one search; warned conditions (by code) are not repeated."""

    def __init__(self, entropy_fraction: float = 0.2, op_share: float = 0.9, skip_margin: float = 0.03,
                 window: int = 50, random_epochs: int = 3, still_epochs: int = 10, still_move: float = 0.05):
        self.entropy_fraction, self.op_share, self.skip_margin = entropy_fraction, op_share, skip_margin
        self.recent = deque(maxlen=window)
        self.first_entropy = None
        self.random_epochs, self.not_ahead = random_epochs, 0
        self.still_epochs, self.still_move = still_epochs, still_move
        self.warned = set()
        self.steered, self.fixed = False, set()   # constraints in force; nodes they leave a single op

    def steer(self, constraints, nodes: int, ops):
        """A steered run (`enas.constraints.Constraints`): a node left one op is no collapse, and the restricted
        policy's entropy is not compared with the unrestricted start's."""
        self.steered = bool(constraints)
        self.fixed = {n for n in range(nodes) if len(constraints.allowed(n, ops)) == 1}

    @classmethod
    def of(cls, config) -> HealthCheck:
        """The check with a run config's `health_*` thresholds."""
        c = config
        return cls(c.health_entropy_fraction, c.health_op_share, c.health_skip_margin, c.health_window,
                   c.health_random_epochs, c.health_still_epochs, c.health_still_move)

    def update_epoch(self, controller_acc: float, random_acc: float) -> list:
        """Warnings from one epoch's mean reward accuracy of the controller's samples and of random ones."""
        return self._new(self.epoch_conditions(controller_acc, random_acc))

    def update_policy(self, moved: list, controller_epochs: int) -> list:
        """Warnings from one epoch's policy movement (`policy_moved`) after that many epochs of controller training."""
        return self._new(self.policy_conditions(moved, controller_epochs))

    def update(self, entropy: float, archs) -> list:
        """Warnings (dicts with `code` and `message`) that this controller step raised for the first time."""
        return self._new(self.step_conditions(entropy, archs))

    def epoch_conditions(self, controller_acc: float, random_acc: float) -> dict:
        """Take one epoch's accuracies; {code: (holds, message)} of the random condition (none when it is off)."""
        self.not_ahead = self.not_ahead + 1 if controller_acc <= random_acc else 0
        if not self.random_epochs:
            return {}
        if self.not_ahead >= self.random_epochs:
            return {"random": (True, _why(f"for {self.not_ahead} epochs the controller's samples scored no better "
                                          f"than uniformly random architectures on the same shared weights (last "
                                          f"epoch {controller_acc:.3f} against {random_acc:.3f}): the controller "
                                          "is not learning anything the shared weights can show"))}
        behind = ("ahead of them" if not self.not_ahead else
                  f"no better for {self.not_ahead} epoch(s) in a row, under the {self.random_epochs} that warn")
        return {"random": (False, (f"the controller's samples scored {controller_acc:.3f} against {random_acc:.3f} "
                                   f"for uniformly random architectures on the same shared weights: {behind}."))}

    def policy_conditions(self, moved: list, controller_epochs: int) -> dict:
        """{code: (holds, message)} of the still condition (none while it is off or too early)."""
        if not self.still_epochs or controller_epochs < self.still_epochs:
            return {}
        most = max(moved)
        node, after = moved.index(most), f"after {controller_epochs} epochs of controller training"
        still = most < self.still_move
        if still:
            message = (f"the controller is not learning: {after}, no node's op probabilities have moved more than "
                       f"{most:.3f} from where they started (largest at node {node}; warns under {self.still_move:g}): "
                       "its updates are too small for the reward differences it sees (raise controller_lr, use "
                       "reward_batch shared, or a leave-one-out baseline).")
        else:
            message = (f"{after}, node {node}'s op probabilities have moved {most:.3f} from where they started, the "
                       f"most of any node (warns under {self.still_move:g}).")
        return {"still": (still, message)}

    def step_conditions(self, entropy: float, archs) -> dict:
        """Take one controller step; {code: (holds, message)} of every condition it could check."""
        if self.first_entropy is None:
            self.first_entropy = entropy
        self.recent.extend(a if isinstance(a, Architecture) else Architecture.parse(a) for a in archs)
        low = entropy < self.entropy_fraction * self.first_entropy
        found = {} if self.steered else {
            "entropy": (low, f"controller entropy {entropy:.2f} is {'below' if low else 'at or above'} "
                             f"{self.entropy_fraction:g} of its starting value {self.first_entropy:.2f}"
                             + (": the policy has nearly stopped exploring" if low else ""))}
        if len(self.recent) == self.recent.maxlen:
            n_recent = len(self.recent)
            for node in set(range(self.recent[0].nodes)) - self.fixed:
                op, n = Counter(a.ops[node] for a in self.recent).most_common(1)[0]
                over = n > self.op_share * n_recent
                found[f"op-{node}"] = (over, f"node {node}: {op} in {n} of the last {n_recent} samples " + (
                    f"(over {self.op_share:.0%}): the controller has collapsed there" if over else
                    f"(its most frequent op; warns over {self.op_share:.0%})"))
            pairs = sum(a.nodes * (a.nodes - 1) // 2 for a in self.recent)
            if pairs:
                rate = sum(a.skip_count for a in self.recent) / pairs
                pinned = rate < self.skip_margin or rate > 1 - self.skip_margin
                found["skips"] = (pinned, f"skip rate {rate:.1%} over the last {n_recent} samples is "
                                          + (f"pinned near {'0' if rate < 0.5 else '1'}" if pinned else
                                             f"more than {self.skip_margin:.0%} away from 0 and 1"))
        return {code: (holds, _why(m) if holds else m + ".") for code, (holds, m) in found.items()}

    def _new(self, conditions: dict) -> list:
        """The held conditions not warned before, as warnings; remembered as warned."""
        new = [{"code": code, "message": message} for code, (holds, message) in conditions.items()
               if holds and code not in self.warned]
        self.warned.update(w["code"] for w in new)
        return new


def _why(message: str) -> str:
    return f"{message}. {WHY}."
