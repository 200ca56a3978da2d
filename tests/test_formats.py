"""Architecture formats: ENAS fixed_arc and NNI JSON both ways, reading any format, the standalone PyTorch export
(outputs equal ChildNet's from a run's final.pt), the `export` command and the app's paste box."""
import ast
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import tiny_config  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from enas.cli import main as cli  # noqa: E402
from enas.config import Config  # noqa: E402
from enas.formats import (  # noqa: E402
    ENAS_OPS,
    FORMATS,
    export,
    from_fixed_arc,
    from_nni,
    nni_text,
    parse_any,
    pytorch_source,
    to_fixed_arc,
    to_nni,
)
from enas.model import ChildNet  # noqa: E402
from enas.runs.store import RunStore, save_atomic  # noqa: E402
from enas.space import BN_FORMS, OPS, Architecture, ArchitectureError  # noqa: E402

EXAMPLE = Architecture.parse("c3 c5:1 c1:01 mp:011 c3:1001 ap:00101")


def random_arch(rng: random.Random, ops) -> Architecture:
    n = rng.randint(1, 9)
    return Architecture(tuple(rng.choice(ops) for _ in range(n)),
                        tuple(tuple(rng.randint(0, 1) for _ in range(i)) for i in range(n)))


@pytest.mark.parametrize("ids, ops", [("enas", [op for op in OPS if op in ENAS_OPS]), ("project", OPS)])
def test_every_format_round_trips_random_architectures(ids, ops):
    rng = random.Random(ids)
    for _ in range(300):
        arch = random_arch(rng, ops)
        assert from_fixed_arc(to_fixed_arc(arch, ids), ids) == arch
        assert from_nni(to_nni(arch, ids), ids) == arch
        assert from_nni(json.loads(json.dumps(to_nni(arch, ids)))) == arch   # names or one-hot: either table
        for fmt in FORMATS[:-1]:
            assert parse_any(export(arch, fmt, ids), ids) == arch, (fmt, str(arch))


def test_an_enas_fixed_arc_read_by_hand():
    # layer 0: 0 conv3x3 | 1: 4 avg pool, adds layer 0 | 2: 2 conv5x5, adds 1 | 3: 5 max pool, adds 0 and 1
    want = Architecture(("conv3x3", "avgpool3x3", "conv5x5", "maxpool3x3"), ((), (1,), (0, 1), (1, 1, 0)))
    assert from_fixed_arc("0  4 1  2 0 1  5 1 1 0") == want
    assert str(want) == "c3 ap:1 c5:01 mp:110" and to_fixed_arc(want) == "0 4 1 2 0 1 5 1 1 0"
    script = 'fixed_arc="0"\nfixed_arc="$fixed_arc 4 1"\nfixed_arc="$fixed_arc 2 0 1"\nfixed_arc="$fixed_arc 5 1 1 0"\n'
    assert parse_any(script) == want                                    # as the ENAS scripts write it
    assert parse_any("[0, 4, 1, 2, 0, 1, 5, 1, 1, 0]") == want
    assert to_fixed_arc(EXAMPLE, "project") == "1 2 1 0 0 1 3 0 1 1 1 1 0 0 1 4 0 0 1 0 1"
    assert from_fixed_arc("1 2 1 0 0 1", "project") == Architecture.parse("c3 c5:1 c1:01")


@pytest.mark.parametrize("text, ids, message", [
    ("", "enas", "empty fixed_arc"),
    ("0 1 x", "enas", "fixed_arc number 3 ('x') is not an integer"),
    ("0 1.5 0", "enas", "fixed_arc number 2 ('1.5') is not an integer"),
    ("0 1 0 0 1", "enas", "fixed_arc has 5 numbers, but N layers need N(N+1)/2 (layer i: an op id and i skip bits): "
                          "3 for 2 layers, 6 for 3"),
    ("0 2 1 0 4 1", "enas", "layer 2: skip bits must be 0 or 1, got 4 1"),
    ("0 3 0 0 1 0", "enas", "layer 1: op id 3 is ENAS's sep-conv5x5, which this search space does not have"),
    ("1", "enas", "for this project's ids use ids='project'"),
    ("6", "enas", "layer 0: op id 6 is not in the enas id table (0 conv3x3, 1 sep-conv3x3"),
    ("-1", "enas", "layer 0: op id -1 is not in the enas id table"),
    ("5", "project", "layer 0: op id 5 is not in the project id table (0 conv1x1, 1 conv3x3"),
    ("0", "tf", "unknown op id table 'tf'; use 'enas' or 'project'"),
])
def test_malformed_fixed_arcs_say_what_is_wrong(text, ids, message):
    with pytest.raises(ArchitectureError) as e:
        from_fixed_arc(text, ids)
    assert message in str(e.value)


def test_an_architecture_with_conv1x1_names_the_node_and_the_other_id_table():
    for write in (to_fixed_arc, to_nni):
        with pytest.raises(ArchitectureError, match=r"node 2: conv1x1 has no ENAS op id .*ids='project'"):
            write(EXAMPLE)


NNI_EXPORT = {  # what NNI's ENAS mutator exports for the macro space of examples/nas/enas/macro.py, 3 layers
    "LayerChoice1": [False, False, True, False, False, False],
    "LayerChoice2": [False, False, False, False, False, True], "InputChoice3": [True],
    "LayerChoice4": [True, False, False, False, False, False], "InputChoice5": [False, True]}


def test_nni_exports_by_hand_in_all_of_nnis_choice_forms():
    want = Architecture.parse("c5 mp:1 c3:01")
    assert from_nni(NNI_EXPORT) == want and to_nni(want) == NNI_EXPORT
    assert parse_any(nni_text(NNI_EXPORT)) == want
    other_forms = {"LayerChoice1": "conv5x5", "LayerChoice2": 5, "InputChoice3": ["layer_0"], "LayerChoice4": ["c3"],
                   "InputChoice5": [1]}
    assert from_nni(json.dumps(other_forms)) == want
    assert from_nni({**other_forms, "LayerChoice2": 3}, "project") == want   # 3: maxpool3x3 in OPS
    assert to_nni(EXAMPLE, "project")["LayerChoice4"] == "conv1x1"


@pytest.mark.parametrize("data, message", [
    ({}, "non-empty JSON object"),
    ({**NNI_EXPORT, "foo": 1}, "unknown NNI key(s) 'foo'"),
    ({"InputChoice3": [True]}, "no LayerChoice key"),
    ({k: v for k, v in NNI_EXPORT.items() if k != "InputChoice5"}, "NNI architecture of 3 layer(s): missing key(s) "
                                                                    "InputChoice5"),
    ({**NNI_EXPORT, "InputChoice7": [True, False, True]}, "unexpected key(s) InputChoice7"),
    ({**NNI_EXPORT, "LayerChoice1": "conv7x7"}, "layer 0 (LayerChoice1): op must be one of conv1x1"),
    ({**NNI_EXPORT, "LayerChoice1": [False] * 6}, "layer 0 (LayerChoice1): a one-hot list needs one true"),
    ({**NNI_EXPORT, "LayerChoice2": [True, False, False]}, "among 6 (NNI's macro candidates) or 5"),
    ({**NNI_EXPORT, "LayerChoice2": [False, True, False, False, False, False]}, "layer 1: op id 1 is ENAS's "
                                                                                "sep-conv3x3"),
    ({**NNI_EXPORT, "InputChoice3": [True, False]}, "layer 1 (InputChoice3): needs 1 true/false values"),
    ({**NNI_EXPORT, "InputChoice5": ["layer_5"]}, "names layer_0..layer_1, got ['layer_5']"),
    ({**NNI_EXPORT, "InputChoice5": [0, 0]}, "distinct indices 0..1"),
    ("{oops", "not valid JSON"),
])
def test_malformed_nni_architectures_say_what_is_wrong(data, message):
    with pytest.raises(ArchitectureError) as e:
        from_nni(data)
    assert message in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty architecture"),
    (" " * 20_000, "empty architecture"),
    ("0 " * 6_000, "too long"),
    ("hello world", "not an architecture in any known format; tried the one-line form (node 0: unknown op 'hello'"),
    ("hello world", "ENAS fixed_arc (fixed_arc number 1 ('hello') is not an integer); JSON (not valid JSON"),
    ("c3 c9:1", "node 1: unknown op 'c9'"),
    ('{"ops": ["conv3x3"], "skips": [[]], "x": 1}', "unknown field(s) in architecture JSON: x"),
    ('{"LayerChoice1": "conv3x3", "InputChoice3": [true]}', "unexpected key(s) InputChoice3"),
])
def test_parse_any_reports_the_error_of_the_format_it_recognised(text, message):
    with pytest.raises(ArchitectureError) as e:
        parse_any(text)
    assert message in str(e.value) and "\n" not in str(e.value)


# --- PyTorch export -------------------------------------------------------------------------------------
def final_pt(path: Path, net: ChildNet, classes) -> Path:
    """`net` saved as final training saves a run's child (enas/engine/search.py, train_final)."""
    save_atomic({"format": "enas-explorer", "kind": "child", "arch": net.arch.to_dict(),
                 "channels": net.classifier.in_features, "dropout": net.dropout.p,
                 "first_node_bn": isinstance(net.bns[0], torch.nn.BatchNorm2d), "bn": net.bn,
                 "classes": classes, "mean": [0.5] * 3, "std": [0.25] * 3, "state_dict": net.state_dict()}, path)
    return path


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"child_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("text, first_node_bn, dropout, bn", [
    ("mp c5:1 c1:01 mp:011 c3:1001 ap:00101", False, 0.0, "node"), ("c1 ap:1 c3:11", True, 0.3, "node"),
    ("ap", False, 0.1, "node"), ("mp c5:1 c1:01 ap:011", False, 0.0, "op"), ("c3 ap:1 c1:11", True, 0.1, "op"),
    ("mp c5:1 c1:01 ap:011", False, 0.0, "enas"), ("c3 ap:1 c1:11", True, 0.1, "enas")])
def test_the_pytorch_file_computes_what_childnet_computes(tmp_path, text, first_node_bn, dropout, bn):
    arch, classes = Architecture.parse(text), ["a", "b", "c"]
    torch.manual_seed(0)
    net = ChildNet(arch, 8, len(classes), dropout, first_node_bn, bn)
    with torch.no_grad():
        for p in net.parameters():   # BN affine weights that are not the defaults
            p.add_(torch.randn_like(p) * 0.1)
        for _ in range(3):   # BN running statistics that are not the defaults
            net(torch.randn(16, 3, 16, 16) * 2 + 1)
    net.eval()
    source = pytorch_source(arch, Config(channels=8, dropout=dropout, first_node_bn=first_node_bn, image_size=16,
                                         bn=bn), classes)
    assert f'normalised as bn="{bn}": {BN_FORMS[bn]}.' in " ".join(source.split('"""')[1].split())   # its docstring
    imports = {a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for a in node.names}
    assert imports == {"sys", "torch", "torch.nn", "torch.nn.functional"} and "from " not in source
    (tmp_path / "child.py").write_text(source)
    weights = final_pt(tmp_path / "final.pt", net, classes)
    child = import_file(tmp_path / "child.py")
    loaded = child.load(weights)
    assert not loaded.training and loaded.mean == [0.5] * 3 and child.CLASS_NAMES == classes
    assert list(loaded.state_dict()) == list(net.state_dict())
    loaded.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=1e-5, rtol=0)
    params = sum(p.numel() for p in net.parameters())
    assert sum(p.numel() for p in loaded.parameters()) == params == arch.param_count(8, 3, first_node_bn, bn)
    torch.save(net.state_dict(), tmp_path / "bare.pt")                  # a bare state dict loads too
    with torch.no_grad():
        torch.testing.assert_close(child.load(tmp_path / "bare.pt")(x), net(x), atol=1e-5, rtol=0)
    out = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{arch}: {params:,} parameters, output (1, 3)\n"


def test_the_pytorch_file_refuses_the_weights_of_another_child(tmp_path):
    (tmp_path / "child.py").write_text(pytorch_source(Architecture.parse("c3 c5:1")))
    other = ChildNet(Architecture.parse("c3 c5:0"))   # the same tensors, another network
    with pytest.raises(ValueError, match="holds the weights of 'c3 c5:0', not of 'c3 c5:1'"):
        import_file(tmp_path / "child.py").load(final_pt(tmp_path / "final.pt", other, 10))
    other_form = ChildNet(Architecture.parse("c3 c5:1"), bn="op")
    with pytest.raises(ValueError, match="holds weights of the bn='op' form, this file builds bn='node'"):
        import_file(tmp_path / "child.py").load(final_pt(tmp_path / "final.pt", other_form, 10))


# --- command line and app --------------------------------------------------------------------------------
def test_export_a_trained_run_to_a_pytorch_file_that_loads_its_final_pt(tmp_path):
    runs, config = tmp_path / "runs", tiny_config(epochs=1)
    from enas.engine.search import Engine
    Engine(config, RunStore.create(runs, "done", config)).run(("search", "derive", "final"))
    store = RunStore.open(runs, "done")
    result, arch = store.meta()["result"], Architecture.parse(store.meta()["result"]["arch"])
    out = tmp_path / "out" / "child.py"
    proc = subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(runs), "export", "done", "--to", "pytorch",
                           "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == f"wrote {arch} as pytorch to {out}\n", proc.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["child.py"]   # written atomically, nothing left over
    net = import_file(out).load(store.path / "final.pt")
    saved = torch.load(store.path / "final.pt", weights_only=True)
    child = ChildNet(arch, config.channels, len(saved["classes"]), config.dropout, config.first_node_bn).eval()
    child.load_state_dict(saved["state_dict"])
    x = torch.randn(4, 3, config.image_size, config.image_size)
    with torch.no_grad():
        torch.testing.assert_close(net(x), child(x), atol=1e-5, rtol=0)
    assert sum(p.numel() for p in net.parameters()) == result["params"]
    assert cli.main(["--runs-dir", str(runs), "export", "done", "--to", "fixed_arc", "--ids", "project",
                     "-o", str(tmp_path / "arc.txt")]) == 0
    assert cli.read_arch(str(tmp_path / "arc.txt"), "project") == arch   # train --arch reads every format


@pytest.mark.parametrize("args, message", [
    (["export", str(EXAMPLE), "--to", "fixed_arc"], "error: node 2: conv1x1 has no ENAS op id"),
    (["export", "0 3 0", "--to", "json"], "error: layer 1: op id 3 is ENAS's sep-conv5x5"),
    (["export", "nosuchrun", "--to", "json"], "'nosuchrun' is neither an architecture (not an architecture in any "
                                              "known format"),
    (["export", "c3", "--to", "nni", "-o", "/proc/no/such/dir/x.json"], "error: "),
    (["show", '{"LayerChoice1": 9}'], "error: layer 0: op id 9 is not in the enas id table"),
])
def test_export_errors_are_one_line_with_exit_status_2(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "enas", "--runs-dir", str(tmp_path), *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_export_prints_every_format(capsys):
    for fmt in ("oneline", "json", "nni", "fixed_arc"):
        assert cli.main(["export", "c3 ap:1 c5:01", "--to", fmt]) == 0
        assert parse_any(capsys.readouterr().out) == Architecture.parse("c3 ap:1 c5:01")


def test_the_training_form_reads_every_format():
    from app import final
    nni = nni_text(NNI_EXPORT).encode()
    upload = type("Upload", (), {"name": "a.json", "size": len(nni), "getvalue": lambda self: nni})()
    assert final.read_arch("upload a JSON file", None, "", upload) == Architecture.parse("c5 mp:1 c3:01")
    assert final.read_arch("paste a string", None, "0 4 1", None) == Architecture.parse("c3 ap:1")


def paste_script():
    from app import arch_io
    arch_io.paste_box("box")


def test_a_pasted_architecture_is_drawn_at_once_or_its_error_shown():
    at = AppTest.from_function(paste_script, default_timeout=60)
    at.run()
    at.text_area(key="box").input("0\n4 1\n2 0 1").run()
    assert not at.error and not at.exception
    assert [m.value for m in at.markdown if m.value.startswith("<svg")] and at.code[0].value == "c3 ap:1 c5:01"
    assert [b.proto.label for b in at.get("download_button")] == ["fixed_arc", "NNI JSON", "PyTorch"]
    at.text_area(key="box").input("c3 c1:1").run()                  # conv1x1 has no ENAS id: this project's ids
    assert [b.proto.label for b in at.get("download_button")] == ["fixed_arc (project ids)", "NNI JSON (project ids)",
                                                                  "PyTorch"]
    at.text_area(key="box").input("1 2 1").run()                    # ENAS id 1 is a sep-conv
    assert "layer 0: op id 1 is ENAS's sep-conv3x3" in at.error[0].value
    assert not [m for m in at.markdown if m.value.startswith("<svg")]
    at.radio(key="box_ids").set_value("project").run()             # this project's ids: c3 c5:1
    assert not at.error and at.code[0].value == "c3 c5:1"
    at.text_area(key="box").input("not an architecture").run()
    assert "not an architecture in any known format" in at.error[0].value and not at.exception
