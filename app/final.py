"""The Derive & final tab: derive and its ranking, the rank check, each final training's curves, the result and
its downloads."""
from __future__ import annotations

import functools
import json
import shutil

import streamlit as st

from enas.formats import parse_any
from enas.space import MAX_STRING, Architecture, ArchitectureError
from enas.teach import charts, draw

from . import access, arch_io, quality, teach, tryit
from .history import CLASSES
from .widgets import act, field, picture, plot


def final_view(registry, entry, ticking: bool):
    live, c = entry.live, entry.config
    teach.explain("derive", "What are derive and final training?")
    busy = entry.running_here or entry.follow or live.status == "starting"
    has_ckpt = bool(entry.store.checkpoints())
    refused = access.work_refusal(registry, entry.name)
    if entry.read_only:
        st.caption("A recorded run: its derive and final training are shown as they happened; start a run of "
                   "your own to derive or train.")
    elif busy:
        st.caption("Derive and final training can start when this run is not running.")
    elif not has_ckpt:
        st.caption("Derive and final training need a checkpoint: finish at least one search epoch first.")
    elif refused:
        st.caption(refused)
    else:
        d1, d2 = st.columns([1, 1])
        with d1:
            derive_form(registry, entry)
        with d2:
            train_form(registry, entry)
    xs, ys = live.series("derive.val_acc")["derive.val_acc"]
    ranking = live.ranking()
    if xs:
        plot("derive", lambda: charts.derive_chart(xs, ys, ranking), ticking, (entry.name, live.best))
    if ranking:
        st.markdown(f"**Best derived child:** `{live.best}`")
        picture(Architecture.parse(live.best), c.ops)
        st.dataframe(ranking[:20], hide_index=True, key="ranking", column_config={
            "arch": "architecture", "count": "times sampled",
            "val_acc": st.column_config.NumberColumn("shared weights: val. acc. (whole split, BN recalibrated)",
                                                     format="%.4f"),
            "recheck_acc": st.column_config.NumberColumn("re-checked: val. acc. after training from scratch",
                                                         format="%.4f")})
    quality.rank_view(registry, entry, ticking, not busy and has_ckpt and not refused)
    final_charts(live, entry.name, ticking)
    result_view(entry)


# --- the forms: plain widgets and a button ------------------------------------------------------------
# Not st.form: a form submits on Enter in any of its fields, which started jobs. A widget that is not drawn in a
# run of the script (the run busy with the job, another tab open) loses its value, so what the user entered is
# kept here, per run, and put back before the widget is made again (`widgets.field`).
MODES = ["finetune", "scratch"]
UPLOADS = "kept_uploads"  # {run: the architecture file uploaded in the training form, or None}
def kept_upload(run: str):
    """The training form's file uploader; the file stays chosen while the uploader is not drawn (it cannot be
    put back into the widget), until the user removes it or uploads another."""
    uploads, key = st.session_state.setdefault(UPLOADS, {}), f"train_file_{run}"

    def changed():
        uploads[run] = st.session_state[key]
    upload = st.file_uploader("architecture JSON", type=["json"], key=key, on_change=changed)
    if upload is None and uploads.get(run) is not None:
        upload = uploads[run]
        st.caption(f"uploaded before: {upload.name}")
    return upload


def derive_form(registry, entry):
    name, c = entry.name, entry.config
    with st.container(border=True):
        samples = field(name, "derive_samples", c.derive_samples, st.number_input, "children to sample", 1,
                        100_000)
        recheck = field(name, "derive_recheck", 0, st.number_input, "re-check the top K from scratch (0: no)", 0,
                        1000, help="train derive's top K stand-alone from scratch briefly and keep the best by "
                                   "that: the shared-weight ranking can be wrong")
        recheck_epochs = field(name, "derive_recheck_epochs", 1, st.number_input, "re-check epochs", 1, 1000)
        if st.button("Derive the best child", key="derive_go", icon=":material/search:"):
            act(registry.derive, name, int(samples), int(recheck), int(recheck_epochs))
            st.rerun(scope="app")


def final_charts(live, name: str, ticking: bool):
    """The final trainings' curves: one line per training, those picked (the newest by default)."""
    trainings = [t for t in live.trainings() if t["series"]]
    if not trainings:
        return
    labels = [charts.training_label(k, t) for k, t in enumerate(trainings)]
    chosen = labels[-1:]
    if len(trainings) > 1:
        # a fresh choice when a training is added, so that the newest is drawn
        chosen = st.multiselect("Final trainings to draw", labels, labels[-1:], key=f"trainings_{name}_{len(labels)}",
                                help="each final training of this run, numbered in order; step and epoch count "
                                     "from 1 in each")
    runs = [(label, trainings[labels.index(label)]["series"]) for label in chosen]
    cols = st.columns(len(charts.FINAL_CHARTS))
    for k, (title, xtitle, lines) in enumerate(charts.FINAL_CHARTS):
        with cols[k]:
            plot(f"final_{k}", functools.partial(charts.final_chart, title, xtitle, lines, runs), ticking,
                 (name, *chosen))


def train_form(registry, entry):
    c, live, name = entry.config, entry.live, entry.name
    best = live.best or entry.store.meta().get("best")
    with st.container(border=True):
        sources = (["derived best"] if best else []) + ["paste a string", "upload a JSON file"]
        source = field(name, "train_source", sources[0], st.radio, "architecture", sources, options=sources,
                       horizontal=True)
        text = field(name, "train_text", "", st.text_input, "architecture string",
                     placeholder="e.g. c3 c5:1 mp:01")
        upload = kept_upload(name)
        mode = field(name, "train_mode", c.final_mode, st.selectbox, "mode", MODES, options=MODES)
        epochs = field(name, "train_epochs", c.final_epochs, st.number_input, "epochs", 0, 10_000,
                       help="0 with finetune: evaluate the child as it inherits the shared weights")
        try:
            arch, problem = read_arch(source, best, text, upload).check_space(c.nodes, c.ops), None
            st.caption(f"trains `{arch}`")
        except ArchitectureError as e:
            arch, problem = None, str(e)
        if mode == "scratch" and epochs == 0:
            problem = problem or ("training from scratch needs at least 1 epoch (0 epochs is for finetune: it "
                                  "evaluates the inherited child)")
        if st.button("Train the child", key="train_go", icon=":material/model_training:"):
            if problem:
                st.error(problem, icon=":material/error:")
                return
            act(registry.train, name, arch, mode, int(epochs))
            st.rerun(scope="app")


def read_arch(source: str, best, text: str, upload) -> Architecture:
    """The architecture chosen in the training form, validated (size-limited for uploads)."""
    if source == "derived best":
        return Architecture.parse(best)
    if source == "paste a string":
        return parse_any(text)
    if upload is None:
        raise ArchitectureError("choose a JSON file to upload")
    if upload.size > MAX_STRING:
        raise ArchitectureError(f"{upload.name} is too large for an architecture file ({upload.size:,} bytes; "
                                f"at most {MAX_STRING:,})")
    try:
        return parse_any(upload.getvalue().decode("utf-8"))
    except UnicodeDecodeError:
        raise ArchitectureError(f"{upload.name} is not a UTF-8 text file") from None


def result_view(entry):
    """The final result, and downloads of its architecture (JSON, string, DOT, SVG) and trained weights; without a
    result, downloads of the derived best. Each names the architecture it holds."""
    live, path = entry.live, entry.store.path
    result = live.result
    text = result["arch"] if result else live.best
    if text is None:
        return
    arch = Architecture.parse(text)
    if result:
        derived = live.derive_acc(result["arch"])
        trained = f"{result['epochs']} epoch(s), {result['mode']}"
        st.markdown(f"**Final training result of `{arch}`** ({trained})")
        row = st.container(horizontal=True, gap="medium")   # wraps: five fixed columns cut the values at 1024 px
        row.metric("Validation accuracy at derive", "-" if derived is None else f"{derived:.4f}", width="content",
                   help=f"{arch}: whole validation split, shared weights, BN statistics recalibrated: the child "
                        "as final training received it")
        row.metric("Validation accuracy", f"{result['val_acc']:.4f}", width="content",
                   help=f"{arch}: whole validation split, after final training ({trained}); eval-mode BN "
                        "statistics")
        row.metric("Test accuracy", "-" if result["test_acc"] is None else f"{result['test_acc']:.4f}",
                   width="content", help=f"{arch}: whole test split, after final training ({trained})")
        row.metric("Parameters", f"{result['params']:,}", width="content", help=f"{arch}")
        row.metric("FLOPs", f"{result['flops']:,}", width="content", help=f"{arch}")
    st.markdown(f"**Download {'the trained child' if result else 'the derived best'} `{arch}`**")
    cols = st.columns(5)
    cols[0].download_button("JSON", arch.to_json() + "\n", "architecture.json", "application/json", key="dl_json",
                            help=f"{arch} as this app's JSON")
    cols[1].download_button("String", str(arch) + "\n", "architecture.txt", "text/plain", key="dl_txt",
                            help=f"{arch}, one-line form")
    cols[2].download_button("DOT", draw.to_dot(arch).source, "architecture.dot", "text/vnd.graphviz", key="dl_dot",
                            help=f"{arch} as a graphviz graph")
    if shutil.which("dot"):   # made only when clicked
        cols[3].download_button("SVG", functools.partial(draw.to_svg, arch), "architecture.svg", "image/svg+xml",
                                key="dl_svg", help=f"{arch} drawn")
    else:
        cols[3].caption("SVG needs graphviz's `dot` program (apt-get install graphviz)")
    weights = path / "final.pt"
    if result and weights.is_file() and weights_of(path) == result["arch"]:
        cols[4].download_button("Weights", functools.partial(weights.read_bytes), "final.pt",
                                "application/octet-stream", key="dl_pt",
                                help=f"the weights of {arch} after final training ({trained})")
    arch_io.downloads(arch, "dl_child", config=entry.config, classes=entry.store.meta().get("classes", CLASSES))
    tryit.tryit_view(entry)


def weights_of(path) -> str | None:
    """The architecture whose weights final.pt holds, from final.json (written with it), or None."""
    try:
        return json.loads((path / "final.json").read_text())["arch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
