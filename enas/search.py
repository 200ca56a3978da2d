"""The ENAS loop: train shared weights, train the controller, repeat; then derive the best child and train it.

`Engine` runs the three phases of one run (`search`, `derive`, `train_final`) synchronously, reporting every
step as an event (a dict with `kind`, `epoch`, `step` and metrics) to its run store and to any listeners.
Another thread steers it through `Control` (pause, resume, stop), honoured between two training steps.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter

import torch
import torch.nn.functional as F

from .config import Config
from .control import Control, Stopped
from .controller import Controller, RandomSampler, Reinforce
from .data import load_dataset
from .hardware import resolve_device, slow_precision
from .health import HealthCheck
from .model import ChildNet, Supergraph, calibrate_bn
from .pipeline import DeviceData
from .rankcheck import check_recheck, recheck_top
from .seeds import stream, stream_seed
from .space import Architecture
from .store import RunStore, StoreError, failure, save_atomic

FORMAT = "enas-explorer"
SEARCH_EVENTS = ("child_step", "controller_step", "sample", "policy", "epoch", "alert")
EVAL_BATCH = 256


class Diverged(Exception):
    """The loss became NaN or infinite."""


def cosine_lr(t: float, total: float, lr_max: float, lr_min: float, first_cycle: int = 0, mult: int = 2,
              tmax: int = 0) -> float:
    """Cosine learning rate at (fractional) epoch t: one cosine over `total` epochs; with first_cycle > 0, warm
    restarts of growing length (SGDR, ENAS); with tmax > 0, PyTorch's CosineAnnealingLR(T_max=tmax) stepped once
    per epoch (the seed notebook): the rate of epoch floor(t), going back up after tmax epochs."""
    if tmax:
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * math.floor(t) / tmax))
    cycle = total if first_cycle == 0 else first_cycle
    while first_cycle and t >= cycle:
        t -= cycle
        cycle *= mult
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * min(t / cycle, 1.0)))


@torch.inference_mode()
def evaluate(net: torch.nn.Module, data: DeviceData, batch: int = EVAL_BATCH) -> float:
    """Accuracy of `net` over a whole split, in eval mode (its BN statistics are used, never updated)."""
    net.eval()
    correct = torch.zeros((), device=data.device)
    for x, y in data.batches(batch):
        correct += (net(x).argmax(1) == y).sum()
    return correct.item() / max(len(data), 1)


class Engine:
    """One run: its data, supergraph, sampler and optimisers, and the phases search, derive and train_final."""

    def __init__(self, config: Config, store: RunStore | None = None, listeners=(), control: Control | None = None,
                 dataset=None):
        self.config, self.store, self.listeners = config, store, list(listeners)
        self.control = control or Control()
        c = config
        try:
            self.device = resolve_device(c.device)
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
        self.supergraph = Supergraph(c.nodes, c.channels, c.ops, self.classes, c.dropout, c.first_node_bn).to(
            self.device, memory_format=torch.channels_last)
        if c.controller == "enas":
            self.sampler = Controller(c.nodes, c.ops, c.lstm_size, c.lstm_layers, c.temperature, c.tanh_constant,
                                      c.skip_target, c.skip_reduce)
        else:
            self.sampler = RandomSampler(c.nodes, c.ops)
        self.reinforce = Reinforce(self.sampler, c.controller_lr, c.entropy_weight, c.baseline_decay, c.skip_weight,
                                   (c.controller_beta1, 0.999), c.controller_eps)
        self.health = (HealthCheck(c.health_entropy_fraction, c.health_op_share, c.health_skip_margin,
                                   c.health_window, c.health_random_epochs) if c.controller == "enas" else None)
        self.child_opt = torch.optim.SGD(self.supergraph.parameters(), lr=c.child_lr, momentum=c.momentum,
                                         nesterov=c.momentum > 0, weight_decay=c.weight_decay)
        self.data_gen = stream(c.seed, "data")
        self.ctrl_gen = stream(c.seed, "controller")
        self.epoch = 0   # completed search epochs
        self.step = 0    # child training steps so far
        self.ctrl_step = 0
        self.best = None  # the derived architecture
        self.log_every = 1 if self.device.type == "cpu" else 20  # steps between host syncs
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[c.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.precision == "fp16")

    # --- running phases ---------------------------------------------------------------------------
    def run(self, phases=("search",)) -> str:
        """Run phases (search, derive, final, or callables) in order; returns finished or stopped, marks failures."""
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

    def wait(self):
        """Between two steps: return at once when running, block while paused, raise Stopped on a stop."""
        hb = self.store.commit if self.store is not None else None
        self.control.wait(on_pause=lambda: self.set_status("paused", "paused by the user"),
                          on_resume=lambda: self.set_status("running"), heartbeat=hb)

    def _pause_for(self, message: str):
        """Pause on a problem: tell the user why, then wait for resume (or stop)."""
        self.emit("alert", self.epoch, self.step, level="error", message=message)
        self.control.pause()
        self.set_status("paused", message)
        self.control.wait(on_resume=lambda: self.set_status("running"),
                          heartbeat=self.store.commit if self.store is not None else None)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": FORMAT, "kind": "checkpoint", "config": self.config.to_dict(), "epoch": self.epoch,
                "step": self.step, "ctrl_step": self.ctrl_step, "supergraph": self.supergraph.state_dict(),
                "child_opt": self.child_opt.state_dict(), "sampler": self.sampler.state_dict(),
                "reinforce": self.reinforce.state_dict(), "scaler": self.scaler.state_dict(),
                "data_gen": self.data_gen.get_state(), "ctrl_gen": self.ctrl_gen.get_state()}

    def load_state_dict(self, s: dict):
        self.epoch, self.step, self.ctrl_step = s["epoch"], s["step"], s["ctrl_step"]
        self.supergraph.load_state_dict(s["supergraph"])
        self.child_opt.load_state_dict(s["child_opt"])
        self.sampler.load_state_dict(s["sampler"])
        self.reinforce.load_state_dict(s["reinforce"])
        self.scaler.load_state_dict(s["scaler"])
        self.data_gen.set_state(s["data_gen"])
        self.ctrl_gen.set_state(s["ctrl_gen"])

    def restore(self) -> int:
        """Load the newest checkpoint of the store and drop the search events written after it; returns its epoch."""
        state = self.store.load_checkpoint() if self.store is not None else None
        if state is not None:
            self.load_state_dict(state)
        if self.store is not None:
            self.store.delete_events(SEARCH_EVENTS, self.epoch)
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
            slow = slow_precision(self.device, self.config.precision)
            if slow:
                self.emit("alert", 0, 0, level="warning", message=slow)
        self.set_status("running")
        while self.epoch < self.config.epochs:
            try:
                self.wait()
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
        val_acc = self.train_controller(e) if (e + 1) % c.controller_every == 0 else None
        random_acc = self.random_reference(e) if val_acc is not None and self.health else None
        for warning in self.health.update_epoch(val_acc, random_acc) if random_acc is not None else ():
            self.emit("alert", e, self.step, level="warning", message=warning["message"], check=warning["code"])
        self.emit("policy", e, self.step, **self.sampler.policy(256, generator=stream(c.seed, f"policy-{e}")))
        seconds = time.perf_counter() - start
        self.epoch = e + 1
        self.emit("epoch", e, self.step, train_loss=train_loss, train_acc=train_acc, val_acc=val_acc,
                  random_val_acc=random_acc, seconds=seconds, images_per_s=images / seconds, epochs=c.epochs)
        self.save_checkpoint()

    def train_children(self, epoch: int):
        """One epoch of shared-weight training; returns mean loss, accuracy and the number of images."""
        c, sg = self.config, self.supergraph
        sg.train()
        lr_steps = self._steps_per_epoch()
        sums = torch.zeros(2, device=self.device)   # loss and accuracy since the last sync
        totals = torch.zeros(2, device=self.device)
        pending, images, tick = 0, 0, time.perf_counter()
        arch = None
        for i, (x, y) in enumerate(self.train_data.epoch(c.batch_size, self.data_gen)):
            if i >= lr_steps:
                break
            self.wait()
            if arch is None or c.sampling == "per-batch":
                with torch.no_grad():
                    arch = self.sampler.sample(1, generator=self.ctrl_gen).archs[0]
            lr = cosine_lr(epoch + i / lr_steps, c.epochs, c.child_lr, c.child_lr_min, c.lr_restart_epochs,
                           c.lr_restart_mult, c.lr_tmax_epochs)
            for g in self.child_opt.param_groups:
                g["lr"] = lr
            loss, acc = self.child_step(x, y, arch)
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
        """Accuracy of each architecture on its own random validation minibatch (shared weights, BN with the
        batch's statistics): the controller's reward before the entropy bonus."""
        accs = []
        with torch.inference_mode(), self.autocast():
            for arch in archs:
                x, y = self.val_data.random_batch(self.config.batch_size, generator or self.data_gen)
                accs.append((self.supergraph(x, arch).argmax(1) == y).float().mean())
        return torch.stack(accs).float().cpu()

    def train_controller(self, epoch: int) -> float:
        """The controller's steps of one epoch; returns the mean validation-minibatch accuracy of its samples."""
        c = self.config
        accs = []
        for _ in range(c.controller_steps):
            self.wait()
            sample = self.sampler.sample(c.controller_children, generator=self.ctrl_gen)
            acc = self.rewards(sample.archs)
            metrics = self.reinforce.step(sample, acc)
            self.ctrl_step += 1
            self.emit("controller_step", epoch, self.step, ctrl_step=self.ctrl_step, **metrics)
            for warning in self.health.update(metrics["entropy"], sample.archs) if self.health else ():
                self.emit("alert", epoch, self.step, level="warning", message=warning["message"],
                          check=warning["code"])
            ent = sample.entropy.detach()
            for arch, a, h in zip(sample.archs, acc.tolist(), ent.tolist()):
                self.emit("sample", epoch, self.step, ctrl_step=self.ctrl_step, arch=str(arch), accuracy=a,
                          reward=a + c.entropy_weight * h)
            accs.append(acc.mean().item())
        return sum(accs) / len(accs) if accs else None

    def random_reference(self, epoch: int) -> float:
        """What random search's reward would be now: the mean validation-minibatch accuracy of uniformly random
        architectures on the same shared weights (as many as the controller scored this epoch, at most 64;
        their own random stream, so the search itself is unchanged)."""
        c = self.config
        gen = stream(c.seed, f"random-reference-{epoch}")
        n = min(c.controller_steps * c.controller_children, 64)
        return self.rewards(RandomSampler(c.nodes, c.ops).sample(n, generator=gen).archs, gen).mean().item()

    # --- derive ----------------------------------------------------------------------------------
    def derive(self, samples: int | None = None, recheck: int = 0, recheck_epochs: int = 1) -> list:
        """Sample children from the trained sampler, score each on the whole validation split, rank them.

        A child's score is its accuracy with the shared weights and its own BN statistics (`inherited_child`):
        what the controller's minibatch reward measures, on the whole split, and what final training with
        0 epochs reports for the same child. With `recheck` K > 0, the top K are also trained from scratch for
        `recheck_epochs` epochs (`rankcheck.recheck`) and the best by that is kept."""
        check_recheck(recheck, recheck_epochs)
        m = samples or self.config.derive_samples
        self.restore_for_use()
        if self.store is not None:
            self.store.set_meta(phase="derive")
        self.set_status("running", f"deriving: scoring {m} sampled children on the validation split")
        with torch.no_grad():
            archs = self.sampler.sample(m, generator=stream(self.config.seed, "derive")).archs
        counts = Counter(archs)
        ranking = []
        for k, arch in enumerate(counts):
            self.wait()
            acc = self.shared_accuracy(arch)
            ranking.append({"arch": str(arch), "val_acc": acc, "count": counts[arch]})
            self.emit("derive_child", self.epoch, k, arch=str(arch), val_acc=acc, count=counts[arch],
                      progress=(k + 1) / len(counts))
        ranking.sort(key=lambda r: -r["val_acc"])
        if recheck:
            ranking = recheck_top(self, ranking, recheck, recheck_epochs)
        best = self.best = Architecture.parse(ranking[0]["arch"])
        self.emit("derive_result", self.epoch, None, ranking=ranking, best=str(best), recheck=recheck,
                  recheck_epochs=recheck_epochs if recheck else None)
        if self.store is not None:
            self.store.write_text("best.json", best.to_json() + "\n")
            self.store.write_text("best.txt", str(best) + "\n")
            self.store.set_meta(best=str(best), best_val_acc=ranking[0]["val_acc"])
        self.set_status("finished", f"derived {best} (validation accuracy {ranking[0]['val_acc']:.4f})")
        return ranking

    def shared_accuracy(self, arch: Architecture) -> float:
        """Validation accuracy (whole split) of `arch` with the shared weights and its own BN statistics."""
        with self.autocast():
            return evaluate(self.inherited_child(arch), self.val_data)

    def standalone_accuracy(self, arch: Architecture, epochs: int, kind: str) -> dict:
        """Validation and test accuracy (whole splits) of `arch` trained from scratch for `epochs` epochs with
        the final-training recipe (test: None without a test split)."""
        net, val_acc, _ = self.train_child(arch, "scratch", epochs, kind)
        with self.autocast():
            test_acc = evaluate(net, self.test_data) if self.test_data is not None else None
        return {"val_acc": val_acc, "test_acc": test_acc}

    def inherited_child(self, arch: Architecture) -> ChildNet:
        """`arch` with the shared weights, its BN statistics computed on `calibration_batches` un-augmented
        training batches (the same images for every child), in eval mode."""
        c = self.config
        net = ChildNet.from_supergraph(self.supergraph, arch).to(memory_format=torch.channels_last)
        gen = stream(c.seed, "calibration")
        with self.autocast():
            calibrate_bn(net, (self.train_data.random_batch(c.batch_size, gen, augment=False)[0]
                               for _ in range(c.calibration_batches)))
        return net.eval()

    def restore_for_use(self):
        """Before derive or final training: load the search's newest checkpoint, if a store holds one."""
        if self.store is not None and self.epoch == 0:
            state = self.store.load_checkpoint()
            if state is not None:
                self.load_state_dict(state)

    # --- final training --------------------------------------------------------------------------
    def train_final(self, arch: Architecture | None = None, mode: str | None = None, epochs: int | None = None) -> dict:
        """Fine-tune (from shared weights) or retrain (from scratch) one child; report validation and test accuracy."""
        c = self.config
        mode, epochs = mode or c.final_mode, epochs if epochs is not None else c.final_epochs
        if arch is None and self.best is None and self.store is not None and "best" in self.store.meta():
            self.best = Architecture.parse(self.store.meta()["best"])
        arch = arch or self.best
        if arch is None:
            raise StoreError("no derived architecture yet: run derive first, or give an architecture")
        arch.check_space(c.nodes, c.ops)
        if self.store is not None:
            self.store.set_meta(phase="final")
        self.set_status("running", f"final training ({mode}) of {arch}")
        net, val_acc, step = self.train_child(arch, mode, epochs, "final")
        with self.autocast():
            test_acc = evaluate(net, self.test_data) if self.test_data is not None else None
        result = {"arch": str(arch), "mode": mode, "epochs": epochs, "val_acc": val_acc, "test_acc": test_acc,
                  "params": arch.param_count(c.channels, self.classes, c.first_node_bn),
                  "flops": arch.flops(c.channels, c.image_size, self.classes)}
        self.emit("final_result", epochs, step, **result)
        if self.store is not None:
            save_atomic({"format": FORMAT, "kind": "child", "arch": arch.to_dict(), "channels": c.channels,
                         "dropout": c.dropout, "first_node_bn": c.first_node_bn, "classes": self.dataset.classes,
                         "mean": list(self.dataset.mean), "std": list(self.dataset.std),
                         "state_dict": net.state_dict()}, self.store.path / "final.pt")
            self.store.write_text("final.json", json.dumps(result, indent=1) + "\n")
            self.store.set_meta(result=result)
        self.set_status("finished", f"final: validation {val_acc:.4f}, test "
                        + (f"{test_acc:.4f}" if test_acc is not None else "n/a"))
        return result

    def train_child(self, arch: Architecture, mode: str, epochs: int, kind: str) -> tuple:
        """Train one child with the final-training recipe: fine-tuned from the shared weights, or from scratch
        (initial weights and data order seeded by (seed, kind)), emitting `{kind}_step` and `{kind}_epoch`.
        Returns the network in eval mode, its validation accuracy and the number of steps."""
        c = self.config
        if mode == "finetune":
            self.restore_for_use()
            net = self.inherited_child(arch)
        elif epochs == 0:
            raise ValueError("final training from scratch with 0 epochs would only evaluate an untrained network; "
                             "use epochs >= 1, or mode finetune (0 epochs: evaluate the inherited child as it is)")
        else:
            torch.manual_seed(stream_seed(c.seed, f"{kind}-init"))
            net = ChildNet(arch, c.channels, self.classes, c.dropout, c.first_node_bn).to(self.device)
        net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=c.final_lr, momentum=c.momentum, nesterov=c.momentum > 0,
                              weight_decay=c.weight_decay)
        scaler = torch.amp.GradScaler(self.device.type, enabled=c.precision == "fp16")
        gen = stream(c.seed, f"{kind}-data")
        steps = self._steps_per_epoch()
        step = 0
        val_acc = None
        self.emit(f"{kind}_start", 0, 0, arch=str(arch), mode=mode, epochs=epochs)
        for e in range(epochs):
            net.train()
            images, tick = 0, time.perf_counter()   # images/s of the steps since the last report
            for i, (x, y) in enumerate(self.train_data.epoch(c.batch_size, gen)):
                if i >= steps:
                    break
                self.wait()
                for g in opt.param_groups:
                    g["lr"] = cosine_lr(e + i / steps, epochs, c.final_lr, 0.0)
                loss, acc = self.train_step(net, x, y, opt, scaler, net.parameters())
                step += 1
                images += len(y)
                if step % self.log_every == 0:
                    loss_v = loss.item()
                    if not math.isfinite(loss_v):
                        raise Diverged(f"non-finite loss ({loss_v}) at {kind}-training step {step} (epoch {e})")
                    now = time.perf_counter()
                    self.emit(f"{kind}_step", e, step, loss=loss_v, acc=acc.item(), progress=(i + 1) / steps,
                              images_per_s=images / max(now - tick, 1e-9))
                    images, tick = 0, now
            with self.autocast():
                val_acc = evaluate(net, self.val_data)
            self.emit(f"{kind}_epoch", e, step, val_acc=val_acc, epochs=epochs)
        if val_acc is None:  # 0 epochs: the inherited child as it is
            with self.autocast():
                val_acc = evaluate(net, self.val_data)
        return net, val_acc, step


def load_data(config: Config):
    """The dataset a configuration names (raises DataError with a clear message)."""
    c = config
    val_size = None if c.val_size is None else (c.val_size if c.val_size < 1 else int(c.val_size))
    return load_dataset(c.dataset, data_dir=c.data_dir, image_size=c.image_size, val_size=val_size,
                        train_subset=c.train_subset, seed=c.seed)
