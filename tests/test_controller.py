"""The LSTM controller and REINFORCE: log-probabilities, skip attention, skip penalty, and that learning works."""
import math

import pytest
import torch

from enas.controller import (
    Controller,
    RandomSampler,
    Reinforce,
    bernoulli_kl,
    reduce_skip_kl,
)
from enas.space import Architecture


def make(nodes=4, **kw):
    torch.manual_seed(0)
    return Controller(nodes, lstm_size=16, lstm_layers=2, **kw)


def test_sampled_log_prob_equals_teacher_forced_score():
    c = make(6)
    g = torch.Generator().manual_seed(1)
    s = c.sample(16, generator=g)
    scored = c.score(s.archs)
    torch.testing.assert_close(s.log_prob, scored.log_prob)
    torch.testing.assert_close(s.entropy, scored.entropy)
    torch.testing.assert_close(s.skip_penalty, scored.skip_penalty)


def test_log_prob_by_hand_from_the_reported_probabilities():
    c = make(3)
    s = c.sample(5, generator=torch.Generator().manual_seed(2))
    for b, arch in enumerate(s.archs):
        lp = sum(math.log(s.op_probs[b, i, c.ops.index(op)].item()) for i, op in enumerate(arch.ops))
        for i in range(arch.nodes):
            for j, bit in enumerate(arch.skips[i]):
                p = s.skip_probs[b, i, j].item()
                lp += math.log(p if bit else 1 - p)
        assert s.log_prob[b].item() == pytest.approx(lp, abs=1e-4)


def test_skip_probabilities_are_attention_in_open_interval():
    s = make(6).sample(32)
    p = s.skip_probs
    lower = torch.tril(torch.ones(6, 6, dtype=torch.bool), -1)
    assert ((p[:, lower] > 0) & (p[:, lower] < 1)).all()
    assert (p[:, ~lower] == 0).all()


def test_skip_attention_formula():
    c = make(2, temperature=5.0, tanh_constant=2.5)
    s = c.sample(1)
    # recompute sigmoid(v^T tanh(W1 h_0 + W2 h_1)) from the LSTM run by hand
    x = c.start
    out, st = c.lstm(x.unsqueeze(0))
    op0 = c.ops.index(s.archs[0].ops[0])
    out, st = c.lstm(c.op_embedding(torch.tensor([op0])).unsqueeze(0), st)
    h0 = out[0]
    out, st = c.lstm(c.start.unsqueeze(0), st)
    op1 = c.ops.index(s.archs[0].ops[1])
    out, st = c.lstm(c.op_embedding(torch.tensor([op1])).unsqueeze(0), st)
    h1 = out[0]
    q = c.v(torch.tanh(c.w1(h0) + c.w2(h1)))
    # ENAS: a two-way softmax over (-q', q'), q' = c tanh(q / T), so p = sigmoid(2 q')
    expected = torch.sigmoid(2 * 2.5 * torch.tanh(q / 5.0))
    assert s.skip_probs[0, 1, 0].item() == pytest.approx(expected.item(), abs=1e-6)


def test_skip_penalty_zero_at_target_and_positive_elsewhere():
    assert bernoulli_kl(torch.tensor([0.4]), 0.4).item() == pytest.approx(0.0, abs=1e-7)
    assert bernoulli_kl(torch.tensor([0.9]), 0.4).item() == pytest.approx(
        0.9 * math.log(0.9 / 0.4) + 0.1 * math.log(0.1 / 0.6), rel=1e-5)
    c = make(4, skip_target=0.5)
    with torch.no_grad():  # v = 0 makes every skip probability sigmoid(0) = 0.5
        c.v.weight.zero_()
    assert c.sample(3).skip_penalty.abs().max().item() < 1e-6


# N = 6, every skip probability 0.5, target 0.4: 15 x KL(0.5 || 0.4) = 15 x 0.020411 summed (seed notebook), over
# the 5 nodes that have skips (ENAS), over the 15 pairs (pair-mean)
@pytest.mark.parametrize("how, expected", [("sum", 0.306), ("node-mean", 0.0612), ("pair-mean", 0.0204)])
def test_skip_penalty_reduction_closed_form(how, expected):
    kl = 0.5 * math.log(0.5 / 0.4) + 0.5 * math.log(0.5 / 0.6)
    closed = 15 * kl / {"sum": 1, "node-mean": 5, "pair-mean": 15}[how]
    assert closed == pytest.approx(expected, abs=5e-4)
    c = make(6, skip_target=0.4, skip_reduce=how)
    with torch.no_grad():
        c.v.weight.zero_()
    s = c.sample(3)
    assert torch.allclose(s.skip_probs[:, 1:, 0], torch.tensor(0.5))
    torch.testing.assert_close(s.skip_penalty, torch.full((3,), closed), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(reduce_skip_kl(torch.tensor([3.0]), 6, how), torch.tensor([3.0 * closed / (15 * kl)]))


def test_unknown_skip_reduction_is_refused():
    with pytest.raises(ValueError, match="skip_reduce must be one of sum, node-mean, pair-mean"):
        make(3, skip_reduce="max")


@pytest.mark.parametrize("tanh", [1.5, 2.5])
def test_temperature_and_tanh_constant_bound_skip_probabilities(tanh):
    """With a huge v, skip probabilities reach but never pass sigmoid(+-2c): [0.047, 0.953] for c = 1.5."""
    lower = torch.tril(torch.ones(6, 6, dtype=torch.bool), -1)
    ps = []
    for sign in (1, -1):  # v and -v push the skips to either end
        c = make(6, temperature=0.0, tanh_constant=tanh)
        with torch.no_grad():
            c.v.weight.mul_(sign * 1e4)
        ps.append(c.sample(64, generator=torch.Generator().manual_seed(0)).skip_probs[:, lower])
    p, bound = torch.cat(ps), 1 / (1 + math.exp(-2 * tanh))
    assert p.max().item() <= bound + 1e-6 and p.min().item() >= 1 - bound - 1e-6
    assert p.max().item() > bound - 1e-3 and p.min().item() < 1 - bound + 1e-3  # both ends are reached


def test_temperature_and_tanh_constant_bound_op_logits():
    c = make(3, temperature=5.0, tanh_constant=1.5)
    with torch.no_grad():
        c.op_head.weight.mul_(1000)
    p = c.sample(8).op_probs
    # logits within [-1.5, 1.5] bound the probability ratio by e^3
    assert (p.max(-1).values / p.min(-1).values).max().item() <= math.exp(3.0) + 1e-3


def test_positive_advantage_raises_probability_of_the_sample():
    c = make(4)
    r = Reinforce(c, lr=1e-2, entropy_weight=0.0, skip_weight=0.0)
    s = c.sample(1, generator=torch.Generator().manual_seed(3))
    before = c.score(s.archs).log_prob.item()
    r.baseline = 0.2  # reward 0.9 > baseline: positive advantage
    r.step(s, torch.tensor([0.9]))
    assert c.score(s.archs).log_prob.item() > before
    s2 = c.sample(1, generator=torch.Generator().manual_seed(4))
    before = c.score(s2.archs).log_prob.item()
    r.baseline = 0.95  # negative advantage lowers it
    r.step(c.score(s2.archs), torch.tensor([0.1]))
    assert c.score(s2.archs).log_prob.item() < before


def test_baseline_is_a_moving_average_and_advantages_use_the_one_before_the_step():
    c = make(2)
    r = Reinforce(c, baseline_decay=0.9, entropy_weight=0.0, skip_weight=0.0)
    s = c.sample(3)
    m = r.step(s, torch.tensor([1.0, 0.0, 0.5]))
    # starts at the first step's mean reward (0.5): advantages 0.5, -0.5, 0; then b <- 0.9 b + 0.1 r per child
    b = 0.5
    for x in (1.0, 0.0, 0.5):
        b = 0.9 * b + 0.1 * x
    assert m["baseline"] == pytest.approx(b)
    assert m["reward"] == pytest.approx(0.5)
    assert m["advantage"] == pytest.approx(0.0, abs=1e-7)
    s2 = c.sample(2)
    m2 = r.step(s2, torch.tensor([0.8, 0.6]))
    assert m2["advantage"] == pytest.approx(0.7 - b)  # against the baseline before this step
    expected_loss = (-s2.log_prob * (torch.tensor([0.8, 0.6]) - b)).mean().item()
    assert m2["controller_loss"] == pytest.approx(expected_loss, rel=1e-5)


@pytest.mark.parametrize("weight", [0.0, 0.1, 1.0])
def test_entropy_bonus_is_added_to_the_reward(weight):
    """reward = accuracy + w x entropy; uniform random search has a closed-form entropy."""
    r = RandomSampler(3)
    s = r.sample(4, generator=torch.Generator().manual_seed(0))
    h = 3 * math.log(5) + 3 * math.log(2)
    torch.testing.assert_close(s.entropy, torch.full((4,), h))
    m = Reinforce(r, entropy_weight=weight).step(s, torch.tensor([0.25, 0.5, 0.75, 1.0]))
    assert m["reward"] == pytest.approx(0.625 + weight * h, rel=1e-6)


def test_skip_penalty_is_in_the_loss_and_pulls_skips_to_the_target():
    """Constant reward: zero advantages, so only the skip penalty moves the policy, towards the target rate."""
    c = make(4, skip_target=0.05, skip_reduce="sum")
    r = Reinforce(c, lr=2e-2, entropy_weight=0.0, skip_weight=1.0)
    g = torch.Generator().manual_seed(0)
    s = c.sample(4, generator=g)
    m = r.step(s, torch.full((4,), 0.5))
    assert m["controller_loss"] == pytest.approx(s.skip_penalty.mean().item(), rel=1e-5)
    before = c.policy(256, generator=torch.Generator().manual_seed(1))["skip_probs"]
    for _ in range(30):
        r.step(c.sample(4, generator=g), torch.full((4,), 0.5))
    after = c.policy(256, generator=torch.Generator().manual_seed(1))["skip_probs"]
    mean = lambda p: sum(p[i][j] for i in range(4) for j in range(i)) / 6  # noqa: E731
    assert mean(after) < mean(before) - 0.2, (mean(before), mean(after))


@pytest.mark.parametrize("decay", [0.0, 0.9, 0.999])
def test_controller_learns_a_preferred_architecture(decay):
    """Reward 1 per node with conv3x3 and per absent skip: the policy should concentrate on it, whatever the
    baseline decay (decay 0 once left every advantage at zero)."""
    torch.manual_seed(0)
    c = Controller(3, lstm_size=32, lstm_layers=1, temperature=0, tanh_constant=2.5)
    r = Reinforce(c, lr=5e-3, entropy_weight=0.0, baseline_decay=decay, skip_weight=0.0)
    g = torch.Generator().manual_seed(0)
    target = Architecture.parse("c3 c3:0 c3:00")

    def reward(a):
        return (sum(op == "conv3x3" for op in a.ops) + sum(1 - b for row in a.skips for b in row)) / 6

    for _ in range(60):  # 60 steps x 10 samples = 600 samples
        s = c.sample(10, generator=g)
        r.step(s, torch.tensor([reward(a) for a in s.archs]))
    p = c.score([target]).log_prob.exp().item()
    assert p > 0.4, p
    pol = c.policy(256, generator=g)
    assert min(row[c.ops.index("conv3x3")] for row in pol["op_probs"]) > 0.8


def test_random_sampler_has_the_same_interface_and_uniform_probabilities():
    r = RandomSampler(3)
    s = r.sample(4000, generator=torch.Generator().manual_seed(0))
    expected = -3 * math.log(5) - 3 * math.log(2)
    torch.testing.assert_close(s.log_prob, torch.full((4000,), expected, dtype=s.log_prob.dtype))
    ops = [op for a in s.archs for op in a.ops]
    assert all(abs(ops.count(o) / len(ops) - 0.2) < 0.02 for o in r.ops)
    assert abs(sum(a.skip_count for a in s.archs) / (3 * 4000) - 0.5) < 0.02
    torch.testing.assert_close(r.score(s.archs[:5]).log_prob, s.log_prob[:5])
    assert Reinforce(r).step(s, torch.ones(4000))["controller_loss"] == pytest.approx(0.0)


def test_sampling_is_reproducible_with_a_generator():
    c = make(6)
    a = c.sample(8, generator=torch.Generator().manual_seed(5)).archs
    b = c.sample(8, generator=torch.Generator().manual_seed(5)).archs
    assert a == b


def test_random_sampler_is_reproducible_and_reports_its_exact_policy():
    r = RandomSampler(4, ops=("conv3x3", "maxpool3x3"))
    a = r.sample(16, generator=torch.Generator().manual_seed(7))
    b = r.sample(16, generator=torch.Generator().manual_seed(7))
    assert a.archs == b.archs and len(set(a.archs)) > 8
    torch.testing.assert_close(a.op_probs, torch.full((16, 4, 2), 0.5))
    torch.testing.assert_close(a.skip_probs, torch.full((16, 4, 4), 0.5).tril(-1))
    with pytest.raises(ValueError, match="not in this search space"):
        r.score([Architecture.parse("c5 mp:1 c3:01 mp:001")])


def reference_score(c, arch):
    """The controller's log-probability and entropy of one architecture, written out step by step."""
    inputs, state, anchors = c.start, None, []
    log_prob, entropy = 0.0, 0.0
    for i in range(arch.nodes):
        out, state = c.lstm(inputs.unsqueeze(0), state)
        p = torch.softmax(c.shape(c.op_head(out[0]))[0], 0)
        k = c.ops.index(arch.ops[i])
        log_prob += math.log(p[k].item())
        entropy -= sum(pk * math.log(pk) for pk in p.tolist())
        out, state = c.lstm(c.op_embedding(torch.tensor([k])).unsqueeze(0), state)
        h = out[0]
        if i == 0:
            inputs = c.start
        else:
            chosen = torch.zeros_like(h)
            for j, bit in enumerate(arch.skips[i]):
                q = c.v(torch.tanh(c.w1(anchors[j]) + c.w2(h)))
                pj = torch.sigmoid(2 * c.shape(q)).item()
                log_prob += math.log(pj if bit else 1 - pj)
                entropy -= pj * math.log(pj) + (1 - pj) * math.log(1 - pj)
                chosen = chosen + bit * anchors[j]
            inputs = chosen / (1 + sum(arch.skips[i]))
        anchors.append(h)
    return log_prob, entropy


@pytest.mark.parametrize("text", ["c3 c5:1 mp:01 ap:110", "mp ap:0 c1:11 c3:000", "c5 c5:1 c5:11 c5:111"])
def test_log_prob_and_entropy_match_a_step_by_step_reference(text):
    c = make(4, temperature=5.0, tanh_constant=2.5)
    with torch.no_grad():
        for p in c.parameters():
            p.mul_(8)    # logits large enough that shaping and every input matter
        s = c.score([Architecture.parse(text)])
        log_prob, entropy = reference_score(c, Architecture.parse(text))
    assert s.log_prob.item() == pytest.approx(log_prob, rel=1e-4, abs=1e-5)
    assert s.entropy.item() == pytest.approx(entropy, rel=1e-4, abs=1e-5)


def test_bernoulli_kl_is_finite_at_certain_probabilities_and_the_controller_starts_as_enas_does():
    torch.testing.assert_close(bernoulli_kl(torch.tensor([0.0, 1.0]), 0.4),
                               torch.tensor([math.log(1 / 0.6), math.log(1 / 0.4)]), rtol=1e-4, atol=1e-4)
    c = make(3)
    assert all(p.abs().max().item() <= 0.1 for p in c.parameters())   # uniform in [-0.1, 0.1]
    assert c.w1.bias is None and c.w2.bias is None and c.v.bias is None and c.lstm.num_layers == 2


def test_scores_of_a_batch_are_per_architecture_and_defaults_are_the_seed_configs():
    c = make(4)
    archs = [Architecture.parse(t) for t in ("c3 c5:1 mp:01 ap:110", "mp ap:0 c1:11 c3:000")]
    both = c.score(archs)
    for k, a in enumerate(archs):
        one = c.score([a])
        for field in ("log_prob", "entropy", "skip_penalty"):
            torch.testing.assert_close(getattr(both, field)[k], getattr(one, field)[0])
    with pytest.raises(ValueError, match="not in this search space"):
        Controller(2, ops=("conv3x3", "maxpool3x3")).score([Architecture.parse("c5 mp:1")])
    from enas.config import Config
    seed, ctrl, rl = Config(), Controller(), Reinforce(Controller())
    assert (ctrl.temperature, ctrl.tanh_constant, ctrl.skip_target, ctrl.skip_reduce) == \
        (seed.temperature, seed.tanh_constant, seed.skip_target, seed.skip_reduce)
    assert (rl.entropy_weight, rl.baseline_decay, rl.skip_weight) == \
        (seed.entropy_weight, seed.baseline_decay, seed.skip_weight)
