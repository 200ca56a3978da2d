"""Derive and final training: one child at a time, scored with the shared weights or trained on its own.

`ChildTraining` holds the phases `derive` and `train_final` of an `Engine` (search.py) and what they share with
the rank check and the race: a child inheriting the shared weights with its own BN statistics, its whole-split
accuracy, and training one child with the final-training recipe.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter

import torch

from enas.config import ConfigError
from enas.data.device import DeviceData
from enas.model import ChildNet, calibrate_bn
from enas.steering import steering_now
from enas.quality.rankcheck import check_recheck, recheck_top
from enas.runs.store import StoreError, save_atomic
from enas.seeds import stream, stream_seed
from enas.space import Architecture

FORMAT = "enas-explorer"
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


def check_derive(samples: int | None, recheck: int = 0, recheck_epochs: int = 1):
    """Refuse a derive that cannot run, before the run is touched (the CLI and the Python API alike)."""
    if samples is not None and samples < 1:
        raise ConfigError(f"--samples {samples}: must be at least 1")
    check_recheck(recheck, recheck_epochs)


def check_final(mode: str, epochs: int | None):
    """Refuse a final training that cannot run, before the run is touched: scratch needs 1 epoch or more
    (finetune with 0 epochs evaluates the inherited child)."""
    if mode not in ("finetune", "scratch"):
        raise ConfigError(f"--mode {mode}: use finetune or scratch")
    least = 1 if mode == "scratch" else 0
    if epochs is not None and epochs < least:
        raise ConfigError(f"--epochs {epochs}: must be at least {least} with mode {mode} (0 epochs of "
                          "finetune evaluates the inherited child)")


@torch.inference_mode()
def evaluate(net: torch.nn.Module, data: DeviceData, batch: int = EVAL_BATCH) -> float:
    """Accuracy of `net` over a whole split, in eval mode (its BN statistics are used, never updated)."""
    net.eval()
    correct = torch.zeros((), device=data.device)
    for x, y in data.batches(batch):
        correct += (net(x).argmax(1) == y).sum()
    return correct.item() / max(len(data), 1)


class ChildTraining:
    """Engine's phases derive and train_final, and their single-child tools (an `Engine` mixin: it uses the
    engine's config, data, supergraph, sampler, store, events and controls)."""

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
        constraints = self.steering.constraints   # derive samples what the steered search may sample
        under = f" under the constraints in force ({constraints.describe()})" if constraints else ""
        self.set_status("running", f"deriving: scoring {m} sampled children{under} on the validation split")
        with torch.no_grad():
            archs = self.sampler.sample(m, generator=stream(self.config.seed, "derive"), constraints=constraints).archs
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
                  recheck_epochs=recheck_epochs if recheck else None,
                  constraints=constraints.to_dict() if constraints else None)
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
            self.set_steering(steering_now(self.store, self.config))   # the changes after the checkpoint too

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
                  "params": arch.param_count(c.channels, self.classes, c.first_node_bn, c.bn),
                  "flops": arch.flops(c.channels, c.image_size, self.classes, c.bn)}
        self.emit("final_result", epochs, step, **result)
        if self.store is not None:
            save_atomic({"format": FORMAT, "kind": "child", "arch": arch.to_dict(), "channels": c.channels,
                         "dropout": c.dropout, "first_node_bn": c.first_node_bn, "bn": c.bn,
                         "classes": self.dataset.classes, "mean": list(self.dataset.mean),
                         "std": list(self.dataset.std),
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
            net = ChildNet(arch, c.channels, self.classes, c.dropout, c.first_node_bn, c.bn).to(self.device)
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
