"""Architectures in and out: a box that reads one pasted in any format and draws it at once, and downloads of
an architecture as ENAS fixed_arc, NNI JSON and a standalone PyTorch file."""
from __future__ import annotations

import streamlit as st

from enas.formats import ENAS_OPS, IDS, export, parse_any
from enas.space import OPS, ArchitectureError

from .widgets import picture

IDS_HELP = ("op ids of ENAS fixed_arc and NNI JSON. enas: ENAS's macro ids (0 conv3x3, 1 sep-conv3x3, 2 conv5x5, "
            "3 sep-conv5x5, 4 avg pool, 5 max pool; no conv1x1); project: the index in " + " ".join(OPS))
DOWNLOADS = (("fixed_arc", "fixed_arc", "fixed_arc.txt", "text/plain"),
             ("NNI JSON", "nni", "nni_architecture.json", "application/json"),
             ("PyTorch", "pytorch", "child.py", "text/x-python"))


def paste_box(key: str, config=None, classes=10):
    """A text area for an architecture in any format (one-line, JSON, ENAS fixed_arc, NNI JSON), drawn as soon as
    it is read, or the reason it cannot be read under the field; then its downloads."""
    text = st.text_area("Paste an architecture", key=key, height=110,
                        placeholder="c3 c5:1 mp:01   or ENAS fixed_arc: 0 2 1 5 0 1   or JSON, or NNI JSON",
                        help="one-line form, this app's JSON, ENAS's fixed_arc (its scripts' fixed_arc=\"...\" "
                             "lines too) or NNI's exported JSON; Ctrl+Enter draws it")
    ids = st.radio("op ids", IDS, horizontal=True, key=f"{key}_ids", help=IDS_HELP)
    if not text.strip():
        return
    try:
        arch = parse_any(text, ids)
    except ArchitectureError as e:
        st.error(str(e), icon=":material/error:")
        return
    picture(arch, config.ops if config else OPS)
    st.code(str(arch), language="text")
    downloads(arch, key, ids, config, classes)


def downloads(arch, key: str, ids: str = "enas", config=None, classes=10):
    """Download buttons for `arch` as fixed_arc and NNI JSON, with op ids `ids` (this project's when ENAS's have
    none for one of its ops), and as a standalone PyTorch file (settings from `config`) that loads final.pt."""
    fallback = ids == "enas" and not set(arch.ops) <= set(ENAS_OPS)   # conv1x1 has no ENAS op id
    for col, (label, fmt, name, mime) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS):
        own = fallback and fmt != "pytorch"
        data = export(arch, fmt, "project" if fallback else ids, config, classes)
        col.download_button(label + " (project ids)" * own, data, name, mime, key=f"{key}_dl_{fmt}",
                            icon=":material/download:", help="conv1x1 has no ENAS op id" if own else None)
