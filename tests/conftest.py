"""Shared fixtures: tiny configurations and datasets that keep the suite fast.

Tests run torch on one thread (here and in the subprocesses they start): their tensors are tiny, and on a
busy 2-core machine two OpenMP threads stall each other on small ops (10x slower LSTM steps were seen).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

from enas.config import Config

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # the app's modules (`app.registry`), as `streamlit run app/main.py` finds them
    sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
CIFAR_FOLDER = SHARED / "data" / "cifar10-jpeg" / "train"

TINY = {"dataset": "shapes:800", "train_subset": 256, "val_size": 128, "nodes": 3, "channels": 8, "warmup_epochs": 0,
        "epochs": 2,
        "batch_size": 32, "steps_per_epoch": 4, "controller_steps": 2, "controller_children": 3, "derive_samples": 4,
        "final_epochs": 1, "lstm_size": 16}
# the tests' controller: quick's before issues 12 and 20 (the tests that learn were sized for it)
CONTROLLER = {"temperature": 0.0, "controller_lr": 3e-3, "lstm_layers": 2, "tanh_constant": 2.5, "controller_beta1": 0.9,
              "controller_eps": 1e-8, "reward_batch": "own", "reward_baseline": "moving-average"}


def tiny_config(**changes) -> Config:
    base = {**TINY, **({} if "preset" in changes else CONTROLLER)}
    return Config.from_dict({**base, **changes}, preset="quick")


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture
def bench():
    """bench(name, *args): benchmarks/<name> run in a fresh Python; its CompletedProcess (text, output captured)."""
    def run(name, *args):
        return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True,
                              text=True, timeout=600)
    return run


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    monkeypatch.setenv("ENAS_RUNS_DIR", str(d))
    return d


@pytest.fixture
def runs(runs_dir):
    """The app's runs folder (ENAS_RUNS_DIR); the searches the app started in it are stopped after the test."""
    yield runs_dir
    from app.registry import get_registry
    registry = get_registry(str(runs_dir.resolve()))
    for name in registry.active():
        registry.stop(name)
    for name in registry.loaded():
        entry = registry.view(name)
        if entry.thread is not None:
            entry.thread.join(30)


def wait(cond, timeout=120.0, what="condition"):
    """Poll `cond` until it holds, or fail after `timeout` seconds naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
