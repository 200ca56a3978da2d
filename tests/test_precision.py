"""precision auto: bf16 where the hardware has bf16 arithmetic, fp32 elsewhere, decided once and recorded."""
import types

import pytest
import torch
from conftest import tiny_config

from enas import hardware
from enas.cli.main import main
from enas.engine.search import Engine
from enas.runs.store import RunStore

CPU, CUDA = torch.device("cpu"), types.SimpleNamespace(type="cuda")


@pytest.mark.parametrize("flags, device, expected", [
    ({"avx2", "avx512f", "avx512_bf16"}, CPU, "bf16"),
    ({"avx2", "amx_bf16", "amx_tile"}, CPU, "bf16"),
    ({"avx2", "avx512f"}, CPU, "fp32"),       # AVX-512 without bf16: emulated, 7x slower (benchmarks/README.md)
    (set(), CPU, "fp32"),                     # no /proc/cpuinfo: nothing known, so nothing assumed
    (set(), CUDA, "bf16"),
])
def test_auto_picks_bf16_only_where_it_is_fast(monkeypatch, flags, device, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    assert hardware.resolve_precision("auto", device) == expected
    assert hardware.precision_text("auto", device).startswith(expected + " (precision auto: ")
    for fixed in ("fp32", "bf16", "fp16"):   # an explicit choice is never overridden
        assert hardware.resolve_precision(fixed, device) == fixed and hardware.precision_text(fixed, device) == fixed


def test_text_says_why(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx512_bf16", "amx_bf16"})
    assert hardware.precision_text("auto", CPU) == "bf16 (precision auto: this CPU has amx_bf16, avx512_bf16)"
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2"})
    assert "no bf16 arithmetic" in hardware.precision_text("auto", CPU)


@pytest.mark.parametrize("flags, expected, dtype", [({"amx_bf16"}, "bf16", torch.bfloat16), ({"avx2"}, "fp32", None)])
def test_engine_records_what_auto_became(tmp_path, monkeypatch, flags, expected, dtype):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    config = tiny_config(precision="auto", device="cpu", epochs=1)
    store = RunStore.create(tmp_path, "r", config)
    engine = Engine(config, store=store)
    assert engine.config.precision == expected and engine.amp_dtype == dtype
    assert store.config().precision == expected   # a resume, or a rerun of the stored config, does the same
    engine.search()
    alerts = [a["message"] for a in store.events("alert")]
    assert any(m.startswith(f"precision: {expected} (precision auto: ") for m in alerts), alerts
    # the same seed at the precision auto chose gives the same run as asking for it by name
    twin_epochs = []
    twin = Engine(tiny_config(precision=expected, device="cpu", epochs=1),
                  listeners=[lambda ev: twin_epochs.append(ev) if ev["kind"] == "epoch" else None])
    twin.search()
    assert [e["train_loss"] for e in store.events("epoch")] == [e["train_loss"] for e in twin_epochs]


def test_cli_first_line_states_the_precision(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2"})
    args = ["--runs-dir", str(tmp_path), "search", "--preset", "quick", "--name", "p", "--precision", "auto",
            "--device", "cpu", "--dataset", "shapes:800", "--train-subset", "256", "--val-size", "128", "--nodes", "2",
            "--channels", "8", "--epochs", "1", "--batch-size", "32", "--steps-per-epoch", "2",
            "--controller-steps", "1", "--controller-children", "2", "--lstm-size", "16", "--warmup-epochs", "0"]
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("run p in ") and first.endswith(
        "precision fp32 (precision auto: this CPU has no bf16 arithmetic (AVX-512-BF16 or AMX)))")
    assert RunStore.open(tmp_path, "p").config().precision == "fp32"
