"""enas-explorer: ENAS (Efficient Neural Architecture Search via parameter sharing) that you can watch.

Modules: `space` (architectures as data), `model` (supergraph and child networks), `controller` (LSTM policy,
random search, REINFORCE), `config` (settings and presets), `data` (datasets: `splits`, `cifar`,
`folder`, `decode`, `cache`; `datacheck` checks one before a run) and `pipeline` (batches),
`store` (the on-disk run store), `search` (search, derive and final training), `cli` (`python -m enas`).
"""
from .space import OPS, Architecture, ArchitectureError, space_size

__all__ = ["OPS", "Architecture", "ArchitectureError", "space_size"]
