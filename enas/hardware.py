"""What the machine offers a run: the device to train on, and whether mixed precision is fast on this CPU."""
from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """The torch device of a configuration's `device` field (auto: CUDA when there is one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("field 'device': value 'cuda' is not available on this machine (no CUDA GPU); use cpu or auto")
    return torch.device(name)


def cpu_flags() -> set:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def slow_precision(device: torch.device, precision: str) -> str | None:
    """Why mixed precision will be slower than fp32 on this CPU, if it will: without bf16 arithmetic in hardware
    (AVX-512-BF16 or AMX) autocast is emulated (bf16 ran 7x slower than fp32 on an AVX2 EPYC)."""
    if device.type != "cpu" or precision == "fp32":
        return None
    flags = cpu_flags()
    if not flags or (precision == "bf16" and flags & {"avx512_bf16", "amx_bf16"}):
        return None   # unknown CPU, or one with bf16 arithmetic
    return (f"{precision} autocast on this CPU is emulated and much slower than fp32 (it has no "
            + ("AVX-512-BF16 or AMX" if precision == "bf16" else "fp16 arithmetic for training")
            + "): use fp32 here (--precision fp32, or the precision field of the app's Run settings); mixed "
            "precision pays off on a GPU or a CPU with those")
