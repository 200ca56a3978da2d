"""The search space as plain data: op names, the `Architecture` value, and its size, parameters and FLOPs.

A child is a chain of N nodes after a stem. Node i applies `ops[i]` to node i-1's output (the stem's for
node 0) and adds the outputs of the earlier nodes j < i whose bit `skips[i][j]` is 1, then batch-norm.
Node i has i skip bits, so N nodes have N(N-1)/2 bits.

The one-line form lists the nodes in order, each as `op` or `op:bits`, e.g. `c3 c5:1 c1:01 mp:011`,
with short names c1 c3 c5 mp ap (the long names conv3x3 ... are accepted too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

OPS = ("conv1x1", "conv3x3", "conv5x5", "maxpool3x3", "avgpool3x3")
SHORT = {"conv1x1": "c1", "conv3x3": "c3", "conv5x5": "c5", "maxpool3x3": "mp", "avgpool3x3": "ap"}
LONG = {v: k for k, v in SHORT.items()}
KERNEL = {"conv1x1": 1, "conv3x3": 3, "conv5x5": 5}  # conv ops and their kernel sizes
BN_FORMS = {  # how the ops of a node are normalised (`enas.model`); each node's BN after its skip sum in all
    "node": "conv ops conv(bias) + ReLU, pools without weights: one BN per node, after its skip sum",
    "op": "every op its own BN too, as DARTS: conv ops conv-BN-ReLU, pools pool-BN",
    "enas": "ENAS's macro branches: convKxK = conv1x1-BN-ReLU then convKxK-BN-ReLU, conv1x1 = conv1x1-BN-ReLU, "
            "pools = conv1x1-BN-ReLU then the pool"}
MAX_STRING = 10_000  # longest one-line form or JSON text accepted (characters)


def op_kernels(op: str, bn: str = "node") -> list:
    """Kernel sizes of the convs of op `op` in normalisation form `bn` (see `BN_FORMS`)."""
    k = KERNEL.get(op)
    if bn == "enas":
        return [1] if k in (None, 1) else [1, k]
    return [k] if k else []


class ArchitectureError(ValueError):
    """An architecture that is not valid, with a message that says why."""


def space_size(nodes: int, ops=OPS) -> int:
    """Number of distinct architectures with `nodes` nodes: len(ops)^N x 2^(N(N-1)/2)."""
    return len(ops) ** nodes * 2 ** (nodes * (nodes - 1) // 2)


@dataclass(frozen=True)
class Architecture:
    """One child: `ops[i]` is node i's op; `skips[i]` is a tuple of i bits (0/1), one per earlier node."""

    ops: tuple
    skips: tuple

    def __post_init__(self):
        if not isinstance(self.ops, (tuple, list)) or not self.ops:
            raise ArchitectureError("ops must be a non-empty list of op names")
        ops = tuple(self.ops)
        for i, op in enumerate(ops):
            if op not in OPS:
                raise ArchitectureError(f"node {i}: unknown op {op!r}; allowed: {', '.join(OPS)}")
        if not isinstance(self.skips, (tuple, list)):
            raise ArchitectureError("skips must be a list with one list of bits per node")
        if len(self.skips) != len(ops):
            raise ArchitectureError(f"skips has {len(self.skips)} entries but there are {len(ops)} nodes")
        skips = []
        for i, row in enumerate(self.skips):
            if not isinstance(row, (tuple, list)):
                raise ArchitectureError(f"node {i}: skips must be a list of {i} bits, got {row!r}")
            if len(row) != i:   # too many bits is a miscount too, not a skip to a later node
                raise ArchitectureError(f"node {i} has {i} skip bit{'' if i == 1 else 's'}, got {len(row)} "
                                        "(one per earlier node)")
            if any(b not in (0, 1) or isinstance(b, float) for b in row):
                raise ArchitectureError(f"node {i}: skip bits must be 0 or 1, got {list(row)}")
            skips.append(tuple(int(b) for b in row))
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "skips", tuple(skips))

    # --- views ---------------------------------------------------------------------------------
    @property
    def nodes(self) -> int:
        return len(self.ops)

    @property
    def skip_count(self) -> int:
        return sum(map(sum, self.skips))

    def inputs(self, i: int) -> list:
        """Earlier nodes whose outputs node i adds (its skips)."""
        return [j for j, b in enumerate(self.skips[i]) if b]

    def check_space(self, nodes: int, ops=OPS) -> "Architecture":
        """Raise ArchitectureError unless this architecture belongs to the space (nodes, ops)."""
        if self.nodes != nodes:
            raise ArchitectureError(f"architecture has {self.nodes} nodes, the search space has {nodes}")
        for i, op in enumerate(self.ops):
            if op not in ops:
                raise ArchitectureError(f"node {i}: op {op!r} is not in this search space ({', '.join(ops)})")
        return self

    # --- text forms ----------------------------------------------------------------------------
    def __str__(self) -> str:
        parts = []
        for op, row in zip(self.ops, self.skips):
            parts.append(SHORT[op] + (":" + "".join(map(str, row)) if row else ""))
        return " ".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Architecture":
        """Read the one-line form, e.g. `c3 c5:1 c1:01`."""
        if not isinstance(text, str):
            raise ArchitectureError(f"architecture string must be text, got {type(text).__name__}")
        if len(text) > MAX_STRING:
            raise ArchitectureError(f"architecture string too long ({len(text)} > {MAX_STRING} characters)")
        tokens = text.split()
        if not tokens:
            raise ArchitectureError("empty architecture string; example: 'c3 c5:1 c1:01'")
        ops, skips = [], []
        for i, tok in enumerate(tokens):
            name, _, bits = tok.partition(":")
            op = LONG.get(name, name)
            if op not in OPS:
                raise ArchitectureError(
                    f"node {i}: unknown op {name!r} in {tok!r}; allowed: {', '.join(SHORT.values())} "
                    f"or {', '.join(OPS)}")
            if bits.strip("01"):
                raise ArchitectureError(f"node {i}: skip bits must be 0s and 1s, got {bits!r} in {tok!r}")
            ops.append(op)
            skips.append(tuple(int(b) for b in bits))
        return cls(tuple(ops), tuple(skips))

    @classmethod
    def most_likely(cls, ops, op_probs, skip_probs) -> "Architecture":
        """Each node's likeliest op (first on ties) and each skip whose probability is above one half: the
        policy's single most likely choice per decision, e.g. from a `policy` event's op_probs and skip_probs."""
        picked = tuple(ops[max(range(len(row)), key=row.__getitem__)] for row in op_probs)
        return cls(picked, tuple(tuple(int(skip_probs[i][j] > 0.5) for j in range(i)) for i in range(len(picked))))

    def to_dict(self) -> dict:
        return {"ops": list(self.ops), "skips": [list(r) for r in self.skips], "string": str(self)}

    @classmethod
    def from_dict(cls, d) -> "Architecture":
        if not isinstance(d, dict):
            raise ArchitectureError(f"architecture JSON must be an object, got {type(d).__name__}")
        unknown = set(d) - {"ops", "skips", "string"}
        if unknown:
            raise ArchitectureError(f"unknown field(s) in architecture JSON: {', '.join(sorted(map(str, unknown)))}")
        if "ops" not in d or "skips" not in d:
            raise ArchitectureError("architecture JSON needs the fields 'ops' and 'skips'")
        arch = cls(d["ops"], d["skips"])
        if "string" in d and d["string"] != str(arch):
            raise ArchitectureError(f"field 'string' ({d['string']!r}) disagrees with ops and skips ({str(arch)!r})")
        return arch

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        if len(text) > MAX_STRING:
            raise ArchitectureError(f"architecture JSON too long ({len(text)} > {MAX_STRING} characters)")
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as e:
            raise ArchitectureError(f"not valid JSON: {e}") from None
        return cls.from_dict(d)

    # --- cost ----------------------------------------------------------------------------------
    def param_count(self, channels: int = 32, classes: int = 10, first_node_bn: bool = False, bn: str = "node") -> int:
        """Trainable parameters of the standalone child (see `enas.model`)."""
        c = channels
        n = 27 * c + 2 * c                                    # stem conv (no bias) + BN
        for i, op in enumerate(self.ops):
            kernels = op_kernels(op, bn)
            n += sum(c * c * k * k for k in kernels)
            n += {"node": c * len(kernels),                   # conv biases
                  "op": 2 * c,                                # the op's BN
                  "enas": 2 * c * len(kernels)}[bn]           # a BN after each conv
            if i or first_node_bn:
                n += 2 * c                                    # node BN
        n += 9 * c * c + 2 * c                                # tail conv (no bias) + BN
        return n + c * classes + classes                      # classifier

    def flops(self, channels: int = 32, image_size: int = 32, classes: int = 10, bn: str = "node") -> int:
        """Forward FLOPs for one image, counting 2 per multiply-add of convs and the classifier."""
        c, s = channels, image_size
        macs = s * s * 27 * c                                 # stem at full resolution
        node_hw = (s // 2) ** 2
        for op in self.ops:
            macs += node_hw * c * c * sum(k * k for k in op_kernels(op, bn))
        macs += (s // 4) ** 2 * 9 * c * c                     # tail conv after a 2x pool
        macs += c * classes
        return 2 * macs

