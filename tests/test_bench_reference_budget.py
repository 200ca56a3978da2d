"""benchmarks/bench_reference_budget.py on a tiny bench_quality state: a longer reference is trained once, beside
the protocol's, and each run's stored shared-weight scores are ranked against it without searching again."""
import json

from enas.quality.rank import kendall_tau


def test_a_longer_reference_ranks_the_stored_shared_scores_and_a_rerun_trains_nothing(tmp_path, bench):
    state = tmp_path / "state"
    assert bench("bench_reference_budget.py", "--epochs", "2", "--state", str(state)).returncode == 2
    proc = bench("bench_quality.py", "--tiny", "--seeds", "0", "--only", "laptop-enas-s0", "--state", str(state),
                 "--out", str(tmp_path / "q.json"))
    assert proc.returncode == 0, proc.stderr
    events = (state / "runs" / "laptop-enas-s0" / "run.db").stat().st_mtime_ns
    out = tmp_path / "e2.json"
    assert bench("bench_reference_budget.py", "--epochs", "2", "--part", "2/2", "--state", str(state)).returncode == 2
    half = bench("bench_reference_budget.py", "--epochs", "3", "--part", "1/2", "--state", str(state), "--out",
                 str(tmp_path / "e3.json"))
    assert half.returncode == 0 and half.stdout.count("(trained now)") == 2 and "not yet trained by the other parts: [0, 2]" \
        in half.stdout and not (tmp_path / "e3.json").exists()
    other = bench("bench_reference_budget.py", "--epochs", "3", "--part", "0/2", "--state", str(state), "--out",
                  str(tmp_path / "e3.json"))
    assert other.returncode == 0 and other.stdout.count("(trained now)") == 2 and (tmp_path / "e3.json").exists()
    before = {p.name for p in (state / "data-cache").iterdir()}
    first = bench("bench_reference_budget.py", "--epochs", "2", "--state", str(state), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("(trained now)") == 4 and len({p.name for p in (state / "data-cache").iterdir()} - before) == 1
    assert (state / "runs" / "laptop-enas-s0" / "run.db").stat().st_mtime_ns == events   # the run is not touched
    doc = json.loads(out.read_text())
    assert doc["reference"]["epochs"] == 2 and list(doc["runs"]) == ["laptop-enas-s0"]
    shared = json.loads((state / "done" / "laptop-enas-s0.shared.json").read_text())["result"]["rows"]
    ref = doc["reference"]["rows"]
    assert [r["arch"] for r in ref] == [r["arch"] for r in shared]
    run = doc["runs"]["laptop-enas-s0"]
    assert run["new"]["kendall_tau"] == kendall_tau([r["shared_acc"] for r in shared],
                                                    [(r["standalone_a"] + r["standalone_b"]) / 2 for r in ref])
    assert run["protocol"]["kendall_tau"] == json.loads(
        (state / "done" / "laptop-enas-s0.refcheck.json").read_text())["result"]["kendall_tau"]
    again = bench("bench_reference_budget.py", "--epochs", "2", "--state", str(state), "--out", str(out))
    assert again.returncode == 0 and "(trained now)" not in again.stdout
    assert json.loads(out.read_text())["runs"] == doc["runs"]
    assert doc["ceiling_tau"] == kendall_tau([r["standalone_a"] for r in ref], [r["standalone_b"] for r in ref])
    assert "ceiling (the E=2 reference" in first.stdout
