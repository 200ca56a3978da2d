"""benchmarks/bench_quality.py end to end on its tiny protocol: real jobs in subprocesses, real files; a rerun
trains nothing, and a state with one done step removed re-runs that job alone."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from enas.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
JOBS = ["reference", "laptop-enas-s0", "laptop-random-s0", "seed-enas-s0", "enas-paper-enas-s0"]
RUN_STEPS = ("search", "shared", "derive", "retrain", "refcheck")


def bench(tmp_path, *extra) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), "--tiny", "--seeds", "0",
                           "--state", str(tmp_path / "state"), "--out", str(tmp_path / "quality.json"), *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def started(out: str) -> list:
    return [line.split()[1] for line in out.splitlines() if line.startswith("start ")]


def table(out: str) -> str:
    return out[out.index("\nreference: "):out.index("\nsaved ")]


def files(state: Path) -> dict:
    """Every file the jobs keep (done steps, the reference cache), with its modification time."""
    return {str(p.relative_to(state)): p.stat().st_mtime_ns for d in ("done", "data-cache")
            for p in (state / d).iterdir()}


def events(state: Path) -> dict:
    return {name: RunStore.open(state / "runs", name).last_id() for name in JOBS[1:]}


def test_the_tiny_protocol_end_to_end_then_resumed_from_its_files(tmp_path):
    state = tmp_path / "state"
    first = bench(tmp_path)
    assert sorted(set(started(first))) == sorted(JOBS)   # a run starts again for its refcheck
    assert sorted((state / "done").iterdir()) == sorted(
        state / "done" / f"{j}.{s}.json" for j in JOBS for s in (("build",) if j == "reference" else RUN_STEPS))
    out = json.loads((tmp_path / "quality.json").read_text())
    assert out["complete"] and out["threads"] == 1 and out["jobs_at_once"] == 2 and "--tiny" in out["command"]
    assert set(out["machine"]["flags"]) == {"avx2", "avx512f", "avx512_bf16", "amx_tile"} and out["machine"]["torch"]
    (session,) = out["seconds"]["sessions"]
    assert session["cpu_children_s"] > 0 and session["wall_s"] > 0 and out["seconds"]["cpu_of_steps"] > 0
    res = {n: {s: d["result"] for s, d in r.items()} for n, r in out["results"].items()}
    ref = res["reference"]["build"]
    assert len(ref["rows"]) == 4 and all(r["val_acc"] == (r["val_a"] + r["val_b"]) / 2 for r in ref["rows"])
    for name in JOBS[1:]:
        search, derive, retrain = (res[name][s] for s in ("search", "derive", "retrain"))
        assert search["epochs"] == 2 and 0 < search["top_op"]["p"] <= 1   # --tiny's fields over the epoch caps
        assert retrain["arch"] == derive["arch"] == RunStore.open(state / "runs", name).meta()["best"]
        assert set(retrain["trainings"]) == {"reference-a", "reference-b"} and 0 <= retrain["test_acc"] <= 1
    for name in ("laptop-enas-s0", "laptop-random-s0"):   # the reference's recipe: measured against it
        check = res[name]["refcheck"]
        assert check["k"] == 4 and check["key"] == ref["key"] and len(check["rows"]) == 4
        assert [r["arch"] for r in check["rows"]] == [r["arch"] for r in ref["rows"]]
        assert [r["shared_acc"] for r in check["rows"]] == [r["shared_acc"] for r in res[name]["shared"]["rows"]]
        assert [r["standalone_acc"] for r in check["rows"]] == [r["val_acc"] for r in ref["rows"]]
    assert res["seed-enas-s0"]["refcheck"]["na"] == "other recipe" and "bn" in res["seed-enas-s0"]["refcheck"]["differ"]
    assert res["enas-paper-enas-s0"]["refcheck"]["differ"] == {"dropout": [0.1, 0.0]}
    assert sorted(out["targets"]) == ["enas-paper-enas-s0", "laptop-enas-s0", "seed-enas-s0"]
    assert out["targets"]["laptop-enas-s0"]["over_median"]["value"] == (
        100 * (res["laptop-enas-s0"]["retrain"]["val_acc"] - ref["val_median"]))

    before, counts = files(state), events(state)   # a rerun: everything is done, nothing is trained
    again = bench(tmp_path)
    assert started(again) == [] and "nothing to run" in again
    assert files(state) == before and events(state) == counts and table(again) == table(first)
    assert "0 of 21 steps remain" in bench(tmp_path, "--status")

    (state / "done" / "reference.build.json").unlink()   # one job's done step gone: that job alone runs again
    assert "reference            build to do" in bench(tmp_path, "--status")
    third = bench(tmp_path)
    assert started(third) == ["reference"]
    after = files(state)
    assert {k for k in after if after[k] != before[k]} == {"done/reference.build.json"} and events(state) == counts
    assert json.loads((state / "done" / "reference.build.json").read_text())["result"] == ref
    assert "trained now" not in (state / "logs" / "reference.log").read_text().split("--- reference.build")[-1]
    assert table(third) == table(first)
    assert len((state / "sessions.jsonl").read_text().splitlines()) == 2   # the sessions that ran something

    # a new checkout: the committed small files are there, the run folders are not
    shutil.rmtree(state / "runs" / "laptop-enas-s0")   # nothing needs its weights once `shared` and derive are done
    (state / "done" / "laptop-enas-s0.refcheck.json").unlink()
    fourth = bench(tmp_path)
    assert "folder is gone" not in fourth and started(fourth) == ["laptop-enas-s0"]
    after = files(state)
    redone = {"done/reference.build.json", "done/laptop-enas-s0.refcheck.json"}
    assert {k for k in after if after[k] != before[k]} == redone
    assert json.loads((state / "done" / "laptop-enas-s0.refcheck.json").read_text())["result"] == (
        res["laptop-enas-s0"]["refcheck"])

    shutil.rmtree(state / "runs" / "laptop-random-s0")   # its shared scores gone too: the run is searched again
    (state / "done" / "laptop-random-s0.shared.json").unlink()
    fifth = bench(tmp_path)
    assert "laptop-random-s0: its run folder is gone" in fifth and set(started(fifth)) == {"laptop-random-s0"}
    after = files(state)
    assert {k for k in after if after[k] != before[k]} == redone | {f"done/laptop-random-s0.{s}.json" for s in RUN_STEPS}
    assert started(bench(tmp_path)) == []


def test_only_plans_the_named_runs_and_the_reference_and_names_the_runs_when_one_is_unknown(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "bench_quality.py")
    bq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bq)
    args = ["--tiny", "--seeds", "0-1", "--state", str(tmp_path / "state")]
    parse = lambda *extra: bq.plan(bq.parser().parse_args(args + list(extra)))  # noqa: E731
    assert [j["name"] for j in parse()] == ["reference", "laptop-enas-s0", "laptop-random-s0", "laptop-enas-s1",
                                            "laptop-random-s1", "seed-enas-s0", "enas-paper-enas-s0"]
    only = parse("--only", "laptop-enas-s1,seed-enas-s0", "--field", "epochs=3")
    assert [j["name"] for j in only] == ["reference", "laptop-enas-s1", "seed-enas-s0"]
    assert only[1]["config"]["epochs"] == 3 and only[1]["config"]["seed"] == 1
    assert [j["name"] for j in parse("--only", "laptop-enas-s1")] == ["reference", "laptop-enas-s1"]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_quality.py"), *args,
                           "--only", "laptop-enas-s1,laptop-enas-s7"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and not (tmp_path / "state").exists()
    assert proc.stderr.startswith("error: --only laptop-enas-s7: no such run; the runs are laptop-enas-s0, ")

