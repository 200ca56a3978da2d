"""What a sampler may draw, as plain data: ops banned at a node, nodes pinned to one op, skips forced on or off.

A steered run (`enas.steering`) holds one `Constraints`; the samplers (`enas.controller`) mask their
logits with it, so log-probabilities, entropies and REINFORCE are those of the restricted policy. The text form
of one constraint, as the CLI and the app take it:

    ban maxpool3x3@3    ban maxpool3x3        (at node 3; at every node)
    pin conv3x3@2                              (node 2 can only be conv3x3)
    skip 3:1=on         skip 3:1=off           (node 3's skip from node 1 forced on; forbidden)

Lifting one: `unban maxpool3x3@3`, `unpin 2`, `free 3:1`. Nodes are numbered from 0, as the app draws them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from enas.space import LONG, OPS, Architecture


class ConstraintError(ValueError):
    """A constraint that cannot apply to the run's search space, with a message that says why."""


def op_name(text: str) -> str:
    name = LONG.get(text, text)
    if name not in OPS:
        raise ConstraintError(f"unknown op {text!r}; allowed: {', '.join(OPS)} (or {', '.join(LONG)})")
    return name


def _node(text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise ConstraintError(f"{what}: node {text!r} is not a node number (0, 1, ...)")
    return int(text)


@dataclass(frozen=True)
class Constraints:
    """banned: (node, op) pairs that may not be drawn; pinned: node -> the one op it may take; skips:
    (node, earlier node) -> 1 (always on) or 0 (never)."""
    banned: frozenset = frozenset()
    pinned: dict = field(default_factory=dict)
    skips: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.banned or self.pinned or self.skips)

    def allowed(self, node: int, ops) -> list:
        """The ops node `node` may take, in the space's order."""
        if node in self.pinned:
            return [self.pinned[node]]
        return [op for op in ops if (node, op) not in self.banned]

    def check(self, nodes: int, ops) -> "Constraints":
        """Refuse what does not fit a space of `nodes` nodes with candidate `ops`, or leaves a node no op."""
        for node, op in sorted(self.banned) + sorted(self.pinned.items()):
            if not 0 <= node < nodes:
                raise ConstraintError(f"node {node} is out of range: this run has nodes 0..{nodes - 1}")
            if op not in ops:
                raise ConstraintError(f"op {op} at node {node} is not in this run's space ({', '.join(ops)})")
        for node, op in sorted(self.pinned.items()):
            if (node, op) in self.banned:
                raise ConstraintError(f"node {node} cannot be pinned to {op}: {op} is banned there (unban it first)")
        for (i, j), bit in sorted(self.skips.items()):
            if not 0 <= j < i < nodes:
                raise ConstraintError(f"skip {i}:{j} does not exist: node i takes skips from nodes j < i, "
                                      f"with 0 <= j < i <= {nodes - 1}")
            if bit not in (0, 1):
                raise ConstraintError(f"skip {i}:{j} must be forced on (1) or off (0), not {bit!r}")
        for node in range(nodes):
            if not self.allowed(node, ops):
                raise ConstraintError(f"node {node} would have no op left: every op of it is banned")
        return self

    def admits(self, arch: Architecture) -> bool:
        """Whether `arch` obeys every constraint."""
        return (all((i, op) not in self.banned and self.pinned.get(i, op) == op for i, op in enumerate(arch.ops))
                and all(arch.skips[i][j] == bit for (i, j), bit in self.skips.items()))

    def apply(self, text: str, nodes: int, ops) -> "Constraints":
        """These constraints with one change in text form (see the module's docstring), checked against a space
        of `nodes` nodes with candidate `ops`; raises ConstraintError and changes nothing on bad input."""
        words = text.split()
        if len(words) != 2:
            raise ConstraintError(f"{text!r}: write a change as 'ban OP@NODE', 'ban OP', 'unban OP@NODE', "
                                  "'pin OP@NODE', 'unpin NODE', 'skip I:J=on', 'skip I:J=off' or 'free I:J'")
        verb, arg = words
        banned, pinned, skips = set(self.banned), dict(self.pinned), dict(self.skips)
        if verb in ("ban", "unban", "pin"):
            op, _, at = arg.partition("@")
            op = op_name(op)
            if verb == "pin" and not at:
                raise ConstraintError(f"{text!r}: pin needs a node, e.g. pin {op}@2")
            where = [_node(at, text)] if at else list(range(nodes))
            if verb == "pin":
                pinned[where[0]] = op
            elif verb == "ban":
                banned |= {(n, op) for n in where}
            else:
                banned -= {(n, op) for n in where}
        elif verb == "unpin":
            pinned.pop(_node(arg, text), None)
        elif verb in ("skip", "free"):
            pair, _, state = arg.partition("=")
            m = re.fullmatch(r"(\d+):(\d+)", pair)
            if not m:
                raise ConstraintError(f"{text!r}: name a skip as I:J (node I's skip from node J), e.g. 3:1")
            key = (int(m[1]), int(m[2]))
            if verb == "free":
                skips.pop(key, None)
            elif state in ("on", "off"):
                skips[key] = 1 if state == "on" else 0
            else:
                raise ConstraintError(f"{text!r}: say skip {pair}=on or skip {pair}=off")
        else:
            raise ConstraintError(f"{text!r}: unknown change {verb!r} (ban, unban, pin, unpin, skip, free)")
        return Constraints(frozenset(banned), pinned, skips).check(nodes, ops)

    def describe(self) -> str:
        """One line, e.g. 'maxpool3x3 banned at 3; node 2 pinned to conv3x3; skip 3:1 on' ('none' when empty)."""
        by_op = {}
        for node, op in sorted(self.banned):
            by_op.setdefault(op, []).append(str(node))
        parts = [f"{op} banned at {','.join(n)}" for op, n in by_op.items()]
        parts += [f"node {n} pinned to {op}" for n, op in sorted(self.pinned.items())]
        parts += [f"skip {i}:{j} {'on' if b else 'off'}" for (i, j), b in sorted(self.skips.items())]
        return "; ".join(parts) or "none"

    def to_dict(self) -> dict:
        return {"banned": sorted([n, op] for n, op in self.banned), "pinned": {str(n): op for n, op in
                                                                               sorted(self.pinned.items())},
                "skips": {f"{i}:{j}": b for (i, j), b in sorted(self.skips.items())}}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Constraints":
        d = d or {}
        skips = {tuple(int(x) for x in k.split(":")): int(b) for k, b in d.get("skips", {}).items()}
        return cls(frozenset((int(n), op) for n, op in d.get("banned", [])),
                   {int(n): op for n, op in d.get("pinned", {}).items()}, skips)
