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

from enas.runs.store import RunStore, load_file

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


def committed_steps(path) -> int | None:
    """Training steps the run has committed: 0 before its database exists, None if it cannot be read just now."""
    if not (path / "run.db").exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path / 'run.db'}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT COUNT(*) FROM events WHERE kind = 'child_step'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:   # being created, or its WAL being set up: ask again
        return None


def wait_for_steps(path, proc, target: int, timeout=300) -> bool:
    """Wait until the run has committed at least `target` steps and more than it held when `proc` started;
    False if `proc` ended first. Sized by committed work, not by time (the timeout only catches a hang)."""
    start = None
    while start is None:
        start = committed_steps(path)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        n = committed_steps(path)
        if n is not None and n >= target and n > start:
            return True
        assert time.monotonic() < deadline, f"no step beyond {max(start, target - 1)} committed in {timeout} s"
        time.sleep(0.005)
    return False


def test_kill_minus_9_at_random_moments_then_resume_and_finish(tmp_path):
    runs = tmp_path / "runs"
    subprocess.run(command(runs, "--preset", "quick", "--name", "straight"), check=True, capture_output=True,
                   timeout=300)
    # Kill moments as committed work: the n-th kill once the run has committed `targets[n]` training steps.
    # Steps are committed at every epoch end (8 steps) and at most a second apart, so a kill lands at most one
    # epoch after its target: even after five kills, each one epoch late, the run is in epoch 9 of 12 at most.
    # Where in a step, commit or checkpoint a kill lands depends on the machine; how many land, and after how
    # much work, does not.
    targets = sorted(random.Random(1234).sample(range(2, 41), 5))
    progress = []
    args = ("--preset", "quick", "--name", "killed")
    for target in targets:
        proc = subprocess.Popen(command(runs, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        args = ("--resume", "killed")
        reached = wait_for_steps(runs / "killed", proc, target)
        assert reached, f"the run ended before {target} steps: {proc.stderr.read().decode()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = RunStore(runs / "killed")
        assert store.status() == "interrupted"
        store.close()
        progress.append(check_consistent(runs / "killed"))
    proc = subprocess.Popen(command(runs, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
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
    print(f"kills at committed steps {targets}; epochs completed at each kill: {progress}")
