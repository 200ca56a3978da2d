"""The sidebar's settings in the page's address (`st.query_params`): the preset, and each field whose value
differs from the preset's, e.g. `?preset=quick&epochs=3&ops=conv3x3,maxpool3x3`. A reload, a second tab or a
shared link opens with them; a bad value is refused with a warning naming it, and the rest still apply; a parameter
that is not a setting is named in a warning and removed from the address, except `demo`: the recorded demo the
Run tab shows (`app.main`)."""
from __future__ import annotations

from urllib.parse import urlencode

from enas.config import PRESETS, SPECS, Config, ConfigError, check_field

PRESET = "preset"
DEFAULT_PRESET = "quick"
DEMO = "demo"


def decode(params) -> tuple:
    """(preset, {field: checked value}, warnings) from URL parameters (a mapping of text)."""
    warnings = []
    preset = params.get(PRESET, DEFAULT_PRESET)
    if preset not in PRESETS:
        warnings.append(f"URL parameter 'preset': {preset!r} is not a preset (allowed: {', '.join(PRESETS)}); "
                        f"using {DEFAULT_PRESET}")
        preset = DEFAULT_PRESET
    values = {}
    for key, raw in params.items():
        if key in (PRESET, DEMO):
            continue
        if key not in SPECS:
            warnings.append(f"URL parameter {key!r} is not a setting; ignored")
            continue
        try:
            values[key] = check_field(key, None if raw == "" and SPECS[key].optional else raw)
        except ConfigError as e:
            warnings.append(f"URL parameter {key}={raw!r} ignored: {e}")
    return preset, values, warnings


def encode(preset: str, values: dict) -> dict:
    """URL parameters of the settings `values` {field: widget value}: the preset, and the fields whose valid
    value differs from the preset's (an invalid value, e.g. one being typed, is left out)."""
    base = Config.from_dict({}, preset=preset)
    params = {PRESET: preset}
    for name, value in values.items():
        try:
            value = check_field(name, value)
        except ConfigError:
            continue
        if value != getattr(base, name):
            params[name] = _text(value)
    return params


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def sync(query_params, wanted: dict):
    """Make the parameters of `query_params` (st.query_params) those of `wanted`, writing only what changed, and
    keep `demo`. A parameter that is not a setting goes: `decode` named it in a warning when the session began
    (Streamlit's own `embed` parameters are not in st.query_params, and stay)."""
    for key in [k for k in query_params if k not in wanted and k != DEMO]:
        del query_params[key]
    for key, value in wanted.items():
        if query_params.get(key) != value:
            query_params[key] = value


def link(base_url: str | None, params: dict) -> str:
    """The address that opens the app with `params`: `base_url` (the page's, if known) with them as its query."""
    return f"{(base_url or '').split('?')[0]}?{urlencode(params, safe=',:/')}"
