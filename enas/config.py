"""One configuration schema for the CLI, the app and the run store: fields with types, ranges and help, and presets.

`Config.from_dict` is the only way in from outside: every invalid value raises `ConfigError` naming the
field, the value and what is allowed; unknown fields are refused, never ignored.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass

from enas.space import OPS


class ConfigError(ValueError):
    """An invalid configuration value, with a message naming the field, the value and what is allowed."""


@dataclass(frozen=True)
class Spec:
    """How one field is checked and shown: type, bounds or choices, help text, and the group it belongs to."""
    type: type
    help: str
    group: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    optional: bool = False  # None allowed


SPECS = {
    # run
    "seed": Spec(int, "random seed; same seed and config give the same run", "run", 0, 2**31 - 1),
    "device": Spec(str, "where to train", "run", choices=("auto", "cpu", "cuda")),
    "precision": Spec(str, "fp32, or bf16/fp16 mixed precision (autocast); auto: bf16 on a GPU or a CPU with bf16 "
                      "arithmetic (AVX-512-BF16, AMX), else fp32, decided when the run starts and recorded with it",
                      "run", choices=("fp32", "bf16", "fp16", "auto")),
    "threads": Spec(int, "torch threads on the CPU (0: auto: OMP_NUM_THREADS if set, else one fewer than the CPUs "
                    "this process may use, at most 8; on Ray the CPUs a run asks for). Results depend on the count, "
                    "so auto becomes a number when the run starts, stored with it: the same seed and config give "
                    "the same run wherever it is started", "run", 0, 1024),
    "keep_checkpoints": Spec(int, "how many recent checkpoints to keep", "run", 1, 100),
    # data
    "dataset": Spec(str, "cifar10, shapes (built in, offline; shapes:N for a pool of N images), auto or folder:PATH",
                    "data"),
    "data_dir": Spec(str, "where datasets are downloaded and cached (default ENAS_DATA_DIR or ~/.cache/enas/data)",
                     "data", optional=True),
    "train_subset": Spec(int, "use only this many training images (quick demos)", "data", 1, 10**7, optional=True),
    "val_size": Spec(float, "validation images: a count (>= 1) or a fraction (< 1) of the training data", "data",
                     0.0, 10**7, optional=True),
    "image_size": Spec(int, "input images are resized to this many pixels square", "data", 8, 256),
    # search space
    "nodes": Spec(int, "nodes in the chain", "space", 1, 32),
    "channels": Spec(int, "channels of every node", "space", 1, 512),
    "ops": Spec(tuple, "candidate ops of every node", "space", choices=OPS),
    # child (shared weights)
    "epochs": Spec(int, "search epochs", "child", 1, 10_000),
    "batch_size": Spec(int, "child minibatch size", "child", 2, 4096),
    "steps_per_epoch": Spec(int, "cap on child steps per epoch (0: a full pass over the training split)", "child",
                            0, 10**7),
    "sampling": Spec(str, "a new child for every minibatch (ENAS paper) or one child per epoch (seed report)",
                     "child", choices=("per-batch", "per-epoch")),
    "child_lr": Spec(float, "child learning rate (cosine schedule start)", "child", 0.0, 10.0),
    "child_lr_min": Spec(float, "child learning rate at the end of each cosine cycle", "child", 0.0, 10.0),
    "lr_restart_epochs": Spec(int, "cosine restarts: first cycle length in epochs (0: one cycle over all epochs)",
                              "child", 0, 10_000),
    "lr_restart_mult": Spec(int, "cosine restarts: each cycle this many times longer", "child", 1, 10),
    "lr_tmax_epochs": Spec(int, "PyTorch CosineAnnealingLR's T_max in epochs, the rate set once per epoch and "
                           "following the cosine back up after T_max (seed notebook: 2; 0: off, the rate follows "
                           "one cosine per cycle, set every step)", "child", 0, 10_000),
    "momentum": Spec(float, "SGD Nesterov momentum", "child", 0.0, 0.999),
    "weight_decay": Spec(float, "SGD weight decay", "child", 0.0, 1.0),
    "grad_clip": Spec(float, "clip the child's gradient norm to this (0: no clipping)", "child", 0.0, 1e6),
    "dropout": Spec(float, "dropout before the classifier (ENAS: keep probability 0.9, i.e. 0.1)", "child", 0.0, 0.99),
    "first_node_bn": Spec(bool, "batch-norm node 0's output too (no: only nodes that can add skips, i > 0, as in "
                          "the seed notebook and ENAS)", "child"),
    "bn": Spec(str, "normalisation of the ops: node (one BN per node, after the skip sum: seed notebook), op (every "
               "op of every node its own BN too: conv-BN-ReLU, pool-BN, as DARTS), enas (ENAS's macro branches: "
               "conv1x1-BN-ReLU then convKxK-BN-ReLU, pools behind a conv1x1-BN-ReLU)", "child",
               choices=("node", "op", "enas")),
    "warmup_epochs": Spec(int, "the first search epochs train the shared weights on uniformly random children (a new "
                          "one every minibatch) and never call the controller; it starts after them", "child",
                          0, 10_000),
    # controller
    "controller": Spec(str, "the ENAS LSTM controller, or uniform random search", "controller",
                       choices=("enas", "random")),
    "lstm_size": Spec(int, "LSTM units", "controller", 1, 4096),
    "lstm_layers": Spec(int, "LSTM layers", "controller", 1, 8),
    "controller_lr": Spec(float, "controller Adam learning rate", "controller", 0.0, 10.0),
    "controller_beta1": Spec(float, "controller Adam beta1 (ENAS: 0)", "controller", 0.0, 0.999),
    "controller_eps": Spec(float, "controller Adam epsilon (ENAS: 1e-3)", "controller", 1e-12, 1.0),
    "controller_every": Spec(int, "train the controller after every k-th search epoch (seed notebook: 2)",
                             "controller", 1, 10_000),
    "temperature": Spec(float, "op and skip logits are divided by this (0: none)", "controller", 0.0, 1000.0),
    "tanh_constant": Spec(float, "op and skip logits become c*tanh(logits) (0: none)", "controller", 0.0, 1000.0),
    "entropy_weight": Spec(float, "entropy bonus added to the reward (its size is the controller chart's 'entropy "
                           "bonus')", "controller", 0.0, 100.0),
    "reward_baseline": Spec(str, "REINFORCE baseline: moving-average (ENAS) of past rewards, or leave-one-out (each "
                            "child against the mean reward of the other children of its controller step)",
                            "controller", choices=("moving-average", "leave-one-out")),
    "baseline_decay": Spec(float, "moving-average baseline decay", "controller", 0.0, 1.0),
    "reward_batch": Spec(str, "validation minibatch of each reward: own (every child a random one: seed, ENAS) or "
                         "shared (all children of a controller step the same one, so they differ by architecture "
                         "alone)", "controller", choices=("own", "shared")),
    "reward_batch_size": Spec(int, "images in a reward's validation minibatch (0: batch_size)", "controller",
                              0, 100_000),
    "skip_target": Spec(float, "target skip probability of the skip penalty", "controller", 0.001, 0.999),
    "skip_weight": Spec(float, "weight of the skip penalty (KL to the target rate)", "controller", 0.0, 100.0),
    "skip_reduce": Spec(str, "how the skip penalty adds up KL(skip probability || target) over the N(N-1)/2 skips: "
                        "sum (seed notebook), node-mean (sum per node, mean over nodes 1..N-1: ENAS), pair-mean",
                        "controller", choices=("sum", "node-mean", "pair-mean")),
    "controller_steps": Spec(int, "controller steps per epoch", "controller", 0, 100_000),
    "controller_children": Spec(int, "children sampled per controller step", "controller", 1, 10_000),
    # derive and final
    "derive_samples": Spec(int, "children sampled and scored on validation to pick the best", "final", 1, 100_000),
    "calibration_batches": Spec(int, "before a child inheriting the shared weights is evaluated or fine-tuned, its "
                                "BN statistics are recomputed on this many un-augmented training batches", "final",
                                1, 10_000),
    "final_mode": Spec(str, "fine-tune the best child from the shared weights, or retrain it from scratch", "final",
                       choices=("finetune", "scratch")),
    "final_epochs": Spec(int, "epochs of final training", "final", 0, 10_000),
    "final_lr": Spec(float, "learning rate of final training (cosine)", "final", 0.0, 10.0),
    # health warnings
    "health_entropy_fraction": Spec(float, "warn when the controller's entropy falls below this fraction of its "
                                    "starting value", "health", 0.0, 1.0),
    "health_op_share": Spec(float, "warn when one op takes more than this share of a node's recent samples",
                            "health", 0.0, 1.0),
    "health_skip_margin": Spec(float, "warn when the recent skip rate is within this of 0 or 1", "health", 0.0, 0.5),
    "health_window": Spec(int, "recent samples the op and skip warnings look at", "health", 1, 100_000),
    "health_random_epochs": Spec(int, "warn when the controller's samples score no better than random "
                                 "architectures on the same shared weights for this many epochs in a row (0: off)",
                                 "health", 0, 10_000),
    "health_min_tau": Spec(float, "warn when a rank check's Kendall tau is below this", "health", -1.0, 1.0),
    "health_still_epochs": Spec(int, "warn 'the controller is not learning' when, this many controller epochs in, no "
                                "node's op probabilities have moved more than health_still_move from where they "
                                "started (0: off)", "health", 0, 10_000),
    "health_still_move": Spec(float, "the policy movement under which the controller counts as not learning: the "
                              "largest total-variation distance of a node's op probabilities from the first epoch's",
                              "health", 0.0, 1.0),
}


@dataclass(frozen=True)
class Config:
    """All settings of a run; defaults are the seed report's."""
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    threads: int = 0
    keep_checkpoints: int = 2
    dataset: str = "cifar10"
    data_dir: str | None = None
    train_subset: int | None = None
    val_size: float | None = None
    image_size: int = 32
    nodes: int = 6
    channels: int = 32
    ops: tuple = OPS
    epochs: int = 100
    batch_size: int = 64
    steps_per_epoch: int = 0
    sampling: str = "per-epoch"
    child_lr: float = 0.05
    child_lr_min: float = 0.001
    lr_restart_epochs: int = 0
    lr_restart_mult: int = 2
    lr_tmax_epochs: int = 2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    dropout: float = 0.0
    first_node_bn: bool = False
    bn: str = "node"
    warmup_epochs: int = 0
    controller: str = "enas"
    lstm_size: int = 64
    lstm_layers: int = 2
    controller_lr: float = 1e-4
    controller_beta1: float = 0.9
    controller_eps: float = 1e-8
    controller_every: int = 2
    temperature: float = 5.0
    tanh_constant: float = 2.5
    entropy_weight: float = 1e-4
    reward_baseline: str = "moving-average"
    baseline_decay: float = 0.999
    reward_batch: str = "own"
    reward_batch_size: int = 0
    skip_target: float = 0.4
    skip_weight: float = 0.8
    skip_reduce: str = "sum"
    controller_steps: int = 10
    controller_children: int = 5
    derive_samples: int = 100
    calibration_batches: int = 10
    final_mode: str = "finetune"
    final_epochs: int = 10
    final_lr: float = 0.01
    health_entropy_fraction: float = 0.2
    health_op_share: float = 0.9
    health_skip_margin: float = 0.03
    health_window: int = 50
    health_random_epochs: int = 3
    health_min_tau: float = 0.2
    health_still_epochs: int = 10
    health_still_move: float = 0.05

    def __post_init__(self):
        for name, spec in SPECS.items():
            object.__setattr__(self, name, _check(name, getattr(self, name), spec))
        if self.child_lr_min > self.child_lr:
            raise ConfigError(f"field 'child_lr_min': value {self.child_lr_min} is above child_lr ({self.child_lr})")
        if self.final_mode == "scratch" and self.final_epochs == 0:
            raise ConfigError("field 'final_epochs': value 0 with final_mode scratch would only evaluate an untrained "
                              "network; use 1 or more, or final_mode finetune (0 epochs: the inherited child)")
        if self.lr_tmax_epochs and self.lr_restart_epochs:
            raise ConfigError(f"field 'lr_tmax_epochs': value {self.lr_tmax_epochs} and lr_restart_epochs "
                              f"{self.lr_restart_epochs} are two schedules; set one of them to 0")
        if self.warmup_epochs and self.controller == "enas" and self.warmup_epochs >= self.epochs:
            raise ConfigError(f"field 'warmup_epochs': value {self.warmup_epochs} leaves none of the {self.epochs} "
                              "epochs for the controller; use fewer warm-up epochs or more epochs")
        if self.reward_baseline == "leave-one-out" and self.controller_children < 2:
            raise ConfigError("field 'reward_baseline': leave-one-out compares each child with the other children "
                              f"of its controller step, and controller_children is {self.controller_children}; "
                              "use 2 or more")
        _check_dataset(self.dataset)

    @classmethod
    def from_dict(cls, d: dict, preset: str | None = None) -> "Config":
        """Build from plain data (JSON, CLI, app); starts from `preset` (or d['preset']) when given."""
        if not isinstance(d, dict):
            raise ConfigError(f"configuration must be an object of fields, got {type(d).__name__}")
        d = dict(d)
        preset = d.pop("preset", preset)
        unknown = sorted(set(map(str, d)) - set(SPECS))
        if unknown:
            raise ConfigError(f"unknown field(s): {', '.join(unknown)}; known fields: {', '.join(SPECS)}")
        base = PRESETS[_preset_name(preset)] if preset is not None else {}
        return cls(**{**base, **d})

    @classmethod
    def from_stored(cls, d: dict) -> "Config":
        """A run's stored configuration: a field added after the run was made takes the value that run had."""
        return cls.from_dict({**{k: v for k, v in BEFORE_FIELD.items() if k not in d}, **d})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ops"] = list(self.ops)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"configuration is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def replace(self, **changes) -> "Config":
        return Config.from_dict({**self.to_dict(), **changes})

    def same_run(self, other: "Config") -> bool:
        """Whether a run stored with `self` is the run `other` asks for: equal, or equal but for a `threads` of 0
        (auto) on one side, which the run turned into a number when it started."""
        if 0 in (self.threads, other.threads):
            return self.replace(threads=0) == other.replace(threads=0)
        return self == other


def check_field(name: str, value):
    """One field's value checked and converted as `Config` does it, or ConfigError naming the field; checks
    that relate two fields are left to `Config`."""
    if name not in SPECS:
        raise ConfigError(f"unknown field {name!r}; known fields: {', '.join(SPECS)}")
    value = _check(name, value, SPECS[name])
    if name == "dataset":
        _check_dataset(value)
    return value


def _preset_name(name) -> str:
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"field 'preset': value {name!r} is not allowed; allowed: {', '.join(PRESETS)}")
    return name


def _check(name, value, spec: Spec):
    if value is None:
        if spec.optional:
            return None
        raise ConfigError(f"field '{name}': a value is required ({spec.help})")
    if spec.type is tuple:
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        if not isinstance(value, (list, tuple)) or not value:
            raise ConfigError(f"field '{name}': value {value!r} must be a non-empty list from {', '.join(spec.choices)}")
        bad = [v for v in value if v not in spec.choices]
        if bad:
            raise ConfigError(f"field '{name}': {bad[0]!r} is not allowed; allowed: {', '.join(spec.choices)}")
        if len(set(value)) != len(value):
            raise ConfigError(f"field '{name}': value {list(value)} lists an op twice")
        return tuple(v for v in spec.choices if v in value)  # canonical order
    if spec.type is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"field '{name}': value {value!r} must be a whole number")
        try:
            as_float = float(value)
        except ValueError:
            raise ConfigError(f"field '{name}': value {value!r} must be a whole number") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ConfigError(f"field '{name}': value {value!r} must be a whole number")
        value = int(as_float)
    elif spec.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"field '{name}': value {value!r} must be a number")
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"field '{name}': value {value!r} must be a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"field '{name}': value {value!r} must be a finite number")
    elif spec.type is bool:
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        key = value.strip().lower() if isinstance(value, str) else value
        if isinstance(value, bool) or key in (0, 1) and not isinstance(value, float):
            return bool(value)
        if not isinstance(key, str) or key not in words:
            raise ConfigError(f"field '{name}': value {value!r} must be true or false")
        return words[key]
    elif not isinstance(value, str):
        raise ConfigError(f"field '{name}': value {value!r} must be text")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"field '{name}': value {value!r} is not allowed; allowed: {', '.join(spec.choices)}")
    if spec.min is not None and value < spec.min or spec.max is not None and value > spec.max:
        raise ConfigError(f"field '{name}': value {value!r} is out of range; allowed: {spec.min:g} to {spec.max:g}")
    return value


def _check_dataset(value: str):
    if value in ("cifar10", "shapes", "auto"):
        return
    if re.fullmatch(r"shapes:\d+", value) and int(value[len("shapes:"):]) >= 20:
        return
    if value.startswith("folder:") and value[len("folder:"):].strip():
        return
    raise ConfigError(f"field 'dataset': value {value!r} is not allowed; allowed: cifar10, shapes, shapes:N "
                      "(a pool of N >= 20 generated images), auto (cifar10 if available, else shapes), folder:PATH")


# Fields added after runs were stored, and what those runs did before each field existed.
BEFORE_FIELD = {"lr_tmax_epochs": 0, "controller_every": 1, "first_node_bn": True, "skip_reduce": "pair-mean",
                "dropout": 0.0, "controller_beta1": 0.9, "controller_eps": 1e-8, "calibration_batches": 10}

# The enas-paper preset takes the values of the paper's released macro-search script (melodyguan/enas,
# scripts/cifar10_macro_search.sh and src/cifar10/main.py) where they fit this space; where the paper's text
# differs (temperature 5, tanh 2.5, controller lr 3.5e-4, entropy weight 0.1), the code's. README.md lists
# what still differs (12 layers / 36 channels there, 6 nodes / 32 channels here; its final child is trained with
# its own script).
PRESETS = {
    "seed": {},
    "enas-paper": {
        "epochs": 310, "batch_size": 128, "sampling": "per-batch", "child_lr": 0.05, "child_lr_min": 0.0005,
        "lr_tmax_epochs": 0, "lr_restart_epochs": 10, "lr_restart_mult": 2, "momentum": 0.9, "weight_decay": 2.5e-4,
        "grad_clip": 5.0, "dropout": 0.1, "first_node_bn": False, "bn": "enas",
        "lstm_size": 64, "lstm_layers": 1, "controller_lr": 1e-3, "controller_beta1": 0.0, "controller_eps": 1e-3,
        "controller_every": 1, "temperature": 0.0, "tanh_constant": 1.5, "entropy_weight": 1e-4,
        "baseline_decay": 0.99, "skip_target": 0.4, "skip_weight": 0.8, "skip_reduce": "node-mean",
        "controller_steps": 50, "controller_children": 20, "final_mode": "scratch", "final_epochs": 310,
        "final_lr": 0.05,
    },
    # quick: short, yet long enough that the controller's samples pull ahead of random architectures on the same
    # shared weights: 2 warm-up epochs, then 6 of 15 controller steps x 10 children sharing a minibatch, a
    # leave-one-out baseline (measured on 3 seeds in benchmarks/README.md)
    "quick": {
        "dataset": "shapes", "train_subset": 2000, "val_size": 500, "channels": 16, "epochs": 8, "warmup_epochs": 2,
        "batch_size": 64, "sampling": "per-batch", "lr_tmax_epochs": 0, "controller_every": 1,
        "lstm_layers": 1, "temperature": 0.0, "tanh_constant": 1.5, "controller_lr": 3e-2, "controller_beta1": 0.0,
        "controller_eps": 1e-3, "reward_batch": "shared", "reward_baseline": "leave-one-out",
        "baseline_decay": 0.9, "skip_reduce": "pair-mean", "controller_steps": 15, "controller_children": 10,
        "derive_samples": 20, "final_epochs": 3, "final_lr": 0.02,
    },
    # laptop: CIFAR-10 in about an hour on a 2-core laptop (one torch thread), built from measurements
    # (benchmarks/README.md, issue 20): a supergraph trained on random children first, ENAS's per-op branches,
    # an annealed rate; then a controller whose children of one step share their validation minibatch and are
    # each compared with the others (leave-one-out), at a learning rate that moves the policy
    "laptop": {
        "train_subset": 20000, "batch_size": 128, "epochs": 30, "warmup_epochs": 10, "sampling": "per-batch",
        "bn": "enas", "lr_tmax_epochs": 0, "child_lr": 0.05, "child_lr_min": 0.001, "weight_decay": 2.5e-4,
        "lstm_layers": 1, "temperature": 0.0, "tanh_constant": 1.0, "controller_lr": 1e-2, "controller_beta1": 0.0,
        "controller_eps": 1e-3, "controller_every": 1, "controller_steps": 30, "controller_children": 10,
        "reward_batch": "shared", "reward_baseline": "leave-one-out", "entropy_weight": 1e-3,
        "skip_reduce": "node-mean", "derive_samples": 50, "final_mode": "scratch", "final_epochs": 5,
        "final_lr": 0.05,
    },
}
