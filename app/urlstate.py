"""The page's address (`st.query_params`) holds the whole view, so that a reload, a second tab or a shared link
opens it again. The sidebar's settings: the preset, and each field whose value differs from the preset's, e.g.
`?preset=quick&epochs=3&ops=conv3x3,maxpool3x3`; a parameter that is not a setting nor a view parameter is named in
a warning and removed. The view (`View`): the run, the main tab and the run's tab, the replayed epoch, the policy's
epoch, the selected sample, the reference of its red outline, the supergraph and projector mode, each only when it
differs from the default. A bad value is refused with a warning naming it, and the rest still apply."""
from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import streamlit as st

from enas.config import PRESETS, SPECS, Config, ConfigError, check_field

from .replay import END

PRESET = "preset"
DEFAULT_PRESET = "quick"
DEMO = "demo"       # the run, when it is a recorded demo (links made before `run` name demos so)
RUN, PAGE, TAB, EPOCH, POLICY, ARCH, REF = "run", "page", "tab", "epoch", "policy", "arch", "ref"
SUPERGRAPH, PROJECTOR = "supergraph", "projector"
VIEW_KEYS = (RUN, DEMO, PAGE, TAB, EPOCH, POLICY, ARCH, REF, SUPERGRAPH, PROJECTOR)
PAGES = {"run": "Run", "runs": "All runs", "learn": "How ENAS works"}     # value: the main tab's label
TABS = {"live": "Live", "architectures": "Architectures", "derive": "Derive & final"}   # the run's tabs
REFS = ("previous", "best", "likely")          # what the red outline compares with (`history.reference`)
FINAL, OFF = "final", "off"                    # epoch=final: replay's last step (derive & final); off: no replay
FLAGS = {"1": True, "true": True, "0": False, "false": False}


def decode(params) -> tuple:
    """(preset, {field: checked value}, warnings) from URL parameters (a mapping of text)."""
    warnings = []
    preset = params.get(PRESET, DEFAULT_PRESET)
    if preset not in PRESETS:
        warnings.append(f"URL parameter 'preset': {preset!r} is not a preset (allowed: {', '.join(PRESETS)}); "
                        f"using {DEFAULT_PRESET}")
        preset = DEFAULT_PRESET
    values = {}
    for key, raw in params.items():
        if key == PRESET or key in VIEW_KEYS:
            continue
        if key not in SPECS:
            warnings.append(f"URL parameter {key!r} is not a setting; ignored")
            continue
        try:
            values[key] = check_field(key, None if raw == "" and SPECS[key].optional else raw)
        except ConfigError as e:
            warnings.append(f"URL parameter {key}={raw!r} ignored: {e}")
    return preset, values, warnings


def encode(preset: str, values: dict) -> dict:
    """URL parameters of the settings `values` {field: widget value}: the preset, and the fields whose valid
    value differs from the preset's (an invalid value, e.g. one being typed, is left out)."""
    base = Config.from_dict({}, preset=preset)
    params = {PRESET: preset}
    for name, value in values.items():
        try:
            value = check_field(name, value)
        except ConfigError:
            continue
        if value != getattr(base, name):
            params[name] = _text(value)
    return params


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def sync(query_params, wanted: dict, keys=None):
    """Make the parameters of `query_params` (st.query_params) among `keys` those of `wanted`, writing only what
    changed. `keys` None: the sidebar's, every parameter but the view's; one that is not a setting goes: `decode`
    named it in a warning when the session began (Streamlit's own `embed` parameters are not in st.query_params,
    and stay)."""
    def mine(key):
        return key not in VIEW_KEYS if keys is None else key in keys
    for key in [k for k in query_params if mine(k) and k not in wanted]:
        del query_params[key]
    for key, value in wanted.items():
        if query_params.get(key) != value:
            query_params[key] = value


def link(base_url: str | None, params: dict) -> str:
    """The address that opens the app with `params`: `base_url` (the page's, if known) with them as its query."""
    return f"{(base_url or '').split('?')[0]}?{urlencode(params, safe=',:/')}"


# --- the view ---------------------------------------------------------------------------------------------
NAMED = "run_named"          # session state: the run on view was asked for (picked, or named by the address)
WISH = "url_wish"            # session state: {"run": name, key: value} the address asked of that run's views
WARNINGS = "view_warnings"   # session state: the view parameters refused, in words
CONTEXT = "url_context"      # session state: (the run the app shows unasked, the recorded demos' names)


@dataclasses.dataclass
class View:
    """What the main area shows; each default is what the app shows unasked."""
    run: str | None = None       # None: the run the app shows first
    demo: bool = False           # `run` is a recorded demo: written demo=NAME
    page: str = "run"            # a key of PAGES
    tab: str = "live"            # a key of TABS
    epoch: int | str | None = None   # replay after this search epoch, FINAL or OFF; None: the run's default
    policy: int | None = None    # the policy after this search epoch; None: the newest
    arch: int | None = None      # the sample selected (its number); None: the newest
    ref: str = "previous"        # one of REFS
    supergraph: bool = False
    projector: bool = False


def decode_view(params) -> tuple:
    """(View, warnings) from URL parameters (a mapping of text), each value checked for its form; whether the run,
    its epochs and samples exist is for the app to check."""
    view, warnings = View(), []

    def bad(key, allowed):
        warnings.append(f"URL parameter {key}={params[key]!r} ignored: {allowed}")
    if RUN in params or DEMO in params:
        view.run, view.demo = (params[RUN], False) if RUN in params else (params[DEMO], True)
    for key, choices in ((PAGE, PAGES), (TAB, TABS), (REF, REFS)):
        if key in params:
            if params[key] in choices:
                setattr(view, key, params[key])
            else:
                bad(key, f"allowed: {', '.join(choices)}")
    for key, least in ((EPOCH, 1), (POLICY, 1), (ARCH, 0)):
        raw = params.get(key)
        if raw is None:
            continue
        if raw.isascii() and raw.isdigit() and int(raw) >= least:
            setattr(view, key, int(raw))
        elif key == EPOCH and raw in (FINAL, OFF):
            view.epoch = raw
        else:
            bad(key, f"a whole number from {least}" + (f", {FINAL} or {OFF}" if key == EPOCH else ""))
    for key in (SUPERGRAPH, PROJECTOR):
        if key in params:
            if params[key] in FLAGS:
                setattr(view, key, FLAGS[params[key]])
            else:
                bad(key, "allowed: 1, 0")
    return view, warnings


def encode_view(view: View) -> dict:
    """The URL parameters of `view`: those that differ from the default."""
    params, default = {}, View()
    if view.run is not None:
        params[DEMO if view.demo else RUN] = view.run
    for key in (PAGE, TAB, EPOCH, POLICY, ARCH, REF):
        if getattr(view, key) != getattr(default, key):
            params[key] = str(getattr(view, key))
    params.update({key: "1" for key in (SUPERGRAPH, PROJECTOR) if getattr(view, key)})
    return params


def shown(ss, explicit: bool = False) -> View:
    """The view on the page, from session state `ss`, with what the address asked and the views have not yet
    checked (`wish`). The run is named when it was asked for or is not the one shown unasked, or `explicit`."""
    first, demos = ss.get(CONTEXT, (None, ()))
    view = View(page=_value(PAGES, ss.get("main_tabs")), projector=bool(ss.get("projector")))
    run = ss.get("view") or ss.get("view_kept")
    if run is None:
        return view
    if explicit or ss.get(NAMED) or run != first:
        view.run, view.demo = run, run in demos
    view.tab = _value(TABS, ss.get(f"tabs-{run}"))
    recorded = run in demos                  # a recorded demo opens in replay, at epoch 1
    at = ss.get(f"replay_at_{run}", 1)
    at = FINAL if at == END else at
    if ss.get(f"replay_on_{run}", recorded):
        view.epoch = None if recorded and at == 1 else at
    elif recorded:
        view.epoch = OFF
    moment = ss.get("policy_moment")         # (run, newest epoch): `views.policy_epoch`
    if moment and moment[0] == run and ss.get("policy_at") != moment[1]:
        view.policy = ss.get("policy_at")
    view.arch = ss.get(f"sel_{run}")
    view.ref = ss.get("diff_ref") or View.ref
    view.supergraph = bool(ss.get("supergraph"))
    asked = ss.get(WISH) or {}
    if asked.get("run") == run:
        for key in (ARCH, REF, POLICY):
            setattr(view, key, asked.get(key, getattr(view, key)))
    return view


def _value(choices: dict, label) -> str:
    """The URL value of a tab's label (the first tab's for None)."""
    return next((value for value, text in choices.items() if text == label), next(iter(choices)))


def publish():
    """Write the view on the page into its address; each view that can change it in a fragment calls this."""
    sync(st.query_params, encode_view(shown(st.session_state)), VIEW_KEYS)


def wish(run: str, key: str):
    """What the address asked of run `run` for `key` (ARCH, REF, POLICY), once: the view that can check it takes
    it when it is drawn; None when nothing was asked."""
    asked = st.session_state.get(WISH) or {}
    return asked.pop(key, None) if asked.get("run") == run else None


def refuse(key: str, value, why: str):
    """Note that the address's `key`=`value` was ignored, and why (shown above the run)."""
    st.session_state.setdefault(WARNINGS, []).append(f"URL parameter {key}={str(value)!r} ignored: {why}")
