"""Machines that go down, on a Ray cluster of several nodes on this machine (`ray.cluster_utils.Cluster`: a head
without CPUs, worker nodes with one CPU each, all processes of a node killed to remove it). A run whose node dies
goes on from its checkpoint on another node; with no node left to take it, readers see it interrupted, and Resume
continues it from its checkpoint once a node joins, while the old actor's restart is refused: one writer only.
Skipped, with the reason, where Ray is not installed."""
import time
from pathlib import Path

import pytest
from conftest import wait

from enas.runs.store import RunStore
from enas.scale.executor import checkpoint_epoch
from enas.scale.ray_executor import RayExecutor

pytestmark = pytest.mark.xdist_group("ray")   # one Ray cluster at a time under pytest -n (.ci/run)

EPOCHS = 16


@pytest.fixture(scope="module")
def nodes():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'", exc_type=ImportError)
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()
    current = Path("/tmp/ray/ray_current_cluster")   # the address Cluster left for `ray.init()` to find
    if current.is_file() and current.read_text().strip() == cluster.address:
        current.unlink()


def node_of(cluster, store):
    """The worker node whose actor holds the run now."""
    held = store.meta()["owner"]["node"]
    return next(n for n in cluster.worker_nodes if n.node_id == held)


def epochs_in_order(store) -> list:
    return [e["epoch"] for e in store.events("epoch")]


def test_a_run_whose_node_dies_goes_on_from_its_checkpoint_on_another_node(nodes, runs_dir, tiny):
    executor = RayExecutor(nodes.address, cpus=1)
    store = RunStore.create(runs_dir, "moved", tiny(epochs=EPOCHS))
    job = executor.start(store, ("search",))
    wait(lambda: store.meta().get("owner", {}).get("kind") == "ray" and checkpoint_epoch(store) >= 2,
         what="two checkpoints")
    first = store.meta()["owner"]
    died_at = time.time()
    nodes.remove_node(node_of(nodes, store))                 # the machine goes down, with every process on it
    assert job.wait(180) == "finished", job.error            # Ray restarted the actor on the other node
    assert store.meta()["owner"]["node"] != first["node"] and store.meta()["owner"]["id"] == first["id"]
    assert epochs_in_order(store) == list(range(EPOCHS))
    assert sum(e["t"] < died_at for e in store.events("epoch")) >= 2   # epochs done before it died were kept
    nodes.add_node(num_cpus=1)


def test_a_run_no_node_can_take_shows_interrupted_and_resumes_from_its_checkpoint(nodes, runs_dir, tiny):
    executor = RayExecutor(nodes.address, cpus=1)
    blocker = executor.start(RunStore.create(runs_dir, "busy", tiny(epochs=10_000)), ("search",))  # one of 2 CPUs
    store = RunStore.create(runs_dir, "stranded", tiny(epochs=EPOCHS))
    job = executor.start(store, ("search",))
    wait(lambda: store.meta().get("owner", {}).get("kind") == "ray" and checkpoint_epoch(store) >= 2,
         what="two checkpoints")
    old = store.meta()["owner"]
    nodes.remove_node(node_of(nodes, store))                 # no node has a free CPU for its restart
    wait(lambda: store.status() == "interrupted", 60, "readers to see the run interrupted")
    assert job.thread.is_alive()                               # Ray keeps its actor waiting to restart
    done_before = checkpoint_epoch(store)

    again = executor.resume(store, ("search",))                # the app's and the CLI's Resume: queued, no CPU
    wait(lambda: store.status() == "queued", 30, "the resumed run to queue")
    blocker.stop()                                             # a CPU frees: one of the two actors takes it
    assert blocker.wait(60) == "stopped"
    assert again.wait(180) == "finished", again.error
    assert store.meta()["owner"]["id"] == again.token != old["id"]
    assert epochs_in_order(store) == list(range(EPOCHS))
    assert checkpoint_epoch(store) == EPOCHS and done_before >= 2
    nodes.add_node(num_cpus=1)                                 # the old actor may restart now: it is refused
    assert job.wait(120) == "refused" and "launched again" in job.error
    assert store.meta()["owner"]["id"] == again.token
