"""`shapes`: a built-in image dataset generated from a seed, so the project runs with no download.

Ten classes of RGB images (32x32 by default): five shapes (disk, square, triangle, ring, cross) and five
textures (horizontal / vertical / diagonal stripes, checkerboard, dots). Every image has its own random
foreground and background colours (kept apart in brightness so the content is visible), position, scale,
rotation (shapes; textures get a small orientation jitter and a random period and phase), a faint background
gradient and Gaussian pixel noise. Shapes are small and placed anywhere, so a net needs translation
invariance (pooling helps); textures fill a random rectangle and differ by orientation and period, so the
kernel sizes matter. A small CNN gets well above chance in a minute on a CPU, but not 100%.

Generation is vectorised torch code on the CPU (one thread, see `_one_thread`), about 10,000 images a second,
and deterministic:
images come in chunks of `CHUNK`, chunk k drawn from its own generator seeded by (seed, k), so
`make_shapes(n, seed)` is a prefix of `make_shapes(m, seed)` for n < m and does not depend on thread count.
"""
from __future__ import annotations

import functools
import math
import threading

import torch

SHAPES_CLASSES: list[str] = [
    "disk", "square", "triangle", "ring", "cross",
    "h-stripes", "v-stripes", "d-stripes", "checker", "dots",
]
CHUNK = 1024  # images generated per chunk (each chunk has its own seeded generator)


def _chunk_generator(seed: int, chunk: int) -> torch.Generator:
    g = torch.Generator()
    # a fixed mixing of (seed, chunk) into one 63-bit seed
    g.manual_seed((int(seed) * 1_000_003 + chunk * 7_919 + 12_345) % (2**63 - 1))
    return g


def _rand(g, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, 1, 1, generator=g)


def _colours(g, n):
    """Foreground and background colours [n,3] in [0,1] whose brightness differs by at least 0.3."""
    bg = torch.rand(n, 3, generator=g)
    fg = torch.rand(n, 3, generator=g)
    w = torch.tensor([0.299, 0.587, 0.114])
    for _ in range(8):  # resample the pairs that are too close (vectorised rejection)
        bad = ((fg - bg) @ w).abs() < 0.3
        if not bool(bad.any()):
            break
        fg = torch.where(bad[:, None], torch.rand(n, 3, generator=g), fg)
    bad = ((fg - bg) @ w).abs() < 0.3  # the few left: push the foreground away from the background
    lum = bg @ w
    push = torch.where(lum > 0.5, torch.zeros(n), torch.ones(n))
    fg = torch.where(bad[:, None], 0.5 * fg + 0.5 * push[:, None], fg)
    fg = torch.where(bad[:, None] & (((fg - bg) @ w).abs() < 0.3)[:, None], push[:, None].expand(n, 3), fg)
    return fg, bg


def _shape_sd(kind: int, g, n: int, yy, xx, size: int):
    """Signed distance (pixels, positive inside) of `n` random shapes of one kind on the grid."""
    s = size / 32.0
    r = _rand(g, n, 4.5 * s, 11.0 * s)  # radius / half-size
    cy = _rand(g, n, 0, 1) * (size - 2 * r) + r
    cx = _rand(g, n, 0, 1) * (size - 2 * r) + r
    th = _rand(g, n, 0, 2 * math.pi)
    dy, dx = yy - cy, xx - cx
    u = dx * torch.cos(th) + dy * torch.sin(th)
    v = -dx * torch.sin(th) + dy * torch.cos(th)
    if kind == 0:  # disk
        return r - torch.sqrt(dx * dx + dy * dy)
    if kind == 1:  # square
        return 0.85 * r - torch.maximum(u.abs(), v.abs())
    if kind == 2:  # equilateral triangle, inradius r/2
        d = torch.stack([dx * torch.cos(th + a) + dy * torch.sin(th + a)
                         for a in (0.0, 2 * math.pi / 3, 4 * math.pi / 3)]).amax(0)
        return 0.5 * r - d
    if kind == 3:  # ring
        t = _rand(g, n, 1.2 * s, 2.2 * s)
        return t - (torch.sqrt(dx * dx + dy * dy) - (r - t)).abs()
    if kind == 4:  # cross (plus sign, rotated)
        w = _rand(g, n, 1.3 * s, 2.3 * s)
        a = torch.minimum(r - u.abs(), w - v.abs())
        b = torch.minimum(w - u.abs(), r - v.abs())
        return torch.maximum(a, b)
    raise ValueError(kind)


def _texture_sd(kind: int, g, n: int, yy, xx, size: int):
    """Signed 'distance' of `n` random textures of one kind, inside a random rectangle."""
    s = size / 32.0
    period = _rand(g, n, 4.0 * s, 9.0 * s)
    phase = _rand(g, n, 0, 2 * math.pi)
    jitter = _rand(g, n, -0.17, 0.17)  # about +-10 degrees
    if kind == 7:  # diagonal: either diagonal
        flip = (torch.rand(n, 1, 1, generator=g) < 0.5).float() * 2 - 1
        th = flip * math.pi / 4 + jitter
    elif kind == 6:
        th = math.pi / 2 + jitter
    else:
        th = jitter
    u = xx * torch.sin(th) + yy * torch.cos(th)  # th=0: varies along y (horizontal stripes)
    v = xx * torch.cos(th) - yy * torch.sin(th)
    k = 2 * math.pi / period
    amp = period / (2 * math.pi)  # so the edge is about one pixel wide, like the shapes
    if kind in (5, 6, 7):
        sd = amp * torch.cos(k * u + phase)
    elif kind == 8:  # checkerboard
        sd = amp * torch.cos(k * u + phase) * torch.cos(k * v + phase) * 1.5
    elif kind == 9:  # dots on a grid
        sd = amp * (torch.cos(k * u + phase) + torch.cos(k * v + phase) - 1.0)
    else:
        raise ValueError(kind)
    # a random rectangle covering 55-100% of each side
    h = _rand(g, n, 0.55, 1.0) * size
    w = _rand(g, n, 0.55, 1.0) * size
    y0 = _rand(g, n, 0, 1) * (size - h)
    x0 = _rand(g, n, 0, 1) * (size - w)
    inside = torch.minimum(torch.minimum(yy - y0, y0 + h - yy), torch.minimum(xx - x0, x0 + w - xx))
    return sd, inside


def _make_chunk(n: int, g: torch.Generator, size: int):
    labels = torch.arange(n) % len(SHAPES_CLASSES)
    labels = labels[torch.randperm(n, generator=g)]
    fg, bg = _colours(g, n)
    yy = torch.arange(size, dtype=torch.float32).view(1, size, 1) + 0.5
    xx = torch.arange(size, dtype=torch.float32).view(1, 1, size) + 0.5
    fgm = torch.zeros(n, size, size)  # foreground coverage in [0,1]
    region = torch.ones(n, size, size)  # where the texture is drawn (1 for shapes)
    for c in range(len(SHAPES_CLASSES)):
        idx = (labels == c).nonzero().flatten()
        m = len(idx)
        if m == 0:
            continue
        if c < 5:
            fgm[idx] = torch.sigmoid(2.5 * _shape_sd(c, g, m, yy, xx, size))
        else:
            sd, inside = _texture_sd(c, g, m, yy, xx, size)
            fgm[idx] = torch.sigmoid(2.5 * sd)
            region[idx] = torch.sigmoid(2.5 * inside)
    m = (fgm * region).unsqueeze(1)  # [n,1,H,W]
    # background: colour plus a faint linear gradient in a random direction
    gdir = torch.rand(n, 1, 1, generator=g) * 2 * math.pi
    gamp = torch.rand(n, 1, 1, generator=g) * 0.15
    grad = gamp * ((xx / size - 0.5) * torch.cos(gdir) + (yy / size - 0.5) * torch.sin(gdir))
    back = bg.view(n, 3, 1, 1) + grad.unsqueeze(1)
    img = back * (1 - m) + fg.view(n, 3, 1, 1) * m
    sigma = _rand(g, n, 0.02, 0.08).unsqueeze(1)
    img = img + sigma * torch.randn(n, 3, size, size, generator=g)
    img = (img.clamp_(0, 1) * 255).round_().to(torch.uint8)
    return img, labels


def make_shapes(n: int, seed: int = 0, image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate `n` images: uint8 [n,3,image_size,image_size] and int64 labels [n] (indices into
    SHAPES_CLASSES), the classes balanced within each chunk. Same (n, seed, image_size): same tensors."""
    n, image_size = int(n), int(image_size)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 for the shapes dataset, got {image_size}")
    return _one_thread(_generate, n, seed, image_size)


def _generate(n: int, seed: int, image_size: int):
    images = torch.empty(n, 3, image_size, image_size, dtype=torch.uint8)
    labels = torch.empty(n, dtype=torch.int64)
    for k, start in enumerate(range(0, n, CHUNK)):
        g = _chunk_generator(seed, k)
        # always generate a full chunk so a prefix does not depend on n
        img, lab = _make_chunk(CHUNK, g, image_size)
        m = min(CHUNK, n - start)
        images[start:start + m] = img[:m]
        labels[start:start + m] = lab[:m]
    return images, labels


@functools.lru_cache(maxsize=1)
def _openmp() -> bool:
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def _one_thread(fn, *args):
    """Run fn in a helper thread that uses one intra-op thread. The generator runs hundreds of mid-sized
    elementwise ops; with OpenMP each is a parallel region, and when the cores are busy with other work every
    region waits for a descheduled thread: measured 5-18 s instead of 1.3 s for 14,000 images on a loaded
    2-core machine. With OpenMP the thread count is per thread, so the caller's setting is not touched (MKL's
    count is process-wide: it is set back to the caller's value at the end). Other backends: run as is."""
    if not _openmp():
        return fn(*args)
    caller = torch.get_num_threads()
    box = {}

    def run():
        try:
            torch.set_num_threads(1)
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e
        finally:
            torch.set_num_threads(caller)

    t = threading.Thread(target=run, name="enas-shapes", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
