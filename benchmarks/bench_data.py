"""Data layer benchmark: is the data path ever the bottleneck?

Measures
1. the device pipeline (`enas.data.device.DeviceData`): batches/s of augmented training epochs, of random
   validation batches (the controller's reward) and of in-order evaluation batches;
2. the training step it feeds: forward + backward + SGD step of the default supergraph child (6 nodes,
   32 channels, the architecture `c3 c5:1 c1:01 mp:011 ap:0001 c3:10100`), same batch size and device;
3. loading: the built-in shapes dataset (generation), and the 50,000-image JPEG folder
   (`../shared/data/cifar10-jpeg/train`, or --folder PATH) the first time (decoding, into a fresh cache
   folder) and the second time (from the disk cache);
4. with --learn EPOCHS: small children trained on shapes (1x1 convs vs 3x3 vs 5x5 vs pooling only), to show
   it is learnable in about a minute on a CPU and that architectures differ on it.

Run:  python benchmarks/bench_data.py [--device cpu|cuda] [--batch 128] [--threads N] [--folder PATH]
                                      [--skip-folder] [--learn EPOCHS] [--json OUT]
Prints one line per figure; --json also writes them as a JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enas.data.device import DeviceData  # noqa: E402
from enas.data.load import load_dataset  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train"
ARCH = "c3 c5:1 c1:01 mp:011 ap:0001 c3:10100"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def rate(fn, device, min_time=1.0, min_reps=3):
    """Calls of fn per second: repeats until min_time has passed (after one warm-up call)."""
    fn()
    sync(device)
    reps, t0 = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < min_time:
        fn()
        reps += 1
    sync(device)
    return reps / (time.perf_counter() - t0)


def bench_pipeline(d, device, batch, out):
    train = DeviceData(d.train, d.mean, d.std, device, augment=True)
    val = DeviceData(d.val, d.mean, d.std, device)
    g = torch.Generator().manual_seed(0)
    n_batches = train.num_batches(batch)

    def one_epoch():
        for x, y in train.epoch(batch, g):
            pass
        sync(device)

    out["pipeline_train_batches_per_s"] = rate(one_epoch, device) * n_batches
    out["pipeline_random_val_batches_per_s"] = rate(lambda: val.random_batch(batch, g), device)

    def eval_pass():
        for x, y in val.batches(500):
            pass
    out["pipeline_eval_images_per_s"] = rate(eval_pass, device) * len(val)

    # the training step the pipeline feeds
    from enas.model import Supergraph
    from enas.space import Architecture

    arch = Architecture.parse(ARCH)
    net = Supergraph(nodes=arch.nodes, channels=32, classes=len(d.classes)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = train.random_batch(batch, g)

    def step():
        loss = torch.nn.functional.cross_entropy(net(x, arch), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out["train_steps_per_s"] = rate(step, device, min_time=3.0)
    out["pipeline_share_of_step_time_pct"] = 100 * out["train_steps_per_s"] / out["pipeline_train_batches_per_s"]


def bench_loading(folder, out):
    t = time.perf_counter()
    load_dataset("shapes")
    out["shapes_load_s"] = time.perf_counter() - t
    if folder is None or not Path(folder).is_dir():
        print(f"(no folder at {folder}: skipping the folder load times)")
        return
    tmp = tempfile.mkdtemp(prefix="enas-bench-")
    try:
        t = time.perf_counter()
        d = load_dataset(f"folder:{folder}", data_dir=tmp)
        out["folder_first_load_s"] = time.perf_counter() - t
        out["folder_images"] = len(d.train) + len(d.val) + len(d.test)
        t = time.perf_counter()
        d = load_dataset(f"folder:{folder}", data_dir=tmp)
        out["folder_second_load_s"] = time.perf_counter() - t
        assert any("from the cache" in n for n in d.notes), d.notes
        out["folder_cache_mb"] = sum(f.stat().st_size for f in Path(tmp, "cache").glob("*.pt")) / 2**20
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


LEARN_ARCHS = ("c1 c1:0 c1:00", "c3 c3:0 c3:00", "c5 c5:0 c5:00", "mp ap:0 mp:00")


def bench_learn(device, epochs, out, channels=16):
    """Is `shapes` learnable on a CPU, and do architectures differ on it? Trains a few 3-node children
    (ChildNet, no skips) for `epochs` epochs each on the shapes train split through the augmenting
    pipeline, and reports test accuracy and seconds."""
    from enas.model import ChildNet
    from enas.space import Architecture

    d = load_dataset("shapes")
    train = DeviceData(d.train, d.mean, d.std, device, augment=True)
    test = DeviceData(d.test, d.mean, d.std, device)
    for text in LEARN_ARCHS:
        torch.manual_seed(0)
        net = ChildNet(Architecture.parse(text), channels=channels, classes=len(d.classes)).to(device)
        steps = epochs * train.num_batches(128)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=steps)
        g = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        for _ in range(epochs):
            net.train()
            for x, y in train.epoch(128, g):
                loss = torch.nn.functional.cross_entropy(net(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test.batches(500):
                correct += int((net(x).argmax(1) == y).sum())
        key = "learn_" + text.replace(" ", "_").replace(":", "")
        out[key + "_test_acc_pct"] = 100 * correct / len(test)
        out[key + "_s"] = time.perf_counter() - t
        print(f"  {text:16s} {epochs} epochs: test accuracy {out[key + '_test_acc_pct']:.1f}% "
              f"in {out[key + '_s']:.0f} s", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--folder", default=str(DEFAULT_FOLDER))
    p.add_argument("--skip-folder", action="store_true", help="skip the 50,000-image folder load times")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--learn", type=int, default=0, metavar="EPOCHS",
                   help="also train small children on shapes for EPOCHS epochs each (learnability)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": str(device),
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch,
           "load_average_1min_at_start": os.getloadavg()[0]}
    bench_loading(None if a.skip_folder else a.folder, out)
    d = load_dataset("shapes")  # 10,000 train / 2,000 val images of 32x32
    bench_pipeline(d, device, a.batch, out)
    if a.learn:
        bench_learn(device, a.learn, out)
    for k, v in out.items():
        print(f"{k:38s} {v:,.2f}" if isinstance(v, float) else f"{k:38s} {v}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
