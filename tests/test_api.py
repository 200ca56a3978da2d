"""The Python API (`enas.api`): the same engine as the CLI, every event readable, the CLI's own errors, and the
pictures, cards and figures a notebook shows."""
import plotly.io as pio
import pytest
from conftest import CONTROLLER, TINY, tiny_config, wait

from enas import api
from enas.cli.main import main
from enas.config import ConfigError
from enas.errors import DataError, StoreError
from enas.quality.rank import kendall_tau
from enas.runs.store import RunStore
from enas.space import Architecture
from enas.teach import charts, draw

FIELDS = {**TINY, **CONTROLLER}
SEARCH_KINDS = ("child_step", "controller_step", "sample", "policy", "epoch")


def comparable(events):
    return [{k: v for k, v in e.items() if k not in {"id", "t", "seconds", "images_per_s"}} for e in events]


def flags(fields: dict) -> list:
    return [a for k, v in fields.items() for a in (f"--{k.replace('_', '-')}", str(v))]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One tiny search run from the API, derived, trained, and the same configuration run from the CLI."""
    runs = tmp_path_factory.mktemp("runs")
    run = api.search("quick", name="api", runs_dir=runs, progress=False, seed=3, **FIELDS)
    assert main(["--runs-dir", str(runs), "search", "--preset", "quick", "--name", "cli", "--seed", "3",
                 *flags(FIELDS)]) == 0
    return runs, run


def test_the_api_s_search_gives_the_cli_s_events(searched):
    runs, run = searched
    cli = api.open_run("cli", runs)
    assert run.status == cli.status == "finished"
    for kind in SEARCH_KINDS:
        ours, theirs = comparable(run.records(kind)), comparable(cli.records(kind))
        assert ours and ours == theirs, kind


def test_records_and_the_dataframe_hold_every_event_with_the_app_s_epoch_numbers(searched):
    _, run = searched
    records = run.records()
    frame = run.events()
    assert len(frame) == len(records) and list(frame["id"]) == [e["id"] for e in records]
    epochs = run.events("epoch")
    assert list(epochs["epoch"]) == [e["epoch"] + 1 for e in run.records("epoch")] == [1, 2]
    assert list(epochs["val_acc"]) == pytest.approx([e["val_acc"] for e in run.records("epoch")])


def test_derive_train_and_the_rank_check_from_python(searched):
    runs, _ = searched
    run = api.open_run("cli", runs)
    best = run.derive(samples=4)
    ranking = run.records("derive_result")[-1]["ranking"]
    assert best == Architecture.parse(ranking[0]["arch"]) == run.best
    assert best.ops and ranking[0]["val_acc"] == max(r["val_acc"] for r in ranking)
    result = run.train(mode="finetune", epochs=1)
    assert result["arch"] == str(best) and result == run.result and 0 <= result["val_acc"] <= 1
    check = run.rankcheck(k=3, epochs=1)
    stored = run.records("rankcheck_result")[-1]
    assert len(check["rows"]) == 3 and check["rows"] == stored["rows"]
    shared, alone = ([r[k] for r in check["rows"]] for k in ("shared_acc", "standalone_acc"))
    assert check["kendall_tau"] == pytest.approx(kendall_tau(shared, alone), nan_ok=True)
    assert check.figure().to_dict() == charts.rank_scatter(stored["rows"], stored["kendall_tau"],
                                                           stored["kendall_tau_95"]).to_dict()
    default, pio.renderers.default = pio.renderers.default, "plotly_mimetype"   # as in Jupyter
    try:
        assert check._repr_mimebundle_()["application/vnd.plotly.v1+json"]["data"][0]["x"] == shared
    finally:
        pio.renderers.default = default
    assert {"Derive", "Final training loss", "Op probabilities per node"} <= set(run.figures())


def test_figures_are_the_app_s_own(searched):
    _, run = searched
    figs, live = run.figures(), run.live()
    for k, (title, _, _) in enumerate(charts.SEARCH_CHARTS):
        assert figs[title].to_dict() == charts.search_chart(k, [(run.name, live.series)]).to_dict(), title
    assert figs["Op probabilities per node"].to_dict() == charts.op_heatmap(live.policies()[-1]).to_dict()


def test_a_run_s_card_says_what_each_number_measures_and_draws_its_architecture(searched):
    _, run = searched
    html = run._repr_html_()
    last = run.records("epoch")[-1]
    assert f"run {run.name}" in html and "search epochs done</th><td style='text-align:left'>2/2" in html
    assert f"{last['val_acc']:.4f}" in html and "validation minibatches (epoch 2)" in html
    assert "<svg" in html and run.records("sample")[-1]["arch"] == run.live().arch()


def test_an_architecture_renders_as_its_picture(tmp_path):
    arch = Architecture.parse("c3 c5:1 mp:01")
    pic = api.picture("c3 c5:1 mp:01")
    assert pic.arch == arch and pic._repr_svg_() == pic.svg == draw.chain_svg(arch)
    assert pic.svg.count('class="skip"') == 2 and pic.svg.count('class="chain"') == 4   # stem, 3 nodes, output
    assert 'stroke="#e31a1c"' not in pic.svg and api.picture(arch, highlight={1}).svg.count('stroke="#e31a1c"') == 1
    assert pic.save(tmp_path / "a.svg").read_text() == pic.svg


def test_in_ipython_every_architecture_shows_as_its_picture():
    from IPython.core.interactiveshell import InteractiveShell

    from enas.api.display import show_architectures_as_pictures
    assert not show_architectures_as_pictures()   # no IPython shell running: nothing to register with
    shell = InteractiveShell.instance()
    try:
        assert show_architectures_as_pictures()
        arch = Architecture.parse("c3 c5:1")
        data, _ = shell.display_formatter.format(arch)
        assert data["image/svg+xml"] == draw.chain_svg(arch) and data["text/plain"] == repr(arch)
    finally:
        InteractiveShell.clear_instance()


def test_bad_input_raises_the_cli_s_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="value 'fast' is not allowed; allowed: seed, enas-paper, quick, laptop"):
        api.search("fast", runs_dir=tmp_path)
    with pytest.raises(SystemExit) as exited:   # the CLI's flag has its choices: argparse refuses it
        main(["--runs-dir", str(tmp_path), "search", "--preset", "fast"])
    assert exited.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err
    cases = [
        (lambda: api.search("quick", runs_dir=tmp_path, epochs=0), ["search", "--preset", "quick", "--epochs", "0"],
         ConfigError),
        (lambda: api.search("quick", runs_dir=tmp_path, dataset=f"folder:{tmp_path / 'none'}"),
         ["search", "--preset", "quick", "--dataset", f"folder:{tmp_path / 'none'}"], DataError),
        (lambda: api.open_run("nobody", tmp_path), ["derive", "nobody"], StoreError),
    ]
    for call, argv, error in cases:
        with pytest.raises(error) as raised:
            call()
        assert main(["--runs-dir", str(tmp_path), *argv]) == 2
        assert str(raised.value) in capsys.readouterr().err, argv
    assert not any(tmp_path.iterdir()), "a refused search left a run folder"


def test_a_background_search_pauses_resumes_and_stops(tmp_path):
    run = api.search("quick", runs_dir=tmp_path, background=True, **{**FIELDS, "epochs": 200})
    wait(lambda: run.records("child_step"), what="the background search's first steps")
    run.pause()
    wait(lambda: run.status == "paused", what="the run paused")
    steps = len(run.records("child_step"))
    with pytest.raises(StoreError, match="still running"):
        run.derive()
    run.resume()
    wait(lambda: len(run.records("child_step")) > steps, what="steps after resume")
    run.stop()
    assert run.wait(60) == "stopped" and run.status == "stopped"
    with pytest.raises(StoreError, match="not started in the background"):
        api.open_run(run.name, tmp_path).pause()


def test_a_run_with_no_sample_yet_has_a_card_without_a_picture(tmp_path):
    RunStore.create(tmp_path, "new", tiny_config())
    html = api.open_run("new", tmp_path)._repr_html_()
    assert "search epochs done</th><td style='text-align:left'>0/2" in html and "<svg" not in html


def test_derive_and_train_refuse_what_cannot_run_before_the_run_is_touched(searched):
    from enas.engine.children import check_derive, check_final
    runs, run = searched
    before = run.store.last_id()
    with pytest.raises(ConfigError, match="--samples 0: must be at least 1"):
        run.derive(samples=0)
    with pytest.raises(ConfigError, match="--epochs 0: must be at least 1 with mode scratch"):
        run.train(mode="scratch", epochs=0)
    with pytest.raises(ConfigError, match="--mode bogus: use finetune or scratch"):
        run.train(mode="bogus")
    with pytest.raises(ValueError, match="--recheck -1"):
        run.derive(recheck=-1)
    assert run.store.last_id() == before and run.status == "finished"
    for edge in (lambda: check_derive(1), lambda: check_derive(None), lambda: check_final("scratch", 1),
                 lambda: check_final("finetune", 0)):
        edge()   # the edges pass
    with pytest.raises(ConfigError, match="--epochs -1: must be at least 0 with mode finetune"):
        check_final("finetune", -1)
