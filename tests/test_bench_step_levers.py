"""benchmarks/bench_step_levers.py compares each native op with an alternative that must compute the same outputs
and gradients: checked here on small tensors, and the script's own pairing of them on its shapes."""
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_step_levers", ROOT / "benchmarks" / "bench_step_levers.py")
levers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(levers)


def grads(f, *inputs):
    for t in inputs:
        t.grad = None
    out = f(*inputs)
    out.backward(torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape).sin())
    return [out.detach()] + [t.grad.clone() for t in inputs]


def close(a, b, tol=1e-5):
    return all(torch.allclose(p, q, atol=tol, rtol=tol) for p, q in zip(a, b))


def test_the_hand_written_batch_norm_is_training_mode_batch_norm_forward_and_backward():
    torch.manual_seed(0)
    x = levers.tensor(4, 3, 5, 5)
    w, b = torch.rand(3, requires_grad=True), torch.randn(3, requires_grad=True)
    native = grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), x, w, b)
    hand = grads(levers.HandBN.apply, x, w, b)
    assert close(native, hand, 1e-4)
    assert not close(native, grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, True, eps=1e-1), x, w, b))


def test_the_pool_and_skip_sum_alternatives_match_the_native_ops():
    torch.manual_seed(0)
    x = levers.tensor(2, 3, 6, 6)
    assert close(grads(lambda x: F.max_pool2d(x, 2), x), grads(levers.pool2_amax, x))
    y, p, q = (levers.tensor(2, 3, 4, 4) for _ in range(3))
    assert close(grads(lambda *t: levers.skip_sum(t[0] * 1, t[1:]), y, p, q),
                 grads(lambda *t: levers.skip_sum_inplace(t[0] * 1, t[1:]), y, p, q))
    native, alt, diff = levers.pair(lambda x: F.max_pool2d(x, 2), levers.pool2_amax, [x], levers.tensor(2, 3, 3, 3))
    assert diff == 0 and close(native(), alt())


def test_pooling_the_stem_before_its_relu_gives_the_same_outputs_and_gradients_even_with_ties_at_zero():
    torch.manual_seed(0)
    x = levers.tensor(2, 3, 6, 6)
    w, b = torch.rand(3, requires_grad=True), torch.full((3,), -0.5, requires_grad=True)   # many pixels below 0
    native = grads(levers.stem_tail, x, w, b)
    assert (native[0] == 0).any()   # some pooled outputs are all-zero windows: ties at zero
    assert all(torch.equal(p, q) for p, q in zip(native, grads(levers.stem_tail_pool_first, x, w, b)))
    avg_first = grads(lambda x, w, b: F.relu(F.avg_pool2d(F.batch_norm(x, None, None, w, b, True), 2)), x, w, b)
    assert not close(native, avg_first)   # the comparison can fail: an average does not commute with ReLU


def test_the_three_sgd_forms_of_the_child_step_train_the_same_weights():
    runs = {sgd: levers.child_step(sgd) for sgd in ("per-parameter", "foreach", "fused")}
    for sg, step in runs.values():
        step()
        step()
    base = list(runs["per-parameter"][0].parameters())
    torch.manual_seed(0)
    start = list(levers.Supergraph(6, 32).parameters())   # the weights child_step starts from
    assert any(not torch.equal(p, q) for p, q in zip(base, start))
    for sgd in ("foreach", "fused"):
        assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(base, runs[sgd][0].parameters()))
