"""Deleting a run from the app: a Delete button, then a confirmation; the files go only after it."""
from __future__ import annotations

import streamlit as st

from enas.runs.store import StoreError

from . import access


def delete_button(registry, name: str, where=None, key: str = "delete"):
    """'Delete run' in `where` (a column; default: here); once clicked, 'Confirm delete' and 'Cancel' below.
    After the deletion a notice names the deleted run, the page reruns and the run has left the picker; a refusal
    (the run started meanwhile) becomes the message above the run. A session that may not delete it (`access`)
    sees why instead."""
    ss = st.session_state
    refused = access.control_refusal(registry, name)
    if refused:
        (where or st).caption(refused)
        return
    if ss.get("delete_pending") != name:
        (where or st).button("Delete run", key=f"{key}_run", icon=":material/delete:", width="stretch",
                             on_click=_ask, args=(name,),
                             help="delete this run and all its files (asks first)")
        return
    st.warning(f"Delete run **{name}** and all its files in {registry.runs_dir / name}? This cannot be undone.",
               icon=":material/delete:")
    yes, no, _ = st.columns([1, 1, 2])
    if yes.button("Confirm delete", key=f"{key}_confirm", type="primary", width="stretch"):
        ss.pop("delete_pending", None)
        try:
            registry.delete(name)
        except (StoreError, OSError) as e:
            ss.flash = str(e)
        else:   # a toast outlives the rerun below (Streamlit keeps toasts across st.rerun)
            st.toast(f"Deleted run **{name}** and all its files.", icon=":material/delete:")
        st.rerun(scope="app")
    no.button("Cancel", key=f"{key}_cancel", width="stretch", on_click=ss.pop, args=("delete_pending", None))


def _ask(name: str):
    st.session_state.delete_pending = name
