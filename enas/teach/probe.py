"""Try a trained child on one image: its most likely classes with their probabilities, and how strongly each
node's output responds to the image (`probe`).

The image is prepared exactly as the child's own data were: an uploaded file is decoded, converted to RGB and
resized by the image-folder loader's own code (`read_image`), and normalised with the mean and std the child was
trained with, by the batches' own code (`normalise`); an image of the run's test split is used as loaded.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from enas.config import Config
from enas.data.decode import _TV_DEPRECATION, _decode_jpegs, _decode_pil, _is_jpeg
from enas.data.device import DeviceData
from enas.data.splits import Split
from enas.engine.children import FORMAT
from enas.engine.search import load_data
from enas.model import ChildNet, run_chain
from enas.space import Architecture, ArchitectureError

MAX_BYTES = 20 * 2**20          # an upload larger than this is refused before decoding
MAX_PIXELS = 40_000_000         # so is one of more pixels (a decompression bomb would fill the memory)
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG"}   # what PIL calls the formats accepted (MPO: a camera JPEG)
GREY = ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")


class ProbeError(ValueError):
    """An image or a weights file that cannot be probed, with a message that says why."""


@dataclass(frozen=True)
class Child:
    """A trained child as final training saved it, in eval mode on the CPU, with what its inputs need."""

    net: ChildNet
    arch: Architecture
    channels: int
    classes: list
    mean: tuple
    std: tuple
    image_size: int


@dataclass(frozen=True)
class Probe:
    """What the child makes of one image."""

    probs: torch.Tensor     # [classes]: softmax of the child's output
    top: list               # [(class, probability)], the most likely first
    maps: torch.Tensor      # [nodes, H, W]: each node's mean |activation| over its channels, upsampled to the image
    grid: tuple             # (h, w): the size of the node outputs before upsampling
    strength: list          # per node: its mean |activation| over channels and positions
    ranking: list           # node indices, the strongest response first


def load_child(path, image_size: int) -> Child:
    """The child in a run's final.pt, for inputs of `image_size` (the run's); ProbeError if it is not one."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ProbeError(f"{path}: no such weights file (final training writes final.pt)") from None
    except Exception as e:  # noqa: BLE001 - truncated, not a torch file, unreadable: one clear message
        raise ProbeError(f"{path} is not a readable weights file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("kind") != "child":
        raise ProbeError(f"{path} does not hold the weights of a trained child (a run's final.pt)")
    try:
        arch = Architecture.from_dict(obj["arch"])
        net = ChildNet(arch, obj["channels"], len(obj["classes"]), obj["dropout"], obj["first_node_bn"],
                       obj.get("bn", "node"))
        net.load_state_dict(obj["state_dict"])
        return Child(net.eval(), arch, obj["channels"], list(obj["classes"]), tuple(obj["mean"]), tuple(obj["std"]),
                     image_size)
    except (KeyError, TypeError, ValueError, RuntimeError, ArchitectureError) as e:
        raise ProbeError(f"{path}: its weights do not make a child ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None


def probe_split(config: Config) -> tuple:
    """The images a run offers to try: ("test", its test split, classes), or ("validation", ...) when it has no
    test split. Raises DataError when its dataset cannot be loaded here."""
    d = load_data(config)
    return ("test", d.test, d.classes) if d.test is not None else ("validation", d.val, d.classes)


def read_image(data: bytes, size: int, name: str = "the file") -> tuple:
    """An uploaded PNG or JPEG as uint8 [3, size, size], decoded, made RGB and resized as the image-folder loader
    does (`enas.data.decode`), and notes on what was changed; ProbeError for anything else."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ProbeError(f"{name} is {len(data) / 2**20:.1f} MiB; images up to {MAX_BYTES // 2**20} MiB are "
                         "accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                kind, mode, (w, h) = im.format, im.mode, im.size
                alpha = mode in ALPHA or mode == "P" and "transparency" in im.info
    except Image.DecompressionBombError:
        raise ProbeError(f"{name} has far more pixels than the {MAX_PIXELS / 1e6:.0f} megapixels accepted: "
                         "make it smaller first") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ProbeError(f"{name} is not an image: upload a PNG or JPEG file") from None
    if kind not in FORMATS:
        raise ProbeError(f"{name} is a {kind} image; upload a PNG or JPEG file")
    if w * h > MAX_PIXELS:
        raise ProbeError(f"{name} is {w:,}x{h:,} pixels ({w * h / 1e6:.0f} megapixels); images up to "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels are accepted: make it smaller first")
    with warnings.catch_warnings():   # the loader's two paths, in its order, as quiet as in the loader
        warnings.filterwarnings("ignore", message=_TV_DEPRECATION, category=DeprecationWarning)
        image = _decode_jpegs([data], size)[0] if _is_jpeg(data) else None
    if image is None:
        image, why = _decode_pil(data, size)
        if image is None:
            raise ProbeError(f"{name} is damaged: it cannot be decoded as a {FORMATS[kind]} image ({why})")
    notes = []
    if alpha:
        notes.append(f"{name} has transparent parts ({mode}): they were put on white, as the data loader does")
    elif mode in GREY:
        notes.append(f"{name} is a grayscale image ({mode}): its one channel was copied into red, green and blue, "
                     "as the data loader does; the child learned from colour images")
    elif mode not in ("RGB", "P"):
        notes.append(f"{name} is a {mode} image: converted to RGB, as the data loader does")
    if (w, h) != (size, size):
        notes.append(f"resized from {w}x{h} to {size}x{size} pixels (bicubic"
                     + (", squashed to a square" if w != h else "") + "), as the data loader does")
    return image, notes


def normalise(image: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 [3, H, W] -> float32 [1, 3, H, W], normalised as the child's training and evaluation batches are."""
    data = DeviceData(Split(image[None], torch.zeros(1, dtype=torch.int64)), mean, std)
    return next(data.batches(1))[0]


@torch.inference_mode()
def probe(child: Child, image: torch.Tensor, k: int = 3) -> Probe:
    """The child's `k` most likely classes for `image` (uint8 [3, H, W] at the child's image size) and each
    node's response: the mean absolute value of its output (node i: BN(op_i(...) + skips)), over channels per
    position (its map) and over everything (its strength)."""
    if tuple(image.shape) != (3, child.image_size, child.image_size) or image.dtype != torch.uint8:
        raise ProbeError(f"the image must be uint8 [3, {child.image_size}, {child.image_size}], got "
                         f"{image.dtype} {list(image.shape)}")
    net, maps = child.net, []

    def node(bn):   # node i's BN, keeping its output's mean |activation| per position
        def run(y):
            out = bn(y)
            maps.append(out[0].abs().mean(0))
            return out
        return run
    # ChildNet.forward, its node outputs kept on the way (no hooks: one cached child serves every session at once)
    x = normalise(image, child.mean, child.std)
    logits = net.head(run_chain(net.stem(x), child.arch, net.op, [node(bn) for bn in net.bns]))[0]
    probs = torch.softmax(logits.float(), 0)
    best = torch.topk(probs, min(k, len(probs)))
    grid = torch.stack(maps)
    strength = grid.mean((1, 2)).tolist()
    up = F.interpolate(grid[:, None], size=tuple(image.shape[1:]), mode="bilinear", align_corners=False)[:, 0]
    return Probe(probs=probs, top=[(child.classes[i], p) for p, i in zip(best.values.tolist(), best.indices.tolist())],
                 maps=up, grid=tuple(grid.shape[1:]), strength=strength,
                 ranking=sorted(range(len(strength)), key=lambda i: -strength[i]))
