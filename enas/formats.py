"""Architecture formats: ENAS's `fixed_arc`, NNI's exported JSON, a reader of any format, and a child as a
standalone PyTorch file.

fixed_arc (melodyguan/enas, src/cifar10/general_child.py, whole-channel macro search): integers, per layer i its
op id (`sample_arc[start_idx]`) then i skip bits (`sample_arc[start_idx + 1:start_idx + 1 + layer_id]`), so N
layers take N(N+1)/2. `_enas_layer` numbers ops 0 conv3x3, 1 sep-conv3x3, 2 conv5x5, 3 sep-conv5x5, 4 avg pool,
5 max pool: `ids="enas"` (the four ops this space shares; conv1x1 has no id). `ids="project"`: index in OPS.

Skip bits stay in place: bit j of layer i is `skips[i][j]`, node i adds node j, as ENAS's controller scores it
(general_controller.py: against layer j's LSTM state) and as NNI labels it (`layer_j`). ENAS's child and NNI's
macro.py read it one node earlier (their `prev_layers` starts with the stem: bit 0 adds the stem, bit j layer
j-1), so there an architecture from here builds with each skip moved one node back.

NNI (nni.nas.pytorch, examples/nas/enas/macro.py; `mutator.export()`, `apply_fixed_architecture`): a JSON object
from mutable keys, numbered in creation order, to choices: layer 0 `LayerChoice1`; layer i > 0 `LayerChoice{2i}`
(op) and `InputChoice{2i+1}` (skips). An op is a one-hot list over NNI's six macro candidates (ENAS's order;
`ids="project"` writes its name, NNI's by-name form), skips a list of i booleans. Reading also takes NNI's
other forms: an op index (in the `ids` table) or name, skips as indices or names `layer_j`.
"""
from __future__ import annotations

import json
import math
import re
import textwrap

from enas.config import Config
from enas.space import BN_FORMS, LONG, MAX_STRING, OPS, Architecture, ArchitectureError
from enas.standalone import SOURCE

ENAS_OPS = ("conv3x3", "sep-conv3x3", "conv5x5", "sep-conv5x5", "avgpool3x3", "maxpool3x3")
IDS = ("enas", "project")
FORMATS = ("oneline", "json", "fixed_arc", "nni", "pytorch")
NNI_KEY = re.compile(r"(LayerChoice|InputChoice)(\d+)")
SHELL = re.compile(r'(--child_)?fixed_arc=|\$fixed_arc|["\'\[\],]')  # the ENAS scripts' syntax, list brackets


def _table(ids: str) -> tuple:
    if ids not in IDS:
        raise ArchitectureError(f"unknown op id table {ids!r}; use 'enas' or 'project'")
    return ENAS_OPS if ids == "enas" else OPS


def _op_id(i: int, op: str, ids: str) -> int:
    table = _table(ids)
    if op not in table:
        raise ArchitectureError(f"node {i}: {op} has no ENAS op id (ENAS's macro ops: {_listing(ENAS_OPS)}); write "
                                f"it with this project's ids (ids='project', --ids project: {_listing(OPS)})")
    return table.index(op)


def _op(i: int, op_id: int, ids: str) -> str:
    table = _table(ids)
    if not 0 <= op_id < len(table):
        raise ArchitectureError(f"layer {i}: op id {op_id} is not in the {ids} id table ({_listing(table)})")
    op = table[op_id]
    if op not in OPS:
        raise ArchitectureError(f"layer {i}: op id {op_id} is ENAS's {op}, which this search space does not "
                                f"have (its ops: {', '.join(OPS)}); for this project's ids use ids='project' "
                                "(--ids project)")
    return op


def _listing(table) -> str:
    return ", ".join(f"{k} {op}" for k, op in enumerate(table))


# --- ENAS fixed_arc ----------------------------------------------------------------------------------
def to_fixed_arc(arch: Architecture, ids: str = "enas") -> str:
    """`arch` as ENAS's fixed_arc: per node its op id, then its skip bits, on one line."""
    return " ".join(" ".join(map(str, (_op_id(i, op, ids), *arch.skips[i]))) for i, op in enumerate(arch.ops))


def from_fixed_arc(text: str, ids: str = "enas") -> Architecture:
    """Read a fixed_arc: integers separated by spaces, newlines or commas, optionally in brackets or written as
    the ENAS scripts' lines `fixed_arc="$fixed_arc 3 0"`."""
    _table(ids)
    tokens = SHELL.sub(" ", text).split()
    if not tokens:
        raise ArchitectureError("empty fixed_arc: expected integers, per layer an op id then its skip bits, "
                                "e.g. '0 4 1 2 0 1'")
    bad = next((k for k, tok in enumerate(tokens) if not re.fullmatch(r"-?\d+", tok)), None)
    if bad is not None:
        raise ArchitectureError(f"fixed_arc number {bad + 1} ({tokens[bad]!r}) is not an integer")
    numbers = [int(tok) for tok in tokens]
    n = (math.isqrt(8 * len(numbers) + 1) - 1) // 2   # the most layers that len(numbers) can hold
    if n * (n + 1) // 2 != len(numbers):
        raise ArchitectureError(f"fixed_arc has {len(numbers)} numbers, but N layers need N(N+1)/2 (layer i: an op "
                                f"id and i skip bits): {n * (n + 1) // 2} for {n} layers, {(n + 1) * (n + 2) // 2} "
                                f"for {n + 1}")
    ops, skips, pos = [], [], 0
    for i in range(n):
        ops.append(_op(i, numbers[pos], ids))
        bits = numbers[pos + 1:pos + 1 + i]
        if any(b not in (0, 1) for b in bits):
            raise ArchitectureError(f"layer {i}: skip bits must be 0 or 1, got {' '.join(map(str, bits))}")
        skips.append(tuple(bits))
        pos += 1 + i
    return Architecture(tuple(ops), tuple(skips))


# --- NNI ---------------------------------------------------------------------------------------------
def nni_keys(i: int) -> tuple:
    """The keys of layer i: its LayerChoice and, for i > 0, its InputChoice."""
    return ("LayerChoice1",) if i == 0 else (f"LayerChoice{2 * i}", f"InputChoice{2 * i + 1}")


def to_nni(arch: Architecture, ids: str = "enas") -> dict:
    """`arch` as NNI's exported architecture of its ENAS macro space (see the module docstring)."""
    _table(ids)
    out = {}
    for i, op in enumerate(arch.ops):
        keys = nni_keys(i)
        out[keys[0]] = [k == _op_id(i, op, "enas") for k in range(len(ENAS_OPS))] if ids == "enas" else op
        if i:
            out[keys[1]] = [bool(b) for b in arch.skips[i]]
    return out


def nni_text(d: dict) -> str:
    """NNI JSON with one key per line."""
    return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()) + "\n}\n"


def from_nni(data, ids: str = "enas") -> Architecture:
    """Read NNI's exported architecture (a dict or its JSON text); `ids` reads op indices."""
    if isinstance(data, str):
        data = _json(data)
    if not isinstance(data, dict) or not data:
        raise ArchitectureError("NNI architecture must be a non-empty JSON object of LayerChoice/InputChoice keys")
    bad = [k for k in data if not NNI_KEY.fullmatch(str(k))]
    if bad:
        raise ArchitectureError(f"unknown NNI key(s) {', '.join(map(repr, bad))}; NNI's ENAS macro space has "
                                "LayerChoice1, LayerChoice2, InputChoice3, LayerChoice4, InputChoice5, ...")
    n = sum(k.startswith("LayerChoice") for k in data)
    if not n:
        raise ArchitectureError("NNI architecture has no LayerChoice key (layer 0's op is LayerChoice1)")
    expected = [k for i in range(n) for k in nni_keys(i)]
    missing, extra = [k for k in expected if k not in data], [k for k in data if k not in expected]
    if missing or extra:
        raise ArchitectureError(f"NNI architecture of {n} layer(s): " + "; ".join(
            f"{what} key(s) {', '.join(ks)}" for what, ks in (("missing", missing), ("unexpected", extra)) if ks)
            + f" (its keys: {', '.join(expected)})")
    ops, skips = [], []
    for i in range(n):
        keys = nni_keys(i)
        ops.append(_nni_op(i, keys[0], data[keys[0]], ids))
        skips.append(_nni_skips(i, keys[1], data[keys[1]]) if i else ())
    return Architecture(tuple(ops), tuple(skips))


def _nni_op(i: int, key: str, v, ids: str) -> str:
    if isinstance(v, list) and v and all(isinstance(b, bool) for b in v):
        if sum(v) != 1 or len(v) not in (len(ENAS_OPS), len(OPS)):
            raise ArchitectureError(f"layer {i} ({key}): a one-hot list needs one true among {len(ENAS_OPS)} "
                                    f"(NNI's macro candidates) or {len(OPS)} (this project's ops), got {v}")
        return _op(i, v.index(True), "enas" if len(v) == len(ENAS_OPS) else "project")
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    if isinstance(v, str) and LONG.get(v, v) in OPS:
        return LONG.get(v, v)
    if isinstance(v, int) and not isinstance(v, bool):
        return _op(i, v, ids)
    raise ArchitectureError(f"layer {i} ({key}): op must be one of {', '.join(OPS)}, an op id or a one-hot list, "
                            f"got {v!r}")


def _nni_skips(i: int, key: str, v) -> tuple:
    v = v if isinstance(v, list) else [v]
    if v and all(isinstance(b, bool) for b in v):
        if len(v) != i:
            raise ArchitectureError(f"layer {i} ({key}): needs {i} true/false values (one per earlier layer), "
                                    f"got {len(v)}")
        return tuple(map(int, v))
    names = [f"layer_{j}" for j in range(i)]
    chosen = [names.index(x) if x in names else x for x in v]
    if not all(isinstance(j, int) and not isinstance(j, bool) and 0 <= j < i for j in chosen) or \
            len(set(chosen)) != len(chosen):
        raise ArchitectureError(f"layer {i} ({key}): skips must be {i} true/false values, or distinct indices "
                                f"0..{i - 1} or names {names[0]}..{names[-1]}, got {v!r}")
    return tuple(int(j in chosen) for j in range(i))


def _json(text: str):
    if len(text) > MAX_STRING:
        raise ArchitectureError(f"architecture JSON too long ({len(text)} > {MAX_STRING} characters)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ArchitectureError(f"not valid JSON: {e}") from None


# --- any format --------------------------------------------------------------------------------------
def parse_any(text: str, ids: str = "enas") -> Architecture:
    """Read an architecture in any format: the one-line form, this project's JSON, fixed_arc or NNI JSON."""
    if not isinstance(text, str) or not text.strip():
        raise ArchitectureError("empty architecture: paste a one-line form ('c3 c5:1'), JSON, fixed_arc or NNI JSON")
    if len(text) > MAX_STRING:
        raise ArchitectureError(f"architecture text too long ({len(text)} > {MAX_STRING} characters)")
    text = text.strip()
    first = text.split()[0].partition(":")[0]
    if text.startswith("{"):
        d = _json(text)
        if isinstance(d, dict) and any(NNI_KEY.fullmatch(str(k)) for k in d):
            return from_nni(d, ids)
        return Architecture.from_dict(d)
    if LONG.get(first, first) in OPS:
        return Architecture.parse(text)
    if re.search(r"\d", text) and not re.search(r"[A-Za-z]", SHELL.sub(" ", text)):
        return from_fixed_arc(text, ids)
    tried = []
    for name, read in (("the one-line form", Architecture.parse), ("ENAS fixed_arc", from_fixed_arc),
                       ("JSON", Architecture.from_json)):
        try:
            read(text)
        except ArchitectureError as e:
            tried.append(f"{name} ({e})")
    raise ArchitectureError("not an architecture in any known format; tried " + "; ".join(tried))


def export(arch: Architecture, to: str, ids: str = "enas", config: Config | None = None, classes=10) -> str:
    """`arch` as the text of format `to` (one of FORMATS), ending in a newline."""
    writers = {"oneline": lambda: str(arch) + "\n", "json": lambda: arch.to_json() + "\n",
               "fixed_arc": lambda: to_fixed_arc(arch, ids) + "\n", "nni": lambda: nni_text(to_nni(arch, ids)),
               "pytorch": lambda: pytorch_source(arch, config, classes)}
    if to not in writers:
        raise ArchitectureError(f"unknown format {to!r}; use one of {', '.join(FORMATS)}")
    return writers[to]()


# --- PyTorch -----------------------------------------------------------------------------------------
def pytorch_source(arch: Architecture, config: Config | None = None, classes=10) -> str:
    """A standalone Python file (only torch needed) that defines `arch` as `enas.model.ChildNet` builds it in the
    config's form `bn`, with the same module names, and loads a run's `final.pt`. `classes`: a number, or the
    class names."""
    c = config or Config()
    names = None if isinstance(classes, int) else [str(x) for x in classes]
    return SOURCE.substitute(
        arch=str(arch), ops=repr(list(arch.ops)), skips=repr([list(r) for r in arch.skips]), channels=c.channels,
        classes=len(names) if names else classes, names=repr(names), dropout=c.dropout,
        first_node_bn=c.first_node_bn, image_size=c.image_size, bn=c.bn,
        form=textwrap.fill(f'Its ops are normalised as bn="{c.bn}": {BN_FORMS[c.bn]}.', 110, break_on_hyphens=False))
