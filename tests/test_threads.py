"""Torch threads are a configuration field that the engine applies itself: a seed gives the same run from the
app, the CLI or an executor, and auto (0) becomes a number recorded in the run (issue 18, items 5 and 6)."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from enas import hardware
from enas.config import Config, ConfigError
from enas.engine.search import Engine
from enas.runs.store import RunStore
from enas.scale.executor import LocalExecutor

ROOT = Path(__file__).resolve().parent.parent
SEARCH_KINDS = ("epoch", "child_step", "controller_step", "sample")


def strip(events):
    return [{k: v for k, v in e.items() if k not in ("id", "t", "seconds", "images_per_s")} for e in events]


@pytest.fixture(autouse=True)
def keep_threads():
    """The engines here set torch's threads (process-wide for MKL): the caller's count comes back after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def cli_search(runs_dir, name, config: dict, *extra, env):
    path = runs_dir.parent / f"{name}.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs_dir), "search", "--config", str(path),
                           "--name", name, *extra], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def same_search(a: RunStore, b: RunStore):
    for kind in SEARCH_KINDS:
        assert strip(a.events(kind)) == strip(b.events(kind)), kind
    assert len(a.events("epoch")) == 2


def test_app_and_cli_runs_of_one_config_are_the_same(runs_dir, monkeypatch):
    """Before the field, the app trained on one thread fewer than the CPUs and the CLI on torch's default
    (OMP_NUM_THREADS unset, as a user runs it): the same seed gave other losses from the first step."""
    sys.path.insert(0, str(ROOT))
    from app.registry import Registry
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    config = tiny_config(seed=5)
    registry = Registry(runs_dir)
    registry.start(config, name="app")
    registry.view("app").thread.join(300)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    stored = {k: v for k, v in config.to_dict().items() if k != "threads"}   # auto, the field's default
    out = cli_search(runs_dir, "cli", stored, env=env)
    app, cli = RunStore.open(runs_dir, "app"), RunStore.open(runs_dir, "cli")
    assert app.status() == cli.status() == "finished"
    same_search(app, cli)
    auto = hardware.auto_threads()
    assert app.config().threads == cli.config().threads == auto >= 1   # auto became a number, stored
    assert out.splitlines()[0].endswith(f"architectures, {hardware.threads_text(auto)}, precision fp32)")
    assert registry.view("app").threads == hardware.threads_text(auto)     # shown in the run's header


def test_threads_set_in_the_config_win_over_the_environment(runs_dir):
    """--threads 2 under OMP_NUM_THREADS=1 (the tests' setting) and an executor's run of threads 2 started from
    a thread on one torch thread: both train on 2, and give the same run."""
    assert os.environ["OMP_NUM_THREADS"] == "1"
    config = tiny_config(seed=6)
    out = cli_search(runs_dir, "cli2", config.to_dict(), "--threads", "2", env=dict(os.environ))
    assert "2 torch threads, precision fp32)" in out.splitlines()[0]
    store = RunStore.create(runs_dir, "local2", config.replace(threads=2))
    job = LocalExecutor().start(store, ("search",))
    assert job.wait(300) == "finished", job.error
    cli = RunStore.open(runs_dir, "cli2")
    assert cli.config().threads == store.config().threads == 2
    same_search(cli, store)


def test_auto_is_recorded_in_the_run_and_kept_by_its_resume(runs_dir, monkeypatch):
    """A run stored with threads 0 (a sweep's or race's, or one from before the field) gets the number auto
    becomes when its engine is built; a resume then reads that number, whatever auto is by then."""
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    store = RunStore.create(runs_dir, "old", tiny_config())
    assert store.config().threads == 0
    engine = Engine(store.config(), store)
    assert engine.threads == engine.config.threads == store.config().threads == 3
    assert torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert Engine(store.config(), store).threads == 3 and torch.get_num_threads() == 3


def test_auto_threads_rule(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for cpus, want in ((1, 1), (2, 1), (4, 3), (64, hardware.AUTO_THREADS_MAX)):
        monkeypatch.setattr(hardware, "usable_cpus", lambda cpus=cpus: cpus)
        assert hardware.auto_threads() == want
        assert hardware.resolve_threads(0) == want and hardware.resolve_threads(5) == 5
    for env, want in (("6", 6), ("0", hardware.AUTO_THREADS_MAX), ("4,2", hardware.AUTO_THREADS_MAX)):
        monkeypatch.setenv("OMP_NUM_THREADS", env)
        assert hardware.auto_threads() == want
    assert [hardware.threads_text(n) for n in (0, 1, 2)] == ["torch threads: auto", "1 torch thread",
                                                             "2 torch threads"]
    with pytest.raises(ConfigError, match="field 'threads'"):
        Config.from_dict({"threads": -1})
    assert Config.from_stored({}).threads == 0   # runs from before the field: auto, recorded as they resume


def test_ray_runs_ask_for_their_threads_and_auto_is_the_cpus_asked(monkeypatch):
    pytest.importorskip("ray")
    from enas.scale.ray_executor import RayExecutor

    class FakeRay:
        @staticmethod
        def cluster_resources():
            return {"CPU": 8}

    executor = RayExecutor.__new__(RayExecutor)   # no cluster: only the resource arithmetic
    executor.ray, executor.cpus = FakeRay(), None
    auto, three = Config(device="cpu"), Config(device="cpu", threads=3)
    assert executor.resources(auto)["num_cpus"] == 1 and executor.threads(auto) == 1
    assert executor.resources(three)["num_cpus"] == 3 and executor.threads(three) == 3
    executor.cpus = 4   # --ray-cpus 4
    assert executor.resources(three)["num_cpus"] == 4 and executor.threads(three) == 3
    assert executor.threads(auto) == 4


def test_the_sidebar_offers_the_same_field(runs_dir):
    from streamlit.testing.v1 import AppTest
    sys.path.insert(0, str(ROOT))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    field = at.sidebar.number_input(key="cfg_threads")
    assert field.value == 0 and "torch threads" in field.help
    assert any(c.value.startswith("0 (auto) is ") for c in at.sidebar.caption)


def test_a_stored_run_with_auto_threads_turned_into_a_number_is_the_run_asked_for():
    asked = Config.from_dict({"epochs": 3}, preset="quick")
    assert asked.threads == 0
    assert asked.replace(threads=2).same_run(asked) and asked.same_run(asked.replace(threads=1))
    assert not asked.replace(threads=2).same_run(asked.replace(threads=1))
    assert not asked.replace(threads=2).same_run(asked.replace(epochs=4))


def test_a_run_trains_on_its_threads_on_whatever_thread_runs_it():
    """The count is per OS thread: an engine built on one thread and run on another (a worker) sets it again."""
    seen, before = [], torch.get_num_threads()
    engine = Engine(tiny_config(threads=2, epochs=1, steps_per_epoch=2),
                    listeners=[lambda e: e["kind"] == "child_step" and seen.append(torch.get_num_threads())])
    torch.set_num_threads(before)
    worker = threading.Thread(target=engine.run)
    worker.start()
    worker.join(120)
    assert seen and set(seen) == {2}
