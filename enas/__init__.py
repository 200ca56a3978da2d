"""enas-explorer: ENAS (Efficient Neural Architecture Search via parameter sharing) that you can watch.

The core, here: `space` (architectures as plain data) and its `formats` (with `standalone`, a child as a
PyTorch file), `model` (supergraph and child networks), `controller` (LSTM policy, random search, REINFORCE),
`constraints` (what a steered run's samplers may draw), `steering` (the changes a user makes to a live run),
`config` (settings and presets), `seeds`, `errors` and `hardware`. Above it, each package importing only those
below it: `data`, `quality`, `runs`, `engine`, then `scale` and `teach`, then `cli` (`python -m enas`).
The README's "Where things live" draws the layers; tests/test_layout.py keeps them true.
"""
from enas.space import OPS, Architecture, ArchitectureError, space_size

__all__ = ["OPS", "Architecture", "ArchitectureError", "space_size"]
