"""Batches straight from device memory: a split lives on the device as uint8 and is served as normalised
float32 batches, augmented (pad 4 + random crop + horizontal flip) with whole-batch tensor ops.

Determinism: every random number (shuffle order, crop offsets, flips, random batch indices) is drawn on the
CPU from the `torch.Generator` passed in, then moved to the device; the same generator state gives the same
batches on any device. Nothing else (no global RNG) is used.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from enas.data.load import DataError, Split

PAD = 4  # augmentation: zero padding on each side before the random crop


class DeviceData:
    """A split held on a device as uint8, served as normalised float batches."""

    def __init__(self, split: Split, mean, std, device="cpu", augment=False, channels_last=False):
        self.device = torch.device(device)
        self.images = split.images.to(self.device, non_blocking=True).contiguous()
        self.labels = split.labels.to(self.device, non_blocking=True)
        self.augment = bool(augment)
        self.channels_last = bool(channels_last)
        mean = torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        if (std <= 0).any():
            raise ValueError(f"std must be > 0, got {std.flatten().tolist()}")
        # x_norm = (x/255 - mean) / std = x * scale + shift, one fused multiply-add
        self.scale = (1.0 / (255.0 * std)).to(self.device)
        self.shift = (-mean / std).to(self.device)
        n, _, h, w = self.images.shape
        self.height, self.width = h, w
        if self.augment:
            # flat offsets of an HxW window inside the padded (H+2P)x(W+2P) image, for crop position (0, 0)
            wp = w + 2 * PAD
            rows = torch.arange(h).view(h, 1) * wp
            self._base = (rows + torch.arange(w).view(1, w)).reshape(1, 1, h * w).to(self.device)
            self._base_flip = (rows + torch.arange(w - 1, -1, -1).view(1, w)).reshape(1, 1, h * w).to(self.device)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        n = len(self)
        return n // batch_size if drop_last else -(-n // batch_size)

    # ------------------------------------------------------------------------------------------------------

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addcmul(self.shift, x.to(torch.float32), self.scale)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 [B,3,H,W] -> uint8 [B,3,H,W]: zero-pad by PAD, crop HxW at a random offset, flip half."""
        b, c, h, w = x.shape
        oy = torch.randint(0, 2 * PAD + 1, (b,), generator=generator)
        ox = torch.randint(0, 2 * PAD + 1, (b,), generator=generator)
        flip = torch.randint(0, 2, (b,), generator=generator).bool()
        hp, wp = h + 2 * PAD, w + 2 * PAD
        offset = (oy * wp + ox).to(self.device).view(b, 1, 1)
        flip = flip.to(self.device).view(b, 1, 1)
        padded = x.new_zeros(b, c, hp, wp)
        padded[:, :, PAD:PAD + h, PAD:PAD + w] = x
        index = torch.where(flip, self._base_flip, self._base) + offset  # [B,1,H*W]
        out = torch.gather(padded.view(b, c, hp * wp), 2, index.expand(b, c, h * w))
        return out.view(b, c, h, w)

    def _batch(self, idx_cpu: torch.Tensor, generator: torch.Generator | None, augment: bool):
        idx = idx_cpu.to(self.device, non_blocking=True)
        x = self.images.index_select(0, idx)
        if augment:
            x = self._augment(x, generator)
        return self._normalise(x), self.labels.index_select(0, idx)

    # ------------------------------------------------------------------------------------------------------

    def epoch(self, batch_size: int, generator: torch.Generator, drop_last=True) -> Iterator:
        """Yield (x, y) over a shuffled pass; x float32 [B,3,H,W] normalised (augmented if augment).
        With drop_last a split smaller than one batch is an error (it would yield nothing)."""
        batch_size = _check_batch(batch_size)
        _check_generator(generator)
        n = len(self)
        if drop_last and n < batch_size:
            raise DataError(f"batch size {batch_size} is larger than the split ({n} images); use a smaller "
                            f"batch size or more images")
        perm = torch.randperm(n, generator=generator)
        stop = n - n % batch_size if drop_last else n
        for i in range(0, stop, batch_size):
            yield self._batch(perm[i:i + batch_size], generator, self.augment)

    def random_batch(self, batch_size: int, generator: torch.Generator,
                     augment: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One random minibatch, without repeats when batch_size <= len (used for the controller's reward on
        validation). Augmented if `augment`, by default if this DeviceData was made with augment=True."""
        batch_size = _check_batch(batch_size)
        _check_generator(generator)
        n = len(self)
        if n == 0:
            raise DataError("cannot draw a batch from an empty split")
        if batch_size <= n:
            idx = torch.randperm(n, generator=generator)[:batch_size]
        else:
            idx = torch.randint(0, n, (batch_size,), generator=generator)
        return self._batch(idx, generator, self.augment if augment is None else augment)

    def batches(self, batch_size: int) -> Iterator:
        """Yield (x, y) in order, no augmentation, last partial batch included (for full evaluation)."""
        batch_size = _check_batch(batch_size)
        n = len(self)
        for i in range(0, n, batch_size):
            x = self.images[i:i + batch_size]
            yield self._normalise(x), self.labels[i:i + batch_size]


def _check_batch(batch_size) -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise DataError(f"batch size must be a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def _check_generator(generator):
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(f"generator must be a CPU torch.Generator (all randomness comes from it, for exact "
                        f"resumes), got {generator!r}")
