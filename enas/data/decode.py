"""Decoding image files of any format and mode into uint8 [3, size, size] tensors: libjpeg-turbo (torchvision)
for JPEGs of the right size, PIL for everything else; many files in parallel chunks, failures counted."""
from __future__ import annotations

import functools
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


def _to_rgb_array(im, size: int) -> np.ndarray:
    """A PIL image in any mode -> uint8 [size,size,3]."""
    from PIL import Image, ImageOps

    if im.format == "JPEG" and (im.width > 2 * size or im.height > 2 * size):
        im.draft(im.mode, (size, size))  # decode a JPEG at a reduced scale: much faster for big photos
    try:
        im = ImageOps.exif_transpose(im)  # photos taken sideways: as they are shown
    except Exception:  # noqa: BLE001 - a broken EXIF block: keep the pixels as stored
        pass
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit or float grey: scale to 8 bits
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8), "L")
        mode = "L"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        back = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(back, im)
    im = im.convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(im, dtype=np.uint8)


def _read(path: str):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    return (data, None) if data else (None, "empty file")


def _decode_pil(data: bytes, size: int):
    """Bytes of any image PIL reads -> (uint8 [3,size,size] tensor, None) or (None, reason)."""
    try:
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                a = _to_rgb_array(im, size)
        return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous(), None
    except Exception as e:  # noqa: BLE001 - any unreadable image is counted and reported, never fatal
        msg = str(e) or type(e).__name__
        if "cannot identify image file" in msg:
            msg = "not an image (cannot identify image file)"
        return None, msg[:200]


def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def _decode_jpegs(datas: list, size: int) -> list:
    """Fast path: torchvision's libjpeg-turbo decoder (same pixels as PIL), batched; None where it fails or the
    size differs (PIL then decodes, resizes or explains)."""
    _tv_decode, _tv_rgb = _tv_decoder()
    if _tv_decode is None or not datas:
        return [None] * len(datas)
    ts = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in datas]
    try:
        out = _tv_decode(ts, mode=_tv_rgb, apply_exif_orientation=True)
    except Exception:  # noqa: BLE001 - one bad file fails the batch: decode one by one
        out = []
        for t in ts:
            try:
                out.append(_tv_decode(t, mode=_tv_rgb, apply_exif_orientation=True))
            except Exception:  # noqa: BLE001
                out.append(None)
    return [o if o is not None and o.shape == (3, size, size) else None for o in out]



_TV_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"


@functools.cache
def _tv_decoder():
    """torchvision's batched JPEG decoder and its RGB mode, or (None, None) without torchvision.io. Imported on
    first use: `import torchvision` costs about 1.7 s (it loads its models and torch._dynamo), which every
    process that never decodes a file (the app, a CLI command, a Ray worker on `shapes`) would pay."""
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except Exception:  # noqa: BLE001 - torchvision.io is optional; PIL decodes everything
        return None, None
    # torchvision 0.29 deprecates its decoders (each call warns); PIL takes over when they are removed
    warnings.filterwarnings("ignore", message=_TV_DEPRECATION, category=DeprecationWarning)
    return decode_jpeg, ImageReadMode.RGB


def decode_all(root: str, rels: list, size: int, progress: bool, workers: int | None = None):
    """Decode many files -> (uint8 [N,3,size,size], ok mask [N] bool, {rel: reason} for the failures)."""
    n = len(rels)
    out = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    ok = torch.zeros(n, dtype=torch.bool)
    chunk = 256

    def work(start):
        stop = min(start + chunk, n)
        datas, fails = [], []
        for i in range(start, stop):
            d, why = _read(os.path.join(root, rels[i]))
            datas.append(d)
            if d is None:
                fails.append((i, why))
        jpeg = [k for k, d in enumerate(datas) if d is not None and _is_jpeg(d)]
        decoded = [None] * len(datas)
        for k, t in zip(jpeg, _decode_jpegs([datas[k] for k in jpeg], size)):
            decoded[k] = t
        for k, d in enumerate(datas):
            if d is not None and decoded[k] is None:
                decoded[k], why = _decode_pil(d, size)
                if why is not None:
                    fails.append((start + k, why))
        good = [k for k, t in enumerate(decoded) if t is not None]
        if len(good) == len(decoded):
            out[start:stop] = torch.stack(decoded)
            ok[start:stop] = True
        elif good:
            idx = torch.tensor(good) + start
            out[idx] = torch.stack([decoded[k] for k in good])
            ok[idx] = True
        return fails

    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    starts = list(range(0, n, chunk))
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, unit="img", desc="decoding images")
        except ImportError:
            bar = None
    fails = []
    with warnings.catch_warnings():  # entered here, in the calling thread: the workers see the filter
        warnings.filterwarnings("ignore", message=_TV_DEPRECATION, category=DeprecationWarning)
        _run_chunks(work, starts, workers, n, chunk, bar, fails)
    if bar is not None:
        bar.close()
    failed = {rels[i]: why for i, why in sorted(fails)}
    return out, ok, failed


def _run_chunks(work, starts, workers, n, chunk, bar, fails):
    if workers > 1 and n > 4 * chunk:
        with ThreadPoolExecutor(workers) as ex:
            for s, r in zip(starts, ex.map(work, starts)):
                fails += r
                if bar is not None:
                    bar.update(min(chunk, n - s))
    else:
        for s in starts:
            fails += work(s)
            if bar is not None:
                bar.update(min(chunk, n - s))
