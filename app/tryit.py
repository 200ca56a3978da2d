"""Try the trained child on an image (Derive & final tab): one of the run's test images, with its true class,
or an uploaded PNG or JPEG; the child's top 3 classes with their probabilities, and one small picture per node
of how strongly its output responds where (`enas.teach.probe`)."""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from enas.config import Config
from enas.errors import DataError
from enas.teach.probe import ProbeError, load_child, probe, probe_split, read_image

from .widgets import field

SOURCES = ["an image of the run's data", "upload a PNG or JPEG"]
SHOWN = 128     # pixels: about how large the image is shown
NODE_SHOWN = 96  # and each node's picture
# a dark-to-bright colour scale (black, purple, orange, pale yellow) for the node pictures
STOPS = np.array([[0, 0, 0], [120, 28, 109], [237, 105, 37], [252, 255, 164]], dtype=np.float64)
UPLOADS = "tryit_uploads"   # {run: the image uploaded, kept while the uploader is not drawn}


@st.cache_resource(max_entries=4, show_spinner=False)
def _child(path: str, stamp: tuple, image_size: int):
    """The child in final.pt, loaded once per file version (`stamp`: its mtime and size)."""
    return load_child(path, image_size)


@st.cache_resource(max_entries=2, show_spinner="Loading the run's images...")
def _split(config: str):
    """The run's test split (or validation split), loaded once per configuration (JSON)."""
    return probe_split(Config.from_dict(json.loads(config)))


def enlarged(pixels: np.ndarray, shown: int) -> np.ndarray:
    """`pixels` ([H, W] or [H, W, 3]) repeated to about `shown` pixels a side, each pixel a sharp square."""
    k = max(1, shown // pixels.shape[0])
    return pixels.repeat(k, 0).repeat(k, 1)


def heat(values: np.ndarray) -> np.ndarray:
    """[H, W] values in [0, 1] -> uint8 [H, W, 3] on the colour scale STOPS."""
    x = np.clip(values, 0, 1) * (len(STOPS) - 1)
    i = np.minimum(x.astype(int), len(STOPS) - 2)
    t = (x - i)[..., None]
    return (STOPS[i] * (1 - t) + STOPS[i + 1] * t).round().astype(np.uint8)


def kept_upload(run: str):
    """The uploader; the image stays chosen while it is not drawn (another tab), until removed or replaced."""
    uploads, key = st.session_state.setdefault(UPLOADS, {}), f"tryit_upload_{run}"

    def changed():
        uploads[run] = st.session_state[key]
    upload = st.file_uploader("PNG or JPEG image", type=["png", "jpg", "jpeg"], key=key, on_change=changed)
    return upload if upload is not None else uploads.get(run)


def tryit_view(entry):
    """After final training: the trained child on one image, its top 3 classes and its nodes' responses."""
    result, weights = entry.live.result, entry.store.path / "final.pt"
    if not result:
        return
    st.markdown(f"**Try the trained child `{result['arch']}` on an image**")
    if not weights.is_file():
        st.caption("This run's folder holds no trained weights (final.pt) to try: a recording made without them.")
        return
    c, name = entry.config, entry.name
    try:
        stat = weights.stat()
        child = _child(str(weights), (stat.st_mtime_ns, stat.st_size), c.image_size)
    except (ProbeError, OSError) as e:
        st.warning(str(e), icon=":material/warning:")
        return
    if str(child.arch) != result["arch"]:
        st.caption(f"final.pt holds the weights of `{child.arch}`, not of the result shown: train it again to try it.")
        return
    source = field(name, "tryit_source", SOURCES[0], st.radio, "image to try", SOURCES, options=SOURCES,
                   horizontal=True, label_visibility="collapsed")
    truth = None
    if source == SOURCES[0]:
        try:
            split_name, split, classes = _split(json.dumps(c.to_dict(), sort_keys=True))
        except DataError as e:
            st.warning(f"The run's images cannot be loaded here: {e}. Upload an image instead.",
                       icon=":material/warning:")
            return
        n = len(split)
        k = field(name, "tryit_index", 0, st.number_input, f"{split_name} image number (0 to {n - 1:,})", 0, n - 1,
                  help=f"which image of the run's {split_name} split, in its stored order"
                       + ("" if split_name == "test" else " (this run has no test split)"))
        image, truth = split.images[int(k)], int(split.labels[int(k)])
        what = f"{split_name} image {int(k):,} of {n:,}; true class: {classes[truth]}"
    else:
        upload = kept_upload(name)
        if upload is None:
            st.caption(f"The image is resized to {c.image_size}x{c.image_size} pixels and normalised as the "
                       "child's training images were.")
            return
        try:
            image, notes = read_image(upload.getvalue(), c.image_size, upload.name)
        except ProbeError as e:
            st.error(str(e), icon=":material/error:")
            return
        for note in notes:
            st.caption(note)
        what = f"{upload.name}, as the child sees it ({c.image_size}x{c.image_size})"
    show_probe(probe(child, image), child, image, what, truth)


def show_probe(p, child, image, what: str, truth):
    """The image, the top 3 with their probabilities, the true class's (`truth`: its index, or None), and one
    picture per node."""
    left, right = st.columns([1, 3])
    left.image(enlarged(image.permute(1, 2, 0).numpy(), SHOWN), caption=what)
    with right:
        st.dataframe([{"class": cls, "probability": prob} for cls, prob in p.top], hide_index=True, column_config={
                         "class": "most likely classes",
                         "probability": st.column_config.ProgressColumn(
                             "probability (softmax of the child's output)", format="%.3f", min_value=0.0,
                             max_value=1.0)})
        if truth is not None:
            rank = 1 + int((p.probs > p.probs[truth]).sum())
            st.caption(f"True class {child.classes[truth]}: probability {p.probs[truth].item():.3f}, rank {rank} of "
                       f"{len(child.classes)} classes.")
    h, w = p.grid
    top = float(p.maps.max()) or 1.0
    st.markdown("**Where each node responds**")
    st.caption(f"Each picture: the node's output (BN(op + skips), {h}x{w} positions, shown at the image's size), "
               f"the mean absolute activation over its {child.channels} channels at each "
               f"position, brightest = {top:.3f} on one scale for every node. Strength: that mean over all "
               "positions; rank 1 responds most.")
    row = st.container(horizontal=True, gap="small")
    rank = {i: r + 1 for r, i in enumerate(p.ranking)}
    for i, op in enumerate(child.arch.ops):
        row.image(enlarged(heat(p.maps[i].numpy() / top), NODE_SHOWN), width=NODE_SHOWN,
                  caption=f"node {i} ({op}): strength {p.strength[i]:.3f}, rank {rank[i]}")
