"""ENAS explorer: `streamlit run app/main.py`. Start, steer and watch searches of the `enas` library."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import delete, lesson, projector, quality, replay, sidebar, sweeps, teach, urlstate, views  # noqa: E402
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


def restore(registry, names: list, demos: dict):
    """A new session: the view its address names (`urlstate.decode_view`). A value this app cannot show (a run it
    does not hold, an epoch the run has not) is named in a warning and dropped; the rest apply. The sample, the
    reference and the policy's epoch are checked by the views that show them (`urlstate.wish`)."""
    ss = st.session_state
    view, ss[urlstate.WARNINGS] = urlstate.decode_view(st.query_params)
    if view.run is not None:
        if view.demo and view.run not in demos:   # a link to a demo this app does not offer
            ss[urlstate.WARNINGS].append(f"URL parameter demo={view.run!r} is not a demo shipped here"
                                         + (f" (shipped: {', '.join(demos)})" if demos else ""))
        elif view.run not in names:
            urlstate.refuse(urlstate.RUN, view.run, f"no run of that name in {registry.runs_dir}"
                            + (" nor among the recorded demos" if demos else ""))
        else:
            ss.view, ss[urlstate.NAMED] = view.run, True
    ss[projector.KEY] = view.projector
    if view.page != "run":
        ss.main_tabs = urlstate.PAGES[view.page]
    run = ss.get("view") or (names[0] if names else None)
    ss[urlstate.WISH] = {"run": run}
    if run is None:
        return
    if view.tab != "live":
        ss[f"tabs-{run}"] = urlstate.TABS[view.tab]
    ss.supergraph = view.supergraph
    if view.epoch is not None:
        replay_to(registry, run, view.epoch, run in demos)
    default = urlstate.View()
    ss[urlstate.WISH].update({key: getattr(view, key) for key in (urlstate.ARCH, urlstate.REF, urlstate.POLICY)
                              if getattr(view, key) != getattr(default, key)})


def replay_to(registry, run: str, epoch, recorded: bool):
    """Open run `run` in replay after search epoch `epoch` (or at its end, FINAL), or not in replay (OFF), as
    `replay.replay_bar` offers; else a warning says why not."""
    ss = st.session_state
    try:
        entry = registry.view(run)
    except ValueError as e:   # StoreError, ConfigError: its error is shown with the run
        urlstate.refuse(urlstate.EPOCH, epoch, f"run {run} cannot be read ({e})")
        return
    if entry.live.active or entry.follow:
        urlstate.refuse(urlstate.EPOCH, epoch, f"run {run} is running: it can be replayed once it stops")
        return
    events, marks = replay._events(entry.store, str(entry.store.path), entry.live.last_id)
    steps = list(range(1, len(marks) + 1)) + ([urlstate.FINAL] if marks and len(events) > marks[-1] else [])
    if epoch == urlstate.OFF:
        if recorded:   # a recorded demo opens in replay
            ss[f"replay_on_{run}"] = False
    elif len(marks) < 2:
        urlstate.refuse(urlstate.EPOCH, epoch, f"run {run} has {len(marks)} search epoch(s): too few to replay")
    elif epoch not in steps:
        urlstate.refuse(urlstate.EPOCH, epoch, f"run {run} replays search epochs 1 to {len(marks)}"
                        + (f" and {urlstate.FINAL}" if urlstate.FINAL in steps else ""))
    else:
        if not recorded:   # a recorded demo opens in replay
            ss[f"replay_on_{run}"] = True
        ss[f"replay_at_{run}"] = replay.END if epoch == urlstate.FINAL else epoch


def title_row():
    """The title, then the link to this view (not in projector mode) and the projector toggle; returns the link's
    popover, or None."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.title("ENAS explorer")
    share = None
    if not st.session_state.get(projector.KEY):
        share = row.popover("Link to this view", icon=":material/link:", key="share", on_change="rerun",
                            help="the address of what is shown now: the run, the tab, the replayed epoch, the "
                                 "sample, and the settings in the sidebar")
    row.toggle("Projector mode", key=projector.KEY, help="for a class: hides the sidebar and the controls a class "
                                                        "does not need, and draws text and charts larger")
    return share


def main():
    st.set_page_config(page_title="ENAS explorer", page_icon=":material/hub:", layout="wide")
    registry = get_registry(str(runs_dir_default().resolve()))
    sidebar.render(registry)
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
    ss = st.session_state
    ss[urlstate.CONTEXT] = (names[0] if names else None, tuple(demos))
    if urlstate.WISH not in ss:
        restore(registry, names, demos)
    if names and ss.get("view") not in names:   # the widget's value is gone while another tab is open
        kept = ss.get("view_kept")
        ss.view = kept if kept in names else names[0]
        ss[urlstate.NAMED] = ss.get(urlstate.NAMED) and kept in names
    ss.view_kept = ss.get("view")
    share = title_row()
    projector.apply()
    notes = st.container()   # the view parameters refused, once every view has checked its own
    if not runs:
        st.info(f"No runs yet in {registry.runs_dir}: configure one in the sidebar and press Start. Meanwhile, "
                + ("replay one of the recorded CIFAR-10 demos below, or " if demos else "") + "read How ENAS works.")

    def label(name):  # stable while the run's status changes, so the choice stays put
        if name in demos:
            return f"{demos[name].title} · recorded demo (read-only)"
        return run_label(name, info.get(name, {}).get("config", {}).get("controller", "enas"))

    def picked():   # the address names the run picked, so that a reload or a link opens it
        ss[urlstate.NAMED] = True
        ss.pop(urlstate.WARNINGS, None)

    # only the open tab is built: the browser re-renders the whole page on every redraw of a live run
    view_tab, runs_tab, learn_tab = st.tabs(list(urlstate.PAGES.values()), key="main_tabs", on_change="rerun")
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
    for warning in ss.get(urlstate.WARNINGS, []):
        notes.warning(warning, icon=":material/link_off:")
    urlstate.publish()
    if share is not None and share.open:
        with share:
            params = {**st.query_params.to_dict(), **urlstate.encode_view(urlstate.shown(ss, explicit=True))}
            st.code(urlstate.link(st.context.url, params), language=None, wrap_lines=True)
            st.caption("Opening this address shows this view: the run, its tab, the replayed epoch, the sample "
                       "and its red outline's reference, the supergraph; and the sidebar's settings.")

main()
