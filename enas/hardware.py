"""What the machine offers a run: the device to train on, its torch threads, and whether mixed precision is fast
on this CPU. Imports torch only where a function needs it (a launcher of Ray runs resolves threads without it)."""
from __future__ import annotations

import os

AUTO_THREADS_MAX = 8   # auto's ceiling: the search's small convolutions gain little from many threads (a guess:
                       # measured only on 2 cores, benchmarks/README.md "Torch threads")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or taskset's), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_threads() -> int:
    """What a `threads` field of 0 (auto) becomes here: OMP_NUM_THREADS when it is a positive number, else one
    fewer than the usable CPUs (1 on 2 cores: two OpenMP threads on two busy cores stall each other, 3-15x
    slower; on a quiet machine 1 thread costs little, benchmarks/README.md "Torch threads"), at most
    AUTO_THREADS_MAX."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(usable_cpus() - 1, AUTO_THREADS_MAX))


def resolve_threads(threads: int) -> int:
    """The torch threads of a configuration's `threads` field: itself, or auto's number when it is 0."""
    return threads if threads > 0 else auto_threads()


def apply_threads(threads: int) -> int:
    """Set torch's CPU threads for the calling thread's work (with OpenMP the count is per thread, so call it on
    the thread that trains) to the `threads` field's number; returns it."""
    import torch
    n = resolve_threads(threads)
    torch.set_num_threads(n)
    return n


def threads_text(threads: int) -> str:
    """'1 torch thread', '4 torch threads', or 'torch threads: auto' for 0."""
    return "torch threads: auto" if threads <= 0 else f"{threads} torch thread" + ("s" if threads > 1 else "")


def resolve_device(name: str):
    """The torch device of a configuration's `device` field (auto: CUDA when there is one)."""
    import torch
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


BF16_FLAGS = {"avx512_bf16", "amx_bf16"}   # bf16 arithmetic in hardware: autocast is fast, not emulated


def resolve_precision(precision: str, device) -> str:
    """What a `precision` field of auto becomes on `device`: bf16 on a GPU or on a CPU with bf16 arithmetic
    (AVX-512-BF16 or AMX: 1.2-1.6x faster than fp32 and within seed noise in accuracy, benchmarks/README.md
    "Mixed precision"), else fp32; any other value is itself."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_flags() & BF16_FLAGS) else "fp32"


def precision_text(precision: str, device) -> str:
    """'fp32', or for auto what it becomes and why: 'bf16 (precision auto: this CPU has avx512_bf16)'."""
    if precision != "auto":
        return precision
    got = resolve_precision(precision, device)
    why = ("a GPU" if device.type == "cuda" else
           "this CPU has " + ", ".join(sorted(cpu_flags() & BF16_FLAGS)) if got == "bf16" else
           "this CPU has no bf16 arithmetic (AVX-512-BF16 or AMX)")
    return f"{got} (precision auto: {why})"


def slow_precision(device, precision: str) -> str | None:
    """Why mixed precision will be slower than fp32 on this CPU, if it will: without bf16 arithmetic in hardware
    (AVX-512-BF16 or AMX) autocast is emulated (bf16 ran 7x slower than fp32 on an AVX2 EPYC)."""
    if device.type != "cpu" or precision == "fp32":
        return None
    flags = cpu_flags()
    if not flags or (precision == "bf16" and flags & BF16_FLAGS):
        return None   # unknown CPU, or one with bf16 arithmetic
    return (f"{precision} autocast on this CPU is emulated and much slower than fp32 (it has no "
            + ("AVX-512-BF16 or AMX" if precision == "bf16" else "fp16 arithmetic for training")
            + "): use fp32 here (--precision fp32, or the precision field of the app's Run settings); mixed "
            "precision pays off on a GPU or a CPU with those")
