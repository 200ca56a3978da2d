"""The Derive & final tab's forms (issue 18, item 4): what the user entered stays entered (after a job, a rerun,
another tab), a job starts only from its button (never on Enter in a field), and the curves, metrics and
downloads name the architecture that was actually trained. Tiny real runs driven with Streamlit's AppTest."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config, wait
from streamlit.testing.v1 import AppTest

from app.registry import get_registry
from enas.engine.search import Engine
from enas.runs.store import RunStore
from enas.space import SHORT, Architecture

FIELDS = ("derive_samples", "derive_recheck", "derive_recheck_epochs", "train_epochs", "rankcheck_k",
          "rankcheck_epochs")   # the tab's number fields


def derived_run(runs: Path, name: str = "forms"):
    """A searched and derived tiny run; returns its config and an architecture of its space that is not the
    derived best (the one a user pastes)."""
    config = tiny_config(epochs=1, derive_samples=4)
    Engine(config, RunStore.create(runs, name, config)).run(("search", "derive"))
    best = RunStore.open(runs, name).meta()["best"]
    short = [SHORT[op] for op in config.ops]
    pasted = next(a for a in (f"{short[-1]} {short[-2]}:1 {short[-1]}:01", f"{short[0]} {short[0]}:0 {short[0]}:00")
                  if a != best)
    assert str(Architecture.parse(pasted)) == pasted
    return config, best, pasted


def new_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def train(at: AppTest, entry):
    """Click Train and wait for the final training to end; returns the app after a redraw."""
    before = len(entry.live.trainings())
    button(at, "Train the child").click().run()
    assert not at.exception, at.exception
    wait(lambda: not entry.running_here and len(entry.live.trainings()) > before, what="final training")
    assert entry.live.status == "finished", entry.live.message
    at.run()
    assert not at.exception, at.exception
    return at


def entered(at: AppTest) -> dict:
    return {"source": at.radio(key="train_source").value, "text": at.text_input(key="train_text").value,
            **{k: at.number_input(key=k).value for k in FIELDS}, "mode": at.selectbox(key="train_mode").value}


def test_a_pasted_architecture_is_kept_trained_twice_and_named_on_every_chart_metric_and_download(runs):
    _, best, pasted = derived_run(runs)
    entry = get_registry(str(runs.resolve())).view("forms")
    at = new_app()
    at.radio(key="train_source").set_value("paste a string")
    at.text_input(key="train_text").input(pasted)
    at.number_input(key="rankcheck_k").set_value(3)
    at.number_input(key="train_epochs").set_value(1)
    at.run()
    assert any(c.value == f"trains `{pasted}`" for c in at.caption)   # the form says what Train trains
    want = entered(at)
    assert want["source"] == "paste a string" and want["text"] == pasted and want["rankcheck_k"] == 3

    train(at, entry)
    assert entered(at) == want                      # after the job: not back to "derived best" and K 8
    at.run()
    assert entered(at) == want                      # and after a rerun
    train(at, entry)                                # the second Train trains the pasted child too
    starts = RunStore.open(runs, "forms").events("final_start")
    assert [e["arch"] for e in starts] == [pasted, pasted] and best != pasted
    assert entry.live.result["arch"] == pasted
    assert entered(at) == want

    charts = [c.proto.spec for c in at.get("plotly_chart")]
    final_charts = [s for s in charts if "Final training loss" in s or "Final training accuracy" in s
                    or "Final validation accuracy" in s]
    assert len(final_charts) == 3 and all(f"#2 finetune 1 ep. · {pasted}" in s for s in final_charts)
    assert any("Derive: " in s and f"best: {best}" in s for s in charts)
    assert any(m.value.startswith(f"**Final training result of `{pasted}`**") for m in at.markdown)
    metrics = [m for m in at.metric if m.label in ("Validation accuracy at derive", "Validation accuracy",
                                                   "Test accuracy", "Parameters", "FLOPs")]
    assert len(metrics) == 5 and all(m.proto.help.startswith(pasted) for m in metrics)
    assert metrics[1].value == f"{entry.live.result['val_acc']:.4f}"
    downloads = {b.proto.label: b.proto.help for b in at.get("download_button")}
    assert pasted in downloads["Weights"] and pasted in downloads["JSON"] and pasted in downloads["String"]
    assert any(m.value == f"**Download the trained child `{pasted}`**" for m in at.markdown)


def test_typing_in_a_field_starts_no_job_and_the_fields_survive_another_tab(runs):
    _, _, pasted = derived_run(runs)
    entry = get_registry(str(runs.resolve())).view("forms")
    at = new_app()
    store = RunStore.open(runs, "forms")
    last = store.last_id()
    # an Enter or a blur delivers the field's value with a rerun: that must not start derive, re-check, final
    # training or the rank check
    at.radio(key="train_source").set_value("paste a string").run()
    at.text_input(key="train_text").input(pasted).run()
    for key, value in zip(FIELDS, (3, 2, 1, 1, 3, 1)):
        at.number_input(key=key).set_value(value).run()
        assert not at.exception, at.exception
    at.selectbox(key="train_mode").set_value("scratch").run()
    assert not entry.running_here and store.last_id() == last and entry.live.status == "finished"
    # st.form submits on Enter in any of its fields (the browser's own behaviour): no field may be in one
    fields = [at.text_input(key="train_text"), at.radio(key="train_source"), at.selectbox(key="train_mode"),
              *(at.number_input(key=k) for k in FIELDS)]
    assert all(f.form_id == "" for f in fields), [f.key for f in fields if f.form_id]
    want = entered(at)
    assert want["text"] == pasted and want["derive_recheck"] == 2 and want["mode"] == "scratch"

    at.session_state["main_tabs"] = "All runs"     # the Run tab is not built while another is open
    at.run()
    assert "train_text" not in [w.key for w in at.text_input]   # its widget state is dropped
    at.session_state["main_tabs"] = "Run"
    at.run()
    assert not at.exception, at.exception
    assert entered(at) == want
    assert not entry.running_here and store.last_id() == last


def test_an_uploaded_architecture_stays_chosen_after_its_training(runs):
    _, _, pasted = derived_run(runs)
    entry = get_registry(str(runs.resolve())).view("forms")
    at = new_app()
    at.radio(key="train_source").set_value("upload a JSON file")
    at.get("file_uploader")[0].set_value(("mine.json", Architecture.parse(pasted).to_json().encode(),
                                          "application/json"))
    at.run()
    assert any(c.value == f"trains `{pasted}`" for c in at.caption)
    train(at, entry)
    assert at.radio(key="train_source").value == "upload a JSON file"
    assert any(c.value == f"trains `{pasted}`" for c in at.caption)   # the file is still the one chosen
    assert [e["arch"] for e in RunStore.open(runs, "forms").events("final_start")] == [pasted]
