"""The Derive & final tab: derive and its ranking, the rank check, each final training's curves, the result and
its downloads."""
from __future__ import annotations

import functools
import shutil

import streamlit as st

from enas import draw
from enas.formats import parse_any
from enas.space import MAX_STRING, Architecture, ArchitectureError

from . import arch_io, charts, quality, teach
from .history import CLASSES
from .widgets import act, picture, plot


def final_view(registry, entry, ticking: bool):
    live, c = entry.live, entry.config
    teach.explain("derive", "What are derive and final training?")
    busy = entry.running_here or entry.follow or live.status == "starting"
    has_ckpt = bool(entry.store.checkpoints())
    if entry.read_only:
        st.caption("A recorded run: its derive and final training are shown as they happened; start a run of "
                   "your own to derive or train.")
    elif busy:
        st.caption("Derive and final training can start when this run is not running.")
    elif not has_ckpt:
        st.caption("Derive and final training need a checkpoint: finish at least one search epoch first.")
    else:
        d1, d2 = st.columns([1, 1])
        with d1, st.form("derive_form", border=True):
            samples = st.number_input("children to sample", 1, 100_000, c.derive_samples, key="derive_samples")
            recheck = st.number_input("re-check the top K from scratch (0: no)", 0, 1000, 0, key="derive_recheck",
                                      help="train derive's top K stand-alone from scratch briefly and keep the "
                                           "best by that: the shared-weight ranking can be wrong")
            recheck_epochs = st.number_input("re-check epochs", 1, 1000, 1, key="derive_recheck_epochs")
            if st.form_submit_button("Derive the best child", icon=":material/search:"):
                act(registry.derive, entry.name, int(samples), int(recheck), int(recheck_epochs))
                st.rerun(scope="app")
        with d2:
            train_form(registry, entry)
    xs, ys = live.series("derive.val_acc")["derive.val_acc"]
    ranking = live.ranking()
    if xs:
        plot("derive", lambda: charts.derive_scatter(xs, ys, ranking[0]["val_acc"] if ranking else None), ticking,
             (entry.name,))
    if ranking:
        st.markdown(f"**Best derived child:** `{live.best}`")
        picture(Architecture.parse(live.best), c.ops)
        st.dataframe(ranking[:20], hide_index=True, key="ranking", column_config={
            "arch": "architecture", "count": "times sampled",
            "val_acc": st.column_config.NumberColumn("shared weights: val. acc. (whole split, BN recalibrated)",
                                                     format="%.4f"),
            "recheck_acc": st.column_config.NumberColumn("re-checked: val. acc. after training from scratch",
                                                         format="%.4f")})
    quality.rank_view(registry, entry, ticking, not busy and has_ckpt)
    final_charts(live, entry.name, ticking)
    result_view(entry)


def training_label(k: int, t: dict) -> str:
    return f"#{k + 1} {t['mode']} {t['epochs']} ep. · {t['arch']}"


def final_charts(live, name: str, ticking: bool):
    """The final trainings' curves: one line per training, those picked (the newest by default)."""
    trainings = [t for t in live.trainings() if t["series"]]
    if not trainings:
        return
    labels = [training_label(k, t) for k, t in enumerate(trainings)]
    chosen = labels[-1:]
    if len(trainings) > 1:
        chosen = st.multiselect("Final trainings to draw", labels, labels[-1:], key=f"trainings_{name}",
                                help="each final training of this run, numbered in order; step and epoch count "
                                     "from 1 in each")
    runs = [(label, trainings[labels.index(label)]["series"]) for label in chosen]
    cols = st.columns(len(charts.FINAL_CHARTS))
    for k, (title, xtitle, lines) in enumerate(charts.FINAL_CHARTS):
        with cols[k]:
            plot(f"final_{k}", functools.partial(charts.curves, title, xtitle, lines, runs), ticking,
                 (name, *chosen))


def train_form(registry, entry):
    c, live = entry.config, entry.live
    best = live.best or entry.store.meta().get("best")
    with st.form("train_form", border=True):
        sources = (["derived best"] if best else []) + ["paste a string", "upload a JSON file"]
        source = st.radio("architecture", sources, horizontal=True, key="train_source")
        text = st.text_input("architecture string", key="train_text", placeholder="e.g. c3 c5:1 mp:01")
        upload = st.file_uploader("architecture JSON", type=["json"], key="train_file")
        mode = st.selectbox("mode", ["finetune", "scratch"], index=["finetune", "scratch"].index(c.final_mode),
                            key="train_mode")
        epochs = st.number_input("epochs", 0, 10_000, c.final_epochs, key="train_epochs",
                                 help="0 with finetune: evaluate the child as it inherits the shared weights")
        if st.form_submit_button("Train the child", icon=":material/model_training:"):
            try:
                arch = read_arch(source, best, text, upload).check_space(c.nodes, c.ops)
            except ArchitectureError as e:
                st.error(str(e), icon=":material/error:")
                return
            if mode == "scratch" and epochs == 0:
                st.error("training from scratch needs at least 1 epoch (0 epochs is for finetune: it evaluates "
                         "the inherited child)", icon=":material/error:")
                return
            act(registry.train, entry.name, arch, mode, int(epochs))
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
    """The final result, and downloads of the architecture (JSON, string, DOT, SVG) and trained weights."""
    live, path = entry.live, entry.store.path
    result = live.result
    text = result["arch"] if result else live.best
    if text is None:
        return
    arch = Architecture.parse(text)
    if result:
        derived = live.derive_acc(result["arch"])
        trained = f"{result['epochs']} epoch(s), {result['mode']}"
        cols = st.columns(5)
        cols[0].metric("Validation accuracy at derive", "-" if derived is None else f"{derived:.4f}",
                       help="whole validation split, shared weights, BN statistics recalibrated: the child as "
                            "final training received it")
        cols[1].metric("Validation accuracy", f"{result['val_acc']:.4f}",
                       help=f"whole validation split, after final training ({trained}); eval-mode BN statistics")
        cols[2].metric("Test accuracy", "-" if result["test_acc"] is None else f"{result['test_acc']:.4f}",
                       help=f"whole test split, after final training ({trained})")
        cols[3].metric("Parameters", f"{result['params']:,}")
        cols[4].metric("FLOPs", f"{result['flops']:,}")
    st.markdown(f"**Download `{arch}`**")
    cols = st.columns(5)
    cols[0].download_button("JSON", arch.to_json() + "\n", "architecture.json", "application/json", key="dl_json")
    cols[1].download_button("String", str(arch) + "\n", "architecture.txt", "text/plain", key="dl_txt")
    cols[2].download_button("DOT", draw.to_dot(arch).source, "architecture.dot", "text/vnd.graphviz", key="dl_dot")
    if shutil.which("dot"):   # made only when clicked
        cols[3].download_button("SVG", functools.partial(draw.to_svg, arch), "architecture.svg", "image/svg+xml",
                                key="dl_svg")
    else:
        cols[3].caption("SVG needs graphviz's `dot` program (apt-get install graphviz)")
    weights = path / "final.pt"
    if result and weights.is_file():
        cols[4].download_button("Weights", functools.partial(weights.read_bytes), "final.pt",
                                "application/octet-stream", key="dl_pt")
    arch_io.downloads(arch, "dl_child", config=entry.config, classes=entry.store.meta().get("classes", CLASSES))
