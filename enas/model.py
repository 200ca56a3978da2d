"""Networks: the shared-weight `Supergraph`, and `ChildNet`, one architecture as a standalone module.

Layout (both): stem conv3x3(3->C) + BN + ReLU + maxpool2; N nodes at C channels, node i computing
BN(op_i(x_{i-1}) + sum of its skips); tail maxpool2 + conv3x3 + BN + ReLU + maxpool2, global average pool,
dropout, linear. Node 0, which has no skips, gets a BN only with `first_node_bn` (the seed notebook and ENAS
normalise only after a skip sum, nodes i > 0). Pools are 3x3 stride 1 (avg: count_include_pad=False). The
ops take one of three forms, `bn` (`enas.space.BN_FORMS`):

- "node": conv(bias) + ReLU, pools without weights; module `convs` holds the convs only.
- "op": every op its own BN too, as DARTS: conv(no bias)-BN-ReLU, pool-BN.
- "enas": ENAS's macro branches: convKxK = conv1x1-BN-ReLU then convKxK-BN-ReLU, conv1x1 = conv1x1-BN-ReLU,
  pool = conv1x1-BN-ReLU then the pool (convs without bias). "op" and "enas" keep each op in `branches`.

The supergraph's BNs keep no running statistics: each child has different activations, so statistics shared
by all children would mix them. They normalise with the batch's statistics in training and when scoring a
reward alike (ENAS keeps moving statistics and scores rewards with them). A `ChildNet` has ordinary BNs:
one inheriting the shared weights copies their affine weights, then `calibrate_bn` computes its own statistics
on training batches (each BN's from what the BNs before it output in eval mode), so that it scores in eval mode
what the supergraph scores with batch statistics.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from enas.space import BN_FORMS, KERNEL, OPS, Architecture


def conv_bn(c_in: int, c_out: int, running_stats: bool, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
                         nn.BatchNorm2d(c_out, track_running_stats=running_stats))


def conv_bn_relu(c_in: int, c_out: int, running_stats: bool, k: int = 3) -> nn.Sequential:
    return nn.Sequential(*conv_bn(c_in, c_out, running_stats, k), nn.ReLU(inplace=True))


def conv_bn_pool_relu(c_in: int, c_out: int, running_stats: bool) -> nn.Sequential:
    """conv3x3-BN-ReLU-maxpool2 computed as conv3x3-BN-maxpool2-ReLU: a max commutes with ReLU, so outputs and
    gradients are the same, and the ReLU runs on a quarter of the pixels. Keys as conv_bn_relu's + a pool."""
    return nn.Sequential(conv_bn(c_in, c_out, running_stats), nn.MaxPool2d(2), nn.ReLU(inplace=True))


def pool(op: str) -> nn.Module:
    return nn.MaxPool2d(3, 1, 1) if op == "maxpool3x3" else nn.AvgPool2d(3, 1, 1, count_include_pad=False)


POOLS = {op: pool(op) for op in OPS if op not in KERNEL}  # the weightless pools of bn="node"


class ConvReLU(nn.Conv2d):
    """conv (bias) + ReLU, a conv op of bn="node"; its state dict is the Conv2d's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x), inplace=True)


def op_module(op: str, c: int, bn: str, running_stats: bool) -> nn.Module:
    """Node op `op` in normalisation form `bn` (a pool of bn="node" needs none: `POOLS`)."""
    k = KERNEL.get(op)
    if bn == "node":
        return ConvReLU(c, c, k, padding=k // 2)
    if bn == "op":
        return conv_bn_relu(c, c, running_stats, k) if k else \
            nn.Sequential(pool(op), nn.BatchNorm2d(c, track_running_stats=running_stats))
    first = conv_bn_relu(c, c, running_stats, 1)   # bn="enas": a conv1x1-BN-ReLU first
    if k is None:
        return nn.Sequential(*first, pool(op))
    return first if k == 1 else nn.Sequential(*first, *conv_bn_relu(c, c, running_stats, k))


def op_table(ops: dict, c: int, bn: str, running_stats: bool) -> nn.ModuleDict:
    """The modules of `ops` ({key: op name}) in form `bn`; bn="node" has the convs only."""
    return nn.ModuleDict({key: op_module(op, c, bn, running_stats) for key, op in ops.items()
                          if bn != "node" or op in KERNEL})


def node_bns(nodes: int, channels: int, running_stats: bool, first_node_bn: bool) -> nn.ModuleList:
    """Each node's BN; node 0's is an identity unless `first_node_bn`."""
    return nn.ModuleList(nn.BatchNorm2d(channels, track_running_stats=running_stats) if i or first_node_bn
                         else nn.Identity() for i in range(nodes))


class Body(nn.Module):
    """What every network here shares: stem, tail and classifier, and the form `bn` of the node ops, which
    live in the module named `table_name` (`convs` for "node", as before the other forms; else `branches`)."""

    def __init__(self, channels: int, classes: int, running_stats: bool, dropout: float, bn: str):
        super().__init__()
        if bn not in BN_FORMS:
            raise ValueError(f"unknown bn form {bn!r}; use one of {', '.join(BN_FORMS)}")
        self.bn, self.table_name = bn, "convs" if bn == "node" else "branches"
        self.stem = conv_bn_pool_relu(3, channels, running_stats)
        self.tail = nn.Sequential(nn.MaxPool2d(2), *conv_bn_pool_relu(channels, channels, running_stats))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, classes)

    @property
    def table(self) -> nn.Module:
        return getattr(self, self.table_name)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.tail(x).mean((2, 3))))


def run_chain(x: torch.Tensor, arch: Architecture, op, bns) -> torch.Tensor:
    """Run the node chain of `arch`: op(i, name) gives node i's op module, bns[i] its BN."""
    outs = []
    for i, name in enumerate(arch.ops):
        y = op(i, name)(x)
        for j in arch.inputs(i):
            y = y + outs[j]
        x = bns[i](y)
        outs.append(x)
    return x


class Supergraph(Body):
    """Weights of every op of every node; `forward(x, arch)` runs only the child `arch`."""

    def __init__(self, nodes: int = 6, channels: int = 32, ops=OPS, classes: int = 10, dropout: float = 0.0,
                 first_node_bn: bool = False, bn: str = "node"):
        super().__init__(channels, classes, running_stats=False, dropout=dropout, bn=bn)
        self.nodes, self.channels, self.ops, self.classes = nodes, channels, tuple(ops), classes
        self.first_node_bn = first_node_bn
        self.add_module(self.table_name, nn.ModuleList(op_table({op: op for op in self.ops}, channels, bn, False)
                                                       for _ in range(nodes)))
        self.bns = node_bns(nodes, channels, False, first_node_bn)

    def op(self, i: int, name: str) -> nn.Module:
        ops = self.table[i]
        return ops[name] if name in ops else POOLS[name]

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        return self.head(run_chain(self.stem(x), arch, self.op, self.bns))


class ChildNet(Body):
    """One architecture as an ordinary module, with only the weights it uses."""

    def __init__(self, arch: Architecture, channels: int = 32, classes: int = 10, dropout: float = 0.0,
                 first_node_bn: bool = False, bn: str = "node"):
        super().__init__(channels, classes, running_stats=True, dropout=dropout, bn=bn)
        self.arch = arch
        self.add_module(self.table_name, op_table({str(i): op for i, op in enumerate(arch.ops)}, channels, bn, True))
        self.bns = node_bns(arch.nodes, channels, True, first_node_bn)

    def op(self, i: int, name: str) -> nn.Module:
        return self.table[str(i)] if str(i) in self.table else POOLS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(run_chain(self.stem(x), self.arch, self.op, self.bns))

    @classmethod
    def from_supergraph(cls, sg: Supergraph, arch: Architecture) -> "ChildNet":
        """A child with every shared weight it uses (`table.{i}.{op}.*` becomes `table.{i}.*`); its BN statistics
        are empty until `calibrate_bn`."""
        arch.check_space(sg.nodes, sg.ops)
        net = cls(arch, sg.channels, sg.classes, sg.dropout.p, sg.first_node_bn, sg.bn).to(next(sg.parameters()).device)
        state = {}
        for key, value in sg.state_dict().items():
            parts = key.split(".")
            if parts[0] == sg.table_name:
                if arch.ops[int(parts[1])] != parts[2]:
                    continue
                key = ".".join(parts[:2] + parts[3:])
            state[key] = value
        loaded = net.load_state_dict(state, strict=False)   # the supergraph has no running statistics
        assert not loaded.unexpected_keys, loaded
        assert all(k.endswith(("running_mean", "running_var")) for k in loaded.missing_keys), loaded
        return net


@torch.no_grad()
def calibrate_bn(net: nn.Module, batches) -> None:
    """Set every BN's running mean and (unbiased) variance to those of its input over all of `batches` (inputs x)
    at once, in eval mode: each BN's statistics are of what the BNs before it output with theirs, so eval mode
    computes on these images what batch statistics compute. Weights do not change; the mode is restored."""
    def set_stats(bn, args):
        var, mean = torch.var_mean(args[0].float(), dim=(0, 2, 3), correction=1)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.num_batches_tracked.fill_(1)

    was_training = net.training
    hooks = [m.register_forward_pre_hook(set_stats) for m in net.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    try:
        net.eval()(torch.cat(list(batches)))
    finally:
        for hook in hooks:
            hook.remove()
        net.train(was_training)
