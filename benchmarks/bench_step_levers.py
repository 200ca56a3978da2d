"""What else could bring the CPU child step toward its convolutions-alone ceiling (issue 23, item 1)?

    python benchmarks/bench_step_levers.py             # about 2 minutes on one core
    python benchmarks/bench_step_levers.py --compile   # also torch.compile of a node's skip sum + BN (~2 min more)

Each row times the engine's way (native) and an alternative that computes the same result, interleaved, one
torch thread, medians of --reps rounds, on the yardstick child's shapes (batch 64, 32 channels, channels-last),
forward and backward; and checks the alternative's outputs and gradients against the native ones (max abs
difference; inputs without ties, where a max's gradient may go to any of the tied inputs). A ratio
above 1 means the alternative is faster. Writes benchmarks/results/step-levers.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import machine  # noqa: E402
from bench_step import YARDSTICK_ARCH  # noqa: E402
from enas.model import Supergraph  # noqa: E402

CL = torch.channels_last


def tensor(*shape, grad=True) -> torch.Tensor:
    return torch.randn(*shape).contiguous(memory_format=CL).requires_grad_(grad)


class HandBN(torch.autograd.Function):
    """Training-mode batch norm from tensor ops (channels-last as a (pixels, channels) matrix)."""

    @staticmethod
    def forward(ctx, x, w, b):
        n, c, h, wd = x.shape
        x2 = x.permute(0, 2, 3, 1).reshape(-1, c)
        var, mean = torch.var_mean(x2, 0, correction=0)
        invstd = torch.rsqrt(var + 1e-5)
        xhat = (x2 - mean) * invstd
        ctx.save_for_backward(xhat, w, invstd)
        return torch.addcmul(b, xhat, w).view(n, h, wd, c).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, g):
        xhat, w, invstd = ctx.saved_tensors
        n, c, h, wd = g.shape
        g2 = g.permute(0, 2, 3, 1).reshape(-1, c)
        gb, gw = g2.sum(0), (g2 * xhat).sum(0)
        gx = (g2 - gb / len(g2) - xhat * (gw / len(g2))) * (w * invstd)
        return gx.view(n, h, wd, c).permute(0, 3, 1, 2), gw, gb


def pool2_amax(x):
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2, c).amax((2, 4)).permute(0, 3, 1, 2)


def skip_sum(y, skips):
    for s in skips:
        y = y + s
    return y


def skip_sum_inplace(y, skips):
    y = y + skips[0]
    for s in skips[1:]:
        y.add_(s)
    return y


def stem_tail(x, w, b):
    """The stem's BN, ReLU and 2x2 max pool in their written order (the model now pools first, as below)."""
    return F.max_pool2d(F.relu(F.batch_norm(x, None, None, w, b, True)), 2)


def stem_tail_pool_first(x, w, b):
    """The same with the pool before the ReLU: a max commutes with ReLU, so the ReLU runs on a quarter of the
    pixels; ties at zero get no gradient either way (ReLU's is zero there)."""
    return F.relu(F.max_pool2d(F.batch_norm(x, None, None, w, b, True), 2))


def node_tail(y, a, b, w, bias):
    return F.batch_norm(y + a + b, None, None, w, bias, True)


def pair(native, alt, inputs: list, grad_out: torch.Tensor):
    """(forward+backward of native, of alt) as callables, and the max abs difference of outputs and gradients."""
    def run(f):
        for t in inputs:
            t.grad = None
        out = f(*inputs)
        out.backward(grad_out)
        return [out.detach()] + [t.grad for t in inputs]
    diff = max((p - q).abs().max().item() for p, q in zip(run(native), run(alt)))
    return (lambda: run(native)), (lambda: run(alt)), diff


def child_step(sgd: str):
    """A child step whose SGD runs per parameter, `foreach` (multi-tensor) or `fused` (one kernel)."""
    torch.manual_seed(0)
    sg = Supergraph(6, 32).to(memory_format=CL)
    opt = torch.optim.SGD(sg.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4,
                          foreach=sgd == "foreach", fused=sgd == "fused" or None)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 3, 32, 32, generator=gen).contiguous(memory_format=CL)
    y = torch.randint(0, 10, (64,), generator=gen)

    def step():
        loss = F.cross_entropy(sg(x, YARDSTICK_ARCH), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return sg, step


def timed(fns: dict, reps: int, calls: int) -> dict:
    """Milliseconds per call, medians over `reps` interleaved rounds of `calls` calls each."""
    for f in fns.values():
        f()
    ms = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                f()
            ms[k].append(1e3 * (time.perf_counter() - start) / calls)
    return {k: statistics.median(v) for k, v in ms.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also torch.compile (inductor) of skip sum + BN")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    node = (64, 32, 16, 16)
    w, b = torch.rand(32, requires_grad=True), torch.randn(32, requires_grad=True)
    a, s1, s2, s3 = (tensor(*node) for _ in range(4))
    rows = {
        "batch norm (a node's, training mode)": pair(lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
                                                    HandBN.apply, [a, w, b], tensor(*node, grad=False)),
        "stem max pool 2x2": pair(lambda x: F.max_pool2d(x, 2), pool2_amax,
                                               [tensor(64, 32, 32, 32)], tensor(*node, grad=False)),
        "stem BN + ReLU + max pool 2x2": pair(stem_tail, stem_tail_pool_first, [tensor(64, 32, 32, 32), w, b],
                                              tensor(*node, grad=False)),
        "node max pool 3x3 stride 1": pair(lambda x: F.max_pool2d(x, 3, 1, 1),
                                           lambda x: F.max_pool2d(F.max_pool2d(x, (1, 3), 1, (0, 1)), (3, 1), 1, (1, 0)),
                                           [a], tensor(*node, grad=False)),
        "skip sum of 3 inputs": pair(lambda y, p, q, r: skip_sum(y * 1, [p, q, r]),
                                     lambda y, p, q, r: skip_sum_inplace(y * 1, [p, q, r]), [a, s1, s2, s3],
                                     tensor(*node, grad=False)),
    }
    if args.compile:
        start = time.perf_counter()
        compiled = torch.compile(node_tail, dynamic=False)
        compiled(a, s1, s2, w, b).sum().backward()
        compile_s = time.perf_counter() - start
        rows[f"skip sum + BN, torch.compile (compiled in {compile_s:.0f} s)"] = pair(
            node_tail, compiled, [a, s1, s2, w, b], tensor(*node, grad=False))
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "threads": 1, "reps": args.reps, "rows": {}}
    print(f"{out['machine']['cpu']} ({', '.join(k for k, v in out['machine']['flags'].items() if v)}), "
          f"torch {torch.__version__}, 1 thread, medians of {args.reps}")
    print(f"{'':<58}{'native ms':>10}{'alt. ms':>10}{'ratio':>8}{'max diff':>10}")
    for name, (native, alt, diff) in rows.items():
        ms = timed({"native": native, "alt": alt}, args.reps, 10)
        out["rows"][name] = {**ms, "speedup": ms["native"] / ms["alt"], "max_abs_diff": diff}
        print(f"{name:<58}{ms['native']:>10.2f}{ms['alt']:>10.2f}{ms['native'] / ms['alt']:>7.2f}x{diff:>10.1e}")
    for sgd in ("foreach", "fused"):
        (sg_a, step_a), (sg_b, step_b) = child_step("per-parameter"), child_step(sgd)
        ms = timed({"native": step_a, "alt": step_b}, args.reps, 5)
        diff = max((p - q).abs().max().item() for p, q in zip(sg_a.parameters(), sg_b.parameters()))
        name = f"child step: SGD {sgd} vs per-parameter"
        out["rows"][name] = {**ms, "speedup": ms["native"] / ms["alt"], "max_abs_diff": diff}
        print(f"{name:<58}{ms['native']:>10.2f}{ms['alt']:>10.2f}{ms['native'] / ms['alt']:>7.2f}x{diff:>10.1e}")
    path = ROOT / "benchmarks" / "results" / "step-levers.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
