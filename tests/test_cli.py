"""The command line, run as a user would: a subprocess, real files, one-line errors."""
import json
import subprocess
import sys

import pytest
from conftest import TINY

from enas.cli.main import main
from enas.runs.store import RunStore


def enas(*args, runs_dir, check=True):
    proc = subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs_dir), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def flags(**changes):
    out = []
    for k, v in {**TINY, **changes}.items():
        out += ["--" + k.replace("_", "-"), v]
    return out


def test_search_derive_train_show_list(tmp_path):
    runs = tmp_path / "runs"
    enas("search", "--preset", "quick", "--name", "cli", *flags(), runs_dir=runs)
    store = RunStore.open(runs, "cli")
    assert store.status() == "finished" and len(store.events("epoch")) == 2
    assert store.config().channels == 8
    out = enas("derive", "cli", "--samples", 3, runs_dir=runs).stdout
    assert "best of derive" in out
    best = (store.path / "best.txt").read_text().strip()
    out = enas("train", "cli", "--epochs", 1, runs_dir=runs).stdout
    assert f"final {best}: validation" in out
    assert json.loads((store.path / "final.json").read_text())["arch"] == best
    shown = enas("show", "c3 c5:1 mp:01", runs_dir=runs).stdout
    assert "node 1: conv5x5     + skips from nodes [0]" in shown and "parameters" in shown
    (tmp_path / "a.json").write_text(json.dumps({"ops": ["conv1x1"], "skips": [[]]}))
    assert "architecture  c1" in enas("show", tmp_path / "a.json", runs_dir=runs).stdout
    assert "cli" in enas("list", runs_dir=runs).stdout
    assert "best" in enas("show", "cli", runs_dir=runs).stdout


def test_train_a_given_architecture_from_scratch(tmp_path):
    runs = tmp_path / "runs"
    enas("search", "--preset", "quick", "--name", "s", *flags(epochs=1), runs_dir=runs)
    out = enas("train", "s", "--arch", "c3 mp:1 c1:01", "--mode", "scratch", "--epochs", 1, runs_dir=runs).stdout
    assert "final c3 mp:1 c1:01" in out


@pytest.mark.parametrize("args, message", [
    (["search", "--nodes", "0"], "error: field 'nodes': value 0 is out of range; allowed: 1 to 32"),
    (["search", "--sampling", "often"], "allowed: per-batch, per-epoch"),
    (["search", "--dataset", "folder:/no/such/folder"], "/no/such/folder"),
    (["search", "--name", "../escape"], "run name '../escape' is not allowed"),
    (["search", "--config", "missing.json"], "--config missing.json: no such file"),
    (["derive", "nothing"], "no run at"),
    (["show", "c3 c9:1"], "unknown op 'c9'"),
    (["show", "nope.json"], "nope.json: no such architecture file"),
])
def test_bad_input_gives_one_clear_line(tmp_path, capsys, args, message):
    assert main(["--runs-dir", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing half-made


def test_a_bad_flag_in_a_real_process_is_one_line_without_traceback(tmp_path):
    proc = enas("search", "--batch-size", "1", runs_dir=tmp_path / "runs", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "error: field 'batch_size': value 1 is out of range; allowed: 2 to 4096\n"


def test_resume_refuses_new_settings(tmp_path, capsys):
    assert main(["--runs-dir", str(tmp_path), "search", "--resume", "r", "--epochs", "5"]) == 2
    assert "drop --epochs" in capsys.readouterr().err


def test_seed_schedule_and_zero_epoch_evaluation_from_the_command_line(tmp_path):
    runs = tmp_path / "runs"
    out = enas("search", "--preset", "seed", "--name", "s", *flags(epochs=2, controller_every=2), runs_dir=runs).stdout
    assert "epoch 1/2" in out and "controller not trained this epoch" in out
    assert "controller's samples on validation minibatches" in out
    enas("derive", "s", "--samples", 3, runs_dir=runs)
    store = RunStore.open(runs, "s")
    out = enas("train", "s", "--epochs", 0, runs_dir=runs).stdout
    result = json.loads((store.path / "final.json").read_text())
    assert result["epochs"] == 0 and result["val_acc"] == store.meta()["best_val_acc"]  # the inherited child
    assert f"validation {result['val_acc']:.4f}" in out
    refused = enas("train", "s", "--mode", "scratch", "--epochs", 0, runs_dir=runs, check=False)
    assert refused.returncode == 2 and "--epochs 0: must be at least 1 with mode scratch" in refused.stderr


def test_delete_asks_first_unless_yes_and_refuses_a_running_run(tmp_path, capsys, monkeypatch):
    from enas.config import Config
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        RunStore.create(runs, name, Config.from_dict({}, preset="quick")).close()
    answers = iter(["n", "yes"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["--runs-dir", str(runs), "delete", "a"]) == 1
    assert "not deleted" in capsys.readouterr().err and (runs / "a").is_dir()
    assert main(["--runs-dir", str(runs), "delete", "a"]) == 0
    assert capsys.readouterr().out == "deleted run a\n" and not (runs / "a").exists()
    running = RunStore.open(runs, "b")
    running.set_status("running")                    # this process is alive: as if it were searching
    assert main(["--runs-dir", str(runs), "delete", "b", "--yes"]) == 2
    assert capsys.readouterr().err == "error: run 'b' is running: stop it before deleting it\n"
    running.set_status("interrupted")
    running.close()
    proc = subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs), "delete", "b"], input="",
                          capture_output=True, text=True, timeout=300)   # nobody answers: not deleted
    assert proc.returncode == 1 and (runs / "b").is_dir()
    enas("delete", "b", "--yes", runs_dir=runs)
    assert not (runs / "b").exists()
    proc = enas("delete", "../b", "--yes", runs_dir=runs, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: run name '../b' is not allowed")


def test_launchers_do_not_import_torch_and_the_engine_does_not_import_torchvision():
    """What a process imports before its first step is start-up every run pays: a Ray launcher (CLI, sweep) needs
    neither torch (1.5-2 s) nor, anywhere, torchvision's models and torch._dynamo (1.7 s) unless it decodes JPEGs."""
    code = ("import sys; import enas.cli.main, enas.cli.files, enas.scale.executor, enas.scale.ray_executor, "
            "enas.scale.sweep, enas.runs.listing, enas.runs.store; "
            "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules)); "
            "import enas.engine.search; print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "['torch']"]
