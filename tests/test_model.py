"""The shared-weight supergraph and standalone children."""
import pytest
import torch
import torch.nn.functional as F

from enas.controller import RandomSampler
from enas.model import ChildNet, Supergraph, calibrate_bn
from enas.space import OPS, Architecture


def random_archs(n, nodes=4, seed=0, ops=OPS):
    return RandomSampler(nodes, ops).sample(n, generator=torch.Generator().manual_seed(seed)).archs


def test_output_shapes_for_random_architectures():
    torch.manual_seed(0)
    sg = Supergraph(4, 8, classes=7)
    x = torch.randn(5, 3, 32, 32)
    for arch in random_archs(10):
        assert sg(x, arch).shape == (5, 7)


def test_unsampled_ops_get_no_gradient_and_no_work():
    torch.manual_seed(0)
    sg = Supergraph(3, 8)
    arch = Architecture.parse("c3 mp:1 c5:01")
    calls = []
    for i, convs in enumerate(sg.convs):
        for op, conv in convs.items():
            conv.register_forward_hook(lambda m, inp, out, key=(i, op): calls.append(key))
    F.cross_entropy(sg(torch.randn(4, 3, 32, 32), arch), torch.arange(4)).backward()
    assert calls == [(0, "conv3x3"), (2, "conv5x5")]
    for i, convs in enumerate(sg.convs):
        for op, conv in convs.items():
            used = (i, op) in calls
            assert (conv.weight.grad is not None) == used, (i, op)
            if used:
                assert conv.weight.grad.abs().sum() > 0


def test_parameters_only_for_the_spaces_conv_ops():
    sg = Supergraph(2, 8, ops=("conv3x3", "maxpool3x3", "avgpool3x3"))
    assert [list(d.keys()) for d in sg.convs] == [["conv3x3"], ["conv3x3"]]


@pytest.mark.parametrize("seed", range(4))
def test_standalone_child_matches_the_supergraph(seed):
    torch.manual_seed(seed)
    sg = Supergraph(5, 8)
    # train the shared weights a little so that BN affine weights are not at their initial values
    opt = torch.optim.SGD(sg.parameters(), lr=0.1)
    for arch in random_archs(3, 5, seed):
        opt.zero_grad()
        F.cross_entropy(sg(torch.randn(8, 3, 32, 32), arch), torch.arange(8)).backward()
        opt.step()
    arch = random_archs(1, 5, seed + 10)[0]
    child = ChildNet.from_supergraph(sg, arch)
    x = torch.randn(6, 3, 32, 32)
    torch.testing.assert_close(child(x), sg(x, arch))  # both normalise with batch statistics in training mode
    assert sum(p.numel() for p in child.parameters()) == arch.param_count(8)


def test_fresh_child_differs_and_trains():
    arch = Architecture.parse("c3 c1:1")
    torch.manual_seed(0)
    net = ChildNet(arch, 8)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    first = F.cross_entropy(net(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    assert F.cross_entropy(net(x), y).item() < first * 0.5


def test_inheriting_refuses_an_architecture_outside_the_space():
    sg = Supergraph(2, 8, ops=("conv3x3", "maxpool3x3"))
    with pytest.raises(ValueError, match="not in this search space"):
        ChildNet.from_supergraph(sg, Architecture.parse("c5 mp:1"))


def test_calibrated_statistics_are_those_of_each_bns_eval_mode_input_over_all_the_batches():
    torch.manual_seed(0)
    sg = Supergraph(3, 8)
    arch = Architecture.parse("c3 c5:1 mp:01")
    child = ChildNet.from_supergraph(sg, arch).train()
    batches = [torch.randn(4, 3, 32, 32) * (k + 1) for k in range(3)]
    calibrate_bn(child, batches)
    assert child.training  # back in the mode it was in
    x = torch.cat(batches)
    with torch.no_grad():
        conv = child.stem[0][0](x)
    stem_bn = child.stem[0][1]
    torch.testing.assert_close(stem_bn.running_mean, conv.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stem_bn.running_var, conv.var((0, 2, 3), unbiased=True), rtol=1e-5, atol=1e-6)
    bns = [m for m in child.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: inputs.__setitem__(m, args[0])) for m in bns]
    with torch.no_grad():
        child.eval()(x)
    for h in hooks:
        h.remove()
    for m in bns:   # each BN: the statistics of what the BNs before it output in eval mode
        torch.testing.assert_close(m.running_mean, inputs[m].mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m.running_var, inputs[m].var((0, 2, 3)), rtol=1e-5, atol=1e-6)
        assert m.num_batches_tracked.item() == 1 and m.momentum == 0.1 and not m._forward_pre_hooks
    for k, v in child.state_dict().items():  # weights untouched
        if "running" not in k and "tracked" not in k:
            torch.testing.assert_close(v, ChildNet.from_supergraph(sg, arch).state_dict()[k], rtol=0, atol=0)


@pytest.mark.parametrize("bn", ["node", "op", "enas"])
def test_a_child_calibrated_on_batches_scores_them_as_the_supergraph_does(bn):
    """Eval mode after calibration = the supergraph's batch statistics over all the batches at once (the
    unbiased variance's n/(n-1) aside: 1/2n = 6e-5 at the tail's 128 x 8 x 8 values)."""
    torch.manual_seed(1)
    sg = Supergraph(4, 8, bn=bn)
    batches = [torch.randn(32, 3, 32, 32) for _ in range(4)]
    for arch in random_archs(3, 4, 3):
        child = ChildNet.from_supergraph(sg, arch)
        calibrate_bn(child, batches)
        with torch.no_grad():
            out, want = child.eval()(torch.cat(batches)), sg(torch.cat(batches), arch)
        assert (out - want).abs().max() <= 1e-4 * want.abs().max(), str(arch)


def test_an_inheriting_child_has_the_supergraphs_dropout_and_node_bns():
    sg = Supergraph(3, 8, dropout=0.3, first_node_bn=True)
    child = ChildNet.from_supergraph(sg, Architecture.parse("c3 c5:1 mp:01"))
    assert child.dropout.p == 0.3 and isinstance(child.bns[0], torch.nn.BatchNorm2d)
    plain = ChildNet.from_supergraph(Supergraph(3, 8), Architecture.parse("c3 c5:1 mp:01"))
    assert plain.dropout.p == 0.0 and isinstance(plain.bns[0], torch.nn.Identity)
    assert ChildNet(Architecture.parse("c3"), 8, dropout=0.2).dropout.p == 0.2


def reference_forward(sg, x, arch):
    """The supergraph's forward pass for `arch`, written out with functional ops and its weights."""
    def bn(module, t):
        return F.batch_norm(t, None, None, module.weight, module.bias, training=True)

    stem_conv, stem_bn = sg.stem[0][0], sg.stem[0][1]
    h = F.max_pool2d(F.relu(bn(stem_bn, F.conv2d(x, stem_conv.weight, None, padding=1))), 2, 2)
    outs = []
    for i, op in enumerate(arch.ops):
        if op == "maxpool3x3":
            y = F.max_pool2d(h, 3, 1, 1)
        elif op == "avgpool3x3":
            y = F.avg_pool2d(h, 3, 1, 1, count_include_pad=False)
        else:
            conv = sg.convs[i][op]
            y = F.relu(F.conv2d(h, conv.weight, conv.bias, padding=conv.weight.shape[-1] // 2))
        for j in arch.inputs(i):
            y = y + outs[j]
        h = bn(sg.bns[i], y) if i > 0 or sg.first_node_bn else y
        outs.append(h)
    tail_conv, tail_bn = sg.tail[1][0], sg.tail[1][1]
    t = F.max_pool2d(F.relu(bn(tail_bn, F.conv2d(F.max_pool2d(h, 2, 2), tail_conv.weight, None, padding=1))), 2, 2)
    return F.linear(t.mean((2, 3)), sg.classifier.weight, sg.classifier.bias)


@pytest.mark.parametrize("text, first_node_bn", [("c3 c5:1 mp:01 ap:110", False), ("ap mp:1 c1:11 c3:101", True),
                                                  ("c1 ap:0 ap:10 mp:011", False)])
def test_supergraph_forward_matches_a_functional_reference(text, first_node_bn):
    torch.manual_seed(0)
    sg = Supergraph(4, 8, first_node_bn=first_node_bn)
    with torch.no_grad():
        for p in sg.parameters():
            p.add_(torch.randn_like(p) * 0.1)   # BN affine weights away from 1 and 0
    x, arch = torch.randn(5, 3, 32, 32), Architecture.parse(text)
    torch.testing.assert_close(sg(x, arch), reference_forward(sg, x, arch), rtol=1e-4, atol=1e-5)


def test_pooling_before_the_relu_in_stem_and_tail_changes_no_output_and_no_gradient():
    """The model pools its stem and tail before their ReLU (cheaper); the reference ReLUs first. Both BN biases are
    pushed below zero so that whole pool windows are zero after the ReLU: ties, whose gradient must still be 0."""
    torch.manual_seed(0)
    sg = Supergraph(4, 8).to(memory_format=torch.channels_last)
    with torch.no_grad():
        sg.stem[0][1].bias.fill_(-0.8)
        sg.tail[1][1].bias.fill_(-0.8)
    x = torch.randn(6, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    arch = Architecture.parse("c3 c5:1 mp:01 ap:110")
    runs = []
    for forward in (lambda: sg(x, arch), lambda: reference_forward(sg, x, arch)):
        sg.zero_grad(set_to_none=True)
        out = forward()
        out.square().sum().backward()
        runs.append([out.detach()] + [p.grad.clone() for p in sg.parameters() if p.grad is not None])
    assert len(runs[0]) == len(runs[1]) > 10
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    stem = sg.stem[0](x)
    assert (F.max_pool2d(F.relu(stem), 2) == 0).any()   # the ties the docstring names happen here


def test_the_supergraph_keeps_no_shared_statistics_and_a_child_keeps_its_own():
    sg = Supergraph(3, 8, first_node_bn=True)
    assert not [k for k in sg.state_dict() if "running" in k or "tracked" in k]
    child = ChildNet.from_supergraph(sg, Architecture.parse("c3 c5:1 mp:01"))
    assert len([k for k in child.state_dict() if k.endswith("running_mean")]) == 2 + 3   # stem, tail, 3 nodes
