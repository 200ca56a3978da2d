"""Many runs on one GPU (`--ray-gpus`, ENAS_RAY_GPUS, the app's *GPUs per run*): on a local Ray that declares
one logical GPU (and 8 logical CPUs) on this CPU-only machine, runs of device auto ask for a fraction of it; the
actors' torch finds no CUDA and trains on the CPU, while Ray's own accounting shows the packing. With 0.25 GPU
per run four runs hold the GPU at once and a fifth is queued until one ends; by default (1 GPU) one runs at a
time. The runs are long (1000 epochs) and are stopped once the test has seen what it needs: what it waits for is
steps committed to the run store, not wall time. Bad values are a one-line error naming the flag."""
import threading

import pytest
from conftest import wait

from enas.cli.main import main
from enas.runs.listing import list_runs
from enas.runs.store import RunStore
from enas.scale.executor import ExecutorError
from enas.scale.ray_executor import RayExecutor, ray_gpus

pytestmark = pytest.mark.xdist_group("ray")   # one Ray cluster at a time under pytest -n (.ci/run)

ARCH = "c3 c5:1 c1:01"


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'", exc_type=ImportError)
    ray.init(address="local", num_cpus=8, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("ENAS_RAY_GPUS", raising=False)


def steps(store) -> int:
    store.commit()   # a fresh read: the actors write the store from their own processes
    return len(store.events("child_step"))


def status(runs_dir, name: str) -> str:
    return {r["name"]: r["status"] for r in list_runs(runs_dir)}[name]


def free_gpu(ray) -> float:
    return ray.available_resources().get("GPU", 0)


def keep_training(stores, more: int = 2):
    """Wait until every run in `stores` has committed `more` steps beyond what it has now: all train at once."""
    before = [steps(s) for s in stores]
    wait(lambda: all(steps(s) >= b + more for s, b in zip(stores, before)), 300, f"{len(stores)} runs to train on")


def stop_all(jobs):
    for job in jobs:
        job.stop()
    for job in jobs:
        assert job.wait(60) == "stopped", job.error


def test_the_fraction_comes_from_the_argument_else_the_environment_else_one(no_env, monkeypatch):
    assert ray_gpus() == 1 and isinstance(ray_gpus(), int)
    assert ray_gpus("0.25") == 0.25 and ray_gpus(0.5) == 0.5 and ray_gpus("2") == 2 and ray_gpus("") == 1
    monkeypatch.setenv("ENAS_RAY_GPUS", "0.5")
    assert ray_gpus() == 0.5 and ray_gpus(None) == 0.5 and ray_gpus("0.25") == 0.25
    for bad in (0, -1, "1.5", "abc", "nan", "inf", 0.00001):
        with pytest.raises(ExecutorError, match=r"^GPUs per Ray run \(--ray-gpus or ENAS_RAY_GPUS\): .* is not "
                                                r"allowed; use a fraction of a GPU"):
            ray_gpus(bad)


@pytest.mark.parametrize("value, shown", [("0", "0"), ("-0.5", "-0.5"), ("abc", "'abc'"), ("1.5", "1.5")])
def test_a_bad_ray_gpus_value_is_a_one_line_error(value, shown, tmp_path, capsys, no_env):
    assert main(["--runs-dir", str(tmp_path), "search", "--ray", "local", "--ray-gpus", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: GPUs per Ray run (--ray-gpus or ENAS_RAY_GPUS): {shown} is not allowed; ")
    assert not list(tmp_path.iterdir())   # refused before any run was written


def test_a_bad_environment_value_is_the_same_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ENAS_RAY_GPUS", "2.5")
    assert main(["--runs-dir", str(tmp_path), "search", "--ray", "local"]) == 2
    assert capsys.readouterr().err == ("error: GPUs per Ray run (--ray-gpus or ENAS_RAY_GPUS): 2.5 is not allowed; "
                                       "use a fraction of a GPU from 0.0001 to 1 (e.g. 0.25: 4 runs on each GPU) or a "
                                       "whole number, 1 or more\n")


def test_a_quarter_gpu_each_packs_four_runs_on_one_gpu_and_queues_a_fifth(cluster, runs_dir, tiny, no_env):
    executor = RayExecutor("local", gpus="0.25")
    config = tiny(epochs=1000, threads=1)   # device auto, on a cluster with a GPU: a GPU run
    assert executor.resources(config) == {"num_cpus": 1, "num_gpus": 0.25}
    assert free_gpu(cluster) == 1
    stores = [RunStore.create(runs_dir, f"quarter-{i}", config) for i in range(5)]
    jobs = [executor.start(s, ("search",)) for s in stores[:4]]
    wait(lambda: all(steps(s) >= 1 for s in stores[:4]), 300, "four runs training")
    keep_training(stores[:4])                                 # all four at once, in four processes
    assert len({s.meta()["pid"] for s in stores[:4]}) == 4 and all(s.status() == "running" for s in stores[:4])
    assert free_gpu(cluster) == 0                             # Ray placed 4 x 0.25 of its one GPU

    fifth = executor.start(stores[4], ("search",))
    wait(lambda: status(runs_dir, "quarter-4") == "queued", 60, "the fifth run queued")
    assert "waiting for the Ray cluster to free 0.25 GPU (it has 8 CPUs, 1 GPUs)" in stores[4].meta()["message"]
    keep_training(stores[:4])                                 # the four train on; the fifth still waits
    assert stores[4].status() == "queued" and steps(stores[4]) == 0 and fifth.thread.is_alive()

    stop_all(jobs[:1])                                        # one ends: its quarter goes to the fifth
    wait(lambda: steps(stores[4]) >= 1, 300, "the fifth run to start in the freed quarter")
    keep_training(stores[1:])
    assert free_gpu(cluster) == 0

    stop_all([fifth])   # three runs hold 0.75: a retraining task asking for the same 0.25 fits beside them
    wait(lambda: free_gpu(cluster) == 0.25, 60, "a quarter freed")
    done = {}
    task = threading.Thread(target=lambda: done.update(r=executor.standalone([(tiny(threads=1), ARCH)], 1, "race")),
                            daemon=True)
    task.start()
    wait(lambda: "r" in done, 300, "the retraining task beside three runs")
    assert set(done["r"][0]) == {"val_acc", "test_acc"}
    stop_all(jobs[1:])
    wait(lambda: free_gpu(cluster) == 1, 60, "the GPU freed")


def test_by_default_a_run_asks_for_a_whole_gpu_and_runs_alone(cluster, runs_dir, tiny, no_env):
    executor = RayExecutor("local")
    config = tiny(epochs=1000, threads=1)
    assert executor.gpus == 1 and executor.resources(config) == {"num_cpus": 1, "num_gpus": 1}
    wait(lambda: free_gpu(cluster) == 1, 60, "a free GPU")
    first, second = (RunStore.create(runs_dir, f"whole-{i}", config) for i in range(2))
    jobs = [executor.start(first, ("search",))]
    wait(lambda: steps(first) >= 1, 300, "the first run training")
    jobs.append(executor.start(second, ("search",)))
    wait(lambda: status(runs_dir, "whole-1") == "queued", 60, "the second run queued")
    assert "waiting for the Ray cluster to free 1 GPU" in second.meta()["message"]
    keep_training([first], 3)
    assert second.status() == "queued" and steps(second) == 0 and free_gpu(cluster) == 0
    stop_all(jobs[:1])
    wait(lambda: steps(second) >= 1, 300, "the second run to start on the freed GPU")
    stop_all(jobs[1:])


def test_the_app_passes_its_gpus_per_run_to_the_executor(cluster, runs, no_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app.registry import Registry, get_registry
    from conftest import ROOT
    from enas.runs.store import StoreError
    registry = Registry(runs)
    assert registry._ray("local", "0.25").gpus == 0.25 and registry._ray("local").gpus == 1
    assert registry._ray("local", "0.25") is registry._ray("local", 0.25)   # one executor per address and fraction

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception and at.sidebar.text_input(key="cfg_ray_gpus").value == "1"
    at.sidebar.text_input(key="cfg_ray_gpus").set_value("1.5").run()
    assert any("--ray-gpus or ENAS_RAY_GPUS): 1.5 is not allowed" in e.value for e in at.sidebar.error)
    assert at.sidebar.button(key="start_enas").disabled
    at.sidebar.text_input(key="cfg_ray_gpus").set_value("0.25").run()
    assert not at.sidebar.error and not at.sidebar.button(key="start_enas").disabled

    asked = []

    def start(config, name=None, phases=("search",), ray=None, owner=None, gpus=None):
        asked.append((ray, gpus))
        raise StoreError("seen")   # the form's Start reaches the registry; nothing more is needed
    get_registry.clear()
    monkeypatch.setattr(get_registry(str(runs.resolve())), "start", start)   # the app's, as the page finds it
    at.sidebar.text_input(key="cfg_ray").set_value("local")
    at.sidebar.button(key="start_enas").click().run()
    assert asked == [("local", "0.25")] and "could not start: seen" in at.sidebar.error[0].value
