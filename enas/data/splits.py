"""Splits of a dataset held in memory: `Split`, `Dataset`, `DataError`, and how splits are carved, subset and
interleaved (stratified by class, fixed by seed). Used by every source in `enas.data.load`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from enas.errors import DataError
from enas.seeds import stream


@dataclass
class Split:
    images: torch.Tensor  # uint8 [N, 3, H, W], contiguous, CPU
    labels: torch.Tensor  # int64 [N]

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"Split.images must be uint8 [N,3,H,W], got {self.images.dtype} "
                             f"{list(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"Split.labels must be int64 [{self.images.shape[0]}], got {self.labels.dtype} "
                             f"{list(self.labels.shape)}")
        self.images = self.images.contiguous()

    def __len__(self) -> int:
        return self.images.shape[0]


@dataclass
class Dataset:
    name: str
    classes: list[str]
    train: Split
    val: Split
    test: Split | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def summary(self) -> str:
        test = f", {len(self.test):,} test" if self.test is not None else ""
        return (f"{self.name}: {len(self.classes)} classes, {len(self.train):,} train, {len(self.val):,} val"
                f"{test}, {self.image_size}x{self.image_size}")


def data_dir_default() -> str:
    """`ENAS_DATA_DIR`, or `~/.cache/enas/data`."""
    d = os.environ.get("ENAS_DATA_DIR")
    return os.path.abspath(os.path.expanduser(d)) if d else os.path.join(os.path.expanduser("~"), ".cache", "enas",
                                                                       "data")


def data_root(data_dir) -> str:
    return os.path.abspath(os.path.expanduser(str(data_dir))) if data_dir else data_dir_default()


def resolve_size(name, v, default, n) -> int:
    """A count or a fraction of `n` -> a count."""
    if v is None:
        v = default
    if v >= 1:
        return int(v)
    if v == 0:
        return 0
    return max(1, int(round(float(v) * n)))  # a positive fraction gives at least one image


def _stratified_order(labels: torch.Tensor, seed: int, purpose: str) -> torch.Tensor:
    """A permutation of range(len(labels)), random by (seed, purpose), in which every prefix holds each class in
    about its overall proportion (classes interleaved)."""
    n = labels.numel()
    g = stream(seed, purpose)
    perm = torch.randperm(n, generator=g)
    lab = labels[perm]
    counts = torch.bincount(lab, minlength=int(lab.max()) + 1 if n else 0).double()
    # rank of each item within its class, in the permuted order
    order = torch.argsort(lab, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(n, dtype=torch.float64)
    rank[order] = torch.arange(n, dtype=torch.float64) - starts[lab[order]].double()
    key = (rank + 0.5) / counts[lab]
    return perm[torch.argsort(key, stable=True)]


def carve(labels, n_val, n_test, seed, classes, where):
    """Indices (train, val, test) carved from one pool of labelled images."""
    n = labels.numel()
    if n_val + n_test >= n:
        raise DataError(f"{where}: {n:,} images are too few for {n_val:,} validation + {n_test:,} test images; "
                        f"use smaller val_size/test_size (counts, or fractions such as 0.1)")
    order = _stratified_order(labels, seed, "carve")
    val, test, train = order[:n_val], order[n_val:n_val + n_test], order[n_val + n_test:]
    present = torch.bincount(labels[train], minlength=len(classes))
    missing = [classes[i] for i in range(len(classes)) if present[i] == 0 and (labels == i).any()]
    if missing:
        raise DataError(f"{where}: no training images left for class(es) {', '.join(missing)} after carving "
                        f"{n_val} validation and {n_test} test images; add images or use smaller val_size/test_size")
    return train, val, test


def _subset(split: Split, k: int | None, seed: int, notes: list) -> Split:
    if k is None:
        return split
    if k >= len(split):
        if k > len(split):
            notes.append(f"train_subset {k:,} is more than the {len(split):,} training images; using them all")
        return split
    idx = _stratified_order(split.labels, seed, "subset")[:k]
    notes.append(f"using a subset of {k:,} of the {len(split):,} training images")
    return Split(split.images[idx].contiguous(), split.labels[idx].contiguous())


def take(images, labels, idx) -> Split:
    return Split(images[idx].contiguous(), labels[idx].contiguous())


def _interleaved(split: Split | None, seed: int, purpose: str) -> Split | None:
    """The split in a random order with its classes interleaved (any prefix, any batch, holds them all)."""
    if split is None or len(split) == 0:
        return split
    return take(split.images, split.labels, _stratified_order(split.labels, seed, purpose))


def _mean_std(images: torch.Tensor) -> tuple[tuple, tuple]:
    """Per-channel mean and std in [0,1] units, exact, from a histogram of the uint8 values per channel."""
    v = torch.arange(256, dtype=torch.float64)
    mean, std = [], []
    for ch in range(3):
        h = torch.bincount(images[:, ch].reshape(-1), minlength=256).double()
        n = max(float(h.sum()), 1.0)
        m = float((h * v).sum()) / n
        var = max(float((h * v * v).sum()) / n - m * m, 0.0)
        mean.append(m / 255)
        std.append(max(var ** 0.5 / 255, 1e-3))  # a constant channel: no divide by ~0
    return tuple(mean), tuple(std)


def finish(name, classes, train, val, test, train_subset, seed, notes) -> Dataset:
    train = _subset(train, train_subset, seed, notes)
    if len(val) == 0:
        raise DataError(f"{name}: the validation split is empty (it is needed for the controller's reward); "
                        f"use val_size >= 1 or a fraction such as 0.1")
    mean, std = _mean_std(train.images)
    # stored order is never class order: a full pass over a split in order (evaluation) sees mixed batches
    train, val, test = (_interleaved(s, seed, f"order-{k}") for s, k in ((train, "train"), (val, "val"),
                                                                           (test, "test")))
    return Dataset(name=name, classes=list(classes), train=train, val=val, test=test, mean=mean, std=std,
                   notes=notes)
