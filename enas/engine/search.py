"""The ENAS loop: train shared weights, train the controller, repeat; then derive the best child and train it
(those two, one child at a time, are in `children.py`).

`Engine` runs the three phases of one run (`search`, `derive`, `train_final`) synchronously, reporting every
step as an event (a dict with `kind`, `epoch`, `step` and metrics) to its run store and to any listeners.
Another thread steers it through `Control` (pause, resume, stop, one step, steering requests), another process
through the run's steering inbox (`steering.Inbox`), honoured between two training steps: every change of the
constraints or settings in force (`steering.Steering`) is a `steer` event and part of the checkpoint, and a
resumed search replays the changes made after its checkpoint at the steps where they were made.
"""
from __future__ import annotations

import contextlib
import math
import time

import torch
import torch.nn.functional as F

from enas.config import Config
from enas.controller import Controller, RandomSampler, Reinforce
from enas.data.device import DeviceData
from enas.data.load import load_dataset
from enas.engine.children import FORMAT, ChildTraining, Diverged, cosine_lr
from enas.engine.control import Control, Stopped
from enas.steering import Inbox, Steering, SteerError, steering_now
from enas.hardware import apply_threads, precision_text, resolve_device, resolve_precision, slow_precision
from enas.model import Supergraph
from enas.quality.health import HealthCheck, policy_moved
from enas.runs.store import RunStore, failure
from enas.seeds import stream, stream_seed
from enas.space import Architecture

SEARCH_EVENTS = ("child_step", "controller_step", "sample", "policy", "epoch", "alert")


class Engine(ChildTraining):
    """One run: its data, supergraph, sampler and optimisers, and the phases search, derive and train_final."""

    def __init__(self, config: Config, store: RunStore | None = None, listeners=(), control: Control | None = None,
                 dataset=None):
        # torch's CPU threads, set by the run itself: results differ between thread counts, so an auto (0) count
        # becomes a number recorded in the run, which its resume and a rerun of its config use again
        self.threads = apply_threads(config.threads)
        if config.threads != self.threads:
            config = config.replace(threads=self.threads)
            if store is not None:
                store.set_meta(config=store.config().replace(threads=self.threads).to_dict())
        self.config, self.store, self.listeners = config, store, list(listeners)
        self.control = control or Control()
        try:
            self.device = resolve_device(config.device)
            # precision auto, likewise, becomes what it is on this device, recorded with the run
            self.precision_note = None
            if config.precision == "auto":
                self.precision_note = precision_text("auto", self.device)
                config = self.config = config.replace(precision=resolve_precision("auto", self.device))
                if store is not None:
                    store.set_meta(config=store.config().replace(precision=config.precision).to_dict())
            c = config
            self.dataset = dataset or load_data(c)
        except Exception as e:  # a run that cannot start is marked failed, with the reason
            if store is not None:
                store.fail(e)
            raise
        d = self.dataset
        if store is not None:
            store.set_meta(classes=list(d.classes))
        # channels-last (NHWC) batches and weights: 1.4-1.5x faster convolutions on CPU (benchmarks/README.md)
        self.train_data = DeviceData(d.train, d.mean, d.std, self.device, augment=True, channels_last=True)
        self.val_data = DeviceData(d.val, d.mean, d.std, self.device, channels_last=True)
        self.test_data = (DeviceData(d.test, d.mean, d.std, self.device, channels_last=True)
                          if d.test is not None else None)
        self.classes = len(d.classes)

        torch.manual_seed(stream_seed(c.seed, "init"))
        self.supergraph = Supergraph(c.nodes, c.channels, c.ops, self.classes, c.dropout, c.first_node_bn, c.bn).to(
            self.device, memory_format=torch.channels_last)
        if c.controller == "enas":
            self.sampler = Controller(c.nodes, c.ops, c.lstm_size, c.lstm_layers, c.temperature, c.tanh_constant,
                                      c.skip_target, c.skip_reduce)
        else:
            self.sampler = RandomSampler(c.nodes, c.ops)
        self.reinforce = Reinforce(self.sampler, c.controller_lr, c.entropy_weight, c.baseline_decay, c.skip_weight,
                                   (c.controller_beta1, 0.999), c.controller_eps, c.reward_baseline)
        self.warmup_sampler = RandomSampler(c.nodes, c.ops)
        # the untrained policy: every policy event says how far each node's op probabilities moved from it
        self.start_policy = self.sampler.policy(256, generator=stream(c.seed, "policy-start"))["op_probs"]
        self.health = HealthCheck.of(c) if c.controller == "enas" else None
        self.child_opt = torch.optim.SGD(self.supergraph.parameters(), lr=c.child_lr, momentum=c.momentum,
                                         nesterov=c.momentum > 0, weight_decay=c.weight_decay)
        self.data_gen = stream(c.seed, "data")
        self.ctrl_gen = stream(c.seed, "controller")
        self.epoch = 0   # completed search epochs
        self.step = 0    # child training steps so far
        self.ctrl_step = 0
        self.best = None  # the derived architecture
        self.steering = Steering.of(c)   # the constraints and steerable settings in force
        self.inbox = Inbox(store.path) if store is not None else None
        self._schedule, self._inbox_read = [], 0.0   # steer events to replay after a restore; last inbox read
        self.log_every = 1 if self.device.type == "cpu" else 20  # steps between host syncs
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[c.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.precision == "fp16")

    # --- running phases ---------------------------------------------------------------------------
    def run(self, phases=("search",)) -> str:
        """Run phases (search, derive, final, or callables) in order; returns finished or stopped, marks failures."""
        apply_threads(self.threads)   # the thread count is per thread: this may not be the one that built the engine
        try:
            for phase in phases:
                phase = phase if callable(phase) else {"search": self.search, "derive": self.derive,
                                                       "final": self.train_final}[phase]
                phase()
            return "finished"
        except Stopped:
            self.set_status("stopped", "stopped by the user; it can be resumed")
            return "stopped"
        except KeyboardInterrupt:
            self.set_status("stopped", "interrupted (Ctrl-C); it can be resumed")
            raise
        except BaseException as e:
            if self.store is not None:
                self.store.fail(e)
            message, tb = failure(e)
            self.emit("status", status="failed", message=message, traceback=tb)
            raise
        finally:
            if self.store is not None:
                self.store.commit()

    # --- reporting -------------------------------------------------------------------------------
    def emit(self, kind: str, epoch: int | None = None, step: int | None = None, **data):
        event = {"kind": kind, "epoch": epoch, "step": step, "t": time.time(), **data}
        if self.store is not None:
            self.store.log(kind, data, epoch, step)
        for listener in self.listeners:
            listener(event)

    def set_status(self, status: str, message: str = "", **extra):
        if self.store is not None:
            self.store.set_status(status, message, **extra)
        self.emit("status", status=status, message=message, **extra)

    def wait(self, step_point: bool = False, on_the_way: bool = False) -> bool:
        """Between two steps: apply steering, return at once when running, block while paused, raise Stopped on a
        stop. Before a search step (`step_point`), True when it is a single step asked for while paused; between
        two epochs (`on_the_way`) such a step passes on to the next step."""
        hb = self.store.commit if self.store is not None else None
        return self.control.wait(on_pause=lambda: self.set_status("paused", "paused by the user"),
                                 on_resume=lambda: self.set_status("running"), heartbeat=hb,
                                 poll=self.poll_steering, step_point=step_point, on_the_way=on_the_way)

    def _pause_for(self, message: str):
        """Pause on a problem: tell the user why, then wait for resume (or stop)."""
        self.emit("alert", self.epoch, self.step, level="error", message=message)
        self.control.pause()
        self.set_status("paused", message)
        self.control.wait(on_resume=lambda: self.set_status("running"), poll=self.poll_steering,
                          heartbeat=self.store.commit if self.store is not None else None)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- steering --------------------------------------------------------------------------------
    def steer(self, request: dict, who: str = "api", rid: str | None = None) -> list:
        """Apply a steering request now (between two steps); returns the changes, or raises SteerError."""
        steering, changes = self.steering.change(request, self.config)
        if changes:
            self.set_steering(steering)
            extra = {"policy": self.sampler.policy(256, generator=stream(self.config.seed, f"steer-{self.step}"),
                                                   constraints=steering.constraints)} if self.sampler.trainable else {}
            self.emit("steer", self.epoch, self.step, ctrl_step=self.ctrl_step, who=who, request=rid,
                      changes=changes, state=steering.to_dict(), **extra)
            if self.store is not None:   # at once: a resume after a kill replays it where it was made
                self.store.commit()
        return changes

    def set_steering(self, steering: Steering):
        """Put `steering` in force: the controller's rate, entropy weight, temperature and tanh constant now; the
        rest where they are read (child sampling, rate scale, controller steps, the samplers' constraints)."""
        self.steering, v = steering, steering.values
        if self.health is not None:
            self.health.steer(steering.constraints, self.config.nodes, self.config.ops)
        self.reinforce.entropy_weight = v["entropy_weight"]
        if self.sampler.trainable:
            self.sampler.temperature, self.sampler.tanh_constant = v["temperature"], v["tanh_constant"]
            for g in self.reinforce.optimizer.param_groups:
                g["lr"] = v["controller_lr"]

    def poll_steering(self):
        """Between two steps: replay the changes a restored run had made here, then apply waiting requests (this
        process's `Control`, and the inbox of other processes, read at most twice a second)."""
        here = (self.step, self.ctrl_step)
        while self._schedule and (self._schedule[0]["step"], self._schedule[0]["ctrl_step"]) <= here:
            self.set_steering(Steering.from_dict(self._schedule.pop(0)["state"], self.config))
        waiting = []
        while self.control.requests:
            request, who = self.control.requests.popleft()
            waiting.append({"request": request, "who": who, "id": None})
        if self.inbox is not None and time.monotonic() - self._inbox_read > 0.5:
            self._inbox_read = time.monotonic()
            waiting += self.inbox.take()
        for item in waiting:
            request = dict(item["request"])
            control = request.pop("control", None)
            try:
                if item.get("error"):
                    raise SteerError(item["error"])
                if control not in (None, "pause", "resume", "step"):
                    raise SteerError(f"control {control!r}: use pause, resume or step")
                if request:
                    self.steer(request, item["who"], item["id"])
                if control:
                    getattr(self.control, control)()
            except SteerError as e:
                self.emit("steer_refused", self.epoch, self.step, who=item["who"], request=item["id"], message=str(e))
            if "file" in item:   # its sender waits for the file to go, then reads the events: commit them first
                if self.store is not None:
                    self.store.commit()
                Inbox.done(item)

    # --- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": FORMAT, "kind": "checkpoint", "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "ctrl_step": self.ctrl_step, "supergraph": self.supergraph.state_dict(),
                "child_opt": self.child_opt.state_dict(), "sampler": self.sampler.state_dict(),
                "reinforce": self.reinforce.state_dict(), "scaler": self.scaler.state_dict(),
                "data_gen": self.data_gen.get_state(), "ctrl_gen": self.ctrl_gen.get_state(),
                "steering": self.steering.to_dict()}

    def load_state_dict(self, s: dict):
        self.epoch, self.step, self.ctrl_step = s["epoch"], s["step"], s["ctrl_step"]
        self.supergraph.load_state_dict(s["supergraph"])
        self.child_opt.load_state_dict(s["child_opt"])
        self.sampler.load_state_dict(s["sampler"])
        self.reinforce.load_state_dict(s["reinforce"])
        self.scaler.load_state_dict(s["scaler"])
        self.data_gen.set_state(s["data_gen"])
        self.ctrl_gen.set_state(s["ctrl_gen"])
        self.set_steering(Steering.from_dict(s["steering"], self.config) if "steering" in s else Steering.of(self.config))

    def restore(self) -> int:
        """Load the newest checkpoint of the store and drop the search events written after it; returns its epoch."""
        state = self.store.load_checkpoint() if self.store is not None else None
        if state is not None:
            self.load_state_dict(state)
        else:
            self.set_steering(Steering.of(self.config))
        if self.store is not None:
            self.store.delete_events(SEARCH_EVENTS, self.epoch)
            self._schedule = [e for e in self.store.events("steer") if e["epoch"] >= self.epoch]
            if self.health is not None:  # a resumed search does not repeat a warning it gave
                self.health.warned |= {e["check"] for e in self.store.events("alert") if "check" in e}
        return self.epoch

    def save_checkpoint(self):
        """Checkpoint after an epoch; a failed write keeps the previous one, pauses, and retries on resume."""
        if self.store is None:
            return
        while True:
            try:
                self.store.commit()
                self.store.save_checkpoint(self.state_dict(), self.epoch, self.config.keep_checkpoints)
                return
            except OSError as e:
                self._pause_for(f"could not write the checkpoint of epoch {self.epoch}: {e}. "
                                "Paused; resume to try again.")

    # --- search ----------------------------------------------------------------------------------
    def search(self):
        """Train shared weights and controller for the configured epochs, resuming from the newest checkpoint."""
        if self.store is not None:
            self.store.set_meta(phase="search")
        if self.restore() == 0:
            for note in self.dataset.notes:
                self.emit("alert", 0, 0, level="info", message=note)
            if self.precision_note:
                self.emit("alert", 0, 0, level="info", message=f"precision: {self.precision_note}")
            slow = slow_precision(self.device, self.config.precision)
            if slow:
                self.emit("alert", 0, 0, level="warning", message=slow)
        self.set_status("running")
        while self.epoch < self.config.epochs:
            try:
                self.wait(on_the_way=True)
                self.search_epoch()
            except Diverged as e:
                if self.store is None:
                    raise
                restart = self.restore()
                self._pause_for(f"{e}. Paused: resume to continue from the last checkpoint (epoch {restart})")
        self.set_status("finished", f"search finished after {self.epoch} epochs")

    def search_epoch(self):
        c, e = self.config, self.epoch
        start = time.perf_counter()
        train_loss, train_acc, images = self.train_children(e)
        val_acc = self.train_controller(e) if self.controller_epochs(e + 1) > self.controller_epochs(e) else None
        random_acc = self.random_reference(e) if val_acc is not None and self.health else None
        warnings = self.health.update_epoch(val_acc, random_acc) if random_acc is not None else []
        constraints = self.steering.constraints
        policy = self.sampler.policy(256, generator=stream(c.seed, f"policy-{e}"), constraints=constraints)
        own = self.sampler.policy(256, generator=stream(c.seed, f"policy-{e}")) if constraints else policy
        policy["moved"] = policy_moved(own["op_probs"], self.start_policy)   # the controller's own, unconstrained
        if constraints:
            policy["constraints"] = constraints.to_dict()
        self.emit("policy", e, self.step, **policy)
        if self.health:
            warnings += self.health.update_policy(policy["moved"], self.controller_epochs(e + 1))
        for warning in warnings:
            self.emit("alert", e, self.step, level="warning", message=warning["message"], check=warning["code"])
        seconds = time.perf_counter() - start
        self.epoch = e + 1
        self.emit("epoch", e, self.step, train_loss=train_loss, train_acc=train_acc, val_acc=val_acc,
                  random_val_acc=random_acc, seconds=seconds, images_per_s=images / seconds, epochs=c.epochs)
        self.save_checkpoint()

    def controller_epochs(self, epochs: int) -> int:
        """In how many of the first `epochs` search epochs the controller trains: every `controller_every`-th
        epoch after the `warmup_epochs` (none with 0 controller steps)."""
        c = self.config
        return max(epochs - c.warmup_epochs, 0) // c.controller_every if c.controller_steps else 0

    def train_children(self, epoch: int):
        """One epoch of shared-weight training; returns mean loss, accuracy and the number of images."""
        c, sg = self.config, self.supergraph
        sg.train()
        lr_steps = self._steps_per_epoch()
        sums = torch.zeros(2, device=self.device)   # loss and accuracy since the last sync
        totals = torch.zeros(2, device=self.device)
        pending, images, tick = 0, 0, time.perf_counter()
        arch, ahead, ahead_for = None, [], None
        warmup = epoch < c.warmup_epochs   # uniformly random children, one per minibatch; no controller
        sampler = self.warmup_sampler if warmup else self.sampler
        for i, (x, y) in enumerate(self.train_data.epoch(c.batch_size, self.data_gen)):
            if i >= lr_steps:
                break
            stepped = self.wait(step_point=True)
            steering = self.steering.values
            per_batch = steering["sampling"] == "per-batch" or warmup
            if arch is None or per_batch or not self.steering.constraints.admits(arch):
                # The policy stays fixed while the children train, so the rest of the epoch's children are
                # sampled in one batched call; a steering change (constraints, temperature) samples them anew.
                if not ahead or ahead_for is not self.steering:
                    with torch.no_grad():
                        ahead = sampler.sample(lr_steps - i if per_batch else 1, generator=self.ctrl_gen,
                                               constraints=self.steering.constraints).archs[::-1]
                    ahead_for = self.steering
                arch = ahead.pop()
            lr = steering["child_lr_scale"] * cosine_lr(epoch + i / lr_steps, c.epochs, c.child_lr, c.child_lr_min,
                                                        c.lr_restart_epochs, c.lr_restart_mult, c.lr_tmax_epochs)
            for g in self.child_opt.param_groups:
                g["lr"] = lr
            before = {n: p.detach().clone() for n, p in self.supergraph.named_parameters()} if stepped else None
            loss, acc = self.child_step(x, y, arch)
            if stepped:
                self.emit("step_detail", epoch, self.step + 1, what="child", arch=str(arch), loss=loss.item(),
                          acc=acc.item(), lr=lr, moved=weights_moved(before, self.supergraph))
            sums += torch.stack((loss, acc))
            pending += 1
            images += len(y)
            self.step += 1
            if pending == self.log_every or i == lr_steps - 1:
                loss_v, acc_v = (sums / pending).tolist()
                if not math.isfinite(loss_v):
                    raise Diverged(f"non-finite loss ({loss_v}) at step {self.step} (epoch {epoch})")
                now = time.perf_counter()
                self.emit("child_step", epoch, self.step, loss=loss_v, acc=acc_v, lr=lr, arch=str(arch),
                          images_per_s=pending * len(y) / max(now - tick, 1e-9), progress=(i + 1) / lr_steps)
                totals += sums
                sums.zero_()
                pending, tick = 0, now
        steps = max(min(lr_steps, i + 1), 1)
        loss_mean, acc_mean = (totals / steps).tolist()
        return loss_mean, acc_mean, images

    def _steps_per_epoch(self) -> int:
        full = len(self.train_data) // self.config.batch_size
        if full == 0:
            raise ValueError(f"the training split has {len(self.train_data)} images, fewer than one batch "
                             f"(batch_size {self.config.batch_size})")
        return min(full, self.config.steps_per_epoch) if self.config.steps_per_epoch else full

    def child_step(self, x, y, arch: Architecture):
        """One training step of one child on the shared weights; returns loss and accuracy tensors."""
        return self.train_step(lambda x: self.supergraph(x, arch), x, y, self.child_opt, self.scaler,
                               self.supergraph.parameters())

    def train_step(self, forward, x, y, opt, scaler, params):
        """Forward, backward and optimiser step at the run's precision (fp16: loss scaling), the gradient norm
        clipped to grad_clip; the search and final training alike. Returns loss and accuracy tensors."""
        with self.autocast():
            logits = forward(x)
            loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.config.grad_clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], self.config.grad_clip)
        scaler.step(opt)
        scaler.update()
        return loss.detach().float(), (logits.detach().argmax(1) == y).float().mean()

    def rewards(self, archs, generator: torch.Generator | None = None) -> torch.Tensor:
        """Accuracy of each architecture on a random validation minibatch of `reward_batch_size` images, its own
        or (`reward_batch` shared) one for all: the controller's reward before the entropy bonus. Scored with
        the shared weights in eval mode: no dropout, and BN with the batch's statistics (the supergraph's BNs
        keep none of their own)."""
        c, gen = self.config, generator or self.data_gen
        size = c.reward_batch_size or c.batch_size
        batch = self.val_data.random_batch(size, gen) if c.reward_batch == "shared" else None
        accs, was_training = [], self.supergraph.training
        self.supergraph.eval()
        try:
            with torch.inference_mode(), self.autocast():
                for arch in archs:
                    x, y = batch or self.val_data.random_batch(size, gen)
                    accs.append((self.supergraph(x, arch).argmax(1) == y).float().mean())
        finally:
            self.supergraph.train(was_training)
        return torch.stack(accs).float().cpu()

    def train_controller(self, epoch: int) -> float:
        """The controller's steps of one epoch; returns the mean validation-minibatch accuracy of its samples."""
        c = self.config
        accs = []
        while len(accs) < self.steering.values["controller_steps"]:   # steerable: read before every step
            stepped = self.wait(step_point=True)
            constraints = self.steering.constraints
            sample = self.sampler.sample(c.controller_children, generator=self.ctrl_gen, constraints=constraints)
            acc = self.rewards(sample.archs)
            policy_gen = stream(c.seed, f"step-detail-{self.ctrl_step}")   # its own stream: a step changes nothing
            before = self.sampler.policy(256, generator=policy_gen, constraints=constraints) if stepped else None
            metrics = self.reinforce.step(sample, acc)
            self.ctrl_step += 1
            self.emit("controller_step", epoch, self.step, ctrl_step=self.ctrl_step, **metrics)
            if stepped:
                policy_gen = stream(c.seed, f"step-detail-{self.ctrl_step - 1}")
                after = self.sampler.policy(256, generator=policy_gen, constraints=constraints)
                rewards = (acc + self.reinforce.entropy_weight * sample.entropy.detach()).tolist()
                self.emit("step_detail", epoch, self.step, what="controller", ctrl_step=self.ctrl_step,
                          archs=[str(a) for a in sample.archs], accuracy=acc.tolist(), reward=rewards,
                          advantage=self.reinforce.advantages,
                          baseline=[r - a for r, a in zip(rewards, self.reinforce.advantages)],
                          baseline_after=self.reinforce.baseline, op_probs_before=before["op_probs"],
                          op_probs_after=after["op_probs"], skip_probs_before=before["skip_probs"],
                          skip_probs_after=after["skip_probs"])
            for warning in self.health.update(metrics["entropy"], sample.archs) if self.health else ():
                self.emit("alert", epoch, self.step, level="warning", message=warning["message"],
                          check=warning["code"])
            ent = sample.entropy.detach()
            for arch, a, h in zip(sample.archs, acc.tolist(), ent.tolist()):
                self.emit("sample", epoch, self.step, ctrl_step=self.ctrl_step, arch=str(arch), accuracy=a,
                          reward=a + self.reinforce.entropy_weight * h)
            accs.append(acc.mean().item())
        return sum(accs) / len(accs) if accs else None

    def random_reference(self, epoch: int) -> float:
        """What random search's reward would be now: the mean validation-minibatch accuracy of uniformly random
        architectures on the same shared weights (as many as the controller scored this epoch, at most 64;
        their own random stream, so the search itself is unchanged), scored as the controller's are: with
        `reward_batch` shared, each group of `controller_children` on one minibatch."""
        c = self.config
        gen = stream(c.seed, f"random-reference-{epoch}")
        n = min(self.steering.values["controller_steps"] * c.controller_children, 64)
        archs = RandomSampler(c.nodes, c.ops).sample(n, generator=gen, constraints=self.steering.constraints).archs
        group = c.controller_children if c.reward_batch == "shared" else n
        return torch.cat([self.rewards(archs[i:i + group], gen) for i in range(0, n, group)]).mean().item()


def weights_moved(before: dict, supergraph) -> dict:
    """How much one step moved each part of the supergraph: {part: relative change ||w' - w|| / ||w||} for the
    parts that moved (`node 2 conv3x3`, `node 2 BN`, `stem`, `tail`, `classifier`)."""
    change, size = {}, {}
    for name, p in supergraph.named_parameters():
        words = name.split(".")
        part = (f"node {words[1]} {words[2]}" if words[0] in ("convs", "branches") else
                f"node {words[1]} BN" if words[0] == "bns" else words[0])
        change[part] = change.get(part, 0.0) + (p.detach() - before[name]).float().pow(2).sum().item()
        size[part] = size.get(part, 0.0) + before[name].float().pow(2).sum().item()
    return {part: math.sqrt(change[part] / max(size[part], 1e-30)) for part in change if change[part] > 0}


def load_data(config: Config):
    """The dataset a configuration names (raises DataError with a clear message)."""
    c = config
    val_size = None if c.val_size is None else (c.val_size if c.val_size < 1 else int(c.val_size))
    return load_dataset(c.dataset, data_dir=c.data_dir, image_size=c.image_size, val_size=val_size,
                        train_subset=c.train_subset, seed=c.seed)
