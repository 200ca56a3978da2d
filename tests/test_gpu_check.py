"""benchmarks/gpu_check.sh runs end to end (on the CPU here, at its tiny size): every figure it promises is there."""
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_and_reports_every_figure(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([str(ROOT / "benchmarks" / "gpu_check.sh"), "--tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert set(res["step_img_s"]) >= {"fp32_nchw", "fp32_channels_last", "bf16_channels_last"}
    assert all(v > 0 for v in res["step_img_s"].values())
    s = res["seed_search"]
    assert s["epoch_s_at_45000"] > 0 and s["est_100_epochs_min"] == s["epoch_s_at_45000"] * 100 / 60
    m = res["same_seed_as_cpu"]
    assert m["match"] and len(m["losses"]["cpu"]) == 2   # cpu against itself here: identical
    assert "seed preset search:" in proc.stdout and "same seed on" in proc.stdout
