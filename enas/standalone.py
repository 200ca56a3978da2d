"""The text of an exported child: a standalone Python file that needs only torch (filled in by
`formats.pytorch_source`). It builds the network exactly as `enas.model.ChildNet` does in the run's form `bn`,
with the same module names, so that the state dict of a run's `final.pt` loads into it."""
from string import Template

SOURCE = Template('''\
"""ENAS child `$arch`, exported by enas-explorer.

The network and a loader of its trained weights; needs only torch.
$form

    python THIS_FILE.py [final.pt]      # load the weights and print the parameter count

Inputs are NCHW float images, normalised with the mean and std that final.pt holds (`net.mean`, `net.std`).
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCH = "$arch"
OPS = $ops  # node i's op
SKIPS = $skips  # node i adds node j's output where SKIPS[i][j] is 1
CHANNELS, CLASSES, DROPOUT, FIRST_NODE_BN, IMAGE_SIZE = $channels, $classes, $dropout, $first_node_bn, $image_size
BN = "$bn"  # how the ops are normalised (see above)
CLASS_NAMES = $names
KERNEL = {"conv1x1": 1, "conv3x3": 3, "conv5x5": 5}


def conv_bn_relu(c_in, c_out, k=3):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def pool(op):
    return nn.MaxPool2d(3, 1, 1) if op == "maxpool3x3" else nn.AvgPool2d(3, 1, 1, count_include_pad=False)


POOLS = {op: pool(op) for op in ("maxpool3x3", "avgpool3x3")}  # the weightless pools of BN "node"


class ConvReLU(nn.Conv2d):
    """conv (bias) + ReLU, a conv op of BN "node"."""

    def forward(self, x):
        return F.relu(super().forward(x), inplace=True)


def op_module(op):
    """Node op `op` in the form BN; None for a pool of BN "node" (it has no weights: POOLS)."""
    c, k = CHANNELS, KERNEL.get(op)
    if BN == "node":
        return ConvReLU(c, c, k, padding=k // 2) if k else None
    if BN == "op":
        return conv_bn_relu(c, c, k) if k else nn.Sequential(pool(op), nn.BatchNorm2d(c))
    first = conv_bn_relu(c, c, 1)  # BN "enas": a conv1x1-BN-ReLU first
    if k is None:
        return nn.Sequential(*first, pool(op))
    return first if k == 1 else nn.Sequential(*first, *conv_bn_relu(c, c, k))


class Net(nn.Module):
    """Stem conv3x3-BN-ReLU + maxpool2; node i = BN(op_i(node i-1) + its skips) (node 0: no BN unless
    FIRST_NODE_BN), ops as bn="$bn" builds them (see above), pools 3x3 stride 1; tail maxpool2 + conv3x3-BN-ReLU
    + maxpool2, global average pool, dropout, linear."""

    def __init__(self):
        super().__init__()
        c = CHANNELS
        self.stem = nn.Sequential(conv_bn_relu(3, c), nn.MaxPool2d(2))
        self.tail = nn.Sequential(nn.MaxPool2d(2), conv_bn_relu(c, c), nn.MaxPool2d(2))
        self.dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(c, CLASSES)
        ops = nn.ModuleDict({str(i): m for i, op in enumerate(OPS) if (m := op_module(op)) is not None})
        setattr(self, "convs" if BN == "node" else "branches", ops)  # the names of enas.model.ChildNet
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) if i or FIRST_NODE_BN else nn.Identity() for i in range(len(OPS)))

    def forward(self, x):
        ops = self.convs if BN == "node" else self.branches
        x, outs = self.stem(x), []
        for i, op in enumerate(OPS):
            y = (ops[str(i)] if str(i) in ops else POOLS[op])(x)
            for j, bit in enumerate(SKIPS[i]):
                if bit:
                    y = y + outs[j]
            x = self.bns[i](y)
            outs.append(x)
        return self.classifier(self.dropout(self.tail(x).mean((2, 3))))


def load(path="final.pt", map_location="cpu"):
    """Net with the weights of `path` (a run's final.pt, or a bare state dict), in eval mode."""
    obj = torch.load(path, map_location=map_location, weights_only=True)
    arch = obj.get("arch", {}).get("string", ARCH) if isinstance(obj, dict) else ARCH
    if arch != ARCH:
        raise ValueError(f"{path} holds the weights of {arch!r}, not of {ARCH!r}")
    if obj.get("bn", BN) != BN:
        raise ValueError(f"{path} holds weights of the bn={obj['bn']!r} form, this file builds bn={BN!r}")
    net = Net()
    net.load_state_dict(obj.get("state_dict", obj))
    net.mean, net.std = obj.get("mean"), obj.get("std")
    return net.eval()


def main(path):
    """Load `path` or exit with one line saying why (status 2): a missing or unreadable weights file."""
    try:
        return load(path)
    except FileNotFoundError:
        problem = (f"{path}: no such weights file; give the path of the run's final.pt (written by final "
                   f"training), e.g. python {sys.argv[0]} runs/RUN/final.pt")
    except IsADirectoryError:
        problem = f"{path} is a folder; give the path of the run's final.pt, e.g. {path.rstrip('/')}/final.pt"
    except PermissionError as e:
        problem = f"cannot read {path}: {e.strerror}"
    except ValueError as e:  # the weights of another architecture or form
        problem = str(e)
    except Exception as e:  # not a torch file, truncated, or a state dict of another network
        detail = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        what = "its weights do not fit this network" if "state_dict" in str(e) else \
            "not a readable PyTorch weights file (a run's final.pt)"
        problem = f"cannot load the weights in {path}: {what} ({detail})"
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    net = main(sys.argv[1] if len(sys.argv) > 1 else "final.pt")
    with torch.no_grad():
        shape = tuple(net(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)).shape)
    print(f"{ARCH}: {sum(p.numel() for p in net.parameters()):,} parameters, output {shape}")
''')
