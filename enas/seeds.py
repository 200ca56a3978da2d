"""Independent random streams: one per (run seed, purpose), so that no two purposes or seeds share numbers.

Seeding purposes as seed + 1, seed + 2, ... made seed 0's controller stream equal seed 1's data stream; a hash
of (seed, purpose) gives unrelated streams instead.
"""
from __future__ import annotations

import hashlib

import torch


def stream_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose of one run."""
    digest = hashlib.sha256(f"enas-explorer:{int(seed)}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def stream(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator seeded for one purpose of one run."""
    return torch.Generator().manual_seed(stream_seed(seed, purpose))
