"""CIFAR-10 through torchvision: found on disk, extracted from a hand-copied archive, or downloaded (with a
socket timeout, so an offline machine fails fast with a `DataError` naming the folder, the URL and the
alternatives). Validation is carved from the 50,000 training images; the test split is CIFAR-10's own."""
from __future__ import annotations

import os
import pickle
import socket
import tarfile
import time
import warnings

import numpy as np
import torch

from enas.data.splits import (
    DataError,
    Dataset,
    Split,
    carve,
    data_root,
    finish,
    resolve_size,
    take,
)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                 "batches.meta")
DOWNLOAD_TIMEOUT_S = 30  # socket timeout while downloading (no hang when offline)
ALTERNATIVES = ("alternatives: 'folder:PATH' (your own images, one subfolder per class) or 'shapes' "
                "(built in, no download)")


def cifar10_on_disk(data_dir: str | None = None) -> bool:
    """True when the extracted CIFAR-10 files (or its archive) are in `data_dir` (no checksum, fast)."""
    root = data_root(data_dir)
    base = os.path.join(root, CIFAR10_FOLDER)
    if all(os.path.isfile(os.path.join(base, f)) for f in CIFAR10_FILES):
        return True
    return os.path.isfile(os.path.join(root, CIFAR10_ARCHIVE))


def _resize_tensor(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [N,3,h,w] -> uint8 [N,3,size,size] (bilinear, antialiased), in chunks."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.empty(images.shape[0], 3, size, size, dtype=torch.uint8)
    for i in range(0, images.shape[0], 2048):
        x = images[i:i + 2048].float()
        y = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                            align_corners=False)
        out[i:i + 2048] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _cifar_where(root):
    return (f"It is looked for in {os.path.join(root, CIFAR10_FOLDER)} (set data_dir or ENAS_DATA_DIR to use "
            f"another folder). Without network: download {CIFAR10_URL} elsewhere and put the archive (or its "
            f"extracted {CIFAR10_FOLDER} folder) in {root}. Or use the {ALTERNATIVES}.")


def _cifar_class():
    from torchvision.datasets import CIFAR10

    return CIFAR10


def load_cifar10(data_dir, image_size, val_size, test_size, train_subset, seed, download, progress) -> Dataset:
    from torchvision.datasets.utils import check_integrity, extract_archive

    CIFAR10 = _cifar_class()
    root = data_root(data_dir)
    base = os.path.join(root, CIFAR10_FOLDER)
    archive = os.path.join(root, CIFAR10_ARCHIVE)
    notes = []
    present = all(os.path.isfile(os.path.join(base, f)) for f in CIFAR10_FILES)
    if not present and os.path.isfile(archive):
        if check_integrity(archive, CIFAR10.tgz_md5):
            try:
                extract_archive(archive, root)
            except (OSError, EOFError, tarfile.TarError) as e:
                raise DataError(f"CIFAR-10: cannot extract {archive}: {e}. Delete it and download again. "
                                + _cifar_where(root)) from e
            notes.append(f"extracted {archive}")
            present = True
        elif not download:
            raise DataError(f"CIFAR-10: the archive {archive} is incomplete or corrupted (checksum mismatch, "
                            f"{os.path.getsize(archive):,} bytes); delete it and download again. "
                            + _cifar_where(root))
    if not present:
        if not download:
            raise DataError("CIFAR-10 is not on disk and download=False. " + _cifar_where(root))
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:
            raise DataError(f"CIFAR-10: cannot create the data folder {root}: {e}. " + _cifar_where(root)) from e
        old_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        t0 = time.time()
        try:
            CIFAR10(root, train=True, download=True)
        except Exception as e:  # noqa: BLE001 - every failure becomes one clear message
            raise DataError(_download_error(e, root, archive)) from e
        finally:
            socket.setdefaulttimeout(old_timeout)
        notes.append(f"downloaded CIFAR-10 into {root} in {time.time() - t0:.0f} s")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tr = CIFAR10(root, train=True, download=False)
            te = CIFAR10(root, train=False, download=False)
    except RuntimeError as e:
        raise DataError(f"CIFAR-10: the files in {base} are incomplete or corrupted ({e}); delete the folder "
                        f"and download again. " + _cifar_where(root)) from e
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError) as e:
        raise DataError(f"CIFAR-10: cannot read the files in {base} ({type(e).__name__}: {e}); delete the "
                        f"folder and download again. " + _cifar_where(root)) from e
    classes = list(tr.classes)
    notes.append(f"CIFAR-10 from {base}")

    def to_tensors(ds):
        x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return _resize_tensor(x, image_size), torch.tensor(ds.targets, dtype=torch.int64)

    x, y = to_tensors(tr)
    xt, yt = to_tensors(te)
    if image_size != 32:
        notes.append(f"CIFAR-10 images resized from 32x32 to {image_size}x{image_size}")
    n_val = resolve_size("val_size", val_size, 5000, len(y))
    if test_size:
        notes.append(f"test_size={test_size} ignored: CIFAR-10 has its own test split ({len(yt):,} images)")
    tri, vai, _ = carve(y, n_val, 0, seed, classes, "CIFAR-10")
    return finish("cifar10", classes, take(x, y, tri), take(x, y, vai), Split(xt, yt), train_subset, seed,
                  notes)


def _download_error(e: Exception, root: str, archive: str) -> str:
    import urllib.error

    if isinstance(e, RuntimeError) and "corrupted" in str(e) and os.path.isfile(archive):
        return (f"CIFAR-10: the downloaded archive {archive} is truncated or corrupted (checksum mismatch, "
                f"{os.path.getsize(archive):,} bytes); delete it and try again. " + _cifar_where(root))
    if isinstance(e, (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError)):
        reason = getattr(e, "reason", e)
        return (f"CIFAR-10 is not on disk and could not be downloaded from {CIFAR10_URL} (offline? {reason}). "
                + _cifar_where(root))
    if isinstance(e, (EOFError, tarfile.TarError)):
        return (f"CIFAR-10: the archive {archive} could not be extracted ({type(e).__name__}: {e}); it is "
                f"truncated or corrupted: delete it and try again. " + _cifar_where(root))
    if isinstance(e, OSError):
        return (f"CIFAR-10 could not be downloaded into {root} ({type(e).__name__}: {e}). "
                + _cifar_where(root))
    return f"CIFAR-10: download failed ({type(e).__name__}: {e}). " + _cifar_where(root)
