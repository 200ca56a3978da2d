"""The configuration schema: presets, clear errors, and (property-based) no other outcome than a Config or a ConfigError."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enas.config import BEFORE_FIELD, PRESETS, SPECS, Config, ConfigError
from enas.space import Architecture, ArchitectureError

# Reference values. Seed notebook: the seed report's ENAS notebook. ENAS: the paper's released macro-search script
# (melodyguan/enas scripts/cifar10_macro_search.sh, src/cifar10/main.py, general_controller.py, utils.py).
SEED_NOTEBOOK = {
    "epochs": 100, "batch_size": 64, "channels": 32, "nodes": 6, "sampling": "per-epoch", "child_lr": 0.05,
    "child_lr_min": 0.001, "lr_tmax_epochs": 2, "lr_restart_epochs": 0, "momentum": 0.9, "weight_decay": 1e-4,
    "grad_clip": 5.0, "dropout": 0.0, "first_node_bn": False, "lstm_size": 64, "lstm_layers": 2,
    "controller_lr": 1e-4, "controller_beta1": 0.9, "controller_eps": 1e-8, "controller_every": 2,
    "temperature": 5.0, "tanh_constant": 2.5, "entropy_weight": 1e-4, "baseline_decay": 0.999, "skip_target": 0.4,
    "skip_weight": 0.8, "skip_reduce": "sum", "controller_steps": 10, "controller_children": 5,
    "final_mode": "finetune",
}
ENAS_MACRO = {
    "epochs": 310, "batch_size": 128, "sampling": "per-batch", "child_lr": 0.05, "child_lr_min": 0.0005,
    "lr_restart_epochs": 10, "lr_restart_mult": 2, "lr_tmax_epochs": 0, "momentum": 0.9, "weight_decay": 2.5e-4,
    "grad_clip": 5.0, "dropout": 0.1, "first_node_bn": False, "lstm_size": 64, "lstm_layers": 1,
    "controller_lr": 1e-3, "controller_beta1": 0.0, "controller_eps": 1e-3, "controller_every": 1,
    "temperature": 0.0, "tanh_constant": 1.5, "entropy_weight": 1e-4, "baseline_decay": 0.99, "skip_target": 0.4,
    "skip_weight": 0.8, "skip_reduce": "node-mean", "controller_steps": 50, "controller_children": 20,
    "final_mode": "scratch", "final_epochs": 310, "final_lr": 0.05,
}


@pytest.mark.parametrize("preset, reference", [("seed", SEED_NOTEBOOK), ("enas-paper", ENAS_MACRO)])
def test_presets_match_their_references(preset, reference):
    c = Config.from_dict({}, preset=preset)
    assert {k: getattr(c, k) for k in reference} == reference


def test_defaults_are_the_seed_report():
    assert Config() == Config.from_dict({}, preset="seed")


def test_a_configuration_stored_before_new_fields_opens_as_it_ran():
    stored = {k: v for k, v in Config.from_dict({}, preset="enas-paper").to_dict().items() if k not in BEFORE_FIELD}
    c = Config.from_stored(stored)   # the paper preset's restarts did not clash with a T_max then
    assert (c.lr_tmax_epochs, c.lr_restart_epochs, c.controller_every, c.first_node_bn, c.skip_reduce) == \
        (0, 10, 1, True, "pair-mean")
    assert Config.from_stored(Config().to_dict()) == Config()


def test_quick_preset():
    assert Config.from_dict({"preset": "quick", "epochs": 3}).epochs == 3
    assert Config.from_dict({"preset": "quick"}).dataset == "shapes"
    with pytest.raises(ConfigError, match="field 'warmup_epochs': value 2 leaves none of the 2 epochs"):
        Config.from_dict({"preset": "quick", "epochs": 2})   # its 2 warm-up epochs: set warmup_epochs too


def test_two_learning_rate_schedules_at_once_are_refused():
    with pytest.raises(ConfigError, match="field 'lr_tmax_epochs'.*set one of them to 0"):
        Config.from_dict({"lr_tmax_epochs": 2, "lr_restart_epochs": 10})


@pytest.mark.parametrize("value, expected", [(True, True), ("yes", True), ("false", False), (0, False), ("1", True)])
def test_true_false_fields(value, expected):
    assert Config.from_dict({"first_node_bn": value}).first_node_bn is expected


@pytest.mark.parametrize("fields, message", [
    ({"nodes": 0}, "field 'nodes': value 0 is out of range; allowed: 1 to 32"),
    ({"nodes": 2.5}, "field 'nodes': value 2.5 must be a whole number"),
    ({"child_lr": "fast"}, "field 'child_lr': value 'fast' must be a number"),
    ({"child_lr": float("nan")}, "must be a finite number"),
    ({"sampling": "sometimes"}, "field 'sampling': value 'sometimes' is not allowed; allowed: per-batch, per-epoch"),
    ({"ops": ["conv3x3", "conv7x7"]}, "field 'ops': 'conv7x7' is not allowed"),
    ({"dataset": "imagenet"}, "field 'dataset': value 'imagenet' is not allowed; allowed: cifar10, shapes, shapes:N"),
    ({"colour": "red"}, "unknown field(s): colour"),
    ({"final_mode": "scratch", "final_epochs": 0}, "field 'final_epochs': value 0 with final_mode scratch"),
    ({"first_node_bn": "maybe"}, "field 'first_node_bn': value 'maybe' must be true or false"),
    ({"first_node_bn": 2}, "field 'first_node_bn': value 2 must be true or false"),
    ({"skip_reduce": "max"}, "field 'skip_reduce': value 'max' is not allowed; allowed: sum, node-mean, pair-mean"),
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
