"""The example notebook runs headless, top to bottom, on a tiny configuration (its parameters cell replaced), and
shows what its cells promise: the run's card, the app's figures, the sampled chain as a picture, the test accuracy
and the events as a table."""
from pathlib import Path

import pytest
from conftest import CONTROLLER, TINY

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "seed_report.ipynb"


def test_the_example_notebook_runs_and_shows_each_result(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "the notebook has one parameters cell"
    fields = {**TINY, **CONTROLLER, "epochs": 2, "final_epochs": 1, "seed": 0}
    params[0].source = f"PRESET = 'seed'\nFIELDS = {fields!r}"
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    html = "".join(d.get("text/html", "") for d in data)
    assert "search epochs done</th><td style='text-align:left'>2/2" in html      # the run's card
    assert sum("application/vnd.plotly.v1+json" in d for d in data) >= 3         # card curves and figures
    assert sum(d.get("image/svg+xml", "").startswith("<svg") for d in data) >= 2  # the sample and the derived best
    text = "".join(o.get("text", "") for o in outputs)
    assert "test accuracy 0." in text or "test accuracy 1." in text
    assert "random_val_acc" in html                                              # the epochs table
    assert len(list((tmp_path / "runs").iterdir())) == 1
