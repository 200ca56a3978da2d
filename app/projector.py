"""Projector mode (`?projector=1`, or the toggle beside the title), for showing the app to a class: the sidebar and
the controls a class does not need are hidden (HIDDEN), text is larger and so are charts (`charts.scale`) and
architecture graphs."""
from __future__ import annotations

import streamlit as st

from enas.teach import charts

KEY = "projector"    # the toggle's key in session state
SCALE = 1.3          # charts' text and heights, and the page's text (16 px -> about 21 px)
FORMS = ".st-key-derive_go, .st-key-train_go, .st-key-rankcheck_go, .st-key-refcheck_go"   # their buttons
# what a class does not need, and the CSS selectors that hide it (a key's element has the class st-key-KEY)
HIDDEN = {
    "the sidebar: the role panel, the new-search form and its Start buttons, the link to its settings; Deploy":
        '[data-testid="stSidebar"], [data-testid="stExpandSidebarButton"], [data-testid="stAppDeployButton"]',
    "a run's Stop, Resume run and Delete run (Pause and Resume stay: a teacher steps through a search with them)":
        '.st-key-stop, .st-key-resume_run, [class*="st-key-delete_"]',
    "every download (samples CSV, slides, architecture files, weights) and Prepare slides":
        '[data-testid="stElementContainer"]:has(> [data-testid="stDownloadButton"]), '
        '[class*="st-key-slides_prepare_"]',
    "the forms that start work: derive, final training, rank and reference checks; a sweep's resume":
        f'[data-testid="stLayoutWrapper"]:has(> [data-testid="stVerticalBlock"] > :is({FORMS})), '
        '[class*="st-key-sweep_resume_"]',
    "the box to paste an architecture, draw and export it":
        '[data-testid="stExpander"]:has([class*="st-key-paste_"])',
}
LARGER = f"""
html {{ font-size: {16 * SCALE:.0f}px !important; }}
.stMainBlockContainer {{ padding-top: 3rem !important; }}
svg[role="img"] {{ max-width: 100% !important; }}
"""


def chart_scale() -> float:
    """How much larger charts are drawn in this session: SCALE in projector mode, else 1."""
    return SCALE if st.session_state.get(KEY) else 1.0


charts.scale = chart_scale   # the hook `charts._layout` reads


def apply():
    """In projector mode, the page's style that hides HIDDEN and enlarges text and graphs."""
    if st.session_state.get(KEY):
        hide = ", ".join(HIDDEN.values())
        st.html(f"<style>{hide} {{ display: none !important; }}{LARGER}</style>")
