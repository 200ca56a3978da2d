"""Sweeps run here (no Ray): the cross product and its names, the table, the CSVs, mean ± std per group, the
resume of unfinished runs from their checkpoints, and the app's view of a sweep as a group."""
import csv
import io
import json
import math
import re
import sys
from pathlib import Path

import pytest
from conftest import TINY, wait
from streamlit.testing.v1 import AppTest

from enas.cli.main import main
from enas.config import ConfigError
from enas.engine.search import Engine
from enas.runs.store import RunStore
from enas.scale.executor import LocalExecutor, remaining_phases
from enas.scale.sweep import (
    Board,
    load_plan,
    open_run,
    plan,
    run_config,
    run_sweep,
    save_plan,
    summary,
    table,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # the app's package


def flags(settings: dict) -> list:
    out = []
    for k, v in settings.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


def test_the_plan_is_the_cross_product_with_readable_names(tiny):
    base = tiny()
    p = plan("s", base, {"controller": "enas,random", "channels": "8,16", "lstm_size": "12"}, [0, 1, 2])
    names = [r["run"] for r in p["runs"]]
    assert len(names) == len(set(names)) == 2 * 2 * 3
    assert names[:4] == ["s-enas-8-s0", "s-enas-8-s1", "s-enas-8-s2", "s-enas-16-s0"]
    assert [g["label"] for g in p["groups"]] == ["controller=enas, channels=8", "controller=enas, channels=16",
                                                 "controller=random, channels=8", "controller=random, channels=16"]
    assert run_config(p, p["runs"][10]) == base.replace(controller="random", channels=16, seed=1, lstm_size=12)
    ops = plan("o", base, {"ops": "conv3x3,conv5x5/conv1x1"}, [0])
    assert [g["fields"]["ops"] for g in ops["groups"]] == [["conv3x3", "conv5x5"], ["conv1x1"]]
    assert [r["run"] for r in ops["runs"]] == ["o-conv3x3_conv5x5-s0", "o-conv1x1-s0"]
    assert [r["run"] for r in plan("one", base, {}, [4, 5])["runs"]] == ["one-s4", "one-s5"]


@pytest.mark.parametrize("fields, message", [({"controller": "enas,bogus"}, "field 'controller'"),
                                             ({"seed": "3"}, "--seeds"),
                                             ({"channels": "8,8"}, "each value once")])
def test_a_bad_plan_is_refused_before_any_run_exists(tiny, runs_dir, fields, message):
    with pytest.raises(ConfigError, match=message):
        plan("bad", tiny(), fields, [0])
    assert not runs_dir.exists()


def test_the_cli_refuses_bad_values_with_one_line_and_writes_nothing(runs_dir, capsys):
    assert main(["sweep", "--name", "x", "--controller", "enas,bogus"] + flags(TINY)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: field 'controller'") and "Traceback" not in err
    assert not runs_dir.exists()


def test_a_local_sweep_prints_one_line_per_run_then_the_table_and_writes_the_csvs(runs_dir, capsys):
    rc = main(["sweep", "--preset", "quick", "--name", "cmp", "--seeds", "0-1", "--controller", "enas,random"]
              + flags(TINY))
    out = capsys.readouterr().out
    assert rc == 0, out
    runs = ["cmp-enas-s0", "cmp-enas-s1", "cmp-random-s0", "cmp-random-s1"]
    results = {r: json.loads((runs_dir / r / "final.json").read_text()) for r in runs}
    for r in runs:   # progress lines, each ending finished with the run's result
        assert re.search(rf"^{r} +finished +validation {results[r]['val_acc']:.4f}, test ", out, re.M)
    rows = list(csv.DictReader(io.StringIO((runs_dir / "sweeps" / "cmp.csv").read_text())))
    assert [(r["run"], r["group"], r["seed"], r["arch"]) for r in rows] == [
        (r, f"controller={r.split('-')[1]}", r[-1], results[r]["arch"]) for r in runs]
    assert [float(r["test_acc"]) for r in rows] == [results[r]["test_acc"] for r in runs]
    groups = list(csv.DictReader(io.StringIO((runs_dir / "sweeps" / "cmp-groups.csv").read_text())))
    for g, (a, b) in zip(groups, (runs[:2], runs[2:])):
        for key, field in (("val", "val_acc"), ("test", "test_acc")):
            x, y = results[a][field], results[b][field]
            mean, std = (x + y) / 2, abs(x - y) / math.sqrt(2)   # two seeds: the sample standard deviation
            assert float(g[f"{key}_mean"]) == pytest.approx(mean, abs=1e-12)
            assert float(g[f"{key}_std"]) == pytest.approx(std, abs=1e-12)
            assert f"{mean:.4f} ± {std:.4f}" in out
        assert g["runs"] == "2"
    assert "(std: sample standard deviation over seeds)" in out and "unfinished" not in out


def test_resume_continues_unfinished_runs_from_their_checkpoints_and_keeps_finished_ones(tiny, runs_dir, capsys):
    p = plan("res", tiny(epochs=3), {}, [0, 1])
    save_plan(runs_dir, p)
    first = open_run(runs_dir, p, p["runs"][0])   # stopped after its first epoch, as a Ctrl-C would
    engine = Engine(first.config(), first)
    engine.listeners.append(lambda ev: engine.control.stop() if ev["kind"] == "epoch" else None)
    assert engine.run(("search", "derive", "final")) == "stopped"
    before = first.events("epoch")
    assert [e["epoch"] for e in before] == [0] and remaining_phases(first) == ("search", "derive", "final")
    first.close()

    assert main(["sweep", "--resume", "res"]) == 0
    out = capsys.readouterr().out
    store = RunStore.open(runs_dir, "res-s0")
    epochs = store.events("epoch")
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert (epochs[0]["id"], epochs[0]["t"]) == (before[0]["id"], before[0]["t"])   # epoch 1 was not run again
    assert store.status() == "finished" and remaining_phases(store) == ()
    store.close()
    s = summary(load_plan(runs_dir, "res"), runs_dir)
    assert [r["status"] for r in s["rows"]] == ["finished", "finished"] and not s["unfinished"]
    assert table(s) in out

    mtime = (runs_dir / "res-s1" / "final.json").stat().st_mtime_ns
    again = run_sweep(load_plan(runs_dir, "res"), runs_dir, LocalExecutor(), io.StringIO(), poll=0.05)
    assert again == s and (runs_dir / "res-s1" / "final.json").stat().st_mtime_ns == mtime   # nothing rerun


def test_a_second_sweep_of_the_same_name_is_refused_and_the_board_marks_unfinished_runs(tiny, runs_dir):
    p = plan("dup", tiny(), {}, [0])
    save_plan(runs_dir, p)
    with pytest.raises(ValueError, match="--resume dup"):
        save_plan(runs_dir, p)
    store = open_run(runs_dir, p, p["runs"][0])
    out = io.StringIO()
    Board([store], out).draw()
    assert out.getvalue() == "dup-s0  created     search epoch 0/2\n"
    store.close()
    assert "1 run(s) unfinished: python -m enas sweep --resume dup" in table(summary(p, runs_dir))


def test_the_app_draws_a_sweep_as_a_group_and_resumes_its_unfinished_runs(tiny, runs_dir):
    from app.registry import get_registry
    p = plan("grp", tiny(), {"controller": "enas,random"}, [0])
    save_plan(runs_dir, p)
    store = open_run(runs_dir, p, p["runs"][0])
    Engine(store.config(), store).run(("search", "derive", "final"))
    store.close()
    get_registry.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    at.session_state["main_tabs"] = "All runs"
    at.run()
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Sweep grp: controller's samples" in t for t in titles)
    assert any("Final test accuracy per group" in t for t in titles)
    assert any("**Sweep grp**: 2 runs, 2 group(s) x 1 seed(s)" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Resume 1 unfinished run(s)").click().run()   # never started: started
    registry = get_registry(str(runs_dir.resolve()))
    wait(lambda: not registry.active(), what="the resumed sweep run")
    assert summary(p, runs_dir)["unfinished"] == [] and not at.exception
    at.run()
    assert not any(b.label.startswith("Resume") and "unfinished" in b.label for b in at.button)
    get_registry.clear()
