"""Kill -9 at random moments: every reopened run is readable and consistent, resumes, and ends exactly as a straight run."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import torch

from conftest import TINY
from enas.store import RunStore, load_file

SETTINGS = {**TINY, "epochs": 12, "steps_per_epoch": 8}


def command(runs, *args):
    flags = []
    for k, v in SETTINGS.items():
        flags += ["--" + k.replace("_", "-"), str(v)]
    base = [sys.executable, "-m", "enas", "--runs-dir", str(runs), "search"]
    return base + list(args) + (flags if "--resume" not in args else [])


def check_consistent(path):
    con = sqlite3.connect(path / "run.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = RunStore(path)
    for ckpt in store.checkpoints():
        assert load_file(ckpt)["kind"] == "checkpoint"
    epochs = [e["epoch"] for e in store.events("epoch")]
    assert epochs == list(range(len(epochs)))  # no gaps, no duplicates
    store.close()
    return len(epochs)


def committed_steps(path) -> int:
    try:
        con = sqlite3.connect(f"file:{path / 'run.db'}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT COUNT(*) FROM events WHERE kind = 'child_step'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return -1


def wait_for_training(path, proc, timeout=120):
    """Wait until the process has committed a training step beyond what the run held when it started."""
    start = committed_steps(path)
    deadline = time.time() + timeout
    while committed_steps(path) <= max(start, 0) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)


def test_kill_minus_9_at_random_moments_then_resume_and_finish(tmp_path):
    runs = tmp_path / "runs"
    subprocess.run(command(runs, "--preset", "quick", "--name", "straight"), check=True, capture_output=True,
                   timeout=300)
    rng = random.Random(1234)
    kills, progress = 0, []
    args = ("--preset", "quick", "--name", "killed")
    while True:
        proc = subprocess.Popen(command(runs, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        args = ("--resume", "killed")
        wait_for_training(runs / "killed", proc)
        time.sleep(rng.uniform(0.0, 0.6))  # a random moment while it trains, commits or checkpoints
        if proc.poll() is not None or kills == 5:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = RunStore(runs / "killed")
        status = store.status()
        store.close()
        if status == "finished":  # killed while exiting after its last checkpoint
            break
        assert status == "interrupted"
        kills += 1
        progress.append(check_consistent(runs / "killed"))
    assert proc.wait(timeout=300) in (0, -signal.SIGKILL), proc.stderr.read().decode()[-2000:]
    assert kills >= 3, f"only {kills} kills landed before the run finished"
    assert check_consistent(runs / "killed") == 12
    straight, killed = RunStore(runs / "straight"), RunStore(runs / "killed")
    assert killed.status() == "finished"
    a, b = straight.load_checkpoint(), killed.load_checkpoint()
    for k, v in a["supergraph"].items():
        torch.testing.assert_close(b["supergraph"][k], v, rtol=0, atol=0)
    for k, v in a["sampler"].items():
        torch.testing.assert_close(b["sampler"][k], v, rtol=0, atol=0)
    strip = lambda evs: [{k: v for k, v in e.items() if k not in ("id", "t", "seconds", "images_per_s")} for e in evs]  # noqa: E731
    for kind in ("epoch", "sample", "controller_step", "child_step"):
        assert strip(killed.events(kind)) == strip(straight.events(kind)), kind
    print(f"kills survived: {kills}; epochs completed at each kill: {progress}")
