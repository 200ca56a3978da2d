"""benchmarks/bench_scoring_levers.py on a tiny bench_quality state: its `base` way is the protocol's shared
scores, the other ways score other weights, and each way's tau is the one computed from its scores."""
import json

from enas.quality.rank import kendall_tau


def test_the_ways_of_scoring_a_run_and_their_taus(tmp_path, bench):
    state = tmp_path / "state"
    proc = bench("bench_quality.py", "--tiny", "--seeds", "0", "--only", "laptop-enas-s0", "--state", str(state),
                 "--out", str(tmp_path / "q.json"))
    assert proc.returncode == 0, proc.stderr
    [ref_file] = (state / "data-cache").iterdir()
    out = tmp_path / "levers.json"
    proc = bench("bench_scoring_levers.py", "--runs", str(state / "runs"), "--run", "laptop-enas-s0", "--steps", "3",
                 "--reference", f"T={ref_file}", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    shared = json.loads((state / "done" / "laptop-enas-s0.shared.json").read_text())["result"]["rows"]
    assert doc["archs"] == [r["arch"] for r in shared]
    scores = doc["scores"]
    assert scores["base"] == [r["shared_acc"] for r in shared]   # the protocol's scores, reproduced
    assert set(scores) == {"base", "calib50", "ft3", "ckpt-prev", "mean-2"}
    assert scores["ft3"] != scores["base"] and scores["ckpt-prev"] != scores["base"]   # other weights scored
    ref = json.loads(ref_file.read_text())["rows"]
    stand = [(r["standalone_a"] + r["standalone_b"]) / 2 for r in ref]
    for way, s in scores.items():
        assert doc["stats"][way]["T"]["kendall_tau"] == kendall_tau(s, stand)
    assert "T tau" in proc.stdout and doc["fine_tune_lr"] == 0.01
    other = tmp_path / "other.json"   # a reference of another space is refused before anything is scored
    other.write_text(json.dumps({**json.loads(ref_file.read_text()), "rows": ref[::-1]}))
    proc = bench("bench_scoring_levers.py", "--runs", str(state / "runs"), "--run", "laptop-enas-s0", "--reference",
                 f"O={other}", "--out", str(tmp_path / "o.json"))
    assert proc.returncode == 2 and "reference O holds other architectures" in proc.stderr
    assert not (tmp_path / "o.json").exists()


def test_bad_input_is_named_and_scores_nothing(tmp_path, bench):
    for args, said in ((["--runs", str(tmp_path), "--run", "nowhere"], "no run at"),
                       (["--runs", str(tmp_path), "--run", "x", "--steps", "5,x"], "--steps 5,x: use whole numbers"),
                       (["--runs", str(tmp_path), "--run", "x", "--reference", "nolabel"], "--reference nolabel: use LABEL=FILE")):
        proc = bench("bench_scoring_levers.py", *args, "--out", str(tmp_path / "o.json"))
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "o.json").exists()
