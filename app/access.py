"""Who may do what in a served app (README, "Serving a classroom").

Without ENAS_TEACHER_SECRET the app has one user, who controls everything, and it serves only on a loopback
address: served to the network without a secret it shows a refusal and nothing else (`served_refusal`). With the
secret every browser session starts as a viewer (watch, replay, the lesson); entering the secret once makes that
session the teacher's, who starts, steers, stops and deletes every run. With ENAS_STUDENT_RUNS=N > 0 a session that
is not the teacher's is a student's: it may start searches, at most N of them working at once, and controls only
the runs it started.

The role and the owner token live in `st.session_state`, nothing in a cookie or in the page's address: a
projected address bar or a shared link carries no role, and a reload (a new Streamlit session) starts as a viewer
again, so the teacher enters the secret again and a student's earlier runs are left to the teacher.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass

import streamlit as st

SECRET = "ENAS_TEACHER_SECRET"
STUDENT_RUNS = "ENAS_STUDENT_RUNS"
WRONG_DELAY = 1.0   # seconds a wrong secret costs, to slow guessing

ASK = "ask the teacher"
VIEWER_CONTROL = f"Viewer: only the teacher can stop, steer or delete runs here; {ASK}."
STUDENT_CONTROL = (f"Another browser session started this run: only it and the teacher can stop, steer or delete "
                   f"it; {ASK}.")
VIEWER_START = f"Viewer: only the teacher starts searches here; {ASK}."


class AccessError(ValueError):
    """ENAS_TEACHER_SECRET or ENAS_STUDENT_RUNS holds a value the app cannot use."""


@dataclass(frozen=True)
class Rules:
    """The teacher's secret (None: one user, full control) and how many runs a student session may have
    working at once (0: students only watch)."""
    secret: str | None
    student_runs: int


def rules(environ=None) -> Rules:
    """The rules set in the environment; a value that cannot be meant raises AccessError naming it."""
    env = os.environ if environ is None else environ
    secret, cap = env.get(SECRET), env.get(STUDENT_RUNS)
    if secret is not None and not secret.strip():
        raise AccessError(f"{SECRET} is set but empty: set it to the teacher's secret, or unset it")
    if cap is None:
        return Rules(secret, 0)
    if secret is None:
        raise AccessError(f"{STUDENT_RUNS}={cap} needs {SECRET}: without a teacher's secret every browser "
                          "controls every run")
    try:
        runs = int(cap)
    except ValueError:
        raise AccessError(f"{STUDENT_RUNS}={cap!r} is not a whole number (0: students only watch)") from None
    if runs < 0:
        raise AccessError(f"{STUDENT_RUNS}={runs} is negative (0: students only watch)")
    return Rules(secret, runs)


def loopback(address: str | None) -> bool:
    """Whether Streamlit's server.address reaches this machine only; unset or empty, Streamlit listens on
    every interface."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:   # a host name: it may resolve to any interface
        return False


def served_refusal(address: str | None, r: Rules) -> str | None:
    """Why the app must not serve on `address` under the rules `r`, or None."""
    if r.secret is not None or loopback(address):
        return None
    where = f"server.address = {address}" if address else "server.address unset: every interface"
    return (f"This app is served to the network ({where}) without {SECRET}, so anyone who reaches the port could "
            "stop, steer or delete every run: it shows nothing. Restart it with a teacher's secret, "
            f"`{SECRET}=... streamlit run app/main.py --server.address 0.0.0.0`, or on this machine only: "
            "`streamlit run app/main.py` in the project folder (its .streamlit/config.toml binds 127.0.0.1).")


def check(r: Rules, secret: str) -> bool:
    """Whether `secret` is the teacher's (constant-time)."""
    return r.secret is not None and hmac.compare_digest(secret.encode(), r.secret.encode())


# --- this browser session ---------------------------------------------------------------------------------------
def role() -> str:
    """This session's role: 'single' (no secret set), 'teacher', 'student' or 'viewer'."""
    r = rules()
    if r.secret is None:
        return "single"
    if st.session_state.get("access_role") == "teacher":
        return "teacher"
    return "student" if r.student_runs > 0 else "viewer"


def me() -> str:
    """This session's owner token: the runs it starts are recorded under it in the registry."""
    return st.session_state.setdefault("access_me", secrets.token_hex(16))


def control_refusal(registry, name: str) -> str | None:
    """Why this session may not stop, steer or delete run `name`, or None when it may."""
    who = role()
    if who in ("single", "teacher") or registry.owner(name) == me():
        return None
    return VIEWER_CONTROL if who == "viewer" else STUDENT_CONTROL


def can_control(registry, name: str) -> bool:
    """True when this browser session may stop, steer or delete run `name`."""
    return control_refusal(registry, name) is None


def start_refusal(registry, runs: int = 1) -> str | None:
    """Why this session may not set `runs` more jobs working (new searches, or a resume, derive, final training or
    rank check of its own runs), or None when it may."""
    who = role()
    if who in ("single", "teacher"):
        return None
    if who == "viewer":
        return VIEWER_START
    cap, working = rules().student_runs, len(registry.working(me()))
    if working + runs <= cap:
        return None
    return (f"The teacher allows each student {cap} run(s) working at once; {working} of yours are working now: "
            "wait for one to end, or stop one.")


def work_refusal(registry, name: str) -> str | None:
    """Why this session may not start a job (resume, derive, final training, rank check) on run `name`, or None."""
    return control_refusal(registry, name) or start_refusal(registry)


def config_refusal(dataset: str, data_dir: str | None, ray: str | None) -> str | None:
    """Why a student may not start a run on these settings, or None: students train on the built-in or the
    downloaded datasets, in the server's data folder, here or on the server's Ray cluster; reading the server's
    folders, writing elsewhere, or reaching another cluster is the teacher's."""
    if role() != "student":
        return None
    if dataset.startswith("folder:"):
        return f"Students cannot train on a folder of the server's; choose shapes or cifar10, or {ASK}."
    if data_dir is not None:
        return f"Students use the server's data folder: leave data dir empty, or {ASK}."
    server_ray = os.environ.get("ENAS_RAY_ADDRESS", "").strip() or None
    if ray != server_ray:
        return (f"Students run on {server_ray or 'this server'}: set the Ray cluster back to "
                f"{server_ray or 'empty'}, or {ASK}.")
    return None


def panel(address: str | None):
    """The gate and the sidebar's role panel. Settings that cannot be used, or a network address without the
    secret, stop the page with the reason; otherwise the session's role, and the form for the teacher's secret."""
    try:
        r = rules()
    except AccessError as e:
        st.error(f"Cannot serve the app: {e}.", icon=":material/lock:")
        st.stop()
    refused = served_refusal(address, r)
    if refused:
        st.error(refused, icon=":material/lock:")
        st.stop()
    who = role()
    if who == "single":
        return
    with st.sidebar:
        if who == "teacher":
            st.success("Teacher: you start, steer, stop and delete every run.", icon=":material/school:")
            st.button("Lock teacher controls", key="access_lock", on_click=st.session_state.pop,
                      args=("access_role", None), help="back to a viewer's page, e.g. before leaving the keyboard")
            return
        st.info("Viewer: watch, replay and follow the lesson." if who == "viewer" else
                f"Student: you may have {r.student_runs} run(s) working at once, and you control only the runs "
                "this browser session started (a reload starts a new session).", icon=":material/visibility:")
        with st.form("access_form", border=False):
            st.text_input("Teacher's secret", type="password", key="access_secret")
            st.form_submit_button("Unlock teacher controls", on_click=_unlock)
        if st.session_state.pop("access_wrong", False):
            st.error(f"Wrong teacher's secret: this session is still a {who}'s.", icon=":material/lock:")


def _unlock():
    """The secret form's callback: a right secret makes this session the teacher's; the secret is not kept."""
    ss = st.session_state
    given, ss.access_secret = ss.get("access_secret", ""), ""
    if check(rules(), given):
        ss.access_role = "teacher"
    else:
        time.sleep(WRONG_DELAY)
        ss.access_wrong = True
