"""The sidebar: configure a run (every `enas.config` field, checked by `Config.from_dict`, its data by
`check_dataset`) and start it. The settings live in the page's address too (`app.urlstate`)."""
from __future__ import annotations

import os
import re

import streamlit as st

from enas.config import PRESETS, SPECS, Config, ConfigError
from enas.data.check import FOLDER_PROMPT, check_dataset
from enas.data.load import DataError
from enas.hardware import auto_threads, precision_text, threads_text, usable_cpus
from enas.runs.store import StoreError, check_name
from enas.scale.ray_executor import ExecutorError, ray_gpus
from enas.space import space_size

from . import access, teach, urlstate

TOP = ("nodes", "ops", "channels", "epochs", "batch_size", "sampling", "controller")
GROUPS = (("child", "Child training"), ("controller", "Controller"), ("final", "Derive and final training"),
          ("health", "Health warnings"), ("data", "Data"), ("run", "Run"))
DATASETS = ("shapes", "cifar10", "folder")
FIELD_RE = re.compile(r"^field '(\w+)'")


# how long each preset's search takes on the 2-core AMD EPYC this project is measured on (benchmarks/README.md)
PRESET_TIME = {
    "quick": "quick: about 1-1.5 min of search on a 2-core CPU (86 s measured on a busy one), derive and final "
             "training about 20 s more; long enough for the controller to pull ahead of random architectures",
    "seed": "seed: about 2 h on a 2-core CPU with CIFAR-10 (100 epochs of 40,000 images at about 600 images/s)",
    "enas-paper": "enas-paper: 310 epochs, then 310 of final training: days on a CPU, hours on a GPU",
    "laptop": "laptop: designed for about an hour on a 2-core CPU with CIFAR-10 (30 epochs of 20,000 images, the "
              "first 10 on random children; derive; 5 epochs of final training), so that the controller visibly "
              "learns; not yet timed end to end (benchmarks/README.md)",
}


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
        _set(name, getattr(config, name))
    st.session_state.pop("url_warnings", None)


def _set(name: str, value) -> bool:
    """Set the widget of field `name` to `value`; False for a dataset the form cannot show (auto, shapes:N)."""
    ss = st.session_state
    if name != "dataset":
        ss[_key(name)] = _shown(name, value)
        return True
    kind, _, path = value.partition(":")
    if kind not in DATASETS or kind != "folder" and path:
        return False
    ss.cfg_dataset_kind, ss.cfg_folder = kind, path
    return True


def _restore():
    """A new session (a reload, another tab, a shared link): the settings in the page's address."""
    preset, values, warnings = urlstate.decode(st.query_params)
    st.session_state.cfg_preset = preset
    load_preset()
    for name, value in values.items():
        if not _set(name, value):
            warnings.append(f"URL parameter dataset={value!r} ignored: the form offers {', '.join(DATASETS)}")
    st.session_state.url_warnings = warnings


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
    """The role panel (`access.panel`); then, unless this session only watches, the form; on Start, start the
    run(s) and make the newest the one on view."""
    ss = st.session_state
    access.panel(st.get_option("server.address"))
    if access.role() == "viewer":   # no form: nothing to start, and no folder of the server's to probe
        st.sidebar.caption(access.VIEWER_START)
        return
    if "cfg_preset" not in ss:
        _restore()
    values, holes, gpus_error = {}, {}, None
    with st.sidebar:
        st.header("New search")
        for warning in ss.get("url_warnings", []):
            st.warning(warning, icon=":material/link_off:")
        st.selectbox("preset", list(PRESETS), key="cfg_preset", on_change=load_preset,
                     help="starting values: quick (a minute on a CPU, built-in shapes data), laptop (CIFAR-10 in "
                          "about an hour on a laptop, a controller that learns), seed (the seed "
                          "notebook's settings), enas-paper (the ENAS paper's released macro-search settings "
                          "on this 6-node, 32-channel space: README, 'Seed notebook, ENAS paper, this project')")
        st.caption(PRESET_TIME[ss.cfg_preset])
        kind = st.selectbox("dataset", DATASETS, key="cfg_dataset_kind",
                            help="shapes: built in, no download; cifar10: downloaded once; folder: your own images")
        folder = st.text_input("image folder", key="cfg_folder", placeholder="path of an image folder") \
            if kind == "folder" else ""
        values["dataset"] = f"folder:{folder}" if kind == "folder" else kind
        no_folder = kind == "folder" and not folder.strip()   # nothing typed yet: a prompt, not an error
        holes["dataset"] = st.empty()
        for name in TOP:
            _field(name, values, holes)
        size_box = st.empty()
        for group, title in GROUPS:
            with st.expander(title):
                for name, spec in SPECS.items():
                    if spec.group == group and name not in TOP and name != "dataset":
                        _field(name, values, holes)
                        if name == "threads":   # the CLI's --threads: one field, stored with the run
                            st.caption(f"0 (auto) is {threads_text(auto_threads())} here ({usable_cpus()} CPUs), "
                                       "recorded with the run; on Ray, the CPUs a run asks for")
                        if name == "precision" and values.get("precision") == "auto":
                            st.caption(f"here auto is {_auto_precision(values.get('device', 'auto'))}, recorded "
                                       "with the run; on Ray, decided where it runs")
                if group == "run":
                    st.text_input("Ray cluster", os.environ.get("ENAS_RAY_ADDRESS", ""), key="cfg_ray",
                                  placeholder="empty: run here", help="empty: run in this app's process; auto or "
                                  "ray://HOST:10001: run as an actor on that Ray cluster, which queues runs it "
                                  "cannot place yet (README, 'Many machines')")
                    gpus = st.text_input("GPUs per run", os.environ.get("ENAS_RAY_GPUS", "").strip() or "1",
                                         key="cfg_ray_gpus", disabled=access.role() == "student",
                                         help="on a Ray cluster with GPUs: the GPUs each run asks for; a fraction "
                                         "packs runs on one GPU (0.25: 4 on each GPU); default ENAS_RAY_GPUS, "
                                         "else 1")
                    try:
                        ray_gpus(gpus)
                    except ExecutorError as e:
                        gpus_error = str(e)
                        st.error(gpus_error, icon=":material/error:")
        run_name = st.text_input("run name", key="cfg_name", placeholder="automatic",
                                 help="letters, digits, '.', '_' or '-'; empty: a fresh timestamped name")
        name_hole = st.empty()
        full = st.checkbox("then derive and train the best child", key="cfg_full")
        general = st.empty()     # errors that name no field
        config = None
        try:   # while no folder is typed, the other fields are still checked (on a stand-in dataset)
            config = Config.from_dict({**values, "dataset": "shapes"} if no_folder else values)
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
        data_error = access.config_refusal(values["dataset"], values.get("data_dir"), ray_address())
        if data_error:   # checked first: a student's folder is not read
            holes["dataset"].error(data_error, icon=":material/lock:")
        elif no_folder:
            data_error = FOLDER_PROMPT
            holes["dataset"].info(FOLDER_PROMPT[0].upper() + FOLDER_PROMPT[1:] + ".", icon=":material/folder_open:")
        elif config is not None:
            try:
                holes["dataset"].caption(check_dataset(config))
            except DataError as e:   # under the field it is about: val_size, train_subset, else the dataset
                data_error, field = str(e), getattr(e, "field", None)
                holes.get(field, holes["dataset"]).error(data_error, icon=":material/error:")
                if field in holes:   # the field may sit in a closed expander: say where
                    holes["dataset"].caption(f"{field} does not fit this data: see the message under it, in "
                                             f"*{dict(GROUPS).get(SPECS[field].group, 'the settings')}*")
        ok = config is not None and name_error is None and data_error is None and gpus_error is None
        cannot = access.start_refusal(registry)
        if cannot:
            st.caption(cannot)
        if no_folder and config is not None and name_error is None:
            st.caption("Type the path of an image folder to start.")
        elif not ok:
            st.caption("Fix the field marked in red to start.")
        c1, c2 = st.columns(2)
        phases = ("search", "derive", "final") if full else ("search",)
        name = run_name.strip() or None
        started = []
        if c1.button("Start ENAS", type="primary", disabled=not ok or bool(cannot), key="start_enas",
                     width="stretch"):
            started.append(_start(registry, config.replace(controller="enas"), name, phases))
        if c2.button("Start random", disabled=not ok or bool(cannot), key="start_random", width="stretch",
                     help="uniform random search on the same settings, for comparison"):
            started.append(_start(registry, config.replace(controller="random"), name, phases))
        two = access.start_refusal(registry, runs=2)   # a student with one run left may start one, not both
        if st.button("Start both, to compare", disabled=not ok or bool(name) or bool(two), key="start_both",
                     width="stretch", help=two or "an ENAS search and a random search on the same settings"):
            first = _start(registry, config.replace(controller="random"), None, phases)
            started += [first, _start(registry, config.replace(controller="enas"), None, phases, compare=first)]
        if any(started) and cannot is None and access.start_refusal(registry):
            st.rerun()   # a student has just reached the cap: the buttons above were drawn enabled
        teach.explain("random", "ENAS or random search?")
        params = urlstate.encode(ss.cfg_preset, values)
        urlstate.sync(st.query_params, params)
        with st.expander("Link to these settings", icon=":material/link:"):
            st.code(urlstate.link(st.context.url, params), language=None, wrap_lines=True)
            st.caption("The page's address keeps the settings that differ from the preset: a reload, another "
                       "tab or this link opens the form with them.")


def _auto_precision(device: str) -> str:
    """What precision auto becomes on `device` here (fp32 where that device is not available)."""
    from enas.hardware import resolve_device
    try:
        return precision_text("auto", resolve_device(device))
    except ValueError:
        return "fp32 (the chosen device is not available here)"


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


def ray_address() -> str | None:
    """The Ray cluster chosen in Run settings, or None: run in this app's process."""
    return (st.session_state.get("cfg_ray") or "").strip() or None


def ray_gpus_chosen() -> str | None:
    """The GPUs per run chosen in Run settings, or None: ENAS_RAY_GPUS, else 1 (a student's always)."""
    return None if access.role() == "student" else (st.session_state.get("cfg_ray_gpus") or "").strip() or None


def _start(registry, config: Config, name, phases, compare=None) -> str | None:
    """Start a run owned by this session (`access.me`; the Start buttons are disabled while `access` refuses, which
    Streamlit enforces on the server); its name, or None after a message."""
    try:
        run = registry.start(config, name, phases, ray_address(), owner=access.me(), gpus=ray_gpus_chosen())
    except (StoreError, DataError, OSError) as e:
        st.sidebar.error(f"could not start: {e}", icon=":material/error:")
        return None
    st.session_state.view = run
    if compare:
        st.session_state.compare = [compare]
    return run
