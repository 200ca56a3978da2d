"""The sidebar: configure a run (every `enas.config` field, checked by `Config.from_dict`) and start it."""
from __future__ import annotations

import re

import streamlit as st

from enas.config import PRESETS, SPECS, Config, ConfigError
from enas.space import space_size
from enas.store import StoreError, check_name

from . import teach

TOP = ("nodes", "ops", "channels", "epochs", "batch_size", "sampling", "controller")
GROUPS = (("child", "Child training"), ("controller", "Controller"), ("final", "Derive and final training"),
          ("health", "Health warnings"), ("data", "Data"), ("run", "Run"))
DATASETS = ("shapes", "cifar10", "folder")
FIELD_RE = re.compile(r"^field '(\w+)'")


def _key(name: str) -> str:
    return f"cfg_{name}"


def _shown(name: str, value):
    """A config value as its widget holds it."""
    spec = SPECS[name]
    if spec.type is tuple:
        return list(value)
    if spec.optional or spec.type is float:
        return "" if value is None else f"{value:g}" if isinstance(value, (int, float)) else str(value)
    return value


def load_preset():
    """Set every field's widget to the chosen preset's values (a widget callback)."""
    config = Config.from_dict({}, preset=st.session_state.cfg_preset)
    for name in SPECS:
        if name != "dataset":
            st.session_state[_key(name)] = _shown(name, getattr(config, name))
    kind, _, path = config.dataset.partition(":")
    st.session_state.cfg_dataset_kind = kind if kind in DATASETS else "shapes"
    st.session_state.cfg_folder = path


def _widget(name: str):
    spec, key = SPECS[name], _key(name)
    label = name.replace("_", " ")
    if spec.type is tuple:
        return st.multiselect(label, spec.choices, key=key, help=spec.help)
    if spec.type is bool:
        return st.checkbox(label, key=key, help=spec.help)
    if spec.choices:
        return st.selectbox(label, spec.choices, key=key, help=spec.help)
    if spec.optional or spec.type is float or spec.type is str:
        text = st.text_input(label, key=key, help=spec.help + (" (empty: default)" if spec.optional else ""))
        return None if spec.optional and not text.strip() else text
    return st.number_input(label, key=key, step=1, help=spec.help)


def _field(name: str, values: dict, holes: dict):
    values[name] = _widget(name)
    holes[name] = st.empty()


def render(registry):
    """Draw the form; on Start, start the run(s) and make the newest the one on view."""
    ss = st.session_state
    if "cfg_preset" not in ss:
        ss.cfg_preset = "quick"
        load_preset()
    values, holes = {}, {}
    with st.sidebar:
        st.header("New search")
        st.selectbox("preset", list(PRESETS), key="cfg_preset", on_change=load_preset,
                     help="starting values: quick (a minute on a CPU, built-in shapes data), seed (the seed "
                          "notebook's settings), enas-paper (the ENAS paper's released macro-search settings "
                          "on this 6-node, 32-channel space: README, 'Seed notebook, ENAS paper, this project')")
        kind = st.selectbox("dataset", DATASETS, key="cfg_dataset_kind",
                            help="shapes: built in, no download; cifar10: downloaded once; folder: your own images")
        folder = st.text_input("image folder", key="cfg_folder") if kind == "folder" else ""
        values["dataset"] = f"folder:{folder}" if kind == "folder" else kind
        holes["dataset"] = st.empty()
        for name in TOP:
            _field(name, values, holes)
        size_box = st.empty()
        for group, title in GROUPS:
            with st.expander(title):
                for name, spec in SPECS.items():
                    if spec.group == group and name not in TOP and name != "dataset":
                        _field(name, values, holes)
        run_name = st.text_input("run name", key="cfg_name", placeholder="automatic",
                                 help="letters, digits, '.', '_' or '-'; empty: a fresh timestamped name")
        name_hole = st.empty()
        full = st.checkbox("then derive and train the best child", key="cfg_full")
        general = st.empty()     # errors that name no field
        config = None
        try:
            config = Config.from_dict(values)
        except ConfigError as e:
            m = FIELD_RE.match(str(e))
            (holes[m.group(1)] if m and m.group(1) in holes else general).error(str(e), icon=":material/error:")
        _space(size_box, values)
        name_error = None
        if run_name.strip():
            try:
                check_name(run_name.strip())
            except StoreError as e:
                name_error = str(e)
                name_hole.error(name_error, icon=":material/error:")
        ok = config is not None and name_error is None
        if not ok:
            st.caption("Fix the field marked in red to start.")
        c1, c2 = st.columns(2)
        phases = ("search", "derive", "final") if full else ("search",)
        name = run_name.strip() or None
        if c1.button("Start ENAS", type="primary", disabled=not ok, key="start_enas", width="stretch"):
            _start(registry, config.replace(controller="enas"), name, phases)
        if c2.button("Start random", disabled=not ok, key="start_random", width="stretch",
                     help="uniform random search on the same settings, for comparison"):
            _start(registry, config.replace(controller="random"), name, phases)
        if st.button("Start both, to compare", disabled=not ok or bool(name), key="start_both",
                     width="stretch", help="an ENAS search and a random search on the same settings"):
            first = _start(registry, config.replace(controller="random"), None, phases)
            _start(registry, config.replace(controller="enas"), None, phases, compare=first)
        teach.explain("random", "ENAS or random search?")


def _space(box, values: dict):
    """The search-space size of the nodes and ops now chosen."""
    nodes, ops = values["nodes"], values["ops"]
    if not isinstance(nodes, int) or not 1 <= nodes <= SPECS["nodes"].max or not ops:
        box.caption("search space: - (choose nodes and ops)")
        return
    size = space_size(nodes, ops)
    shown = f"{size:,}" if size < 10**15 else f"{float(size):.3g}"
    pairs = nodes * (nodes - 1) // 2
    box.info(f"**Search space: {shown} architectures**  \n{len(ops)}^{nodes} op choices x 2^{pairs} "
                 "skip patterns", icon=":material/hub:")


def _start(registry, config: Config, name, phases, compare=None) -> str | None:
    try:
        run = registry.start(config, name, phases)
    except (StoreError, OSError) as e:
        st.sidebar.error(f"could not start: {e}", icon=":material/error:")
        return None
    st.session_state.view = run
    if compare:
        st.session_state.compare = [compare]
    return run
