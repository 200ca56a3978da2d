"""How the API's objects look in a notebook: an architecture as its chain picture, a run as a summary card."""
from __future__ import annotations

import html
from pathlib import Path

from enas.runs.store import write_text_atomic
from enas.space import OPS, Architecture
from enas.teach import draw


class Picture:
    """An architecture's chain picture (`draw.chain_svg`): inline in a notebook; `svg` is its text."""

    def __init__(self, arch: Architecture, ops=OPS, highlight=None):
        self.arch, self.svg = arch, draw.chain_svg(arch, highlight, ops)

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<picture of {self.arch}>"

    def save(self, path) -> Path:
        """Write the SVG to `path` (whole or not at all); returns the path."""
        path = Path(path)
        write_text_atomic(path, self.svg)
        return path


def picture(arch, ops=OPS, highlight=None) -> Picture:
    """The chain picture of `arch` (an Architecture or its one-line form, e.g. 'c3 c5:1 mp:01'), nodes in
    `highlight` outlined in red."""
    return Picture(Architecture.parse(arch) if isinstance(arch, str) else arch, ops, highlight)


def show_architectures_as_pictures() -> bool:
    """In IPython, show every Architecture as its chain picture (its text form stays its repr); False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["image/svg+xml"].for_type(Architecture, draw.chain_svg)
    return True


def card(title: str, rows: list, body: str = "") -> str:
    """A summary card: a title, (label, value) rows, then `body` (HTML)."""
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                    f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return (f"<div style='border:1px solid #ccc;border-radius:6px;padding:8px 12px'><b>{html.escape(title)}</b>"
            f"<table>{cells}</table>{body}</div>")
