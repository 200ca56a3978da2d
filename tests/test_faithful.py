"""What the search measures means what it says: on a class-sorted image folder, derive's ranking accuracy, the
controller's minibatch reward, the supergraph's accuracy and an inherited child's accuracy agree; rewards come
from validation, rankings from validation, and nothing ever learns from validation or test images.

One small search (4 shape classes, stored on disk one class folder after another) is trained once for the module.
"""
import math

import pytest
import torch
from PIL import Image

from enas.config import Config
from enas.data.shapes import SHAPES_CLASSES, make_shapes
from enas.engine.children import evaluate
from enas.engine.search import Engine
from enas.model import ChildNet
from enas.runs.store import RunStore, load_file
from enas.space import Architecture

KEEP = (0, 1, 5, 8)  # disk, square, h-stripes, checker
SEARCH = {"val_size": 300, "nodes": 3, "channels": 16, "epochs": 20, "batch_size": 32, "controller_steps": 2,
          "controller_children": 3, "derive_samples": 6, "lstm_size": 16, "final_epochs": 0}


def class_sorted_folder(root):
    """1,200 images of 4 classes as PNG files in class folders (a folder is listed one class after another)."""
    x, y = make_shapes(3000, seed=3)
    for k in KEEP:
        (root / SHAPES_CLASSES[k]).mkdir(parents=True)
    for i, (img, label) in enumerate(zip(x, y.tolist())):
        if label in KEEP:
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(root / SHAPES_CLASSES[label] / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """An engine after 20 search epochs and a derive on the class-sorted folder; its ranking."""
    root = class_sorted_folder(tmp_path_factory.mktemp("sorted"))
    config = Config.from_dict({**SEARCH, "dataset": f"folder:{root}",
                               "data_dir": str(tmp_path_factory.mktemp("cache"))}, preset="quick")
    store = RunStore.create(tmp_path_factory.mktemp("runs"), "sorted", config)
    engine = Engine(config, store)
    assert engine.run(("search",)) == "finished"
    ranking = engine.derive()
    return engine, ranking


def minibatch_accuracy(engine, arch, batches=20):
    """What the controller is rewarded with: accuracy on random validation minibatches (shared weights), a new one
    each time (one call to `rewards` draws one batch for all its children with reward_batch shared, as quick's)."""
    return sum(engine.rewards([arch]).item() for _ in range(batches)) / batches


@torch.no_grad()
def supergraph_accuracy(engine, arch, batch=150):
    """The supergraph's accuracy over the validation split, normalising with batch statistics."""
    engine.supergraph.train()
    correct = sum((engine.supergraph(x, arch).argmax(1) == y).sum().item() for x, y in engine.val_data.batches(batch))
    return correct / len(engine.val_data)


def test_every_stored_split_mixes_the_classes(searched):
    engine, _ = searched
    for split in (engine.dataset.train, engine.dataset.val, engine.dataset.test):
        assert set(split.labels[:16].tolist()) == set(range(4))  # on disk: 300 of one class, then the next


def test_derive_accuracies_match_the_controllers_minibatch_accuracies(searched):
    engine, ranking = searched
    best = ranking[0]["val_acc"]
    assert best > 0.45, ranking  # well above chance (0.25): the comparison below means something
    diffs = [r["val_acc"] - minibatch_accuracy(engine, Architecture.parse(r["arch"])) for r in ranking]
    assert max(map(abs, diffs)) < 0.06, diffs
    assert abs(sum(diffs) / len(diffs)) < 0.03, diffs


def test_derive_ranks_on_the_validation_split(searched):
    engine, ranking = searched
    for r in ranking[:3]:
        arch = Architecture.parse(r["arch"])
        assert r["val_acc"] == evaluate(engine.inherited_child(arch), engine.val_data)
    test_accs = [evaluate(engine.inherited_child(Architecture.parse(r["arch"])), engine.test_data) for r in ranking]
    assert [r["val_acc"] for r in ranking] != test_accs


def test_inherited_child_scores_what_the_supergraph_scores(searched):
    """Recalibrated BN statistics: derive's children score what the supergraph (batch statistics) scores before any
    training, within 2 points on average and 3 at most; one child's difference ranges over about +-2.5 points of
    these 300 images from one search trajectory to another, so one child alone would not say much."""
    engine, ranking = searched
    archs = [Architecture.parse(r["arch"]) for r in ranking]
    shared = [supergraph_accuracy(engine, a) for a in archs]
    diffs = [evaluate(engine.inherited_child(a), engine.val_data) - s for a, s in zip(archs, shared)]
    assert len(diffs) == 6 and sum(map(abs, diffs)) / len(diffs) <= 0.02 and max(map(abs, diffs)) <= 0.03, diffs
    # without recalibration the statistics are the empty 0 / 1 of a new module, and the accuracy is far off
    raw = [abs(evaluate(ChildNet.from_supergraph(engine.supergraph, a), engine.val_data) - s)
           for a, s in zip(archs, shared)]
    assert sum(raw) / len(raw) > 0.05, raw


def test_final_training_with_zero_epochs_evaluates_the_inherited_child(searched):
    engine, ranking = searched
    arch = Architecture.parse(ranking[0]["arch"])
    result = engine.train_final(arch, "finetune", 0)
    assert result["val_acc"] == ranking[0]["val_acc"]  # the number derive ranked it by: comparable side by side
    saved = load_file(engine.store.path / "final.pt")
    reference = engine.inherited_child(arch).state_dict()
    for k, v in saved["state_dict"].items():  # evaluating validation and test images changed no buffer
        torch.testing.assert_close(v, reference[k], rtol=0, atol=0, msg=k)
    assert saved["state_dict"]["bns.1.num_batches_tracked"].item() == 1   # calibrated in one pass
    net = ChildNet(arch, saved["channels"], len(saved["classes"]), saved["dropout"], saved["first_node_bn"],
                   saved["bn"])
    net.load_state_dict(saved["state_dict"])
    assert evaluate(net, engine.test_data) == result["test_acc"]


def test_fine_tuning_starts_from_the_shared_weights_and_never_learns_from_evaluation(searched):
    engine, ranking = searched
    arch = Architecture.parse(ranking[0]["arch"])
    events = []
    engine.listeners.append(events.append)
    try:
        result = engine.train_final(arch, "finetune", 1)
    finally:
        engine.listeners.remove(events.append)
    first_loss = next(e["loss"] for e in events if e["kind"] == "final_step")
    assert first_loss < 0.9 * math.log(4)  # a fresh network starts at about ln(4) = 1.39
    saved = load_file(engine.store.path / "final.pt")
    net = ChildNet(arch, saved["channels"], len(saved["classes"]), saved["dropout"], saved["first_node_bn"],
                   saved["bn"])
    net.load_state_dict(saved["state_dict"])
    steps = len(engine.train_data) // engine.config.batch_size
    assert saved["state_dict"]["bns.1.num_batches_tracked"].item() == 1 + steps   # calibrated, then trained
    assert evaluate(net, engine.val_data) == result["val_acc"]
    assert evaluate(net, engine.test_data) == result["test_acc"]
