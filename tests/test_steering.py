"""Steering a search: masked sampling (hand-computed), the engine's live changes, single steps, resume, the CLI."""
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from conftest import ROOT, tiny_config

from enas.constraints import ConstraintError, Constraints
from enas.controller import Controller, RandomSampler, Reinforce
from enas.engine.search import Engine
from enas.steering import Inbox, Steering, SteerError
from enas.runs.store import RunStore, load_file
from enas.space import OPS, Architecture, op_kernels

NODES = 4


def constrained(*changes, nodes=NODES) -> Constraints:
    c = Constraints()
    for text in changes:
        c = c.apply(text, nodes, OPS)
    return c


def hand_log_prob_and_entropy(ctrl: Controller, arch: Architecture, c: Constraints) -> tuple:
    """The restricted policy's log-probability and entropy of `arch`, from the unconstrained policy's
    teacher-forced probabilities: each node's op distribution renormalised over the allowed ops; forced skips
    are no decisions (the LSTM's states only depend on the decisions taken, the same in both)."""
    with torch.no_grad():
        s = ctrl.score([arch])
    lp = ent = 0.0
    for i, op in enumerate(arch.ops):
        p = s.op_probs[0, i]
        allowed = [OPS.index(o) for o in c.allowed(i, OPS)]
        q = p[allowed] / p[allowed].sum()
        lp += math.log(q[allowed.index(OPS.index(op))])
        ent -= float((q * q.log()).sum())
        for j in range(i):
            if (i, j) in c.skips:
                continue
            r = float(s.skip_probs[0, i, j])
            lp += math.log(r if arch.skips[i][j] else 1 - r)
            ent -= r * math.log(r) + (1 - r) * math.log(1 - r)
    return lp, ent


def test_constrained_controller_samples_only_what_is_allowed_with_the_renormalised_probabilities():
    torch.manual_seed(0)
    ctrl = Controller(NODES, OPS, lstm_size=16, lstm_layers=1, temperature=0, tanh_constant=2.5)
    c = constrained("ban maxpool3x3", "ban conv5x5@2", "pin avgpool3x3@1", "skip 2:0=on", "skip 3:1=off")
    sample = ctrl.sample(300, generator=torch.Generator().manual_seed(1), constraints=c)
    assert all(c.admits(a) for a in sample.archs)
    assert {a.ops[2] for a in sample.archs} == {"conv1x1", "conv3x3", "avgpool3x3"}   # the rest still drawn
    assert sample.op_probs[:, :, OPS.index("maxpool3x3")].max() == 0
    assert (sample.op_probs[:, 1, OPS.index("avgpool3x3")] == 1).all()
    assert (sample.skip_probs[:, 2, 0] == 1).all() and (sample.skip_probs[:, 3, 1] == 0).all()
    for b in range(5):
        lp, ent = hand_log_prob_and_entropy(ctrl, sample.archs[b], c)
        assert sample.log_prob[b].item() == pytest.approx(lp, abs=1e-4)
        assert sample.entropy[b].item() == pytest.approx(ent, abs=1e-4)
        scored = ctrl.score([sample.archs[b]], constraints=c)
        assert scored.log_prob.item() == pytest.approx(lp, abs=1e-4)


def test_a_fully_pinned_policy_has_zero_entropy_and_log_probability_and_trains_without_nans():
    torch.manual_seed(0)
    ctrl = Controller(3, OPS, lstm_size=16, lstm_layers=1)
    c = constrained("pin conv3x3@0", "pin conv1x1@1", "pin maxpool3x3@2", "skip 1:0=on", "skip 2:0=off",
                    "skip 2:1=on", nodes=3)
    s = ctrl.sample(4, constraints=c)
    assert {str(a) for a in s.archs} == {"c3 c1:1 mp:01"}
    assert s.entropy.abs().max() == 0 and s.log_prob.abs().max() == 0
    # a partial ban: REINFORCE's gradient stays finite through the masked logits
    c = constrained("ban conv3x3", "ban maxpool3x3@1", nodes=3)
    rf = Reinforce(ctrl, lr=0.1)
    sample = ctrl.sample(6, constraints=c)
    rf.step(sample, torch.linspace(0, 1, 6))
    assert all(torch.isfinite(p).all() for p in ctrl.parameters())


def test_random_sampler_is_uniform_over_what_is_allowed():
    c = constrained("ban conv1x1", "ban conv3x3@0", "pin conv5x5@3", "skip 3:2=on")
    s = RandomSampler(NODES, OPS).sample(2000, generator=torch.Generator().manual_seed(0), constraints=c)
    assert all(c.admits(a) for a in s.archs)
    node0 = [a.ops[0] for a in s.archs]
    for op in ("conv5x5", "maxpool3x3", "avgpool3x3"):   # 3 allowed: each ~1/3
        assert abs(node0.count(op) / 2000 - 1 / 3) < 0.04
    arch = s.archs[0]
    free = NODES * (NODES - 1) // 2 - 1
    on = arch.skip_count - 1
    choices = math.log(3) + math.log(4) * 2 + math.log(1)
    assert s.log_prob[0].item() == pytest.approx(-choices + free * math.log(0.5) + 0 * on, abs=1e-6)
    assert s.entropy[0].item() == pytest.approx(choices + free * math.log(2), abs=1e-6)
    assert s.op_probs[0, 0].tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3, 1 / 3])


def test_constraint_text_refuses_bad_input_clearly_and_changes_nothing():
    c = constrained("ban maxpool3x3@1")
    cases = {"ban maxpool9x9@1": "unknown op", "ban conv3x3@7": "out of range", "pin conv3x3": "needs a node",
             "skip 1:2=on": "does not exist", "skip 2:1=maybe": "on or", "frobnicate conv3x3": "unknown change",
             "ban conv3x3@x": "not a node number", "pin maxpool3x3@1": "banned there"}
    for text, message in cases.items():
        with pytest.raises(ConstraintError, match=message):
            c.apply(text, NODES, OPS)
    full = constrained("ban conv1x1@2", "ban conv3x3@2", "ban conv5x5@2", "ban maxpool3x3@2")
    with pytest.raises(ConstraintError, match="node 2 would have no op left"):
        full.apply("ban avgpool3x3@2", NODES, OPS)
    assert c == constrained("ban maxpool3x3@1")   # frozen: every refusal left it as it was
    assert Constraints.from_dict(json.loads(json.dumps(full.to_dict()))) == full
    assert constrained("ban maxpool3x3", "unban maxpool3x3@2").allowed(2, OPS) == list(OPS)


def test_steering_values_are_checked_against_the_fields_ranges():
    config = tiny_config()
    s = Steering.of(config)
    for request, message in (({"set": {"temperature": -1}}, "temperature"), ({"set": {"sampling": "sometimes"}},
                             "sampling"), ({"set": {"child_lr_scale": 11}}, "outside"),
                             ({"set": {"nodes": 3}}, "cannot be changed"), ({"bogus": 1}, "keys")):
        with pytest.raises(SteerError, match=message):
            s.change(request, config)
    with pytest.raises(SteerError, match="random search"):
        Steering.of(tiny_config(controller="random")).change({"set": {"temperature": 2}},
                                                             tiny_config(controller="random"))
    new, changes = s.change({"set": {"temperature": "2.5", "controller_steps": 4}}, config)
    assert new.values["temperature"] == 2.5 and changes[0] == {"what": "temperature", "old": 0.0, "new": 2.5}


def steer_at(engine, step, request):
    """A listener that asks `engine` for `request` once the child step `step` is reported."""
    def listen(ev):
        if ev["kind"] == "child_step" and ev["step"] == step:
            engine.control.steer(request, "test")
    return listen


def test_a_live_change_reaches_the_optimiser_and_samplers_at_the_next_step(tmp_path):
    config = tiny_config(epochs=3, nodes=3)
    seen = []
    engine = Engine(config, RunStore.create(tmp_path, "r", config))
    engine.listeners += [steer_at(engine, 5, {"set": {"controller_lr": 0.5, "controller_steps": 3},
                                              "constraints": ["ban maxpool3x3", "pin conv1x1@2"]}),
                         lambda ev: seen.append((ev, engine.reinforce.optimizer.param_groups[0]["lr"]))]
    engine.run(("search",))
    steer = [e for e, _ in seen if e["kind"] == "steer"]
    assert len(steer) == 1 and steer[0]["step"] == 5 and steer[0]["who"] == "test"
    first = next(i for i, (e, _) in enumerate(seen) if e["kind"] == "steer")
    ctrl = [(e, lr) for e, lr in seen[first:] if e["kind"] == "controller_step"]
    assert ctrl and all(lr == 0.5 for _, lr in ctrl)
    assert all(lr == config.controller_lr for e, lr in seen[:first] if e["kind"] == "controller_step")
    after = [e["arch"] for e, _ in seen[first:] if e["kind"] in ("sample", "child_step")]
    assert after and not any("mp" in a for a in after) and all(a.split()[2].startswith("c1") for a in after)
    assert sum(1 for e, _ in seen[first:] if e["kind"] == "controller_step") == 6   # 3 in each of epochs 1, 2
    policy = [e for e, _ in seen if e["kind"] == "policy"][-1]
    assert policy["constraints"] == engine.steering.constraints.to_dict()
    ranking = engine.derive()
    assert all("mp" not in r["arch"] for r in ranking)
    assert engine.store.events("derive_result")[-1]["constraints"]["pinned"] == {"2": "conv1x1"}


def test_a_change_in_mid_epoch_reaches_the_very_next_child_though_the_epochs_children_were_sampled_ahead():
    engine = Engine(tiny_config(epochs=1, steps_per_epoch=8, sampling="per-batch"))
    trained, child_step = [], engine.child_step
    engine.child_step = lambda x, y, arch: trained.append(str(arch)) or child_step(x, y, arch)
    calls, sample = [], engine.sampler.sample
    engine.sampler.sample = lambda n, **k: calls.append(n) or sample(n, **k)
    engine.listeners.append(steer_at(engine, 2, {"constraints": ["pin conv1x1@0", "pin conv1x1@1", "pin conv1x1@2"]}))
    engine.train_children(0)
    assert calls == [8, 6]   # the epoch's 8 children in one call, its last 6 again once the pins came at step 3
    assert len(trained) == 8 and len(set(trained[:2])) == 2
    assert not all(a.startswith("c1 c1:") for a in trained[:2])
    assert all([op.split(":")[0] for op in a.split()] == ["c1"] * 3 for a in trained[2:])
    per_epoch = Engine(tiny_config(epochs=1, steps_per_epoch=8, sampling="per-epoch"))
    calls.clear()
    own = per_epoch.sampler.sample
    per_epoch.sampler.sample = lambda n, **k: calls.append(n) or own(n, **k)
    per_epoch.train_children(0)
    assert calls == [1]   # one child for the epoch: nothing sampled ahead that it would not train


def test_a_refused_request_changes_nothing_and_says_why(tmp_path):
    config = tiny_config(epochs=1)
    engine = Engine(config, RunStore.create(tmp_path, "r", config))
    engine.listeners.append(steer_at(engine, 2, {"constraints": ["ban conv3x3", "pin maxpool3x3@9"],
                                                 "set": {"temperature": 3}}))
    engine.run(("search",))
    refused = engine.store.events("steer_refused")
    assert len(refused) == 1 and "out of range" in refused[0]["message"]
    assert engine.steering == Steering.of(config) and not engine.store.events("steer")


def test_single_steps_while_paused_show_what_moved(tmp_path):
    config = tiny_config(epochs=2, steps_per_epoch=3, controller_steps=1)
    engine = Engine(config, RunStore.create(tmp_path, "r", config))
    events = []
    engine.listeners.append(events.append)

    def listen(ev):   # pause after the first child step, then step through: 2 child steps, 1 controller step
        if ev["kind"] == "child_step" and ev["step"] == 1:
            engine.control.pause()
            for _ in range(3):
                engine.control.step()
    engine.listeners.append(listen)
    thread = threading.Thread(target=engine.run, args=(("search",),))
    thread.start()
    deadline = time.monotonic() + 300
    while len([e for e in events if e["kind"] == "step_detail"]) < 3:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert engine.step == 3 and engine.ctrl_step == 1 and engine.control.paused   # stepped, paused again
    details = [e for e in events if e["kind"] == "step_detail"]
    child, ctrl = details[0], details[2]
    arch = Architecture.parse(child["arch"])
    weighted = [(i, op) for i, op in enumerate(arch.ops) if op_kernels(op, config.bn) or config.bn != "node"]
    path = {f"node {i} {op}" for i, op in weighted} | {f"node {i} BN" for i in range(1, 3)}
    assert set(child["moved"]) == path | {"stem", "tail", "classifier"}   # exactly the child's path moved
    assert ctrl["what"] == "controller" and len(ctrl["advantage"]) == config.controller_children
    rewards = [e["reward"] for e in events if e["kind"] == "sample"]
    assert ctrl["reward"] == pytest.approx(rewards, abs=1e-6)
    # the first step's moving-average baseline is its mean reward: every advantage is reward minus that mean
    mean = sum(rewards) / len(rewards)
    assert ctrl["advantage"] == pytest.approx([r - mean for r in rewards], abs=1e-6)
    assert ctrl["baseline"] == pytest.approx([mean] * 3, abs=1e-6)
    decay = config.baseline_decay
    after = mean
    for r in rewards:
        after = decay * after + (1 - decay) * r
    assert ctrl["baseline_after"] == pytest.approx(after, abs=1e-6)
    assert ctrl["op_probs_before"] != ctrl["op_probs_after"]
    assert [e["status"] for e in events if e["kind"] == "status"].count("paused") == 1   # told once
    engine.control.resume()
    thread.join(300)
    assert engine.epoch == 2


KILL = """
import os, signal, sys
from enas.config import Config
from enas.engine.search import Engine
from enas.runs.store import RunStore
config = Config.from_dict({config}, preset="quick")
store = RunStore.create(sys.argv[1], sys.argv[2], config)
engine = Engine(config, store)
def listen(ev):
    if ev["kind"] == "child_step" and ev["step"] == {steer}:
        engine.control.steer({request}, "test")
    if ev["kind"] == "child_step" and ev["step"] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
engine.listeners.append(listen)
engine.run(("search",))
"""


@pytest.mark.parametrize("kill_at", [7, 13])   # before the next checkpoint (replayed) and after it (stored)
def test_a_steered_run_killed_and_resumed_ends_as_the_unkilled_one(tmp_path, kill_at):
    config = tiny_config(epochs=4).to_dict()
    request = {"constraints": ["ban conv5x5", "skip 2:0=on"], "set": {"temperature": 2.0, "child_lr_scale": 0.5}}
    script = KILL.format(config=repr(config), steer=6, request=repr(request))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = tmp_path / "runs"
    subprocess.run([sys.executable, "-c", script, str(runs), "straight", "0"], check=True, env=env, timeout=300,
                   cwd=ROOT)
    killed = subprocess.run([sys.executable, "-c", script, str(runs), "killed", str(kill_at)], env=env,
                            timeout=300, cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL
    subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs), "search", "--resume", "killed"],
                   check=True, env=env, timeout=300, cwd=ROOT, capture_output=True)
    a, b = RunStore.open(runs, "straight"), RunStore.open(runs, "killed")
    sa, sb = (load_file(s.checkpoints()[-1]) for s in (a, b))
    assert sa["epoch"] == sb["epoch"] == 4 and sa["steering"] == sb["steering"]
    assert sa["steering"]["values"]["temperature"] == 2.0
    for k in sa["supergraph"]:
        assert torch.equal(sa["supergraph"][k], sb["supergraph"][k]), k
    assert [e["arch"] for e in a.events("sample")] == [e["arch"] for e in b.events("sample")]
    assert len(b.events("steer")) == 1 and b.events("steer")[0]["step"] == 6


def test_steer_from_another_process_reaches_a_running_search(tmp_path):
    runs = tmp_path / "runs"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**tiny_config().to_dict(), "epochs": 10_000, "steps_per_epoch": 2}))
    flags = ["--config", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "enas", "--runs-dir", str(runs)]
    search = subprocess.Popen(cli + ["search", "--name", "live"] + flags, env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (runs / "live" / "run.db").exists() or RunStore.open(runs, "live").status() != "running":
            assert search.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        bad = subprocess.run(cli + ["steer", "live", "--ban", "maxpool3x3@7"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and "node 7 is out of range" in bad.stderr and not Inbox(runs / "live").take()
        ok = subprocess.run(cli + ["steer", "live", "--ban", "maxpool3x3", "--temperature", "3", "--wait", "120"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert ok.returncode == 0, ok.stderr
        assert "temperature: 0.0 -> 3.0" in ok.stdout and "ban maxpool3x3" in ok.stdout
        store = RunStore.open(runs, "live")
        steer = store.events("steer")[-1]
        assert steer["who"].startswith("cli (") and steer["state"]["values"]["temperature"] == 3.0
        paused = subprocess.run(cli + ["steer", "live", "--pause", "--wait", "120"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=180)
        assert paused.returncode == 0
        deadline = time.monotonic() + 120
        while store.status() != "paused":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        after = [e["arch"] for e in store.events("child_step") if e["id"] > steer["id"]]
        assert not any("mp" in a for a in after)
    finally:
        search.kill()
        search.wait(60)


def test_interventions_reach_the_slides_a_recording_and_its_replay(tmp_path):
    from enas.runs import recording
    from enas.runs.live import LiveRun
    from enas.teach.frames import frames
    from enas.teach.slides_gif import render

    config = tiny_config(epochs=3)
    engine = Engine(config, RunStore.create(tmp_path / "runs", "r", config))
    engine.listeners.append(steer_at(engine, 6, {"constraints": ["ban conv1x1@0"], "set": {"temperature": 4}}))
    engine.run(("search",))
    slides = frames(engine.store)
    assert [f.steered for f in slides] == ["", "ban conv1x1@0; temperature 4.0", ""]   # made in epoch 2
    assert render(slides[1], "r").size == (1280, 720)
    path = tmp_path / "r.json.gz"
    recording.save(engine.store, path)
    replayed = RunStore.open(recording.materialize(path, "r", tmp_path / "cache"), "r")
    live = LiveRun(replayed.config())
    live.replay(replayed)
    (mark,) = live.interventions()
    assert (mark["step"], mark["epoch"], mark["label"]) == (6, 1, "ban conv1x1@0; temperature 4.0")
    assert mark["epoch_x"] > 1 and mark["epoch_x"] < 2 and live.steering["values"]["temperature"] == 4.0


def test_random_search_is_steered_through_the_same_loop(tmp_path):
    config = tiny_config(epochs=2, controller="random")
    engine = Engine(config, RunStore.create(tmp_path, "r", config))
    engine.listeners.append(steer_at(engine, 2, {"constraints": ["pin avgpool3x3@0"], "set": {"temperature": 2}}))
    engine.listeners.append(steer_at(engine, 3, {"constraints": ["pin avgpool3x3@0", "ban conv1x1"]}))
    engine.run(("search",))
    assert "random search" in engine.store.events("steer_refused")[0]["message"]   # no controller: refused whole
    (steer,) = engine.store.events("steer")
    archs = [e["arch"] for e in engine.store.events("child_step") if e["id"] > steer["id"]]
    assert archs and all(a.startswith("ap ") and "c1" not in a for a in archs)


def test_a_pinned_node_is_no_collapse_and_a_restricted_entropy_no_warning():
    from enas.quality.health import HealthCheck
    archs = [Architecture.parse(f"c3 {op}:{k % 2}") for k, op in enumerate(("c1", "c5", "ap", "mp", "c3") * 10)]
    plain, steered = HealthCheck(window=50), HealthCheck(window=50)   # node 0 is always conv3x3
    steered.steer(constrained("pin conv3x3@0", nodes=2), 2, OPS)
    codes = [w["code"] for w in plain.update(10.0, archs) + plain.update(1.0, [])]
    assert "op-0" in codes and "entropy" in codes
    assert [w["code"] for w in steered.update(10.0, archs) + steered.update(1.0, [])] == []
    steered.steer(Constraints(), 2, OPS)   # lifted: node 0 is checked again
    assert [w["code"] for w in steered.update(10.0, archs[:1])] == ["op-0"]


def test_a_single_step_asked_for_between_two_epochs_runs_the_next_child_step(tmp_path):
    config = tiny_config(epochs=3)
    engine = Engine(config, RunStore.create(tmp_path, "r", config))
    details = []

    def listen(ev):   # paused at the end of epoch 1: the wait before epoch 2 is not a step
        if ev["kind"] == "epoch" and ev["epoch"] == 0:
            engine.control.pause()
            engine.control.step()
        if ev["kind"] == "step_detail":
            details.append(ev)
    engine.listeners.append(listen)
    thread = threading.Thread(target=engine.run, args=(("search",),))
    thread.start()
    deadline = time.monotonic() + 300
    while not details:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert details[0]["what"] == "child" and details[0]["step"] == config.steps_per_epoch + 1
    assert engine.step == config.steps_per_epoch + 1 and engine.control.paused
    engine.control.resume()
    thread.join(300)


def test_steering_changes_say_what_changed_and_clear_lifts_everything():
    config = tiny_config()
    s = Steering.of(config)
    s, changes = s.change({"constraints": ["ban mp@1", "skip 2:0=off"], "set": {"child_lr_scale": "0.5"}}, config)
    assert changes == [{"what": "ban mp@1", "old": "none", "new": "maxpool3x3 banned at 1"},
                       {"what": "skip 2:0=off", "old": "maxpool3x3 banned at 1",
                        "new": "maxpool3x3 banned at 1; skip 2:0 off"},
                       {"what": "child_lr_scale", "old": 1.0, "new": 0.5}]
    assert s.describe(config) == "child_lr_scale 0.5 (was 1); maxpool3x3 banned at 1; skip 2:0 off"
    assert Steering.from_dict(json.loads(json.dumps(s.to_dict())), config) == s
    same, none = s.change({"constraints": ["ban mp@1"], "set": {"child_lr_scale": 0.5}}, config)
    assert none == [] and same == s   # already in force: no change
    cleared, changes = s.change({"clear": True}, config)
    assert cleared.constraints == Constraints() and cleared.values["child_lr_scale"] == 0.5
    assert changes == [{"what": "lift every constraint", "old": "maxpool3x3 banned at 1; skip 2:0 off",
                        "new": "none"}]
    for request, message in (({"set": {"child_lr_scale": "fast"}}, "child_lr_scale: 'fast' is not a number"),
                             ({"set": {"controller_lr": -1}}, "controller_lr")):
        with pytest.raises(SteerError, match=message):
            s.change(request, config)
    never = tiny_config(controller_steps=0)
    with pytest.raises(SteerError, match="never trains its controller"):
        Steering.of(never).change({"set": {"controller_steps": 3}}, never)
    assert Steering.of(config).change({"set": {"controller_steps": 0}}, config)[0].values["controller_steps"] == 0


def test_the_inbox_hands_over_requests_in_order_and_refuses_unreadable_ones(tmp_path):
    inbox = Inbox(tmp_path)
    assert inbox.take() == []   # no folder yet
    first = inbox.put({"set": {"temperature": 2}}, "a")
    second = inbox.put({"clear": True}, "b")
    (tmp_path / "steer" / "zz-broken.json").write_text("{not json")
    items = inbox.take()
    assert [(i["id"], i["who"], i["request"]) for i in items[:2]] == [(first, "a", {"set": {"temperature": 2}}),
                                                                     (second, "b", {"clear": True})]
    assert "unreadable request zz-broken.json" in items[2]["error"] and items[2]["request"] == {}
    assert inbox.pending(first)   # taken, not yet done: the sender still waits
    for item in items:
        Inbox.done(item)
    assert not inbox.pending(first) and inbox.take() == []
    assert not list((tmp_path / "steer").glob(".*.tmp"))   # written aside, then renamed


def test_admits_checks_every_constraint_and_short_names_work():
    c = constrained("ban c5@0", "pin ap@1", "skip 2:1=on")
    assert c.admits(Architecture.parse("c3 ap:0 c1:01"))
    for bad in ("c5 ap:0 c1:01", "c3 mp:0 c1:01", "c3 ap:0 c1:00"):
        assert not c.admits(Architecture.parse(bad)), bad
    assert c.allowed(0, OPS) == ["conv1x1", "conv3x3", "maxpool3x3", "avgpool3x3"] and c.allowed(1, OPS) == ["avgpool3x3"]
    with pytest.raises(ConstraintError, match="not in this run's space"):
        constrained("ban c5@0").check(NODES, ("conv3x3", "maxpool3x3"))
    with pytest.raises(ConstraintError, match="breaks the constraints"):
        Controller(NODES, OPS, lstm_size=8).score([Architecture.parse("c5 c3:0 c3:00 c3:000")], constraints=c)
