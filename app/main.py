"""ENAS explorer: `streamlit run app/main.py`. Start, steer and watch searches of the `enas` library."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import delete, lesson, quality, sidebar, sweeps, teach, views  # noqa: E402
from app.registry import get_registry, run_label  # noqa: E402
from enas.runs import recording  # noqa: E402
from enas.runs.listing import list_runs  # noqa: E402
from enas.runs.store import runs_dir_default  # noqa: E402

DEMO_LABEL = "CIFAR-10 demo · a recorded ENAS search (read-only)"


@st.cache_resource(show_spinner="Unpacking the recorded CIFAR-10 demo...")
def demo_runs_dir() -> str | None:
    """The runs folder of the demo rebuilt from assets/ (once per server process), or None without it."""
    try:
        return str(recording.materialize(recording.DEMO_FILE))
    except (recording.RecordingError, OSError):
        return None


def main():
    st.set_page_config(page_title="ENAS explorer", page_icon=":material/hub:", layout="wide")
    registry = get_registry(str(runs_dir_default().resolve()))
    sidebar.render(registry)
    st.title("ENAS explorer")
    runs = list_runs(registry.runs_dir)
    info = {r["name"]: r for r in runs}
    names = list(dict.fromkeys(registry.active() + [r["name"] for r in runs]))
    demo = demo_runs_dir()
    if demo and recording.DEMO_NAME not in names:
        registry.add_recording(recording.DEMO_NAME, demo)
        names.append(recording.DEMO_NAME)
    if not runs:
        st.info(f"No runs yet in {registry.runs_dir}: configure one in the sidebar and press Start. "
                "Meanwhile, replay the recorded CIFAR-10 demo below, or read How ENAS works.")

    def label(name):  # stable while the run's status changes, so the choice stays put
        if name == recording.DEMO_NAME and name in registry.recorded:
            return DEMO_LABEL
        return run_label(name, info.get(name, {}).get("config", {}).get("controller", "enas"))

    if names and st.session_state.get("view") not in names:   # the widget's value is gone while another tab is open
        kept = st.session_state.get("view_kept")
        st.session_state.view = kept if kept in names else names[0]
    st.session_state.view_kept = st.session_state.get("view")
    # only the open tab is built: the browser re-renders the whole page on every redraw of a live run
    view_tab, runs_tab, learn_tab = st.tabs(["Run", "All runs", "How ENAS works"], key="main_tabs",
                                            on_change="rerun")
    if view_tab.open and names:
        with view_tab:
            st.selectbox("Run", names, key="view", format_func=label,
                         help="searches running in this app first, then the runs on disk, newest first")
            try:
                views.run_view(registry, st.session_state.view, names)
            except ValueError as e:  # StoreError, ConfigError: a run folder that cannot be read
                st.error(f"cannot open run {st.session_state.view}: {e}", icon=":material/error:")
                delete.delete_button(registry, st.session_state.view, key="delete_unreadable")
    if runs_tab.open:
        with runs_tab:
            st.caption(f"Runs in {registry.runs_dir}. Choose one in the Run tab to open it; an interrupted run can "
                       "be resumed there.")
            st.dataframe([{"name": r["name"], "status": r["status"], "phase": r["phase"],
                           "controller": r["config"].get("controller"), "dataset": r["config"].get("dataset"),
                           "epochs": r["config"].get("epochs"), "message": r["message"]} for r in runs],
                         hide_index=True, key="runs_table")
            quality.races_view(registry.runs_dir)
            sweeps.sweeps_view(registry)
    if learn_tab.open:
        with learn_tab:
            lesson.lesson_view()
            for key in ("intro", "sample", "shared", "reward", "policy", "history", "derive", "health", "random"):
                st.markdown(teach.TEXT[key])

main()
