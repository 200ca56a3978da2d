"""Runs as Ray actors on a local Ray with 2 CPUs: pause, resume and stop within a step; a killed actor's run
resumes from its checkpoint (Ray's restart, then Resume) and ends as a straight run; one writer per run; a run
the cluster cannot place is queued; clear errors without Ray and for a runs folder a node cannot write.
The tests that need Ray are skipped, with the reason, where it is not installed."""
import builtins
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, wait

from enas.cli.main import main
from enas.engine.search import Engine
from enas.quality.rankcheck import rank_check
from enas.runs.listing import list_runs
from enas.runs.store import Busy, RunStore
from enas.scale.executor import ExecutorError, checkpoint_epoch
from enas.scale.race import race
from enas.scale.ray_executor import (
    HEARTBEAT_S,
    FolderError,
    RayExecutor,
    check_reachable,
    open_for_actor,
)

pytestmark = pytest.mark.xdist_group("ray")   # one Ray cluster at a time under pytest -n (.ci/run)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'", exc_type=ImportError)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)   # never another cluster
    yield ray
    ray.shutdown()


@pytest.fixture
def executor(cluster):
    return RayExecutor("local", cpus=1)


def steps_after(store, t: float) -> int:
    store.commit()
    return sum(e["t"] > t for e in store.events("child_step"))


def test_pause_resume_and_stop_reach_the_actor_within_a_step(executor, runs_dir, tiny):
    store = RunStore.create(runs_dir, "steer", tiny(epochs=1000, channels=16, batch_size=64))
    job = executor.start(store, ("search",))
    wait(lambda: len(store.events("child_step")) >= 3, what="training steps in the actor")
    meta = store.meta()
    assert meta["owner"]["kind"] == "ray" and meta["pid"] != os.getpid() and job.thread.is_alive()
    asked = time.time()
    job.control.pause()
    wait(lambda: store.status() == "paused", 30, "the pause")
    assert job.control.paused and steps_after(store, asked) <= 2   # the step under way, and one in flight
    paused_steps = len(store.events("child_step"))
    time.sleep(1.5)
    assert len(store.events("child_step")) == paused_steps and store.status() == "paused"   # heartbeat goes on
    job.control.resume()
    wait(lambda: len(store.events("child_step")) > paused_steps, 30, "training to go on")
    asked = time.time()
    job.stop()
    assert job.wait(60) == "stopped" and store.status() == "stopped"
    assert steps_after(store, asked) <= 2


def test_a_killed_actor_resumes_from_its_checkpoint_and_ends_as_a_straight_run(executor, runs_dir, tiny):
    config = tiny(epochs=16)
    store = RunStore.create(runs_dir, "killed", config)
    job = executor.start(store, ("search",))
    wait(lambda: checkpoint_epoch(store) >= 2, what="two checkpoints")
    first_pid, killed_at = store.meta()["pid"], time.time()
    os.kill(first_pid, signal.SIGKILL)                       # its process dies: Ray restarts the actor
    wait(lambda: store.meta()["pid"] != first_pid and checkpoint_epoch(store) >= 4, what="the restarted actor")
    restarted = store.meta()["owner"]
    assert restarted["id"] == job.token and restarted["pid"] != first_pid
    executor.ray.kill(job.actor, no_restart=True)            # now for good: interrupted
    assert job.wait(60) == "interrupted" and store.status() == "interrupted", job.error
    resumed_from = checkpoint_epoch(store)
    assert resumed_from < config.epochs
    again = executor.resume(store, ("search",))                # the app's and the CLI's Resume
    assert again.wait(120) == "finished", again.error
    epochs = store.events("epoch")
    assert [e["epoch"] for e in epochs] == list(range(config.epochs))
    assert all(e["t"] < killed_at for e in epochs[:2])         # epochs before the first kill were not run again
    assert store.meta()["owner"]["id"] == again.token

    straight = RunStore.create(runs_dir, "straight", config)
    assert Engine(config, straight).run(("search",)) == "finished"
    a, b = straight.load_checkpoint(), store.load_checkpoint()
    for part in ("supergraph", "sampler"):
        for k, v in a[part].items():
            torch.testing.assert_close(b[part][k], v, rtol=0, atol=0)


def test_two_actors_never_write_one_run(executor, runs_dir, tiny):
    store = RunStore.create(runs_dir, "one", tiny(epochs=1000))
    job = executor.start(store, ("search",))
    wait(lambda: store.meta().get("owner", {}).get("kind") == "ray" and store.events("child_step"), what="the actor")
    for launch in (executor.start, executor.resume):
        with pytest.raises(Busy, match="still running"):
            launch(store, ("search",))
    other, holder = RunStore.open(runs_dir, "one"), store.meta()["owner"]
    with pytest.raises(Busy, match="launched again"):
        other.claim({"id": "another-launch", "pid": os.getpid()})
    with pytest.raises(Busy, match=f"being written by process {holder['pid']}"):
        other.claim({**holder, "pid": os.getpid()})          # a retry of the same launch while its actor lives
    assert store.meta()["owner"] == holder

    other.set_meta(owner={"id": "taken-over", "kind": "ray", "host": "elsewhere", "pid": 1})   # as a resume elsewhere
    taken = time.time()
    assert job.wait(60) == "refused" and "launched again" in job.error   # it exited; its restart was refused
    late = [e for e in store.events() if e["t"] > taken + 2 * HEARTBEAT_S]   # it checks once a heartbeat
    assert not late and store.meta()["owner"]["id"] == "taken-over"


def test_a_run_the_cluster_cannot_place_is_queued_until_taken_off_the_queue(executor, runs_dir, tiny):
    store = RunStore.create(runs_dir, "gpu", tiny(device="cuda"))   # one GPU, on a cluster that has none
    job = executor.start(store, ("search",))
    wait(lambda: {r["name"]: r["status"] for r in list_runs(runs_dir)}["gpu"] == "queued", 60, "the queued status")
    assert "waiting for the Ray cluster to free 1 GPU" in store.meta()["message"] and job.thread.is_alive()
    job.stop()
    assert job.wait(30) == "stopped" and store.status() == "stopped"


def test_the_app_runs_searches_as_actors_and_follows_them_like_local_ones(cluster, runs_dir, tiny):
    from streamlit.testing.v1 import AppTest

    from app.registry import get_registry
    get_registry.clear()
    registry = get_registry(str(runs_dir.resolve()))       # the app's, as the page below finds it
    queued = registry.start(tiny(device="cuda"), "app-queued", ray="local")
    wait(lambda: registry.view(queued).live.status == "queued", 30, "the queued status in the app")
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception and at.selectbox(key="view").value == queued
    assert ":violet-badge[queued]" in [m.value for m in at.markdown]
    assert any("waiting for the Ray cluster to free 1 GPU" in c.value for c in at.caption)
    at.button(key="stop").click().run()                     # takes it off the queue
    wait(lambda: registry.view(queued).live.status == "stopped", 30, "the queued run taken off the queue")

    name = registry.start(tiny(), "app-ray", ("search", "derive", "final"), ray="local")
    entry = registry.view(name)
    assert entry.running_here and entry.follow
    wait(lambda: not registry.view(name).running_here and not registry.view(name).follow, what="the actor's run")
    live, store = registry.view(name).live, RunStore.open(runs_dir, name)
    assert live.status == "finished" and live.result == store.meta()["result"]
    assert len(live.history()) == TINY["epochs"] * TINY["controller_steps"] * TINY["controller_children"]
    get_registry.clear()


def test_search_on_ray_from_the_command_line_starts_its_actor_before_writing_the_run(cluster, runs_dir,
                                                                                   monkeypatch, capsys):
    """`search --ray` creates the actor first (its process imports the engine while the runs folder is checked
    and the run written), then runs the search in that actor, not in a second one."""
    made, real = [], RayExecutor._actor
    monkeypatch.setattr(RayExecutor, "_actor", lambda self, options: made.append(
        (runs_dir / "cli-ray").exists()) or real(self, options))
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    assert main(["--runs-dir", str(runs_dir), "search", "--ray", "local", "--name", "cli-ray"] + flags) == 0
    assert made == [False]                        # one actor, made before the run existed
    store = RunStore.open(runs_dir, "cli-ray")
    assert store.status() == "finished" and store.meta()["owner"]["kind"] == "ray"
    assert "run cli-ray: finished" in capsys.readouterr().out


def test_a_race_on_ray_searches_and_retrains_there_and_scores_as_it_does_here(executor, runs_dir, tmp_path, tiny,
                                                                              monkeypatch):
    """`race --ray`: the searches and derives of both sides and every seed run at once as actors, then every
    retraining at once as a task; the table is the one a race run wholly in this process gives."""
    config = tiny(epochs=1)
    with monkeypatch.context() as m:
        m.setattr(Engine, "standalone_accuracy", lambda *a, **k: pytest.fail("a retraining ran here, not on Ray"))
        on_ray = race(config, runs_dir, "rr", [0, 1], baseline=2, epochs=1, executor=executor)
    for side in ("enas", "random"):
        for seed in (0, 1):
            meta = RunStore.open(runs_dir, f"rr-{side}-s{seed}").meta()
            assert meta["owner"]["kind"] == "ray" and meta["pid"] != os.getpid()
    assert on_ray == race(config, tmp_path / "here", "rr", [0, 1], baseline=2, epochs=1)
    assert race(config, runs_dir, "rr", [0, 1], baseline=2, epochs=1, executor=executor) == on_ray   # all reused


def test_a_rank_check_on_ray_retrains_there_and_gives_the_table_it_gives_here(executor, runs_dir, tmp_path,
                                                                             tiny, monkeypatch):
    config = tiny(derive_samples=8)
    tables = []
    for where, ray in ((runs_dir, executor), (tmp_path / "here", None)):
        store = RunStore.create(where, "rc", config)
        engine = Engine(config, store)
        engine.run(("search", "derive"))
        with monkeypatch.context() as m:
            if ray is not None:
                m.setattr(Engine, "standalone_accuracy", lambda *a, **k: pytest.fail("retrained here, not on Ray"))
            tables.append(rank_check(engine, k=4, epochs=1, executor=ray))
        assert len(store.events("rankcheck_child")) == 4          # each retraining recorded in the run, once
    assert tables[0] == tables[1]


def test_a_runs_folder_a_node_cannot_write_is_a_clear_error(executor, tmp_path):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    with pytest.raises(FolderError, match=r"Ray node \S+ cannot write the runs folder .*a-file-not-a-folder .*"
                                          "read-write at the same path"):
        executor.check_shared(blocked)
    executor.check_shared(tmp_path)   # a folder every node writes and this process sees
    assert not list(tmp_path.glob(".probe-*"))


def test_an_address_nothing_answers_on_is_a_clear_error_at_once():
    """Ray itself retries such an address for minutes, printing warnings; the check answers in well under one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                 # free again once closed: nothing listens there
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(ExecutorError, match=rf"cannot reach the Ray cluster at {address} \(.*\): is `ray start "
                                                "--head` running there"):
            check_reachable(address)
    for address in ("auto", "local"):
        check_reachable(address)                  # Ray's to resolve


def test_a_worker_that_does_not_see_the_run_says_the_folder_must_be_shared(tmp_path):
    with pytest.raises(FolderError, match="does not see run gone at .*one shared file system"):
        open_for_actor(str(tmp_path), "gone")


def test_without_ray_the_ray_flag_is_a_clear_error_naming_the_extra(monkeypatch, runs_dir, capsys):
    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"Ray is not installed.*pip install -e '\.\[ray\]'"):
        RayExecutor("auto")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    assert main(["search", "--ray", "auto", "--name", "nope"] + flags) == 2
    monkeypatch.setenv("ENAS_RAY_ADDRESS", "auto")
    assert main(["sweep", "--name", "nope"] + flags) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: Ray is not installed: running on a Ray cluster needs the 'ray' extra "
                   "(pip install -e '.[ray]')"] * 2
    assert not runs_dir.exists()


def test_claim_lets_one_launch_write_and_takes_over_only_from_a_dead_holder(tiny, runs_dir, monkeypatch):
    store = RunStore.create(runs_dir, "claimed", tiny())
    me = {"id": "L1", "kind": "ray", "pid": os.getpid()}
    store.set_status("queued", "queued", owner={"id": "L1", "kind": "launcher", "pid": os.getpid()})
    store.claim(me)                                   # the actor of the queued launch, though its launcher lives
    store.set_status("running")
    with pytest.raises(Busy, match="being written"):
        store.claim(me)                               # a second process of the same launch, while this one lives
    with pytest.raises(Busy, match="launched again"):
        store.claim({"id": "L2"})
    store.set_meta(pid=2**22 + 12345)                 # its process died: a retry takes over at once
    store.claim({**me, "pid": 7})
    store.set_meta(host="another-machine", heartbeat=time.time())
    monkeypatch.setattr("enas.runs.store.STALE_S", 0.5)
    started = time.monotonic()
    store.claim(me, wait=30)                          # another machine's holder: once its heartbeat is stale,
    assert 0.4 < time.monotonic() - started < 30 and store.meta()["owner"] == me   # not when the wait runs out
