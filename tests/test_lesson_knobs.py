"""The lesson's knobs: `replay` makes the draw's update again, exactly, with another learning rate, baseline decay,
entropy weight or child's accuracy; the app's knobs show it at once."""
import copy
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from enas.controller import Reinforce  # noqa: E402
from enas.teach import lesson as lessons  # noqa: E402
from test_browser import CHROMIUM, CUT_OR_COVERED, open_page, server  # noqa: E402, F401  (the harness, its fixture)


@pytest.fixture(scope="module")
def draw():
    return lessons.prepare(0, child_epochs=1)


@pytest.fixture(scope="module")
def twin():
    """The same tiny search run again to just before the step: an engine in the draw's state."""
    engine, _, _ = lessons.warm_up(0, child_epochs=1)
    return engine


def test_a_changed_reward_and_knobs_give_the_hand_computed_update(draw, twin):
    """Child 1's accuracy set to 0.5, entropy weight 0.01, decay 0.5, learning rate 0.1: the advantages and the
    new baseline by hand (Reinforce's moving average: advantages against the baseline before the step, then one
    fold per child), the probabilities after as a fresh Reinforce step on a copy of the twin's controller."""
    k, acc, w, d, lr = 1, 0.5, 0.01, 0.5, 0.1
    lesson = lessons.replay(draw, lr=lr, entropy_weight=w, baseline_decay=d, accuracy={k: acc})
    scores = list(draw.accuracy)
    scores[k] = acc
    b = twin.reinforce.baseline
    with torch.no_grad():
        entropy = twin.sampler.score(draw.children).entropy.tolist()
    assert (lesson.accuracy, lesson.baseline_before, lesson.lr) == (scores, b, lr)
    assert lesson.own == {"lr": 0.03, "entropy_weight": 1e-4, "baseline_decay": 0.9, "accuracy": draw.accuracy}
    assert lesson.advantages[k] == pytest.approx(acc + w * entropy[k] - b, abs=1e-6)
    assert lesson.advantages == pytest.approx([s + w * h - b for s, h in zip(scores, entropy)], abs=1e-6)
    folded = b
    for s, h in zip(scores, entropy):
        folded = d * folded + (1 - d) * (s + w * h)
    assert lesson.baseline_after == pytest.approx(folded, abs=1e-6)
    assert lesson.focus == k, "0.5 is far above the other children's accuracies"

    controller, c = copy.deepcopy(twin.sampler), twin.config
    reinforce = Reinforce(controller, lr, w, d, c.skip_weight, (c.controller_beta1, 0.999), c.controller_eps)
    reinforce.baseline = b
    reinforce.step(controller.score(draw.children), torch.tensor(scores))
    with torch.no_grad():
        after = controller.score(draw.children)
    assert torch.allclose(torch.tensor(lesson.after), after.op_probs[k], atol=1e-6)
    assert lesson.log_probs_after == pytest.approx(after.log_prob.tolist(), abs=1e-5)
    assert max(abs(p - q) for p, q in zip(lesson.after[0], lesson.before[0])) > 1e-3


def test_learning_rate_zero_changes_no_probability(draw):
    lesson = lessons.replay(draw, lr=0.0, accuracy={0: 1.0})
    assert lesson.after == lesson.before and lesson.log_probs_after == lesson.log_probs
    assert any(abs(p) > 1e-3 for p in lesson.push), "the step had a gradient: only its size was zero"


def test_the_draw_is_never_updated(draw):
    """Replays start from the draw's controller each time: the draw's own update comes out the same after
    another; its knobs given by value are the same as left out."""
    own = lessons.replay(draw)
    lessons.replay(draw, lr=1.0, accuracy={0: 1.0, 2: 0.0})
    assert lessons.replay(draw) == own
    assert lessons.replay(draw, lr=0.03, entropy_weight=1e-4, baseline_decay=0.9, accuracy={1: draw.accuracy[1]}) == own
    assert own.accuracy == draw.accuracy and own.after != own.before


@pytest.mark.parametrize("seed", [0, 2])
def test_a_higher_reward_raises_the_child_s_own_op(seed):
    """One node (no skips, no earlier decisions): for each child whose op no other child chose, accuracy 1 ends
    with that op more likely than before and than with its measured accuracy, accuracy 0 with it less likely
    than before (seeds 0 and 2 have 2 and 4 such children). With more nodes the LSTM's shared weights can turn
    an op against its push (the lesson says so), so this is the one-node case."""
    draw = lessons.prepare(seed, nodes=1, child_epochs=1)
    ops = [a.ops[0] for a in draw.children]
    alone = [k for k, op in enumerate(ops) if ops.count(op) == 1]
    assert len(alone) >= 2
    own = lessons.replay(draw)
    for k in alone:
        i = draw.ops.index(ops[k])
        high, low = (lessons.replay(draw, accuracy={k: a}).after[0][i] for a in (1.0, 0.0))
        assert low < own.before[0][i] < high, (k, ops[k])
        assert high > own.after[0][i], (k, ops[k])


def test_bad_knobs_are_refused_by_name(draw):
    for knobs, error, message in (
            ({"lr": -0.1}, ValueError, r"lr must be in \[0, 10\], got -0.1"),
            ({"baseline_decay": 1.5}, ValueError, r"baseline_decay must be in \[0, 1\], got 1.5"),
            ({"entropy_weight": float("nan")}, ValueError, r"entropy_weight must be in \[0, 100\], got nan"),
            ({"lr": "0.1"}, TypeError, "lr must be a number, got '0.1'"),
            ({"accuracy": {4: 0.5}}, ValueError, "no child 4; the draw has 4 children, numbered 0 to 3"),
            ({"accuracy": {0: 1.2}}, ValueError, r"the accuracy of child 0 must be a number in \[0, 1\], got 1.2")):
        with pytest.raises(error, match=message):
            lessons.replay(draw, **knobs)


def test_the_app_s_knobs_make_the_update_again_at_once(tmp_path, monkeypatch):
    """Type child 1's accuracy, pick child 3 and drag its accuracy, move the entropy weight and the learning
    rate: the advantage shown is the hand-computed one each time, the step sentences state the values in force,
    the changes are listed, Reset knobs restores the draw's own; New draw drops the accuracies set by hand."""
    from app import lesson as view
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    draw = lessons.prepare(0)
    with torch.no_grad():
        entropy = draw.controller.score(draw.children).entropy.tolist()
    b = draw.baseline
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=240)
    at.session_state["main_tabs"] = "How ENAS works"
    at.run()
    assert not at.exception, at.exception

    def shown(label):
        (metric,) = [m for m in at.metric if m.label == label]
        return float(metric.value)

    def note():
        return next(m.value for m in at.markdown if "draw's own" in m.value)

    assert shown("Its advantage") == pytest.approx(draw.accuracy[0] + 1e-4 * entropy[0] - b, abs=6e-5)
    assert note() == "Every knob at the draw's own value." and at.button(key="lesson_reset").disabled
    at.number_input(key="lesson_acc_type").set_value(0.5).run()
    assert shown("Its advantage") == pytest.approx(0.5 + 1e-4 * entropy[0] - b, abs=6e-5)
    assert at.slider(key="lesson_acc_drag").value == 0.5
    at.selectbox(key="lesson_child").set_value(2).run()
    assert at.number_input(key="lesson_acc_type").value == draw.accuracy[2]
    at.slider(key="lesson_acc_drag").set_value(0.75).run()
    assert shown("Its advantage") == pytest.approx(0.75 + 1e-4 * entropy[2] - b, abs=6e-5)
    at.select_slider(key="lesson_entropy_weight").set_value(0.01).run()
    at.select_slider(key="lesson_lr").set_value(0.0).run()
    assert not at.exception, at.exception
    assert shown("Its advantage") == pytest.approx(0.75 + 0.01 * entropy[2] - b, abs=6e-5)
    assert note() == ("**Changed from the draw's own:** learning rate 0 (the draw's: 0.03); entropy weight 0.01 "
                      f"(the draw's: 0.0001); child 1's accuracy 0.500 (measured: {draw.accuracy[0]:.3f}); "
                      f"child 3's accuracy 0.750 (measured: {draw.accuracy[2]:.3f}).")
    fields = view.fields(lessons.replay(draw, lr=0.0, entropy_weight=0.01, accuracy={0: 0.5, 2: 0.75}))
    texts = [m.value for m in at.markdown]
    assert view.STEPS[0][1].format(**fields) in texts
    at.button(key="lesson_next").click().run()
    assert view.STEPS[1][1].format(**fields) in [m.value for m in at.markdown]
    assert "0.01 x the controller's entropy. Set by hand, not measured: child 1's, child 3's accuracy." in \
        view.STEPS[1][1].format(**fields)
    for _ in range(3):
        at.button(key="lesson_next").click().run()
    assert view.STEPS[4][1].format(**fields) in [m.value for m in at.markdown]
    assert "learning rate 0)" in view.STEPS[4][1].format(**fields)

    at.button(key="lesson_reset").click().run()
    assert note() == "Every knob at the draw's own value."
    assert [s.value for s in at.select_slider] == [0.03, 0.9, 1e-4]
    assert shown("Its advantage") == pytest.approx(draw.accuracy[2] + 1e-4 * entropy[2] - b, abs=6e-5)
    at.number_input(key="lesson_acc_type").set_value(0.9).run()
    at.select_slider(key="lesson_baseline_decay").set_value(0.5).run()
    at.button(key="lesson_new").click().run()
    assert not at.exception, at.exception
    assert note() == "**Changed from the draw's own:** baseline decay 0.5 (the draw's: 0.9)."


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)")
def test_a_typed_accuracy_stays_as_typed_in_a_browser(server, tmp_path):
    """The drag slider moves in steps of one image in 64: an accuracy typed between them is kept as typed (the
    slider does not snap it), and at 1024x768 no knob, metric or the last step's chart title is cut."""
    from playwright.sync_api import expect

    with open_page(server, tmp_path, 1024, 768) as page:
        page.get_by_role("tab", name="How ENAS works").click()
        box = page.get_by_label("or type it")
        box.fill("0.3")
        box.press("Enter")
        expect(page.get_by_text("child 1's accuracy 0.300 (measured", exact=False)).to_be_visible()
        page.wait_for_timeout(1500)
        assert box.input_value() == "0.3000"
        for k in range(2, 6):
            page.get_by_role("button", name="Next").click()
            expect(page.get_by_text(f"Step {k} of 5", exact=False)).to_be_visible()
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .gtitle').length == 1")
        page.wait_for_timeout(1500)   # the chart's last layout pass
        found = page.evaluate(CUT_OR_COVERED)
        assert found["charts"] == 1 and not found["cut"] and not found["titles"], found
