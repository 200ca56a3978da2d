"""Every event of a run as one flat table, for pandas, CSV and Parquet (`python -m enas export RUN --events FILE`,
the app's events download, `api` runs' `events`).

One row per event: id, t (Unix time, seconds), kind, epoch, step, then every field of every kind in the order
they first appear. `epoch` is numbered as the app numbers epochs, from 1 (the store's 0-based epoch + 1). A field
an event lacks, or holds as null, is missing; a nested value (a list, a dict) or a field whose events hold values
of several types is JSON text, so that a CSV cell and a Parquet cell hold the same thing. Column types: whole
numbers Int64, other numbers float64, true/false boolean, everything else string.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from enas.errors import StoreError
from enas.runs.store import write_atomic

FIXED = {"id": "int64", "t": "float64", "kind": "string", "epoch": "Int64", "step": "Int64"}
# a field's column type, by the Python types of its values (anything else: JSON text)
TYPES = {frozenset({bool}): "boolean", frozenset({int}): "Int64", frozenset({float}): "float64",
         frozenset({int, float}): "float64", frozenset({str}): "string"}
SUFFIXES = (".csv", ".parquet")
NA = "NA"   # a missing cell in CSV, so that an empty text stays one (R and pandas read NA as missing too)


def _suffix(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise StoreError(f"{path}: events are written as CSV or Parquet, chosen by the file's suffix: "
                         f"use {' or '.join(SUFFIXES)}")
    return suffix


def _column(values: list) -> pd.Series:
    """A field's values (None: missing) as a typed column, nested or mixed values as JSON text."""
    dtype = TYPES.get(frozenset(type(v) for v in values if v is not None))
    if dtype is not None:
        return pd.Series(values, dtype=dtype)
    return pd.Series([None if v is None else json.dumps(v) for v in values], dtype="string")


def events_frame(events: list, kind: str | None = None) -> pd.DataFrame:
    """The events (`RunStore.events()` dicts), or those of one `kind`, as a DataFrame: one row per event, `epoch`
    from 1 as the app shows it (see the module's docstring for the columns)."""
    events = [ev for ev in events if kind is None or ev["kind"] == kind]
    fields = list(dict.fromkeys(k for ev in events for k in ev if k not in FIXED))
    columns = {name: pd.Series([ev.get(name) for ev in events], dtype=dtype) for name, dtype in FIXED.items()}
    columns["epoch"] = columns["epoch"] + 1
    columns.update({name: _column([ev.get(name) for ev in events]) for name in fields})
    return pd.DataFrame(columns)


def events_bytes(events: list, name) -> bytes:
    """Every event as the bytes of file `name`: CSV or Parquet, by its suffix."""
    suffix = _suffix(name)
    frame = events_frame(events)
    if suffix == ".csv":
        return frame.to_csv(index=False, na_rep=NA).encode()
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def write_events(events: list, path) -> int:
    """Write every event to `path` as CSV or Parquet (by its suffix), atomically (`store.write_atomic`): a
    failure leaves no file behind. Returns the number of rows."""
    data = events_bytes(events, path)
    write_atomic(Path(path), lambda f: f.write(data))
    return len(events)


def _typed(text: pd.Series) -> pd.Series:
    """A CSV column read as text, with the type `events_frame` gives those values (a text field every value of
    which reads as a number, or as True/False, comes back as one). Floats are parsed by Python: exact."""
    cells = text.dropna()
    if cells.empty:
        return text.astype("string")
    if cells.str.fullmatch(r"[+-]?\d+").all():
        return text.astype("Int64")
    try:
        return text.map(float, na_action="ignore").astype("float64")
    except ValueError:
        pass
    if cells.isin(("True", "False")).all():
        return text.map({"True": True, "False": False}).astype("boolean")
    return text.astype("string")


def read_events(path) -> pd.DataFrame:
    """A CSV or Parquet file of `write_events` as a DataFrame with `events_frame`'s columns and types."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    text = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[NA])
    columns = {name: _typed(text[name]) for name in text.columns}
    return pd.DataFrame({name: col.astype(FIXED.get(name, col.dtype)) for name, col in columns.items()})
