"""The search loop end to end: phases, events, exact resume, pause/stop from threads, failures, NaN and disk errors."""
import dataclasses
import math
import threading
import time

import pytest
import torch
from conftest import tiny_config, wait

from enas.engine.children import cosine_lr, evaluate
from enas.engine.control import Control
from enas.engine.search import Engine, load_data
from enas.model import ChildNet
from enas.runs.store import RunStore, StoreError, load_file
from enas.space import Architecture


def run_engine(runs_dir, name, config, listeners=(), phases=("search",), control=None):
    store = RunStore.create(runs_dir, name, config)
    engine = Engine(config, store, listeners, control)
    return engine, engine.run(phases)


def test_cosine_lr():
    assert cosine_lr(0, 10, 0.05, 0.001) == pytest.approx(0.05)
    assert cosine_lr(5, 10, 0.05, 0.001) == pytest.approx(0.0255)
    assert cosine_lr(10, 10, 0.05, 0.001) == pytest.approx(0.001)
    # warm restarts: cycles of 2, 4, 8 epochs
    assert cosine_lr(2, 14, 0.1, 0.0, 2, 2) == pytest.approx(0.1)
    assert cosine_lr(4, 14, 0.1, 0.0, 2, 2) == pytest.approx(0.05)
    assert cosine_lr(6, 14, 0.1, 0.0, 2, 2) == pytest.approx(0.1)


def test_tiny_search_derive_and_final_training(runs_dir):
    events = []
    engine, status = run_engine(runs_dir, "e2e", tiny_config(), [events.append], ("search", "derive", "final"))
    assert status == "finished"
    kinds = [e["kind"] for e in events]
    assert kinds.count("child_step") == 2 * 4 and kinds.count("controller_step") == 2 * 2
    assert kinds.count("sample") == 2 * 2 * 3 and kinds.count("epoch") == 2 and kinds.count("policy") == 2
    store = engine.store
    assert [e["epoch"] for e in store.events("epoch")] == [0, 1]
    assert len(store.events("sample")) == 12
    policy = store.events("policy")[-1]
    assert len(policy["op_probs"]) == 3 and all(abs(sum(row) - 1) < 1e-5 for row in policy["op_probs"])
    ranking = store.events("derive_result")[0]["ranking"]
    assert sum(r["count"] for r in ranking) == 4
    assert ranking == sorted(ranking, key=lambda r: -r["val_acc"])
    best = Architecture.from_json((store.path / "best.json").read_text())
    assert str(best) == (store.path / "best.txt").read_text().strip() == ranking[0]["arch"]
    result = store.meta()["result"]
    assert result["arch"] == str(best) and 0 <= result["val_acc"] <= 1 and 0 <= result["test_acc"] <= 1
    saved = load_file(store.path / "final.pt")
    net = ChildNet(Architecture.from_dict(saved["arch"]), saved["channels"], len(saved["classes"]))
    net.load_state_dict(saved["state_dict"])
    assert store.status() == "finished"
    assert [p.name for p in store.checkpoints()] == ["ckpt-00001.pt", "ckpt-00002.pt"]


def test_random_search_runs_through_the_same_loop(runs_dir):
    engine, status = run_engine(runs_dir, "rnd", tiny_config(controller="random"), phases=("search", "derive"))
    assert status == "finished"
    assert all(e["controller_loss"] == 0 for e in engine.store.events("controller_step"))


def test_per_epoch_sampling_trains_one_child_per_epoch(runs_dir):
    events = []
    run_engine(runs_dir, "pe", tiny_config(sampling="per-epoch", epochs=2), [events.append])
    for epoch in (0, 1):
        archs = {e["arch"] for e in events if e["kind"] == "child_step" and e["epoch"] == epoch}
        assert len(archs) == 1


def comparable(events):
    drop = {"id", "t", "seconds", "images_per_s"}
    return [{k: v for k, v in e.items() if k not in drop} for e in events]


def test_exact_resume_equals_a_straight_run(runs_dir):
    torch.use_deterministic_algorithms(True)
    try:
        config = tiny_config(epochs=3)
        straight, _ = run_engine(runs_dir, "straight", config)

        control = Control()
        stop_after_first = lambda e: e["kind"] == "epoch" and control.stop()  # noqa: E731
        first, status = run_engine(runs_dir, "resumed", config, [stop_after_first], control=control)
        assert status == "stopped" and first.epoch == 1
        store = RunStore.open(runs_dir, "resumed")
        assert store.status() == "stopped"
        second = Engine(config, store)
        assert second.run() == "finished"
    finally:
        torch.use_deterministic_algorithms(False)
    for k, v in straight.supergraph.state_dict().items():
        torch.testing.assert_close(second.supergraph.state_dict()[k], v, rtol=0, atol=0)
    for k, v in straight.sampler.state_dict().items():
        torch.testing.assert_close(second.sampler.state_dict()[k], v, rtol=0, atol=0)
    assert second.reinforce.baseline == straight.reinforce.baseline
    for kind in ("child_step", "controller_step", "sample", "epoch", "policy"):
        assert comparable(second.store.events(kind)) == comparable(straight.store.events(kind)), kind


def test_pause_resume_and_stop_act_within_a_step_from_another_thread(runs_dir):
    config = tiny_config(epochs=50, steps_per_epoch=8)
    store = RunStore.create(runs_dir, "threads", config)
    steps = []
    engine = Engine(config, store, [lambda e: e["kind"] == "child_step" and steps.append(e["step"])])
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    wait(lambda: len(steps) >= 3, what="three steps")
    asked = len(steps)
    engine.control.pause()
    wait(lambda: store.status() == "paused", what="the pause")   # set between two steps, before it blocks
    paused_at = len(steps)
    assert paused_at <= asked + 1                                  # at most the step under way finished
    time.sleep(1.0)                                                # nothing happens while paused
    assert len(steps) == paused_at and store.status() == "paused" and thread.is_alive()
    engine.control.resume()
    wait(lambda: len(steps) >= paused_at + 3, what="training to go on")
    assert store.status() == "running"
    engine.control.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert store.status() == "stopped" and engine.epoch < 50


def test_an_exception_in_the_thread_marks_the_run_failed_with_its_traceback(runs_dir):
    def boom(e):
        if e["kind"] == "child_step" and e["step"] == 3:
            raise RuntimeError("simulated failure in step 3")
    store = RunStore.create(runs_dir, "fails", tiny_config())
    engine = Engine(tiny_config(), store, [boom])
    errors = []
    thread = threading.Thread(target=lambda: _catch(engine.run, errors))
    thread.start()
    thread.join(timeout=60)
    assert isinstance(errors[0], RuntimeError)
    assert store.status() == "failed"
    meta = store.meta()
    assert meta["message"] == "RuntimeError: simulated failure in step 3"
    assert "Traceback" in meta["traceback"] and "boom" in (store.path / "error.txt").read_text()


def _catch(fn, errors):
    try:
        fn()
    except Exception as e:  # the test inspects it
        errors.append(e)


def test_non_finite_loss_pauses_naming_the_step_and_resume_restarts_from_the_checkpoint(runs_dir):
    config = tiny_config(epochs=3)
    alerts = []
    holder = {}

    def poison(e):
        if e["kind"] == "child_step" and e["step"] == 5 and "done" not in holder:  # after checkpoint 1
            holder["done"] = True
            with torch.no_grad():
                for p in holder["engine"].supergraph.parameters():
                    p.fill_(float("nan"))
        if e["kind"] == "alert":
            alerts.append(e["message"])
        if e["kind"] == "status":
            statuses.append(e["status"])
    statuses = []
    store = RunStore.create(runs_dir, "nan", config)
    engine = holder["engine"] = Engine(config, store, [poison])
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    wait(lambda: store.status() == "paused", what="the pause on a non-finite loss")
    message = store.meta()["message"]
    assert "non-finite loss" in message and "at step 6 (epoch 1)" in message
    assert "continue from the last checkpoint (epoch 1)" in message
    engine.control.resume()
    thread.join(timeout=60)
    assert store.status() == "finished" and engine.epoch == 3
    assert alerts[-1] == message and message not in alerts[:-1]    # one alert, the message of the pause
    (error,) = [e for e in store.events("alert") if e["level"] == "error"]
    assert error["message"] == message and error["epoch"] == 1 and error["step"] == engine.store.events(
        "epoch")[0]["step"]                                         # where the run restarts: the checkpoint
    assert statuses[-3:] == ["paused", "running", "finished"]
    assert all(math.isfinite(p.sum().item()) for p in engine.supergraph.parameters())
    assert all(math.isfinite(e["loss"]) for e in store.events("child_step"))


def test_a_failed_checkpoint_write_pauses_keeps_the_old_one_and_retries(runs_dir, monkeypatch):
    config = tiny_config(epochs=2)
    store = RunStore.create(runs_dir, "disk", config)
    real = store.save_checkpoint
    calls = []

    def flaky(state, epoch, keep=2):
        calls.append(epoch)
        if epoch == 2 and calls.count(2) == 1:
            raise OSError(28, "No space left on device")
        return real(state, epoch, keep)
    monkeypatch.setattr(store, "save_checkpoint", flaky)
    engine = Engine(config, store)
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    wait(lambda: store.status() == "paused", what="the pause on a failed checkpoint write")
    assert "could not write the checkpoint of epoch 2" in store.meta()["message"]
    assert "No space left on device" in store.meta()["message"]
    assert [p.name for p in store.checkpoints()] == ["ckpt-00001.pt"]
    engine.control.resume()
    thread.join(timeout=60)
    assert store.status() == "finished"
    assert [p.name for p in store.checkpoints()] == ["ckpt-00001.pt", "ckpt-00002.pt"]


@pytest.mark.parametrize("flags, precision, warned", [
    ({"avx2", "fma"}, "bf16", True),
    ({"avx2", "avx512_bf16"}, "bf16", False),
    ({"avx2", "amx_bf16"}, "fp16", True),
    ({"avx2"}, "fp32", False),
])
def test_mixed_precision_on_a_cpu_without_it_warns_once_at_the_start(runs_dir, monkeypatch, flags, precision, warned):
    import enas.hardware
    monkeypatch.setattr(enas.hardware, "cpu_flags", lambda: flags)
    config = tiny_config(precision=precision, epochs=1, steps_per_epoch=1, controller_steps=1)
    engine, status = run_engine(runs_dir, f"p-{precision}-{len(flags)}", config)
    assert status == "finished"
    warnings = [e["message"] for e in engine.store.events("alert") if e["level"] == "warning"]
    assert len(warnings) == warned
    if warned:
        assert f"{precision} autocast on this CPU is emulated" in warnings[0] and "--precision fp32" in warnings[0]


def test_per_batch_sampling_trains_a_new_child_every_step(runs_dir):
    events = []
    run_engine(runs_dir, "pb", tiny_config(sampling="per-batch", epochs=1, steps_per_epoch=6), [events.append])
    archs = [e["arch"] for e in events if e["kind"] == "child_step"]
    assert len(archs) == 6 and len(set(archs)) >= 4  # 1,000 architectures: repeats are rare


def test_cosine_annealing_lr_of_the_seed_notebook():
    """CosineAnnealingLR(T_max=2) stepped per epoch: max, middle, min, middle, max, ... constant within an epoch."""
    lrs = [cosine_lr(t, 100, 0.05, 0.001, tmax=2) for t in (0, 0.5, 1, 1.9, 2, 3, 4)]
    assert lrs == pytest.approx([0.05, 0.05, 0.0255, 0.0255, 0.001, 0.0255, 0.05])


def test_controller_trained_every_kth_epoch_with_the_seed_schedule(runs_dir):
    events = []
    config = tiny_config(epochs=4, controller_every=2, lr_tmax_epochs=2, child_lr=0.08, child_lr_min=0.0)
    run_engine(runs_dir, "every", config, [events.append])
    trained = sorted({e["epoch"] for e in events if e["kind"] == "controller_step"})
    assert trained == [1, 3]  # after the 2nd and 4th epochs, as ENAS's controller_train_every
    assert [e["val_acc"] is None for e in events if e["kind"] == "epoch"] == [True, False, True, False]
    lrs = {e["epoch"]: e["lr"] for e in events if e["kind"] == "child_step"}
    assert [lrs[k] for k in range(4)] == pytest.approx([0.08, 0.04, 0.0, 0.04])


def test_reward_is_accuracy_plus_the_entropy_bonus(runs_dir):
    events = []
    run_engine(runs_dir, "ent", tiny_config(epochs=1, entropy_weight=0.5), [events.append])
    steps = [e for e in events if e["kind"] == "controller_step"]
    assert steps and all(e["reward"] == pytest.approx(e["accuracy"] + 0.5 * e["entropy"], rel=1e-5) for e in steps)
    assert all(e["entropy"] > 1 for e in steps)


def test_random_streams_differ_between_purposes_and_seeds():
    firsts = {}
    for seed in (0, 1, 2):
        engine = Engine(tiny_config(seed=seed))
        for name in ("data_gen", "ctrl_gen"):
            firsts[seed, name] = torch.randint(0, 2**31, (4,), generator=getattr(engine, name)).tolist()
    values = [tuple(v) for v in firsts.values()]
    assert len(set(values)) == len(values)  # seed 0's controller stream was seed 1's data stream


def test_the_config_reaches_controller_and_optimiser():
    engine = Engine(tiny_config(preset="enas-paper", **{"lstm_size": 16}))
    c, r = engine.sampler, engine.reinforce
    assert (c.temperature, c.tanh_constant, c.skip_target, c.skip_reduce) == (0.0, 1.5, 0.4, "node-mean")
    assert (r.baseline_decay, r.skip_weight, r.entropy_weight) == (0.99, 0.8, 1e-4)
    group = r.optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"]) == (1e-3, (0.0, 0.999), 1e-3)
    assert engine.supergraph.dropout.p == 0.1 and not engine.supergraph.first_node_bn


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_final_training_clips_gradients_at_every_precision(runs_dir, precision):
    """A tiny grad_clip (and no weight decay) keeps the fine-tuned weights where they started."""
    moved = {}
    for clip in (1e-9, 0.0):
        config = tiny_config(precision=precision, grad_clip=clip, weight_decay=0.0, final_lr=0.5)
        engine, _ = run_engine(runs_dir, f"clip-{precision}-{clip}", config, phases=("search",))
        arch = Architecture.parse("c3 c5:1 c1:01")
        start = engine.inherited_child(arch).state_dict()
        engine.train_final(arch, "finetune", 1)
        end = load_file(engine.store.path / "final.pt")["state_dict"]
        moved[clip] = max((end[k].float() - start[k].float()).abs().max().item() for k in start if "weight" in k)
    assert moved[1e-9] < 1e-6 < 1e-3 < moved[0.0], moved


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_final_training_follows_its_cosine_and_its_sgd_settings(runs_dir, monkeypatch, momentum):
    """Every final step's rate is final_lr * (1 + cos(pi * t / epochs)) / 2 at t = epoch + step / steps (down to
    0, hand-computed here), with SGD's Nesterov momentum (off when momentum is 0) and the run's weight decay."""
    config = tiny_config(final_lr=0.2, momentum=momentum, weight_decay=3e-4, steps_per_epoch=4, first_node_bn=True,
                         dropout=0.2)
    engine = Engine(config)
    seen = []
    real = Engine.train_step

    def spy(self, forward, x, y, opt, scaler, params):
        g = opt.param_groups[0]
        seen.append((g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]))
        return real(self, forward, x, y, opt, scaler, params)

    monkeypatch.setattr(Engine, "train_step", spy)
    arch = Architecture.parse("c3 c5:1 c1:01")
    net, _, steps = engine.train_child(arch, "scratch", 2, "final")
    assert steps == 8 and net.dropout.p == 0.2                 # the run's child: its dropout, its first node's BN
    assert net.state_dict().keys() == ChildNet(arch, config.channels, engine.classes, 0.2, True).state_dict().keys()
    assert net.state_dict().keys() != ChildNet(arch, config.channels, engine.classes, 0.2, False).state_dict().keys()
    ts = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]
    assert [lr for lr, *_ in seen] == pytest.approx([0.1 * (1 + math.cos(math.pi * t / 2)) for t in ts])
    assert {tuple(rest) for _, *rest in seen} == {(momentum, momentum > 0, 3e-4)}


def test_scratch_with_zero_epochs_is_a_clear_error(runs_dir):
    engine, _ = run_engine(runs_dir, "zero", tiny_config(), phases=("search",))
    with pytest.raises(ValueError, match="from scratch with 0 epochs"):
        engine.train_final(Architecture.parse("c3 c5:1 c1:01"), "scratch", 0)


def planted_engine(runs_dir, name, **changes):
    """A tiny run whose validation images are all labelled 0 and test images 1, and whose classifier always
    answers 0: any accuracy on validation is 1, on test 0, on training images about 1/10."""
    config = tiny_config(**changes)
    ds = load_data(config)
    relabel = lambda split, k: dataclasses.replace(split, labels=torch.full_like(split.labels, k))  # noqa: E731
    ds = dataclasses.replace(ds, val=relabel(ds.val, 0), test=relabel(ds.test, 1))
    engine = Engine(config, RunStore.create(runs_dir, name, config), dataset=ds)
    with torch.no_grad():
        engine.supergraph.classifier.weight.zero_()
        engine.supergraph.classifier.bias.copy_(torch.tensor([50.0] + [0.0] * 9))
    return engine


def test_rewards_derive_and_final_use_the_split_they_name(runs_dir):
    engine = planted_engine(runs_dir, "planted", controller_steps=2, controller_children=3, final_epochs=0)
    events = []
    engine.listeners.append(events.append)
    assert engine.train_controller(0) == 1.0
    samples = [e for e in events if e["kind"] == "sample"]
    assert len(samples) == 6 and all(e["accuracy"] == 1.0 for e in samples)  # validation minibatches
    engine.save_checkpoint()
    ranking = engine.derive()
    assert all(r["val_acc"] == 1.0 for r in ranking)                         # the whole validation split
    result = engine.train_final()
    assert (result["val_acc"], result["test_acc"]) == (1.0, 0.0)


def test_zero_final_epochs_keep_the_inherited_child_as_it_is(runs_dir):
    engine, _ = run_engine(runs_dir, "zero-final", tiny_config(final_epochs=0), phases=("search", "derive"))
    best = engine.best
    derived = engine.store.meta()["best_val_acc"]
    result = engine.train_final()
    assert result["val_acc"] == derived and not math.isnan(result["val_acc"])
    saved = load_file(engine.store.path / "final.pt")["state_dict"]
    inherited = engine.inherited_child(best).state_dict()
    for k, v in saved.items():   # shared weights, and BN buffers that saw no validation or test image
        torch.testing.assert_close(v, inherited[k], rtol=0, atol=0, msg=k)
    conv = next(i for i, op in enumerate(best.ops) if op in ("conv1x1", "conv3x3", "conv5x5"))
    torch.testing.assert_close(saved[f"convs.{conv}.weight"], engine.supergraph.convs[conv][best.ops[conv]].weight)
    assert all(v.item() == 1 for k, v in saved.items() if "tracked" in k)    # calibrated in one pass
    result = engine.train_final(best, "finetune", 1)       # after training too, evaluation writes no buffer
    saved = load_file(engine.store.path / "final.pt")["state_dict"]
    steps = engine.config.steps_per_epoch
    assert all(v.item() == 1 + steps for k, v in saved.items() if "tracked" in k)
    net = engine.inherited_child(best)
    net.load_state_dict(saved)
    assert evaluate(net, engine.val_data) == result["val_acc"]


def test_derive_reports_every_child_and_is_reproducible(runs_dir):
    events = []
    config = tiny_config(derive_samples=6)
    engine, _ = run_engine(runs_dir, "derive-events", config, [events.append], ("search", "derive"))
    ranking = engine.store.events("derive_result")[0]["ranking"]
    children = [e for e in events if e["kind"] == "derive_child"]
    assert [e["step"] for e in children] == list(range(len(ranking))) and len(ranking) >= 2
    assert all(e["epoch"] == config.epochs for e in children)
    assert [e["progress"] for e in children] == pytest.approx([(k + 1) / len(ranking) for k in range(len(ranking))])
    assert sorted((e["arch"], e["val_acc"], e["count"]) for e in children) == \
        sorted((r["arch"], r["val_acc"], r["count"]) for r in ranking)
    result = next(e for e in events if e["kind"] == "derive_result")
    assert (result["best"], result["epoch"]) == (ranking[0]["arch"], config.epochs)
    meta = engine.store.meta()
    assert (meta["phase"], meta["best"], meta["best_val_acc"]) == ("derive", ranking[0]["arch"], ranking[0]["val_acc"])
    statuses = [e for e in events if e["kind"] == "status"]
    assert any(e["status"] == "running" and e["message"].startswith("deriving: scoring 6 sampled children")
               for e in statuses)
    assert statuses[-1]["status"] == "finished" and ranking[0]["arch"] in statuses[-1]["message"]
    again = Engine(config, RunStore.open(runs_dir, "derive-events"))
    assert again.derive() == ranking       # the same children, scored the same, from the checkpoint


def test_final_training_from_scratch_and_from_the_stored_best(runs_dir):
    config = tiny_config(final_epochs=1)
    engine, _ = run_engine(runs_dir, "scratch", config, phases=("search", "derive"))
    best = engine.best
    fresh = Engine(config, RunStore.open(runs_dir, "scratch"))   # a new process: the best comes from the store
    events = []
    fresh.listeners.append(events.append)
    result = fresh.train_final(mode="scratch")
    assert (result["arch"], result["mode"], result["epochs"]) == (str(best), "scratch", 1)
    assert result["params"] == best.param_count(config.channels, 10, config.first_node_bn)
    assert fresh.store.meta()["phase"] == "final" and fresh.store.meta()["result"] == result
    assert any(e["kind"] == "status" and e["message"] == f"final training (scratch) of {best}" for e in events)
    saved = load_file(fresh.store.path / "final.pt")
    net = ChildNet(best, saved["channels"], len(saved["classes"]), saved["dropout"], saved["first_node_bn"])
    net.load_state_dict(saved["state_dict"])
    assert evaluate(net, fresh.val_data) == result["val_acc"]
    conv = next(i for i, op in enumerate(best.ops) if op in ("conv1x1", "conv3x3", "conv5x5"))
    shared = engine.supergraph.convs[conv][best.ops[conv]].weight
    assert (saved["state_dict"][f"convs.{conv}.weight"] - shared).abs().max() > 0.01   # not the shared weights
    first_loss = next(e["loss"] for e in events if e["kind"] == "final_step")
    assert first_loss == pytest.approx(math.log(10), abs=0.3)                         # a fresh network
    with pytest.raises(StoreError, match="no derived architecture yet"):
        Engine(config).train_final()


def test_an_inherited_child_is_calibrated_on_un_augmented_training_batches():
    from enas.model import calibrate_bn
    from enas.seeds import stream
    engine = Engine(tiny_config(calibration_batches=3))
    arch = Architecture.parse("c3 c5:1 mp:01")
    gen = stream(engine.config.seed, "calibration")
    batches = [engine.train_data.random_batch(engine.config.batch_size, gen, augment=False)[0] for _ in range(3)]
    expected = ChildNet.from_supergraph(engine.supergraph, arch)
    calibrate_bn(expected, batches)
    child = engine.inherited_child(arch)
    assert not child.training
    for k, v in expected.state_dict().items():
        torch.testing.assert_close(child.state_dict()[k], v, msg=k)


def test_the_reported_step_and_epoch_metrics_are_what_happened(runs_dir):
    events = []
    config = tiny_config(epochs=2, controller_every=1)
    engine, _ = run_engine(runs_dir, "metrics", config, [events.append])
    steps = [e for e in events if e["kind"] == "child_step"]
    for epoch in (0, 1):
        mine = [e for e in steps if e["epoch"] == epoch]
        assert [e["progress"] for e in mine] == [0.25, 0.5, 0.75, 1.0]            # 4 steps an epoch, one event each
        assert all(e["images_per_s"] > 0 for e in mine)
        (ep,) = [e for e in events if e["kind"] == "epoch" and e["epoch"] == epoch]
        assert ep["train_loss"] == pytest.approx(sum(e["loss"] for e in mine) / 4)
        assert ep["train_acc"] == pytest.approx(sum(e["acc"] for e in mine) / 4)
        assert ep["seconds"] > 0 and ep["images_per_s"] == pytest.approx(4 * config.batch_size / ep["seconds"])
        assert ep["epochs"] == 2 and ep["step"] == mine[-1]["step"]
        (policy,) = [e for e in events if e["kind"] == "policy" and e["epoch"] == epoch]
        assert policy["step"] == ep["step"]
    assert [e["step"] for e in steps] == list(range(1, 9))
    assert [e["ctrl_step"] for e in events if e["kind"] == "controller_step"] == [1, 2, 3, 4]
    assert all(e["step"] in (4, 8) for e in events if e["kind"] == "controller_step")
    assert engine.child_opt.param_groups[0]["lr"] == steps[-1]["lr"]            # the optimiser used the logged rate


def test_a_child_step_reports_the_loss_and_accuracy_of_its_batch():
    engine = Engine(tiny_config())
    x, y = engine.val_data.random_batch(32, torch.Generator().manual_seed(0))
    arch = Architecture.parse("c3 c5:1 mp:01")
    with torch.no_grad():
        logits = engine.supergraph(x, arch)
    loss, acc = engine.child_step(x, y, arch)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc.item() == pytest.approx((logits.argmax(1) == y).float().mean().item())
