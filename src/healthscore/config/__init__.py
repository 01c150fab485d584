"""``params.yaml`` loaded into frozen, typed sections.

Each stage receives only its own section. An unknown key or a value of the wrong type
is a :class:`~healthscore.errors.ConfigError` naming the key and what was expected, so
a typo never falls back silently to a default.

Durations are whole days (``*_days``); dates are ISO strings (``2024-01-31``).

The sections live in :mod:`healthscore.config.sections` (re-exported here), their
field types and the wording of errors in :mod:`healthscore.config.fields`. Types and
ranges are pydantic constraints on the fields, checked by pydantic at load, so
``model.num_leaves=0`` or ``data.observed_until: yesterday`` stops with the key named
before any stage runs. Every number must be finite.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import TypeAdapter, ValidationError

from healthscore.config.fields import config_error
from healthscore.config.sections import (
    AlertParams, CallParams, CalibrationParams, DataParams, FeatureParams, GateParams, LabelParams,
    LookupParams, ModelParams, PROFILE_FEATURES, Params, ReportParams, ScoreParams,
    ScorecardParams, ScorecardRule, SplitParams, TimelineParams, TrackingParams, TuneParams,
)
from healthscore.errors import ConfigError

__all__ = [
    "AlertParams", "CallParams", "CalibrationParams", "DataParams", "FeatureParams", "GateParams", "LabelParams",
    "LookupParams", "ModelParams", "PROFILE_FEATURES", "Params", "ReportParams", "ScoreParams",
    "ScorecardParams", "ScorecardRule", "SplitParams", "TimelineParams", "TrackingParams",
    "TuneParams", "make_params", "params_to_dict", "parse_override", "read_params",
]

# ------------------------------------------------------------------------ loading


@functools.cache
def _validator() -> TypeAdapter[Params]:
    return TypeAdapter(Params)  # built on first use: no work at import


def _validate(tree: Mapping[str, Any]) -> Params:
    """``tree`` checked against :class:`Params`; the first problem a ConfigError."""
    try:
        return _validator().validate_python(tree)
    except ValidationError as exc:
        raise config_error(exc, Params) from None


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as written: they are ISO strings checked per key
    (:data:`~healthscore.config.fields.IsoDate`), so an impossible date such as
    2024-13-01 names its key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


@functools.cache
def _top_level_values() -> frozenset[str]:
    """Top-level keys that hold a value rather than a section (``plays``: a list)."""
    defaults = Params()
    return frozenset(f.name for f in dataclasses.fields(Params)
                     if not dataclasses.is_dataclass(getattr(defaults, f.name)))


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``section.key=value`` into a key path and a YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, _, raw = text.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if len(path) < 2 and not (path and path[0] in _top_level_values()):
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = _load_yaml(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({exc})") from None
    return path, value


def make_params(raw: Mapping[str, Any] | None = None, overrides: list[str] = ()) -> Params:
    """Build :class:`Params` from a mapping plus ``section.key=value`` overrides."""
    tree: dict[str, Any] = _deepcopy(dict(raw or {}))
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return _validate(tree)


def read_params(path: str | Path | None = None, overrides: list[str] = ()) -> Params:
    """Read ``params.yaml`` (or defaults when ``path`` is None) and apply overrides."""
    raw: Mapping[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"params file {path} does not exist")
        try:
            raw = _load_yaml(path.read_text()) or {}
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return make_params(raw, overrides)


def params_to_dict(params: Any) -> dict[str, Any]:
    """Plain nested dict of a params object (for sidecars and MLflow)."""
    return dataclasses.asdict(params)


def _deepcopy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value
