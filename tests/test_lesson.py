"""The one-update lesson: its numbers are the project's REINFORCE step, and the app's walk through it."""
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from enas.space import Architecture  # noqa: E402
from enas.teach import lesson as lessons  # noqa: E402


@pytest.fixture(scope="module")
def shown():
    """The default lesson, its engine after the update, and a twin engine just before it."""
    engine, rewards, baselines = lessons.warm_up(0)
    twin, _, _ = lessons.warm_up(0)
    return lessons.update(engine, rewards, baselines), engine, twin


def test_advantages_are_reward_minus_the_baseline_before_the_step(shown):
    lesson, _, _ = shown
    assert len(lesson.children) == len(lesson.rewards) == len(lesson.advantages) == 4
    assert all(isinstance(a, Architecture) for a in lesson.children)
    assert lesson.baseline_before == lesson.earlier_baselines[-1]
    assert lesson.advantages == [r - lesson.baseline_before for r in lesson.rewards]
    assert len({round(r, 6) for r in lesson.rewards}) > 1, "the children should not all score the same"


def test_the_numbers_are_those_reinforce_used(shown):
    """Rewards, advantages, the new baseline and the loss agree with what the project's Reinforce reported: a
    Reinforce that takes the advantage after moving the baseline, drops the entropy bonus or the skip penalty,
    or folds the baseline otherwise fails here."""
    lesson, _, _ = shown
    m, n = lesson.metrics, len(lesson.children)
    assert lesson.rewards == pytest.approx([a + lesson.entropy_weight * h
                                            for a, h in zip(lesson.accuracy, lesson.entropy)], abs=1e-6)
    assert m["reward"] == pytest.approx(sum(lesson.rewards) / n, abs=1e-6)
    assert m["advantage"] == pytest.approx(sum(lesson.advantages) / n, abs=1e-6)
    b = lesson.baseline_before
    for r in lesson.rewards:
        b = lesson.baseline_decay * b + (1 - lesson.baseline_decay) * r
    assert lesson.baseline_after == m["baseline"] == pytest.approx(b, abs=1e-9)
    loss = sum(-lp * a + lesson.skip_weight * s
               for lp, a, s in zip(lesson.log_probs, lesson.advantages, lesson.skip_penalty)) / n
    assert m["controller_loss"] == pytest.approx(loss, abs=1e-5)


def test_before_and_after_are_the_controllers_distributions(shown):
    """`before` is the twin's (pre-update) policy along the focus child, `after` the updated one's; node 0's
    is recomputed by hand from the LSTM's first step, which conditions on nothing."""
    lesson, engine, twin = shown
    focus = [lesson.children[lesson.focus]]
    assert lesson.advantages[lesson.focus] == max(lesson.advantages)
    with torch.no_grad():
        assert torch.allclose(torch.tensor(lesson.before), twin.sampler.score(focus).op_probs[0], atol=1e-6)
        assert torch.allclose(torch.tensor(lesson.after), engine.sampler.score(focus).op_probs[0], atol=1e-6)
    with torch.no_grad():
        for ctrl, probs in ((twin.sampler, lesson.before[0]), (engine.sampler, lesson.after[0])):
            out, _ = ctrl.lstm(ctrl.start.unsqueeze(0))
            assert F.softmax(ctrl.shape(ctrl.op_head(out[0])), -1)[0].tolist() == pytest.approx(probs, abs=1e-6)
    assert max(abs(a - b) for a, b in zip(lesson.after[0], lesson.before[0])) > 1e-3, "the update changed nothing"
    assert all(sum(p) == pytest.approx(1, abs=1e-5) for p in lesson.after)


def test_push_is_minus_the_loss_gradient_on_the_shared_op_bias(shown):
    """Recomputed on the pre-update twin from the lesson's own numbers; with Adam's first step each bias moved
    by the learning rate in its push's direction."""
    lesson, engine, twin = shown
    twin.sampler.zero_grad()
    s = twin.sampler.score(lesson.children)
    advantage = torch.tensor(lesson.advantages, dtype=torch.float32)
    (-s.log_prob * advantage + lesson.skip_weight * s.skip_penalty).mean().backward()
    assert torch.allclose(torch.tensor(lesson.push), -twin.sampler.op_head.bias.grad, atol=1e-6)
    moved = engine.sampler.op_head.bias.detach() - twin.sampler.op_head.bias.detach()
    assert torch.allclose(moved, lesson.lr * torch.tensor(lesson.push).sign(), atol=lesson.lr * 1e-3)


@pytest.mark.parametrize("seed", [0, 3])
def test_one_child_one_node_its_op_moves_with_its_advantage(seed):
    """With one node, one child and no entropy bonus, the loss is -advantage x log p(op): the op's probability
    must rise when the advantage is positive and fall when negative (seeds 0 and 3 give one of each). A
    Reinforce with the sign of the loss flipped, or one that does not step, fails here."""
    lesson = lessons.one_update(seed, nodes=1, children=1, entropy_weight=0.0, child_epochs=1)
    k = lesson.ops.index(lesson.children[0].ops[0])
    advantage, change = lesson.advantages[0], lesson.after[0][k] - lesson.before[0][k]
    assert advantage != 0 and change != 0
    assert math.copysign(1, change) == math.copysign(1, advantage)


def test_same_seed_same_lesson_and_no_run_folder_is_touched(tmp_path, monkeypatch):
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    a = lessons.one_update(1, child_epochs=1)
    torch.set_num_threads(2)
    try:
        b = lessons.one_update(1, child_epochs=1)   # on one thread whatever the caller's setting
    finally:
        torch.set_num_threads(threads)
    assert a == b
    assert torch.equal(torch.get_rng_state(), state), "the lesson must leave the global generator alone"
    assert list(tmp_path.iterdir()) == []
    assert lessons.one_update(2, child_epochs=1).children != a.children


def test_the_baseline_needs_earlier_steps():
    with pytest.raises(ValueError, match="earlier_steps"):
        lessons.warm_up(0, earlier_steps=0)


def test_the_app_walks_through_every_step_with_no_run(tmp_path, monkeypatch):
    from app import lesson as view
    monkeypatch.setenv("ENAS_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.session_state["main_tabs"] = "How ENAS works"
    at.run()
    assert not at.exception, at.exception
    fields = view.fields(lessons.one_update(0))

    def shows(k):
        title, sentence = view.STEPS[k]
        texts = [m.value for m in at.markdown]
        return f"**Step {k + 1} of {len(view.STEPS)}: {title}**" in texts and sentence.format(**fields) in texts

    assert shows(0) and sum(m.value.startswith("<svg") for m in at.markdown) == 4
    assert at.button(key="lesson_back").disabled
    for k in range(1, len(view.STEPS)):
        at.button(key="lesson_next").click().run()
        assert not at.exception, at.exception
        assert shows(k), k
    assert at.button(key="lesson_next").disabled
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Node 0's op probabilities, before and after" in t for t in titles)
    at.radio(key="lesson_node").set_value(2).run()
    assert any("along child" in c.value for c in at.caption)
    at.button(key="lesson_back").click().run()
    assert shows(len(view.STEPS) - 2)
    at.button(key="lesson_new").click().run()
    assert not at.exception, at.exception
    assert shows(0) and at.session_state["lesson_seed"] == 1
