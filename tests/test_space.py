"""The search space as data: counts, validation, text and JSON forms, parameter and FLOP counts."""
import json

import pytest
import torch

from enas.model import ChildNet
from enas.space import MAX_STRING, OPS, Architecture, ArchitectureError, space_size

A = Architecture(("conv3x3", "conv5x5", "maxpool3x3"), ((), (1,), (0, 1)))


@pytest.mark.parametrize("nodes, expected", [(1, 5), (2, 50), (3, 5**3 * 8), (6, 512_000_000), (12, 5**12 * 2**66)])
def test_space_size(nodes, expected):
    assert space_size(nodes) == expected


def test_space_size_depends_on_ops():
    assert space_size(6, OPS[:3]) == 3**6 * 2**15


@pytest.mark.parametrize("ops, skips, message", [
    ((), (), "non-empty"),
    (("conv3x3", "conv7x7"), ((), (0,)), "node 1: unknown op 'conv7x7'"),
    (("conv3x3", "conv3x3"), ((),), "skips has 1 entries but there are 2 nodes"),
    (("conv3x3", "conv3x3"), ((), (1, 1)), "node 1 has 1 skip bit, got 2"),
    (("conv3x3", "conv3x3"), ((), ()), "node 1 has 1 skip bit, got 0"),
    (("conv3x3", "conv3x3"), ((), (2,)), "skip bits must be 0 or 1"),
    (("conv3x3",), ((1,),), "node 0 has 0 skip bits, got 1"),
])
def test_validation_errors(ops, skips, message):
    with pytest.raises(ArchitectureError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Architecture(ops, skips)


def test_string_round_trip_and_long_names():
    assert str(A) == "c3 c5:1 mp:01"
    assert Architecture.parse(str(A)) == A
    assert Architecture.parse("conv3x3 conv5x5:1 maxpool3x3:01") == A


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("c3 c9:1", "unknown op 'c9'"), ("c3 c5:2", "0s and 1s"), ("c3 c5", "node 1 has 1 skip bit, got 0"),
    ("c3 c5:11", "node 1 has 1 skip bit, got 2"), ("c3:1", "node 0 has 0 skip bits, got 1"),
])
def test_parse_errors(text, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture.parse(text)


def test_json_round_trip_and_errors():
    assert Architecture.from_json(A.to_json()) == A
    assert json.loads(A.to_json())["string"] == "c3 c5:1 mp:01"
    with pytest.raises(ArchitectureError, match="not valid JSON"):
        Architecture.from_json("{ops:")
    with pytest.raises(ArchitectureError, match="unknown field"):
        Architecture.from_json('{"ops": ["conv3x3"], "skips": [[]], "colour": 1}')
    with pytest.raises(ArchitectureError, match="disagrees"):
        Architecture.from_json('{"ops": ["conv3x3"], "skips": [[]], "string": "c5"}')


def test_equality_and_hashing_count_samples():
    same = Architecture(["conv3x3", "conv5x5", "maxpool3x3"], [[], [1], [0, 1]])
    assert same == A and hash(same) == hash(A)
    assert len({A, same, Architecture.parse("c3 c5:0 mp:01")}) == 2


@pytest.mark.parametrize("text", ["c3 c5:1 mp:01", "c1", "ap mp:0 c5:11 c1:101", "c5 c5:1 c5:11 c5:111 c5:1111 c5:11111"])
@pytest.mark.parametrize("channels", [8, 32])
@pytest.mark.parametrize("first_node_bn", [False, True])
def test_param_count_matches_module(text, channels, first_node_bn):
    arch = Architecture.parse(text)
    net = ChildNet(arch, channels, first_node_bn=first_node_bn)
    assert arch.param_count(channels, first_node_bn=first_node_bn) == sum(p.numel() for p in net.parameters())
    assert arch.param_count(channels, first_node_bn=True) - arch.param_count(channels) == 2 * channels


def test_flops_hand_computed():
    # stem 32*32*27*C, node conv3x3 16*16*9*C*C, tail 8*8*9*C*C, classifier C*10; x2 for multiply-add
    c = 8
    arch = Architecture.parse("c3 mp:1")
    assert arch.flops(c) == 2 * (1024 * 27 * c + 256 * 9 * c * c + 64 * 9 * c * c + c * 10)


def test_flops_match_counted_convolutions():
    """Count multiply-adds of every conv and linear layer with forward hooks and compare."""
    arch = Architecture.parse("c5 c1:1 ap:01 c3:100")
    net = ChildNet(arch, 16)
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            macs.append(out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1])
        else:
            macs.append(mod.in_features * mod.out_features)
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    net(torch.randn(1, 3, 32, 32))
    assert arch.flops(16) == 2 * sum(macs)


def test_sizes_and_flops_are_exact_integers():
    assert space_size(12) == 5 ** 12 * 2 ** 66 and isinstance(space_size(12), int)   # beyond float precision
    c, s = 8, 30   # an image size that 4 does not divide: 15x15 nodes, a 7x7 tail conv
    arch = Architecture.parse("c3 mp:1")
    assert arch.flops(c, s) == 2 * (900 * 27 * c + 225 * 9 * c * c + 49 * 9 * c * c + c * 10)
    assert isinstance(arch.flops(c, s), int)


@pytest.mark.parametrize("obj, message", [
    ([1, 2], "architecture JSON must be an object, got list"),
    ({"ops": ["conv3x3"], "skips": [[]], "colour": 1, "size": 2}, "unknown field(s) in architecture JSON: colour, size"),
    ({"ops": ["conv3x3"]}, "architecture JSON needs the fields 'ops' and 'skips'"),
    ({"skips": [[]]}, "architecture JSON needs the fields 'ops' and 'skips'"),
    ({"ops": ["conv3x3"], "skips": [[]], "string": "c5"}, "field 'string' ('c5') disagrees with ops and skips ('c3')"),
])
def test_architecture_json_errors_say_what_is_wrong(obj, message):
    with pytest.raises(ArchitectureError) as e:
        Architecture.from_dict(obj)
    assert str(e.value) == message


def test_architecture_json_length_limit_is_inclusive():
    text = Architecture.parse("c3 c5:1").to_json()
    assert Architecture.from_json(text + " " * (MAX_STRING - len(text))) == Architecture.parse("c3 c5:1")
    with pytest.raises(ArchitectureError, match=f"architecture JSON too long \\({MAX_STRING + 1} > {MAX_STRING}"):
        Architecture.from_json(text + " " * (MAX_STRING + 1 - len(text)))


@pytest.mark.parametrize("text, message", [
    (None, "architecture string must be text, got NoneType"),
    ("   ", "empty architecture string; example: 'c3 c5:1 c1:01'"),
    ("c3 c9:1", "node 1: unknown op 'c9' in 'c9:1'; allowed: c1, c3, c5, mp, ap or conv1x1, conv3x3, conv5x5, "
                "maxpool3x3, avgpool3x3"),
    ("c3 c5:2", "node 1: skip bits must be 0s and 1s, got '2' in 'c5:2'"),
    ("c3 c5:X01", "node 1: skip bits must be 0s and 1s, got 'X01' in 'c5:X01'"),
])
def test_architecture_string_errors_say_what_is_wrong(text, message):
    with pytest.raises(ArchitectureError) as e:
        Architecture.parse(text)
    assert str(e.value) == message


def test_architecture_string_length_limit_is_inclusive_and_space_errors_are_specific():
    text = "c3 c5:1"
    assert Architecture.parse(text + " " * (MAX_STRING - len(text))) == Architecture.parse(text)
    with pytest.raises(ArchitectureError, match=f"architecture string too long \\({MAX_STRING + 1} > {MAX_STRING}"):
        Architecture.parse(text + " " * (MAX_STRING + 1 - len(text)))
    with pytest.raises(ArchitectureError) as e:
        Architecture.parse(text).check_space(3)
    assert str(e.value) == "architecture has 2 nodes, the search space has 3"
    with pytest.raises(ArchitectureError) as e:
        Architecture.parse(text).check_space(2, ("conv3x3", "maxpool3x3"))
    assert str(e.value) == "node 1: op 'conv5x5' is not in this search space (conv3x3, maxpool3x3)"


@pytest.mark.parametrize("ops, skips, message", [
    ([], [], "ops must be a non-empty list of op names"),
    (["conv3x3"], "none", "skips must be a list with one list of bits per node"),
    (["conv3x3", "conv5x5"], [[], [0, 1]], "node 1 has 1 skip bit, got 2 (one per earlier node)"),
    (["conv3x3", "conv5x5"], [[], [1, 0]], "node 1 has 1 skip bit, got 2 (one per earlier node)"),
    (["conv3x3", "conv5x5"], [[], []], "node 1 has 1 skip bit, got 0 (one per earlier node)"),
    (["conv3x3", "conv7x7"], [[], [1]], "node 1: unknown op 'conv7x7'; allowed: conv1x1, conv3x3, conv5x5, "
                                        "maxpool3x3, avgpool3x3"),
])
def test_architecture_errors_say_what_is_wrong(ops, skips, message):
    with pytest.raises(ArchitectureError) as e:
        Architecture(ops, skips)
    assert str(e.value) == message
