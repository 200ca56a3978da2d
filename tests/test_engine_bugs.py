"""Engine bugs that once passed every engine test (issue 18, item 9), each pinned against values computed here by
hand: rewards scored on un-augmented validation images, logits shaped as c tanh(l / T) (temperature first), and
the shared weights' learning rate following its cosine at every step (or, with lr_tmax_epochs, once per epoch)."""
import math

import pytest
import torch
from conftest import tiny_config

from enas.controller import Controller
from enas.data.device import DeviceData
from enas.engine.search import Engine
from enas.space import Architecture

# --- (1) rewards are scored on the stored validation images, never augmented ------------------------------------

def recording(engine):
    """Record every (x, arch) the supergraph is called with."""
    calls, forward = [], engine.supergraph.forward
    engine.supergraph.forward = lambda x, arch: calls.append((x.clone(), arch)) or forward(x, arch)
    return calls


def test_rewards_are_the_accuracy_on_un_augmented_validation_minibatches():
    config = tiny_config(epochs=1, controller_steps=2, controller_children=3)
    engine = Engine(config)
    engine.train_children(0)                          # shared weights that tell the images apart a little
    events = []
    engine.listeners.append(events.append)
    gen = torch.Generator()
    gen.set_state(engine.data_gen.get_state())         # the rewards' minibatches come from the data stream
    calls = recording(engine)
    engine.train_controller(0)
    samples = [e for e in events if e["kind"] == "sample"]
    assert len(calls) == len(samples) == 6

    val = engine.dataset.val
    mean = torch.tensor(engine.dataset.mean).view(1, 3, 1, 1)
    std = torch.tensor(engine.dataset.std).view(1, 3, 1, 1)
    del engine.supergraph.forward                   # stop recording
    for (x, arch), event in zip(calls, samples):
        # a random minibatch without repeats, normalised by hand from the stored uint8 images: no crop, no flip
        idx = torch.randperm(len(val.images), generator=gen)[:config.batch_size]
        x_ref, y_ref = (val.images[idx].float() / 255 - mean) / std, val.labels[idx]
        torch.testing.assert_close(x, x_ref, rtol=0, atol=1e-5)
        assert str(arch) == event["arch"]
        with torch.no_grad():
            acc = (engine.supergraph(x_ref, arch).argmax(1) == y_ref).float().mean().item()
        assert event["accuracy"] == pytest.approx(acc, abs=1e-6)
    # the check can tell: the same minibatch augmented is other images
    augmenting = DeviceData(val, engine.dataset.mean, engine.dataset.std, augment=True)
    g = torch.Generator().manual_seed(0)
    plain = augmenting.random_batch(config.batch_size, g, augment=False)[0]
    g.manual_seed(0)
    assert not torch.allclose(augmenting.random_batch(config.batch_size, g)[0], plain)


def test_the_rewards_of_given_archs_use_the_validation_images_of_their_generator():
    engine = Engine(tiny_config(epochs=1))
    archs = [Architecture.parse("c3 c5:1 mp:01"), Architecture.parse("ap mp:0 c1:11")]
    calls = recording(engine)
    rewards = engine.rewards(archs, torch.Generator().manual_seed(5))
    del engine.supergraph.forward
    assert len(calls) == 2
    g = torch.Generator().manual_seed(5)
    val, bs = engine.dataset.val, engine.config.batch_size
    mean = torch.tensor(engine.dataset.mean).view(1, 3, 1, 1)
    std = torch.tensor(engine.dataset.std).view(1, 3, 1, 1)
    expected = []
    for x, arch in calls:
        idx = torch.randperm(len(val.images), generator=g)[:bs]
        torch.testing.assert_close(x, (val.images[idx].float() / 255 - mean) / std, rtol=0, atol=1e-5)
        with torch.no_grad():
            expected.append((engine.supergraph(x, arch).argmax(1) == val.labels[idx]).float().mean().item())
    assert [a for _, a in calls] == archs
    assert rewards.tolist() == pytest.approx(expected, abs=1e-6)


# --- (2) temperature first, then the tanh constant: l -> c tanh(l / T) ------------------------------------------

@pytest.mark.parametrize("temperature, tanh", [(2.0, 1.5), (5.0, 2.5), (0.0, 1.5), (4.0, 0.0), (0.0, 0.0)])
def test_shape_divides_by_the_temperature_before_the_tanh(temperature, tanh):
    c = Controller(3, lstm_size=16, temperature=temperature, tanh_constant=tanh)
    logits = [-20.0, -4.0, -1.0, -0.3, 0.0, 0.5, 2.0, 7.0, 30.0]
    expected = []
    for v in logits:
        v = v / temperature if temperature else v
        expected.append(tanh * math.tanh(v) if tanh else v)
    assert c.shape(torch.tensor(logits)).tolist() == pytest.approx(expected, rel=1e-6, abs=1e-6)


def hand_score(c, arch, T, k):
    """Log-probability of `arch` from the controller's raw logits, shaped by hand as k tanh(l / T)."""
    inputs, state, anchors, log_prob = c.start, None, [], 0.0
    for i in range(arch.nodes):
        out, state = c.lstm(inputs.unsqueeze(0), state)
        raw = c.op_head(out[0])[0].tolist()
        shaped = [k * math.tanh(v / T) for v in raw]
        op = c.ops.index(arch.ops[i])
        log_prob += shaped[op] - math.log(sum(math.exp(s) for s in shaped))
        out, state = c.lstm(c.op_embedding(torch.tensor([op])).unsqueeze(0), state)
        h = out[0]
        chosen = torch.zeros_like(h)
        for j, bit in enumerate(arch.skips[i]):
            q = c.v(torch.tanh(c.w1(anchors[j]) + c.w2(h))).item()
            p = 1 / (1 + math.exp(-2 * k * math.tanh(q / T)))     # two-way softmax over (-q', q')
            log_prob += math.log(p if bit else 1 - p)
            chosen = chosen + bit * anchors[j]
        inputs = chosen / (1 + sum(arch.skips[i])) if i > 0 else c.start
        anchors.append(h)
    return log_prob


@pytest.mark.parametrize("text", ["c3 c5:1 mp:01 ap:110", "mp ap:0 c1:11 c3:000"])
def test_log_probs_are_those_of_logits_shaped_by_hand(text):
    T, k = 3.0, 2.0
    torch.manual_seed(0)
    c = Controller(4, lstm_size=16, lstm_layers=2, temperature=T, tanh_constant=k)
    arch = Architecture.parse(text)
    with torch.no_grad():
        for p in c.parameters():
            p.mul_(10)
        c.op_head.weight.mul_(30)   # raw op logits up to 7 and skip logits near -3.5 (T = 3): unsaturated, and
                                    # far from 0, where tanh(l) / T and tanh(l / T) part
        raw = c.op_head(c.lstm(c.start.unsqueeze(0))[0][0])[0]
        assert raw.abs().max().item() > 2 * T
        s = c.score([arch])
        expected = hand_score(c, arch, T, k)
    assert s.log_prob.item() == pytest.approx(expected, rel=1e-4, abs=1e-5)
    with torch.no_grad():   # and the op probabilities at node 0, from the raw logits by hand
        assert s.op_probs[0, 0].tolist() == pytest.approx(torch.softmax(k * torch.tanh(raw / T), 0).tolist(),
                                                          abs=1e-6)


# --- (3) the shared weights' learning rate at every child step ----------------------------------------------------

def child_step_rates(config):
    """The rate in the child optimiser when each child step runs, and the rates the events report."""
    engine = Engine(config)
    seen, step = [], engine.child_step

    def recorded(x, y, arch):
        seen.append([g["lr"] for g in engine.child_opt.param_groups])
        return step(x, y, arch)
    engine.child_step = recorded
    events = []
    engine.listeners.append(events.append)
    engine.search()
    assert all(len(set(rates)) == 1 for rates in seen)
    return [rates[0] for rates in seen], [e["lr"] for e in events if e["kind"] == "child_step"]


def test_child_lr_follows_one_cosine_at_every_step():
    """lr_tmax_epochs 0 (quick, enas-paper): at step i of epoch e, t = e + i / steps, the rate is
    lr_min + (lr_max - lr_min) (1 + cos(pi t / epochs)) / 2: it changes within an epoch."""
    epochs, steps, hi, lo = 2, 4, 0.1, 0.01
    config = tiny_config(epochs=epochs, steps_per_epoch=steps, child_lr=hi, child_lr_min=lo, lr_tmax_epochs=0,
                         controller_steps=0)
    seen, reported = child_step_rates(config)
    ts = [e + i / steps for e in range(epochs) for i in range(steps)]
    expected = [lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * t / epochs)) for t in ts]
    assert expected[:4] == pytest.approx([0.1, 0.096575, 0.08682, 0.072221], abs=1e-6)
    assert seen == pytest.approx(expected, rel=1e-12) and reported == pytest.approx(expected, rel=1e-12)
    assert len(set(seen[:steps])) == steps     # a new rate at every step of an epoch


def test_child_lr_warm_restarts_at_every_step():
    """lr_restart_epochs 1, mult 2 (SGDR): cycles [0, 1) and [1, 3), the rate set at every step."""
    epochs, steps, hi, lo = 3, 4, 0.1, 0.0
    config = tiny_config(epochs=epochs, steps_per_epoch=steps, child_lr=hi, child_lr_min=lo, lr_tmax_epochs=0,
                         lr_restart_epochs=1, lr_restart_mult=2, controller_steps=0)
    seen, _ = child_step_rates(config)
    expected = []
    for e in range(epochs):
        for i in range(steps):
            t = e + i / steps
            within, length = (t, 1) if t < 1 else (t - 1, 2)
            expected.append(0.5 * hi * (1 + math.cos(math.pi * within / length)))
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert seen[steps] == pytest.approx(hi)    # the restart


def test_child_lr_of_the_seed_schedule_is_set_once_per_epoch():
    """lr_tmax_epochs 2 (seed: PyTorch's CosineAnnealingLR stepped per epoch) is constant within an epoch by
    design: lr_min + (lr_max - lr_min) (1 + cos(pi e / 2)) / 2 for every step of epoch e."""
    epochs, steps, hi, lo = 3, 4, 0.08, 0.02
    config = tiny_config(epochs=epochs, steps_per_epoch=steps, child_lr=hi, child_lr_min=lo, lr_tmax_epochs=2,
                         controller_steps=0)
    seen, _ = child_step_rates(config)
    expected = [lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * e / 2)) for e in range(epochs) for _ in range(steps)]
    assert seen == pytest.approx(expected, rel=1e-12)
    assert expected[::steps] == pytest.approx([0.08, 0.05, 0.02])
