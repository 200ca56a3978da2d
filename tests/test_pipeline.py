"""DeviceData: normalisation, order, augmentation against a per-image reference, determinism from the
generator only, random validation batches, and speed relative to a training step."""
import time

import pytest
import torch
import torch.nn.functional as F

from enas.data.device import PAD, DeviceData
from enas.data.load import DataError, Split

MEAN = (0.4, 0.5, 0.6)
STD = (0.2, 0.25, 0.3)


def make_split(n=50, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                 torch.randint(0, 10, (n,), generator=g))


def normalise(x):
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return (x.float() / 255 - m) / s


def reference_augment(images, oy, ox, flip):
    """The per-image definition: zero-pad by 4, crop at (oy, ox), mirror left-right if flip."""
    h, w = images.shape[-2:]
    p = F.pad(images, (PAD, PAD, PAD, PAD))
    out = []
    for i in range(images.shape[0]):
        crop = p[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w]
        out.append(crop.flip(-1) if flip[i] else crop)
    return torch.stack(out)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_batches_in_order_normalised_with_partial_last():
    s = make_split(50)
    dd = DeviceData(s, MEAN, STD)
    assert len(dd) == 50 and dd.device == torch.device("cpu")
    out = list(dd.batches(16))
    assert [x.shape[0] for x, _ in out] == [16, 16, 16, 2]
    x = torch.cat([b[0] for b in out])
    y = torch.cat([b[1] for b in out])
    assert x.dtype == torch.float32 and x.shape == (50, 3, 32, 32)
    assert torch.allclose(x, normalise(s.images), atol=1e-5) and torch.equal(y, s.labels)
    # evaluation never augments, even on an augmenting DeviceData
    aug = DeviceData(s, MEAN, STD, augment=True)
    assert torch.allclose(torch.cat([b[0] for b in aug.batches(64)]), x, atol=0)


def test_epoch_is_a_shuffled_pass():
    s = make_split(50)
    dd = DeviceData(s, MEAN, STD)
    got = list(dd.epoch(8, gen(1), drop_last=False))
    assert [x.shape[0] for x, _ in got] == [8] * 6 + [2]
    x = torch.cat([b[0] for b in got])
    y = torch.cat([b[1] for b in got])
    ref = normalise(s.images)
    # every image exactly once, with its own label
    match = (x.view(50, 1, -1) - ref.view(1, 50, -1)).abs().amax(-1) < 1e-5  # [yielded, original]
    assert match.sum(1).eq(1).all() and match.sum(0).eq(1).all()
    order = match.float().argmax(1)
    assert torch.equal(y, s.labels[order])
    assert not torch.equal(order, torch.arange(50))  # shuffled
    assert dd.num_batches(8) == 6 and dd.num_batches(8, drop_last=False) == 7
    assert len(list(dd.epoch(8, gen(1)))) == 6  # drop_last


def test_epoch_matches_reference_augmentation_exactly():
    s = make_split(64)
    dd = DeviceData(s, MEAN, STD, augment=True)
    g = gen(5)
    x, y = next(dd.epoch(32, g))
    # replay the same draws from the same generator state: permutation, then oy, ox, flip
    r = gen(5)
    perm = torch.randperm(64, generator=r)[:32]
    oy = torch.randint(0, 2 * PAD + 1, (32,), generator=r)
    ox = torch.randint(0, 2 * PAD + 1, (32,), generator=r)
    flip = torch.randint(0, 2, (32,), generator=r).bool()
    ref = normalise(reference_augment(s.images[perm], oy, ox, flip))
    assert torch.allclose(x, ref, atol=1e-5) and torch.equal(y, s.labels[perm])
    assert flip.any() and (~flip).any() and len(set(oy.tolist())) > 3


def test_augmentation_covers_offsets_and_flips():
    # images whose pixel value encodes the column: crops and flips are visible in row 16
    n, size = 400, 32
    col = torch.arange(size, dtype=torch.uint8) * 5 + 10
    img = col.view(1, 1, 1, size).expand(n, 3, size, size).contiguous()
    dd = DeviceData(Split(img, torch.zeros(n, dtype=torch.int64)), (0, 0, 0), (1 / 255,) * 3, augment=True)
    x, _ = dd.random_batch(n, gen(0))
    row = x[:, 0, 16].round().long()  # raw values back (mean 0, std 1/255)
    shifts, flips = set(), 0
    for r in row:
        nz = r[r > 0]
        flipped = len(nz) > 1 and nz[0] > nz[-1]
        flips += int(flipped)
        first_real = (r > 0).nonzero()[0 if not flipped else -1].item()
        shifts.add(first_real if not flipped else size - 1 - first_real)
        assert (r == 0).sum() <= PAD  # at most PAD zero-padding columns
    assert shifts == set(range(0, PAD + 1))  # pixel 0 lands at 0..4 (offsets 4..0); offsets > 4 crop it off
    assert 0.35 < flips / n < 0.65


def test_determinism_only_from_the_generator():
    s = make_split(100)
    dd = DeviceData(s, MEAN, STD, augment=True)
    torch.manual_seed(1)
    a = [(x.clone(), y.clone()) for x, y in dd.epoch(16, gen(42))] + [dd.random_batch(10, gen(7))]
    torch.manual_seed(999)  # the global RNG must not matter
    torch.rand(5)
    b = [(x.clone(), y.clone()) for x, y in dd.epoch(16, gen(42))] + [dd.random_batch(10, gen(7))]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    c = [x for x, _ in dd.epoch(16, gen(43))]
    assert not torch.equal(a[0][0], c[0])
    # consecutive epochs from one generator differ, and resuming from a saved state repeats them
    g = gen(3)
    first = next(dd.epoch(16, g))[0]
    state = g.get_state()
    second = [x for x, _ in dd.epoch(16, g)]
    g2 = torch.Generator()
    g2.set_state(state)
    again = [x for x, _ in dd.epoch(16, g2)]
    assert not torch.equal(first, second[0])
    assert all(torch.equal(p, q) for p, q in zip(second, again))


def test_random_batch_without_repeats():
    s = make_split(40)
    dd = DeviceData(s, MEAN, STD)
    x, y = dd.random_batch(40, gen(0))
    ref = normalise(s.images)
    match = (x.view(40, 1, -1) - ref.view(1, 40, -1)).abs().amax(-1) < 1e-5
    assert match.sum(0).eq(1).all()  # a permutation: each image once
    x2, _ = dd.random_batch(40, gen(0))
    assert torch.equal(x, x2)
    xs, _ = dd.random_batch(100, gen(0))  # more than the split: with repeats, still works
    assert xs.shape[0] == 100
    g = gen(1)
    assert not torch.equal(dd.random_batch(8, g)[0], dd.random_batch(8, g)[0])


def test_channels_last_and_device_string():
    s = make_split(20)
    dd = DeviceData(s, MEAN, STD, device="cpu", augment=True, channels_last=True)
    x, _ = next(dd.epoch(8, gen(0)))
    assert x.is_contiguous(memory_format=torch.channels_last)
    plain = DeviceData(s, MEAN, STD, device=torch.device("cpu"), augment=True)
    assert torch.equal(x, next(plain.epoch(8, gen(0)))[0])


def test_other_image_sizes():
    s = make_split(10, size=20)
    dd = DeviceData(s, MEAN, STD, augment=True)
    x, _ = next(dd.epoch(4, gen(0)))
    assert x.shape == (4, 3, 20, 20)


def test_bad_arguments_are_clear():
    dd = DeviceData(make_split(10), MEAN, STD)
    with pytest.raises(DataError, match="larger than the split"):
        next(dd.epoch(11, gen(0)))
    assert len(list(dd.epoch(11, gen(0), drop_last=False))) == 1
    for bad in (0, -1, 2.5):
        with pytest.raises(DataError, match="batch size"):
            next(dd.batches(bad))
    empty = DeviceData(Split(torch.zeros(0, 3, 8, 8, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64)),
                       MEAN, STD)
    with pytest.raises(DataError, match="empty"):
        empty.random_batch(4, gen(0))
    assert list(empty.batches(4)) == []
    for g in (None, 3):
        with pytest.raises(TypeError, match="CPU torch.Generator"):
            next(dd.epoch(4, g))
        with pytest.raises(TypeError, match="CPU torch.Generator"):
            dd.random_batch(4, g)
    with pytest.raises(ValueError, match="std"):
        DeviceData(make_split(4), MEAN, (0.1, 0.0, 0.1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_gives_the_same_batches_as_cpu():
    s = make_split(64)
    cpu = DeviceData(s, MEAN, STD, augment=True)
    gpu = DeviceData(s, MEAN, STD, device="cuda", augment=True)
    for (a, ya), (b, yb) in zip(cpu.epoch(16, gen(2)), gpu.epoch(16, gen(2))):
        assert b.device.type == "cuda" and torch.allclose(a, b.cpu(), atol=1e-5) and torch.equal(ya, yb.cpu())
    assert torch.equal(cpu.random_batch(8, gen(4))[1], gpu.random_batch(8, gen(4))[1].cpu())


def test_pipeline_is_much_faster_than_a_training_step():
    """An augmented batch of 128 costs a small fraction of one forward+backward of a small conv net.
    Both are timed with one intra-op thread: on a machine whose cores are busy with other work, OpenMP
    parallel regions stall waiting for descheduled threads, which distorts the many small pipeline ops far
    more than the few big convolutions (benchmarks/bench_data.py measures the real, threaded figures)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        s = make_split(512)
        dd = DeviceData(s, MEAN, STD, augment=True)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
        g = gen(0)
        batches = list(dd.epoch(128, g))  # warm up
        per_batch = []  # the minimum over repeats: robust to other work on the machine
        for _ in range(12):
            t = time.perf_counter()
            batches = list(dd.epoch(128, g))
            per_batch.append((time.perf_counter() - t) / len(batches))
        x, y = batches[0]
        per_step = []
        for _ in range(3):
            t = time.perf_counter()
            F.cross_entropy(net(x), y).backward()
            per_step.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    assert min(per_batch) * 5 < min(per_step), (per_batch, per_step)
