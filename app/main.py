"""ENAS explorer: `streamlit run app/main.py`. Start, steer and watch searches of the `enas` library."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import delete, lesson, quality, replay, sidebar, sweeps, teach, urlstate, views  # noqa: E402
from app.registry import get_registry, run_label  # noqa: E402
from enas.runs import recording  # noqa: E402
from enas.runs.listing import list_runs  # noqa: E402
from enas.runs.store import runs_dir_default  # noqa: E402


@st.cache_resource(show_spinner="Unpacking a recorded demo...")
def demo_runs_dir(path: str, name: str) -> str | None:
    """The runs folder of the demo `name` rebuilt from the recording at `path` (once per server process), or None
    when it cannot be read."""
    try:
        return str(recording.materialize(path, name))
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
    demos = {}
    for demo in replay.shipped():
        folder = demo_runs_dir(str(demo.path), demo.name)
        if folder and demo.name not in names:
            registry.add_recording(demo.name, folder)
            names.append(demo.name)
            demos[demo.name] = demo
    if not runs:
        st.info(f"No runs yet in {registry.runs_dir}: configure one in the sidebar and press Start. Meanwhile, "
                + ("replay one of the recorded CIFAR-10 demos below, or " if demos else "") + "read How ENAS works.")

    def label(name):  # stable while the run's status changes, so the choice stays put
        if name in demos:
            return f"{demos[name].title} · recorded demo (read-only)"
        return run_label(name, info.get(name, {}).get("config", {}).get("controller", "enas"))

    ss, asked = st.session_state, st.query_params.get(urlstate.DEMO)
    if asked is not None and asked not in demos:   # a link to a demo this app does not offer
        st.warning(f"URL parameter demo={asked!r} is not a demo shipped here"
                   + (f" (shipped: {', '.join(demos)})" if demos else ""), icon=":material/link_off:")
        del st.query_params[urlstate.DEMO]
    if names and ss.get("view") not in names:   # the widget's value is gone while another tab is open
        kept = ss.get("view_kept")
        ss.view = kept if kept in names else (asked if asked in demos else names[0])
    ss.view_kept = ss.get("view")

    def picked():   # the address names the demo picked, so that a reload or a link opens it
        if ss.view in demos:
            st.query_params[urlstate.DEMO] = ss.view
        else:
            st.query_params.pop(urlstate.DEMO, None)

    # only the open tab is built: the browser re-renders the whole page on every redraw of a live run
    view_tab, runs_tab, learn_tab = st.tabs(["Run", "All runs", "How ENAS works"], key="main_tabs",
                                            on_change="rerun")
    if view_tab.open and names:
        with view_tab:
            st.selectbox("Run", names, key="view", format_func=label, on_change=picked,
                         help="searches running in this app first, then the runs on disk, newest first, then the "
                              "recorded demos")
            try:
                if ss.view in demos:
                    note = registry.view(ss.view).store.meta().get("recording")
                    st.caption(demos[ss.view].teaches + (f" Recorded: {note}." if note else ""))
                views.run_view(registry, ss.view, names)
            except ValueError as e:  # StoreError, ConfigError: a run folder that cannot be read
                st.error(f"cannot open run {ss.view}: {e}", icon=":material/error:")
                delete.delete_button(registry, ss.view, key="delete_unreadable")
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
            for key in ("intro", "sample", "shared", "reward", "policy", "history", "derive", "health", "learning",
                        "random"):
                st.markdown(teach.TEXT[key])

main()
