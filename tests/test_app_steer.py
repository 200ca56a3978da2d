"""Steering from the Live tab (AppTest): the ops grid bans an op, the settings form changes the temperature, a
single step while paused is drawn, bad steering is refused with its message, interventions are marked."""
import time

from conftest import wait
from test_app import button, configure, new_app, registry_of

from app import steer
from enas.teach import charts


def test_the_live_tab_bans_an_op_changes_a_setting_and_steps_once(runs):
    at = new_app()
    configure(at, epochs=1000)
    at.sidebar.button(key="start_enas").click().run()
    entry = registry_of(runs).view(at.session_state.view)
    wait(lambda: entry.live.progress()["step"] > 2, what="training steps")
    at.run()
    name = entry.name
    # the grid's edit, as the data editor reports it: row 0 (node 0) loses maxpool3x3
    at.session_state[f"steer_grid_{name}"] = {"edited_rows": {0: {"maxpool3x3": False}}, "added_rows": [],
                                               "deleted_rows": []}
    next(b for b in at.button if b.label == "Apply constraints").click().run()
    wait(lambda: entry.live.steering is not None, what="the ban to be applied")
    assert ("maxpool3x3", 0) not in [(op, n) for n in range(2) for op in
                                     steer.steering_of(entry).constraints.allowed(n, entry.config.ops)]
    at.run()
    assert any("In force:" in c.value and "maxpool3x3 banned at 0" in c.value for c in at.caption)
    at.number_input(key="steer_temperature").set_value(3.0)
    next(b for b in at.button if b.label == "Apply settings").click().run()
    wait(lambda: steer.steering_of(entry).values["temperature"] == 3.0, what="the new temperature")
    assert entry.control is not None and registry_of(runs).view(name).live.interventions()[-1]["label"] == \
        "temperature 3.0"
    # a refused change is said, and nothing is sent
    at.number_input(key="steer_child_lr_scale").set_value(20.0)
    next(b for b in at.button if b.label == "Apply settings").click().run()
    assert any("child_lr_scale" in e.value and "outside" in e.value for e in at.error)
    assert len(entry.live.interventions()) == 2
    # a single step while paused
    button(at, "Pause").click().run()
    wait(lambda: entry.live.status == "paused", what="the pause")
    step = entry.live.progress()["step"]
    at.run()
    button(at, "Run one step").click().run()
    wait(lambda: entry.live.step_detail is not None, what="the single step")
    time.sleep(1.0)
    at.run()
    assert entry.live.status == "paused" and entry.control.paused
    assert entry.live.step_detail["what"] in ("child", "controller")
    assert any("The last single step" in m.value for m in at.markdown)
    assert entry.live.progress()["step"] in (step, step + 1)
    # the interventions are marked on the curves: one rule per change, on the child-step axis at its step
    marks = entry.live.interventions()
    fig = charts.search_chart(0, [("run", entry.live.series)], marks)
    assert [s.x0 for s in fig.layout.shapes] == [m["step"] for m in marks]
    assert charts.MARK_AXIS["controller step"] == "ctrl_step"
    registry_of(runs).stop(name)
    wait(lambda: not entry.running_here, what="the stop")
