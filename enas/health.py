"""Health warnings: signs that an ENAS controller has collapsed or stalled, read from what it samples.

`HealthCheck.update(entropy, archs)` takes one controller step (its mean policy entropy and the architectures
it sampled) and returns the warnings that became true at that step, each condition once per run:
- entropy: the policy's entropy fell below `entropy_fraction` of its value at the first step;
- op: at some node one op was chosen in more than `op_share` of the last `window` samples;
- skips: the skip rate of the last `window` samples is within `skip_margin` of 0 or of 1;
- random (`update_epoch`): for `random_epochs` epochs in a row, the controller's samples scored no better on
  validation minibatches than uniformly random architectures on the same shared weights.
Collapse is not always failure (a good policy also sharpens), but early or total collapse means the search
stopped exploring: the shared weights of the ops it left behind stop training, and the ranking goes stale.
"""
from __future__ import annotations

from collections import Counter, deque

from .space import Architecture

WHY = ("ENAS controllers can collapse onto one op or skip pattern before the shared weights can tell the ops "
       "apart (see 'Is the search healthy?' in the app, or README.md)")


class HealthCheck:
    """Watches one search; warned conditions (by code) are not repeated."""

    def __init__(self, entropy_fraction: float = 0.2, op_share: float = 0.9, skip_margin: float = 0.03,
                 window: int = 50, random_epochs: int = 3):
        self.entropy_fraction, self.op_share, self.skip_margin = entropy_fraction, op_share, skip_margin
        self.recent = deque(maxlen=window)
        self.first_entropy = None
        self.random_epochs, self.not_ahead = random_epochs, 0
        self.warned = set()

    def update_epoch(self, controller_acc: float, random_acc: float) -> list:
        """Warnings from one epoch's mean reward accuracy of the controller's samples and of random ones."""
        self.not_ahead = self.not_ahead + 1 if controller_acc <= random_acc else 0
        if not self.random_epochs or self.not_ahead < self.random_epochs:
            return []
        return self._new([("random", f"for {self.not_ahead} epochs the controller's samples scored no better than "
                                     f"uniformly random architectures on the same shared weights (last epoch "
                                     f"{controller_acc:.3f} against {random_acc:.3f}): the controller is not "
                                     "learning anything the shared weights can show")])

    def update(self, entropy: float, archs) -> list:
        """Warnings (dicts with `code` and `message`) that this controller step raised for the first time."""
        if self.first_entropy is None:
            self.first_entropy = entropy
        self.recent.extend(a if isinstance(a, Architecture) else Architecture.parse(a) for a in archs)
        found = []
        if entropy < self.entropy_fraction * self.first_entropy:
            found.append(("entropy", f"controller entropy {entropy:.2f} is below {self.entropy_fraction:g} of its "
                                     f"starting value {self.first_entropy:.2f}: the policy has nearly stopped "
                                     "exploring"))
        if len(self.recent) == self.recent.maxlen:
            for node in range(self.recent[0].nodes):
                op, n = Counter(a.ops[node] for a in self.recent).most_common(1)[0]
                if n > self.op_share * len(self.recent):
                    found.append((f"op-{node}", f"node {node}: {op} in {n} of the last {len(self.recent)} samples "
                                                f"(over {self.op_share:.0%}): the controller has collapsed there"))
            pairs = sum(a.nodes * (a.nodes - 1) // 2 for a in self.recent)
            if pairs:
                rate = sum(a.skip_count for a in self.recent) / pairs
                if rate < self.skip_margin or rate > 1 - self.skip_margin:
                    found.append(("skips", f"skip rate {rate:.1%} over the last {len(self.recent)} samples is "
                                           f"pinned near {'0' if rate < 0.5 else '1'}"))
        return self._new(found)

    def _new(self, found: list) -> list:
        """The (code, message) pairs not warned before, as warnings; remembered as warned."""
        new = [{"code": code, "message": f"{message}. {WHY}."} for code, message in found if code not in self.warned]
        self.warned.update(w["code"] for w in new)
        return new
