"""Batch norm: `calibrate_bn` on a child with a dead (constant) channel, and the three forms `bn` of the ops
(node, op, enas): the inherited child computes what the supergraph computes, each op has its own BN weights,
the state-dict keys, parameter counts and FLOPs."""
import pytest
import torch

from enas.model import ChildNet, Supergraph, calibrate_bn
from enas.space import Architecture

FORMS = ("node", "op", "enas")
BN = torch.nn.BatchNorm2d


def perturbed(net, scale=0.1):
    """`net` with every parameter moved (BN affine weights away from 1 and 0)."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return net


def old_calibrate_bn(net, batches):
    """What calibrate_bn did: every BN's statistics in one pass in training mode, averaged over the batches."""
    for m in net.modules():
        if isinstance(m, BN):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        for x in batches:
            net(x)


def test_a_dead_channel_stays_calibrated_through_the_chain():
    """Channel 0 is 0 after node 0 (its conv's weights zeroed) and constant through the pools and skips after
    it: in eval mode each BN divides it by sqrt(~0 + eps). Statistics from training mode upstream differ from
    eval mode's by rounding, which each node multiplies by ~1/sqrt(eps); statistics from eval mode do not."""
    torch.manual_seed(0)
    net = perturbed(ChildNet(Architecture.parse("c3 mp:1 ap:01 mp:101 ap:0110 mp:11001 ap:010101"), 8), 0.2)
    with torch.no_grad():
        net.convs["0"].weight[0], net.convs["0"].bias[0] = 0, 0
    batches = [torch.randn(16, 3, 32, 32) for _ in range(3)]
    x = torch.cat(batches)
    last = {}
    net.bns[-1].register_forward_hook(lambda m, args, out: last.__setitem__("out", out))

    def run(mode):
        with torch.no_grad():
            logits = net.train(mode == "train")(x)
        return logits, last["out"][:, 0]

    want, want_dead = run("train")       # batch statistics over all the calibration images
    assert want_dead.std() < 1e-5      # the channel is constant
    calibrate_bn(net, batches)
    got, got_dead = run("eval")
    assert torch.isfinite(got).all() and len(got.argmax(1).unique()) > 1
    assert (got - want).abs().max() <= 1e-3 * want.abs().max()
    assert (got_dead - want_dead).abs().max() < 1e-3
    assert torch.equal(got.argmax(1), want.argmax(1))
    old_calibrate_bn(net, batches)
    old, old_dead = run("eval")
    assert (old_dead - want_dead).abs().max() > 100       # the error grew node by node
    assert (old - want).abs().max() > 10 * want.abs().max()


ARCHS = ["c3 mp:1 c1:01 ap:011 c5:1001", "mp ap:1 mp:01 ap:111", "c1 c3:1 c5:11 c1:010", "ap c5:0 mp:10 c3:011",
         "c5", "mp"]


@pytest.mark.parametrize("bn", FORMS)
@pytest.mark.parametrize("first_node_bn", [False, True])
def test_the_inherited_child_computes_what_the_supergraph_computes(bn, first_node_bn):
    torch.manual_seed(0)
    sg = perturbed(Supergraph(4, 8, first_node_bn=first_node_bn, bn=bn))
    x = torch.randn(6, 3, 32, 32)
    for text in ARCHS[1:4]:   # 4 nodes: all pools, all convs, mixed
        arch = Architecture.parse(text)
        child = ChildNet.from_supergraph(sg, arch)
        assert child.bn == sg.bn == bn
        torch.testing.assert_close(child(x), sg(x, arch), rtol=0, atol=0)   # both: batch statistics (train mode)


def last_bn(module):
    return [m for m in module.modules() if isinstance(m, BN)][-1]


@pytest.mark.parametrize("bn", ["op", "enas"])
def test_two_ops_of_a_node_have_their_own_bn_weights(bn):
    torch.manual_seed(0)
    sg = perturbed(Supergraph(3, 8, bn=bn))
    x = torch.randn(4, 3, 32, 32)
    archs = [Architecture.parse(f"c3 {op}:1 c1:01") for op in ("c1", "c3", "c5", "mp", "ap")]
    for changed in ("conv5x5", "avgpool3x3"):
        with torch.no_grad():
            before = [sg(x, a) for a in archs]
            last_bn(sg.branches[1][changed]).weight.mul_(3)
            after = [sg(x, a) for a in archs]
        for arch, b, a in zip(archs, before, after):
            assert torch.equal(a, b) == (arch.ops[1] != changed), (changed, str(arch))
        child = ChildNet.from_supergraph(sg, Architecture.parse(f"c3 {changed}:1 c1:01"))
        assert torch.equal(last_bn(child.branches["1"]).weight, last_bn(sg.branches[1][changed]).weight)


def test_the_state_dict_keys_of_each_form():
    arch = Architecture.parse("c3 mp:1 c1:01")
    def ops_keys(net, name):
        return [k for k in net.state_dict() if k.startswith(name) and "running" not in k and "tracked" not in k]
    node = ChildNet(arch, 8)
    assert ops_keys(node, "convs") == ["convs.0.weight", "convs.0.bias", "convs.2.weight", "convs.2.bias"]
    assert not ops_keys(node, "branches") and not ops_keys(ChildNet(arch, 8, bn="op"), "convs")
    assert [k for k in Supergraph(2, 8, ops=("conv3x3", "maxpool3x3")).state_dict() if k.startswith("convs")] == [
        "convs.0.conv3x3.weight", "convs.0.conv3x3.bias", "convs.1.conv3x3.weight", "convs.1.conv3x3.bias"]
    assert ops_keys(ChildNet(arch, 8, bn="op"), "branches") == [
        "branches.0.0.weight", "branches.0.1.weight", "branches.0.1.bias",         # conv3x3, BN, ReLU
        "branches.1.1.weight", "branches.1.1.bias",                                 # pool, BN
        "branches.2.0.weight", "branches.2.1.weight", "branches.2.1.bias"]
    assert ops_keys(ChildNet(arch, 8, bn="enas"), "branches") == [
        "branches.0.0.weight", "branches.0.1.weight", "branches.0.1.bias",         # conv1x1, BN, ReLU,
        "branches.0.3.weight", "branches.0.4.weight", "branches.0.4.bias",         # conv3x3, BN, ReLU
        "branches.1.0.weight", "branches.1.1.weight", "branches.1.1.bias",         # conv1x1, BN, ReLU, pool
        "branches.2.0.weight", "branches.2.1.weight", "branches.2.1.bias"]         # conv1x1, BN, ReLU
    assert [k for k in Supergraph(1, 8, ops=("conv1x1", "avgpool3x3"), bn="op").state_dict() if "branches" in k] == [
        "branches.0.conv1x1.0.weight", "branches.0.conv1x1.1.weight", "branches.0.conv1x1.1.bias",
        "branches.0.avgpool3x3.1.weight", "branches.0.avgpool3x3.1.bias"]
    with pytest.raises(ValueError, match="unknown bn form 'cell'"):
        ChildNet(arch, 8, bn="cell")


@pytest.mark.parametrize("bn", FORMS)
@pytest.mark.parametrize("first_node_bn", [False, True])
def test_param_count_counts_the_childs_parameters(bn, first_node_bn):
    for text in ARCHS:
        arch = Architecture.parse(text)
        net = ChildNet(arch, 8, 7, first_node_bn=first_node_bn, bn=bn)
        assert arch.param_count(8, 7, first_node_bn, bn) == sum(p.numel() for p in net.parameters()), text


def test_flops_by_hand():
    arch, c = Architecture.parse("c3 ap:1 c5:01 c1:011"), 8
    common = 32 * 32 * 27 * c + 8 * 8 * 9 * c * c + c * 10    # stem at 32x32, tail conv at 8x8, classifier
    node = 16 * 16 * c * c                                    # one 1x1 conv at the nodes' 16x16
    assert arch.flops(c, 32, 10) == 2 * (common + node * (9 + 25 + 1))
    assert arch.flops(c, 32, 10, "op") == 2 * (common + node * (9 + 25 + 1))     # BNs are not counted
    assert arch.flops(c, 32, 10, "enas") == 2 * (common + node * ((1 + 9) + 1 + (1 + 25) + 1))
