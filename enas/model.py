"""Networks: the shared-weight `Supergraph`, and `ChildNet`, one architecture as a standalone module.

Layout (both): stem conv3x3(3->C) + BN + ReLU + maxpool2; N nodes at C channels, node i computing
BN(op_i(x_{i-1}) + sum of its skips), conv ops being conv(bias) + ReLU; tail maxpool2 + conv3x3 + BN + ReLU
+ maxpool2, global average pool, dropout, linear. Node 0, which has no skips, gets a BN only with
`first_node_bn` (the seed notebook and ENAS normalise only after a skip sum, nodes i > 0).

The supergraph's BNs keep no running statistics: each child has different activations, so statistics shared
by all children would mix them. They normalise with the batch's statistics in training and when scoring a
reward alike (ENAS keeps moving statistics and scores rewards with them). A `ChildNet` has ordinary BNs:
one inheriting the shared weights copies their affine weights, then `calibrate_bn` computes its own statistics
on training batches, so that it scores in eval mode what the supergraph scores with batch statistics.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from enas.space import KERNEL, OPS, Architecture


def conv_bn_relu(c_in: int, c_out: int, running_stats: bool) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out, track_running_stats=running_stats), nn.ReLU(inplace=True))


def apply_op(op: str, x: torch.Tensor, conv: nn.Conv2d | None) -> torch.Tensor:
    """One node's op: a conv (+ ReLU) from the given conv module, or a parameter-free 3x3 pool."""
    if op == "maxpool3x3":
        return F.max_pool2d(x, 3, 1, 1)
    if op == "avgpool3x3":
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return F.relu(conv(x), inplace=True)


def node_bns(nodes: int, channels: int, running_stats: bool, first_node_bn: bool) -> nn.ModuleList:
    """Each node's BN; node 0's is an identity unless `first_node_bn`."""
    return nn.ModuleList(nn.BatchNorm2d(channels, track_running_stats=running_stats) if i or first_node_bn
                         else nn.Identity() for i in range(nodes))


class Body(nn.Module):
    """What every network here shares: stem, tail and classifier."""

    def __init__(self, channels: int, classes: int, running_stats: bool, dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, channels, running_stats), nn.MaxPool2d(2))
        self.tail = nn.Sequential(nn.MaxPool2d(2), conv_bn_relu(channels, channels, running_stats), nn.MaxPool2d(2))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, classes)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.tail(x).mean((2, 3))))


def run_chain(x: torch.Tensor, arch: Architecture, convs, bns) -> torch.Tensor:
    """Run the node chain of `arch`: convs(i, op) gives node i's conv module, bns[i] its BN."""
    outs = []
    for i, op in enumerate(arch.ops):
        y = apply_op(op, x, convs(i, op))
        for j in arch.inputs(i):
            y = y + outs[j]
        x = bns[i](y)
        outs.append(x)
    return x


class Supergraph(Body):
    """Weights of every op of every node; `forward(x, arch)` runs only the child `arch`."""

    def __init__(self, nodes: int = 6, channels: int = 32, ops=OPS, classes: int = 10, dropout: float = 0.0,
                 first_node_bn: bool = False):
        super().__init__(channels, classes, running_stats=False, dropout=dropout)
        self.nodes, self.channels, self.ops, self.classes = nodes, channels, tuple(ops), classes
        self.first_node_bn = first_node_bn
        self.convs = nn.ModuleList(
            nn.ModuleDict({op: nn.Conv2d(channels, channels, KERNEL[op], padding=KERNEL[op] // 2)
                           for op in self.ops if op in KERNEL})
            for _ in range(nodes))
        self.bns = node_bns(nodes, channels, False, first_node_bn)

    def conv(self, i: int, op: str):
        return self.convs[i][op] if op in KERNEL else None

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        return self.head(run_chain(self.stem(x), arch, self.conv, self.bns))


class ChildNet(Body):
    """One architecture as an ordinary module, with only the weights it uses."""

    def __init__(self, arch: Architecture, channels: int = 32, classes: int = 10, dropout: float = 0.0,
                 first_node_bn: bool = False):
        super().__init__(channels, classes, running_stats=True, dropout=dropout)
        self.arch = arch
        self.convs = nn.ModuleDict({str(i): nn.Conv2d(channels, channels, KERNEL[op], padding=KERNEL[op] // 2)
                                    for i, op in enumerate(arch.ops) if op in KERNEL})
        self.bns = node_bns(arch.nodes, channels, True, first_node_bn)

    def conv(self, i: int, op: str):
        return self.convs[str(i)] if op in KERNEL else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(run_chain(self.stem(x), self.arch, self.conv, self.bns))

    @classmethod
    def from_supergraph(cls, sg: Supergraph, arch: Architecture) -> "ChildNet":
        """A child with the supergraph's shared weights; its BN statistics are empty until `calibrate_bn`."""
        arch.check_space(sg.nodes, sg.ops)
        net = cls(arch, sg.channels, sg.classes, sg.dropout.p, sg.first_node_bn).to(next(sg.parameters()).device)
        net.stem.load_state_dict(sg.stem.state_dict(), strict=False)
        net.tail.load_state_dict(sg.tail.state_dict(), strict=False)
        net.classifier.load_state_dict(sg.classifier.state_dict())
        for i, op in enumerate(arch.ops):
            if op in KERNEL:
                net.convs[str(i)].load_state_dict(sg.convs[i][op].state_dict())
        net.bns.load_state_dict(sg.bns.state_dict(), strict=False)
        return net


@torch.no_grad()
def calibrate_bn(net: nn.Module, batches) -> None:
    """Set the running mean and variance of every BN of `net` to their exact averages over `batches` (inputs
    x), computed in training mode; weights do not change, and the module returns to the mode it was in."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = net.training
    net.train()
    for x in batches:
        net(x)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    net.train(was_training)
