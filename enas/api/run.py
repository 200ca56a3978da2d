"""`search`, `open_run` and `Run`: a run of the run store, driven from Python as the CLI drives it."""
from __future__ import annotations

from enas.api.display import card, picture
from enas.cli.main import progress_listener
from enas.config import Config
from enas.data.check import check_dataset
from enas.engine.children import check_derive, check_final
from enas.hardware import apply_threads, resolve_threads
from enas.quality.rankcheck import plan, rank_check
from enas.runs.listing import new_run_name
from enas.runs.live import LiveRun
from enas.runs.store import LIVE, RunStore, StoreError, check_name, runs_dir_default
from enas.scale.executor import LocalExecutor
from enas.space import Architecture
from enas.teach import charts

PHASES = ("search", "derive", "final")
CARD_FIGURES = ("Accuracy of sampled children (minibatches)", "Controller reward and baseline",
                "Op probabilities per node")   # shown under a run's summary card in a notebook


def _bars():
    """tqdm's best bar here: a widget in Jupyter (with ipywidgets), else text."""
    from tqdm.auto import tqdm
    return tqdm


def search(preset: str = "quick", *, name: str | None = None, runs_dir=None, full: bool = False,
           background: bool = False, progress: bool = True, **fields) -> "Run":
    """Start a search from `preset` and configuration `fields` (as the CLI's flags: `epochs=4, seed=0`), in the
    runs folder the app and the CLI read (`runs_dir`, default ENAS_RUNS_DIR or ./runs). `full` adds derive and
    final training. In the foreground it returns when the run ends, with a progress bar; `background=True`
    returns at once, the run going on in a thread (`Run.pause`, `resume`, `stop`, `wait`).

        run = search("quick", epochs=4, seed=0)
    """
    config = Config.from_dict(fields, preset=preset)
    config = config.replace(threads=resolve_threads(config.threads))   # stored, as the CLI and the app do
    name = check_name(name or new_run_name())
    runs_dir = runs_dir or runs_dir_default()
    phases = PHASES if full else ("search",)
    if background:
        check_dataset(config)   # as the app does: data that cannot load creates no run
        store = RunStore.create(runs_dir, name, config)
        return Run(store, LocalExecutor().start(store, phases))
    from enas.engine.search import Engine, load_data
    apply_threads(config.threads)
    dataset = load_data(config)   # before the run folder exists: bad data leaves nothing behind
    store = RunStore.create(runs_dir, name, config)
    Engine(config, store, [progress_listener(_bars())] if progress else [], dataset=dataset).run(phases)
    return Run(store)


def open_run(name: str, runs_dir=None) -> "Run":
    """The stored run `name` (as `python -m enas list` names it)."""
    return Run(RunStore.open(runs_dir or runs_dir_default(), name))


class RankCheck(dict):
    """A rank check's result (`rank_check`: rows, kendall_tau, spearman_rho and their intervals): a dict that a
    notebook shows as the app's scatter (`figure`)."""

    def figure(self):
        return charts.rank_scatter(self["rows"], self["kendall_tau"], self["kendall_tau_95"])

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.figure()._repr_mimebundle_(include, exclude)


class Run:
    """One run on disk: its events (`records`, `events`), figures, derive, final training and rank check; a
    background search's `pause`, `resume`, `stop`, `wait`. In a notebook it shows a summary card and its curves."""

    def __init__(self, store: RunStore, job=None):
        self.store, self.job = store, job

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def config(self) -> Config:
        return self.store.config()

    @property
    def status(self) -> str:
        return self.store.status()

    @property
    def best(self) -> Architecture | None:
        """The derived best architecture (None before derive)."""
        best = self.store.meta().get("best")
        return Architecture.parse(best) if best else None

    @property
    def result(self) -> dict | None:
        """The newest final training's result: architecture, mode, epochs, validation and test accuracy."""
        return self.store.meta().get("result")

    # --- events --------------------------------------------------------------------------------------
    def records(self, kind: str | None = None) -> list:
        """Every event (of one `kind`: epoch, child_step, controller_step, sample, policy, ...) as dicts, in order;
        `epoch` counts from 0 here, as stored."""
        return self.store.events(kind)

    def events(self, kind: str | None = None):
        """The events as a pandas DataFrame, one row per event, epochs numbered from 1 as the app numbers them."""
        from enas.runs.export import events_frame   # pandas: imported when a table is asked for
        return events_frame(self.store.events(kind))

    def live(self) -> LiveRun:
        """The run as the app holds it: curves, samples, policies, trainings."""
        live = LiveRun(self.config)
        live.replay(self.store)
        return live

    def figures(self) -> dict:
        """The app's figures of this run, by title: the search curves, the newest policy, how far it moved, derive's
        scatter and the final trainings' curves (those that have data)."""
        live = self.live()
        figs, marks = {}, live.interventions()
        for k, (title, _, _) in enumerate(charts.SEARCH_CHARTS):
            figs[title] = charts.search_chart(k, [(self.name, live.series)], marks)
        policies = live.policies()
        if policies:
            figs["Op probabilities per node"] = charts.op_heatmap(policies[-1])
            if len(policies[-1]["skip_probs"]) > 1:
                figs["Skip probabilities"] = charts.skip_heatmap(policies[-1])
            figs["How far the policy moved from its start"] = charts.mark_interventions(
                charts.moved_chart(policies, self.config.health_still_move), marks, "epoch")
        xs, ys = live.series("derive.val_acc")["derive.val_acc"]
        if xs:
            figs["Derive"] = charts.derive_chart(xs, ys, live.ranking())
        trainings = [t for t in live.trainings() if t["series"]]
        runs = [(charts.training_label(k, t), t["series"]) for k, t in enumerate(trainings)]
        for title, xtitle, lines in charts.FINAL_CHARTS if runs else ():
            figs[title] = charts.final_chart(title, xtitle, lines, runs)
        return figs

    # --- phases after the search -----------------------------------------------------------------
    def derive(self, samples: int | None = None, recheck: int = 0, recheck_epochs: int = 1) -> Architecture:
        """Sample `samples` children (default: the preset's derive_samples), score each on the whole validation
        split with the shared weights, keep the best; returns it."""
        check_derive(samples, recheck, recheck_epochs)
        self._phase(lambda e: e.derive(samples, recheck, recheck_epochs))
        return self.best

    def train(self, arch=None, mode: str | None = None, epochs: int | None = None) -> dict:
        """Fine-tune (`finetune`, from the shared weights) or retrain (`scratch`) `arch` (default: the derived best)
        for `epochs`; returns validation and test accuracy."""
        arch = Architecture.parse(arch) if isinstance(arch, str) else arch
        check_final(mode or self.config.final_mode, epochs)
        return self._phase(lambda e: e.train_final(arch, mode, epochs))

    def rankcheck(self, k: int = 8, epochs: int = 1) -> RankCheck:
        """Retrain `k` of derive's architectures from scratch for `epochs` each and compare their stand-alone
        accuracy with the shared weights' (Kendall tau, Spearman rho, intervals)."""
        plan(self.store, k, epochs)   # refuse before the run is touched
        return RankCheck(self._phase(lambda e: rank_check(e, k, epochs)))

    def _phase(self, work):
        if self.job is not None and self.job.thread.is_alive() or self.status in LIVE:
            raise StoreError(f"run {self.name!r} is still running: wait() for it, or stop() it, first")
        from enas.engine.search import Engine
        engine = Engine(self.config, self.store, [progress_listener(_bars())])
        out = {}
        engine.run((lambda: out.setdefault("result", work(engine)),))
        return out.get("result")

    # --- a background search --------------------------------------------------------------------
    def _background(self, what: str):
        if self.job is None:
            raise StoreError(f"run {self.name!r} was not started in the background here: {what} drives only a run "
                             "of search(..., background=True) in this process")
        return self.job

    def pause(self):
        self._background("pause").control.pause()

    def resume(self):
        self._background("resume").control.resume()

    def stop(self):
        self._background("stop").stop()

    def wait(self, timeout: float | None = None) -> str | None:
        """Wait for a background run to end (at most `timeout` seconds); returns its outcome (None: still going)."""
        job = self._background("wait")
        outcome = job.wait(timeout)
        if job.error:
            raise RuntimeError(f"run {self.name!r} failed: {job.error}")
        return outcome

    # --- display -----------------------------------------------------------------------------------
    def summary(self) -> tuple:
        """(label, value) rows saying what the run is and how far it got, each naming what it measures; and the
        architecture to draw with what it is ((label, Architecture): the derived best, else the newest sample), or
        None."""
        c, live = self.config, self.live()
        epochs = self.store.events("epoch")
        rows = [("status", self.status), ("controller", c.controller), ("dataset", c.dataset),
                ("search epochs done", f"{len(epochs)}/{c.epochs}")]
        if epochs:
            last = epochs[-1]
            if last["val_acc"] is not None:
                rows.append((f"controller's samples, validation minibatches (epoch {last['epoch'] + 1})",
                             f"{last['val_acc']:.4f}"))
            if last.get("random_val_acc") is not None:
                rows.append((f"random architectures, same weights (epoch {last['epoch'] + 1})",
                             f"{last['random_val_acc']:.4f}"))
        meta = self.store.meta()
        if self.best is not None:
            rows.append(("derived best: validation accuracy (whole split, shared weights)",
                         f"{meta['best_val_acc']:.4f}  {self.best}"))
        r = self.result
        if r:
            test = "n/a" if r.get("test_acc") is None else f"{r['test_acc']:.4f}"
            rows.append((f"final ({r.get('mode')}, {r.get('epochs')} epoch{'s' * (r.get('epochs') != 1)}): "
                         "validation / test accuracy",
                         f"{r['val_acc']:.4f} / {test}"))
        if self.best is not None:
            return rows, ("the derived best", self.best)
        newest = live.arch()
        return rows, (("the newest sample", Architecture.parse(newest)) if newest else None)

    def _repr_html_(self) -> str:
        rows, drawn = self.summary()
        body = f"<p>{drawn[0]}:</p>{picture(drawn[1], self.config.ops).svg}" if drawn else ""
        return card(f"run {self.name}", rows, body)

    def _ipython_display_(self):
        from IPython.display import HTML, display
        display(HTML(self._repr_html_()))
        figs = self.figures()
        for title in CARD_FIGURES:
            if title in figs:
                display(figs[title])

    def __repr__(self) -> str:
        return f"<Run {self.name}: {self.status}>"
