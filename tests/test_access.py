"""Who may do what in a served app (`app.access`): the rules from the environment, the address check, the
registry's owners with real search threads, and the app as a single user, a viewer, the teacher and students
(AppTest, one session each)."""
import pytest
from conftest import tiny_config, wait
from streamlit import config as st_config
from test_app import button, configure, new_app, registry_of

from app import access
from app.registry import Registry
from enas.scale.sweep import plan, save_plan

SECRET = "correct horse"


@pytest.fixture
def classroom(runs, monkeypatch):
    """The runs folder of an app served with a teacher's secret and one working run per student."""
    monkeypatch.setenv(access.SECRET, SECRET)
    monkeypatch.setenv(access.STUDENT_RUNS, "1")
    return runs


@pytest.fixture
def address():
    """Set Streamlit's server.address for the AppTest in this process; restored after the test."""
    old = st_config.get_option("server.address")
    yield lambda value: st_config.set_option("server.address", value)
    st_config.set_option("server.address", old)


def teachers_run(runs, owner=None) -> str:
    """A long search started by `owner` (None: outside any session, as the teacher's), once it has trained."""
    registry = registry_of(runs)
    name = registry.start(tiny_config(epochs=1000), owner=owner)
    live = registry.view(name).live
    wait(lambda: live.progress()["step"] > 0 or not live.active, what="the teacher's search to train")
    assert live.active, live.message
    return name


def labels(at) -> set:
    return {b.label for b in at.button}


def unlock(at, secret: str):
    at.sidebar.text_input(key="access_secret").set_value(secret)
    button(at, "Unlock teacher controls").click().run()


# --- the rules --------------------------------------------------------------------------------------------------
def test_rules_from_the_environment_and_each_unusable_value_named():
    assert access.rules({}) == access.Rules(None, 0)
    assert access.rules({access.SECRET: "s"}) == access.Rules("s", 0)
    assert access.rules({access.SECRET: "s", access.STUDENT_RUNS: "3"}) == access.Rules("s", 3)
    for env, message in (({access.SECRET: "  "}, "set but empty"),
                         ({access.STUDENT_RUNS: "2"}, "needs ENAS_TEACHER_SECRET"),
                         ({access.SECRET: "s", access.STUDENT_RUNS: "two"}, "not a whole number"),
                         ({access.SECRET: "s", access.STUDENT_RUNS: "-1"}, "negative")):
        with pytest.raises(access.AccessError, match=message):
            access.rules(env)


def test_only_a_loopback_address_serves_without_the_secret():
    none, set_ = access.Rules(None, 0), access.Rules("s", 0)
    for local in ("127.0.0.1", "127.0.1.1", "::1", "localhost"):
        assert access.served_refusal(local, none) is None
    for exposed in ("0.0.0.0", "::", "192.168.1.20", "teacher-pc", "", None):
        assert "without ENAS_TEACHER_SECRET" in access.served_refusal(exposed, none)
        assert access.served_refusal(exposed, set_) is None
    assert "every interface" in access.served_refusal(None, none)


def test_the_secret_must_match_exactly():
    r = access.Rules(SECRET, 0)
    assert access.check(r, SECRET)
    assert not any(access.check(r, s) for s in ("", "correct", SECRET + " ", SECRET.upper()))
    assert not access.check(access.Rules(None, 0), "")


def test_the_registry_keeps_each_runs_owner_and_counts_its_working_runs(tmp_path):
    registry = Registry(tmp_path / "runs")
    mine = registry.start(tiny_config(epochs=1000), owner="student-a")
    theirs = registry.start(tiny_config(epochs=1000))
    try:
        assert registry.owner(mine) == "student-a" and registry.owner(theirs) is None
        assert registry.working("student-a") == [mine] and registry.working("student-b") == []
    finally:
        for name in (mine, theirs):
            registry.stop(name)
            registry.view(name).thread.join(60)
    assert registry.working("student-a") == []   # stopped: no longer counted against the cap
    registry.delete(mine)
    assert registry.owner(mine) is None


# --- the app, one role at a time ----------------------------------------------------------------------------------
def test_without_a_secret_the_single_user_controls_every_run(runs):
    name = teachers_run(runs, owner="another session")
    at = new_app()
    assert at.session_state.view == name
    assert {"Pause", "Stop", "Start ENAS"} <= labels(at) and "Unlock teacher controls" not in labels(at)
    assert not any(access.ASK in c.value for c in at.caption)


def test_a_viewer_watches_a_wrong_secret_is_refused_and_the_teacher_stops_and_deletes(runs, monkeypatch):
    monkeypatch.setenv(access.SECRET, SECRET)
    name = teachers_run(runs)
    at = new_app()
    assert labels(at) == {"Unlock teacher controls"}                 # no Start, Pause, Stop or Delete
    assert access.VIEWER_START in [c.value for c in at.sidebar.caption]
    assert access.VIEWER_CONTROL in [c.value for c in at.caption]
    unlock(at, "correct")
    assert "Wrong teacher's secret" in at.sidebar.error[0].value and "Stop" not in labels(at)
    unlock(at, SECRET)
    assert at.sidebar.success[0].value.startswith("Teacher") and at.session_state.access_secret == ""
    assert {"Pause", "Stop", "Start ENAS", "Lock teacher controls"} <= labels(at)
    button(at, "Stop").click().run()
    entry = registry_of(runs).view(name)
    wait(lambda: not entry.running_here, what="the teacher's stop")
    assert entry.live.status == "stopped"
    at.run()
    assert {"Resume run", "Delete run"} <= labels(at)
    button(at, "Delete run").click().run()
    button(at, "Confirm delete").click().run()
    assert not (runs / name).exists()
    button(at, "Lock teacher controls").click().run()
    assert "Unlock teacher controls" in labels(at) and not {"Start ENAS", "Lock teacher controls"} & labels(at)


def test_a_student_controls_only_their_own_runs_within_the_cap(classroom):
    theirs = teachers_run(classroom)
    student, other = new_app(), new_app()
    assert "Stop" not in labels(student) and access.STUDENT_CONTROL in [c.value for c in student.caption]
    configure(student, epochs=1000)
    student.sidebar.button(key="start_enas").click().run()
    registry = registry_of(classroom)
    mine = student.session_state.view
    assert mine != theirs and registry.owner(mine) == student.session_state.access_me
    wait(lambda: registry.view(mine).live.progress()["step"] > 0, what="the student's search to train")
    student.run()
    assert "Stop" in labels(student)
    assert all(student.sidebar.button(key=k).disabled for k in ("start_enas", "start_random", "start_both"))
    assert any("allows each student 1 run(s) working at once" in c.value for c in student.sidebar.caption)

    other.run()
    other.selectbox(key="view").set_value(mine).run()       # another student's page of that run
    assert "Stop" not in labels(other) and access.STUDENT_CONTROL in [c.value for c in other.caption]
    assert not other.sidebar.button(key="start_enas").disabled   # their own cap is untouched

    button(student, "Stop").click().run()
    wait(lambda: not registry.view(mine).running_here, what="the student's stop")
    student.run()
    assert not student.sidebar.button(key="start_enas").disabled and "Delete run" in labels(student)
    other.run()
    assert not {"Resume run", "Delete run"} & labels(other)
    assert registry.view(theirs).running_here   # the teacher's run was never theirs to stop


def test_a_student_cannot_read_the_servers_folders_or_choose_where_data_goes(classroom, tmp_path):
    at = new_app()
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("folder").run()
    at.sidebar.text_input(key="cfg_folder").set_value(str(tmp_path)).run()
    assert "cannot train on a folder" in at.sidebar.error[0].value and at.sidebar.button(key="start_enas").disabled
    at.sidebar.selectbox(key="cfg_dataset_kind").set_value("shapes")
    at.sidebar.text_input(key="cfg_data_dir").set_value(str(tmp_path / "elsewhere")).run()
    assert "leave data dir empty" in at.sidebar.error[0].value and at.sidebar.button(key="start_enas").disabled
    at.sidebar.text_input(key="cfg_data_dir").set_value("")
    at.sidebar.text_input(key="cfg_ray").set_value("ray://10.0.0.9:10001").run()
    assert "set the Ray cluster back to empty" in at.sidebar.error[0].value
    at.sidebar.text_input(key="cfg_ray").set_value("").run()
    assert not at.sidebar.error and not at.sidebar.button(key="start_enas").disabled


def test_served_to_the_network_without_a_secret_the_page_refuses(runs, monkeypatch, address):
    address("0.0.0.0")
    at = new_app()
    assert "served to the network (server.address = 0.0.0.0) without ENAS_TEACHER_SECRET" in at.error[0].value
    assert not at.button and not at.title and not at.sidebar.text_input
    monkeypatch.setenv(access.SECRET, SECRET)
    at = new_app()
    assert not at.error and {"Unlock teacher controls", "Play"} == labels(at)   # a viewer replays the demo


def test_settings_that_cannot_be_used_stop_the_page_with_the_reason(runs, monkeypatch):
    monkeypatch.setenv(access.STUDENT_RUNS, "2")
    at = new_app()
    assert at.error[0].value == ("Cannot serve the app: ENAS_STUDENT_RUNS=2 needs ENAS_TEACHER_SECRET: without a "
                                 "teacher's secret every browser controls every run.")
    assert not at.button and not at.sidebar.text_input


def test_only_the_teacher_resumes_a_sweep(runs, monkeypatch):
    monkeypatch.setenv(access.SECRET, SECRET)
    save_plan(runs, plan("grp", tiny_config(), {}, [0]))   # one run, never started: unfinished
    at = new_app()
    at.session_state["main_tabs"] = "All runs"
    at.run()
    assert any("**Sweep grp**" in m.value for m in at.markdown)
    assert "Resume 1 unfinished run(s)" not in labels(at) and access.VIEWER_CONTROL in [c.value for c in at.caption]
    unlock(at, SECRET)
    assert "Resume 1 unfinished run(s)" in labels(at)
