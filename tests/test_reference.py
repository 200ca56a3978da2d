"""The rank check against a fixed reference set: the same architectures for every run, trained once and reused
(also by a run of another seed), resumed after an interruption, statistics by hand, the CLI and the app."""
import fcntl
import json
import math
import os
import threading

import pytest
from conftest import tiny_config
from test_cli import enas

from enas.engine.search import Engine
from enas.quality.rank import kendall_tau, spearman_rho
from enas.quality.reference import (
    FIELDS,
    build_reference,
    reference_archs,
    reference_check,
    reference_config,
    reference_key,
    reference_path,
    reference_stats,
    run_engine_factory,
)
from enas.runs.store import RunStore
from enas.space import Architecture

K = 4
SMALL = {"nodes": 2, "channels": 4, "train_subset": 128, "val_size": 64, "steps_per_epoch": 2, "epochs": 1}


def small(**changes):
    return tiny_config(**{**SMALL, **changes})


def searched(runs_dir, name: str, **changes) -> Engine:
    config = small(**changes)
    engine = Engine(config, RunStore.create(runs_dir, name, config))
    engine.run(("search",))
    return engine


class Interrupted(Exception):
    pass


class Trainings:
    """Engine.standalone_accuracy, counted: (architecture, kind) of each call; it raises once `limit` ran."""

    def __init__(self, original):
        self.original, self.calls, self.limit = original, [], None

    def __call__(self, engine, arch, epochs, kind):
        if self.limit is not None and len(self.calls) >= self.limit:
            raise Interrupted()
        self.calls.append((str(arch), kind))
        return self.original(engine, arch, epochs, kind)


@pytest.fixture
def trainings(monkeypatch, tmp_path):
    monkeypatch.setenv("ENAS_DATA_DIR", str(tmp_path / "data"))
    counted = Trainings(Engine.standalone_accuracy)
    monkeypatch.setattr(Engine, "standalone_accuracy", lambda self, *a: counted(self, *a))
    return counted


def test_the_reference_depends_on_the_space_and_recipe_not_on_the_seed():
    config = small()
    assert reference_archs(config.replace(seed=7), 6) == reference_archs(config, 6)
    assert len(set(reference_archs(config, 6))) == 6
    assert reference_key(config.replace(seed=7, child_lr=0.01), K, 1) == reference_key(config, K, 1)
    assert reference_key(config.replace(final_lr=0.05), K, 1) != reference_key(config, K, 1)
    assert reference_key(config, K, 2) != reference_key(config, K, 1) != reference_key(config, K + 1, 1)
    ref = reference_config(config.replace(seed=7))
    assert ref.seed == 0 and all(getattr(ref, f) == getattr(config, f) for f in FIELDS)


def test_two_runs_of_different_seeds_share_one_reference_trained_once(runs_dir, tmp_path, trainings):
    cache = tmp_path / "cache"
    first = reference_check(searched(runs_dir, "s0", seed=0), K, 1, cache)
    archs = [str(a) for a in reference_archs(small(), K)]
    assert trainings.calls == [(a, f"reference-{t}") for a in archs for t in "ab"]
    path = reference_path(cache, small(), K, 1)
    doc = json.loads(path.read_text())
    assert list(cache.iterdir()) == [path] and doc["key"] == first["key"] == reference_key(small(), K, 1)
    assert doc["fields"] == {f: small().to_dict()[f] for f in FIELDS}
    trainings.calls.clear()
    engine = searched(runs_dir, "s1", seed=1)
    events = []
    engine.listeners.append(events.append)
    second = reference_check(engine, K, 1, cache)
    assert trainings.calls == []                                   # reused, not retrained
    assert [r["arch"] for r in second["rows"]] == [r["arch"] for r in first["rows"]] == archs
    for one, two in zip(first["rows"], second["rows"]):
        assert (one["standalone_a"], one["standalone_b"]) == (two["standalone_a"], two["standalone_b"])
    assert [r["shared_acc"] for r in second["rows"]] == [engine.shared_accuracy(Architecture.parse(a)) for a in archs]
    children = [e for e in events if e["kind"] == "refcheck_child"]
    assert len(children) == K and not any(e["trained"] for e in children) and children[-1]["progress"] == 1.0
    assert [e for e in events if e["kind"] == "refcheck_result"][0]["rows"] == second["rows"]
    again = Engine(reference_config(small(seed=1)))                # the reference: seed 0's engine, from scratch
    assert (again.train_child(Architecture.parse(archs[0]), "scratch", 1, "reference-b")[1]
            == second["rows"][0]["standalone_b"])
    stored = json.loads((engine.store.path / "refcheck.json").read_text())
    assert stored["rows"] == second["rows"] and engine.store.meta()["refcheck"]["key"] == second["key"]
    # the statistics, by hand from the stored rows
    rows = stored["rows"]
    x, y = [r["shared_acc"] for r in rows], [r["standalone_acc"] for r in rows]
    assert y == [(r["standalone_a"] + r["standalone_b"]) / 2 for r in rows] and stored["top_k"] == 1
    best = lambda v: max(range(K), key=lambda i: (v[i], -i))  # noqa: E731 - the top 1, the first of ties
    assert stored["top_k_agreement"] == float(best(x) == best(y))
    for key, value in (("kendall_tau", kendall_tau(x, y)), ("spearman_rho", spearman_rho(x, y)),
                       ("ceiling_tau", kendall_tau([r["standalone_a"] for r in rows],
                                                   [r["standalone_b"] for r in rows]))):
        assert stored[key] == value or math.isnan(value) and math.isnan(stored[key])


def test_a_stopped_reference_build_resumes_where_it_was(runs_dir, tmp_path, trainings):
    engine, cache = searched(runs_dir, "r"), tmp_path / "cache"
    archs = [str(a) for a in reference_archs(engine.config, K)]
    trainings.limit = 4                                            # two architectures, then an interruption
    with pytest.raises(Interrupted):
        reference_check(engine, K, 1, cache)
    kept = json.loads(reference_path(cache, engine.config, K, 1).read_text())["rows"]
    assert [r["standalone_b"] is not None for r in kept] == [True, True, False, False]
    trainings.limit, trainings.calls = None, []
    result = reference_check(engine, K, 1, cache)
    assert trainings.calls == [(a, f"reference-{t}") for a in archs[2:] for t in "ab"]
    assert [r["standalone_a"] for r in result["rows"][:2]] == [r["standalone_a"] for r in kept[:2]]
    whole = build_reference(engine.config, K, 1, tmp_path / "other", run_engine_factory(engine))
    assert whole["rows"] == json.loads(reference_path(cache, engine.config, K, 1).read_text())["rows"]


def test_two_builders_share_one_build_by_rows_and_lose_no_training(runs_dir, tmp_path, trainings):
    engine, cache = searched(runs_dir, "r"), tmp_path / "cache"
    archs = [str(a) for a in reference_archs(engine.config, K)]
    done, followed = {}, []

    def part(rows):
        done[min(rows)] = build_reference(engine.config, K, 1, cache, run_engine_factory(engine),
                                          lambda n, row, trained: followed.append((n, trained)), rows=rows)
    workers = [threading.Thread(target=part, args=({0, 2},)), threading.Thread(target=part, args=({1, 3},))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(trainings.calls) == sorted((a, f"reference-{t}") for a in archs for t in "ab")   # each once
    rows = json.loads(reference_path(cache, engine.config, K, 1).read_text())["rows"]
    assert all(r["standalone_a"] is not None and r["standalone_b"] is not None for r in rows)
    for mine, doc in ((0, done[0]), (1, done[1])):    # each part's own rows, as the file keeps them
        assert [r for n, r in enumerate(doc["rows"]) if n % 2 == mine] == rows[mine::2]
    assert rows in (done[0]["rows"], done[1]["rows"])   # the part that saved last took in the other's rows
    assert sorted(followed) == [(n, True) for n in range(K)]   # each part follows its own rows only
    trainings.calls = []
    assert build_reference(engine.config, K, 1, cache, run_engine_factory(engine))["rows"] == rows
    assert trainings.calls == []


def test_a_save_waits_for_the_lock_on_the_cache_folder(tmp_path):
    from enas.quality import reference
    path = tmp_path / "cache" / "reference-x.json"
    path.parent.mkdir()
    doc = {"format": reference.FORMAT, "key": "x", "rows": [{"arch": "c1", "standalone_a": 0.5, "standalone_b": None}]}
    folder = os.open(path.parent, os.O_RDONLY)
    fcntl.flock(folder, fcntl.LOCK_EX)
    saver = threading.Thread(target=reference._save, args=(path, doc))
    saver.start()
    saver.join(0.5)
    assert saver.is_alive() and not path.exists()   # held back while another process reads and writes
    os.close(folder)
    saver.join()
    assert json.loads(path.read_text())["rows"] == doc["rows"]


def test_reference_statistics_by_hand():
    rows = [{"shared_acc": s, "standalone_acc": m, "standalone_a": a, "standalone_b": b}
            for s, m, a, b in zip([0.1, 0.4, 0.3, 0.2], [0.2, 0.1, 0.4, 0.3], [0.2, 0.1, 0.5, 0.3],
                                  [0.2, 0.1, 0.3, 0.3])]
    stats = reference_stats(rows, 1)
    assert stats["kendall_tau"] == 0.0                        # 3 pairs concordant, 3 discordant
    assert stats["spearman_rho"] == pytest.approx(-0.2)       # ranks 1 4 3 2 and 2 1 4 3: sum d^2 = 12
    assert stats["top_k_agreement"] == 0.0                    # best by shared weights: 2nd; stand-alone: 3rd
    assert stats["ceiling_tau"] == pytest.approx(5 / math.sqrt(30))   # 5 concordant, one tie of seed b
    for key in ("kendall_tau", "spearman_rho", "top_k_agreement", "ceiling_tau"):
        lo, hi = stats[key + "_95"]
        assert lo <= stats[key] <= hi


def test_reference_check_from_the_command_line(runs_dir, tmp_path, trainings):
    config = small()
    Engine(config, RunStore.create(runs_dir, "cli", config)).run(("search",))
    out = enas("rankcheck", "cli", "--reference", K, "--epochs", 1, runs_dir=runs_dir).stdout
    assert ("shared-weight validation accuracy (run cli, whole split) against stand-alone validation accuracy "
            "after 1 epoch(s), mean of 2 seeds") in out
    for words in ("Kendall tau", "Spearman rho", "top-1 agreement", "ceiling tau", "95% bootstrap interval",
                  "trained now"):
        assert words in out
    assert reference_path(tmp_path / "data" / "cache", config, K, 1).is_file()   # under ENAS_DATA_DIR
    assert RunStore.open(runs_dir, "cli").meta()["refcheck"]["k"] == K
    bad = enas("rankcheck", "cli", "--reference", 3, runs_dir=runs_dir, check=False)
    assert bad.returncode == 2 and "error: a reference check needs K >= 4 architectures" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    both = enas("rankcheck", "cli", "--reference", K, "--k", 3, runs_dir=runs_dir, check=False)
    assert both.returncode == 2 and "drop --k" in both.stderr
    assert RunStore.open(runs_dir, "cli").status() == "finished"   # refused before the run was touched


def test_the_app_shows_a_stored_reference_check(runs, tmp_path, trainings):
    from test_app import new_app
    engine = searched(runs, "shown")
    assert engine.run((lambda: reference_check(engine, K, 1, tmp_path / "cache"),)) == "finished"
    result = engine.store.meta()["refcheck"]
    at = new_app()
    assert at.selectbox(key="view").value == "shown"
    text = " ".join(m.value for m in at.markdown)
    assert f"**Reference check** of {K} random architectures" in text and "Ceiling: Kendall tau" in text
    assert any(b.label == "Run the reference check" for b in at.button)
    at.session_state["ref_pick_shown"] = result["rows"][1]["arch"]
    at.run()
    assert any(m.value.startswith(f"**`{result['rows'][1]['arch']}`** · shared weights") for m in at.markdown)
    assert not at.exception


def test_the_app_starts_a_reference_check_and_stores_it(runs, trainings):
    from conftest import wait
    from test_app import new_app
    searched(runs, "started")
    at = new_app()
    at.number_input(key="refcheck_k").set_value(K).run()
    next(b for b in at.button if b.label == "Run the reference check").click().run()
    assert not at.exception
    store = RunStore.open(runs, "started")
    wait(lambda: "refcheck" in store.meta(), what="the reference check started from the app")
    assert store.meta()["refcheck"]["k"] == K and len(trainings.calls) == 2 * K
