"""The configuration schema: presets, clear errors, and (property-based) no other outcome than a Config or a ConfigError."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enas.config import PRESETS, SPECS, Config, ConfigError
from enas.space import Architecture, ArchitectureError


def test_defaults_are_the_seed_report():
    c = Config()
    assert (c.epochs, c.batch_size, c.channels, c.nodes, c.child_lr, c.child_lr_min, c.weight_decay) == \
        (100, 64, 32, 6, 0.05, 0.001, 1e-4)
    assert (c.controller_lr, c.temperature, c.tanh_constant, c.entropy_weight, c.baseline_decay) == \
        (1e-4, 5.0, 2.5, 1e-4, 0.999)
    assert (c.skip_target, c.skip_weight, c.controller_steps, c.controller_children) == (0.4, 0.8, 10, 5)


def test_presets():
    paper = Config.from_dict({}, preset="enas-paper")
    assert (paper.lstm_layers, paper.tanh_constant, paper.temperature, paper.controller_lr) == (1, 1.5, 0.0, 1e-3)
    assert (paper.baseline_decay, paper.controller_steps, paper.controller_children, paper.batch_size) == \
        (0.99, 50, 20, 128)
    assert Config.from_dict({"preset": "quick", "epochs": 2}).epochs == 2
    assert Config.from_dict({"preset": "quick"}).dataset == "shapes"


@pytest.mark.parametrize("fields, message", [
    ({"nodes": 0}, "field 'nodes': value 0 is out of range; allowed: 1 to 32"),
    ({"nodes": 2.5}, "field 'nodes': value 2.5 must be a whole number"),
    ({"child_lr": "fast"}, "field 'child_lr': value 'fast' must be a number"),
    ({"child_lr": float("nan")}, "must be a finite number"),
    ({"sampling": "sometimes"}, "field 'sampling': value 'sometimes' is not allowed; allowed: per-batch, per-epoch"),
    ({"ops": ["conv3x3", "conv7x7"]}, "field 'ops': 'conv7x7' is not allowed"),
    ({"dataset": "imagenet"}, "field 'dataset': value 'imagenet' is not allowed; allowed: cifar10, shapes, shapes:N"),
    ({"colour": "red"}, "unknown field(s): colour"),
    ({"preset": "fastest"}, "field 'preset': value 'fastest' is not allowed"),
    ({"child_lr_min": 1.0}, "above child_lr"),
    ({"seed": True}, "must be a whole number"),
])
def test_errors_name_field_value_and_allowed(fields, message):
    with pytest.raises(ConfigError) as e:
        Config.from_dict(fields)
    assert message in str(e.value)


def test_json_round_trip_and_strings_from_forms():
    c = Config.from_dict({"nodes": "4", "child_lr": "0.1", "ops": "conv3x3, maxpool3x3"})
    assert (c.nodes, c.child_lr, c.ops) == (4, 0.1, ("conv3x3", "maxpool3x3"))
    assert Config.from_json(c.to_json()) == c
    assert json.loads(c.to_json())["ops"] == ["conv3x3", "maxpool3x3"]


values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                   st.text(max_size=20), st.lists(st.text(max_size=12), max_size=4), st.dictionaries(st.text(), st.integers()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(sorted(SPECS) + ["preset"]), st.text(max_size=10)), values, max_size=6))
def test_random_configs_give_a_config_or_a_clear_error(fields):
    try:
        c = Config.from_dict(fields)
    except ConfigError as e:
        assert str(e).startswith(("field '", "unknown field", "configuration")), str(e)
    else:
        assert Config.from_dict(c.to_dict()) == c


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="c135mpa: 0123\n\t-xX", max_size=40))
def test_random_architecture_strings_give_an_architecture_or_a_clear_error(text):
    try:
        arch = Architecture.parse(text)
    except ArchitectureError as e:
        assert str(e)
    else:
        assert Architecture.parse(str(arch)) == arch


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), st.text(max_size=8)),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"ops": json_values, "skips": json_values})))
def test_random_architecture_json_gives_an_architecture_or_a_clear_error(obj):
    try:
        arch = Architecture.from_json(json.dumps(obj))
    except ArchitectureError as e:
        assert str(e)
    else:
        assert Architecture.from_json(arch.to_json()) == arch


def test_presets_are_valid():
    for name in PRESETS:
        Config.from_dict({}, preset=name)
