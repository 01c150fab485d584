"""The field types of ``params.yaml`` and its errors put in words, on pydantic.

The sections in :mod:`healthscore.config.sections` are plain frozen dataclasses whose
annotations carry pydantic constraints (``Annotated[Int, Field(ge=2)]``); they are
checked when ``params.yaml`` is loaded, not when code builds a section. Scalars are
strict (``"90"`` is not an integer, ``yes`` in quotes is not true/false) and every
number must be finite. :func:`config_error` turns pydantic's errors into one
:class:`~healthscore.errors.ConfigError` line that starts with the dotted key
(``model.num_leaves``) and says what was expected and what was given.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Annotated, Any, Callable, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from healthscore.errors import ConfigError

_T = typing.TypeVar("_T")


@typing.dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def section(cls: type[_T]) -> type[_T]:
    """A frozen dataclass whose loaded values pydantic checks: an unknown key is an
    error, every number finite. Building one in code checks nothing (as before)."""
    cls.__pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)  # type: ignore[attr-defined]
    return dataclasses.dataclass(frozen=True)(cls)


Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is accepted and becomes a float
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
#: A mapping's key: YAML may read ``1:`` as a number; it names a table or column.
Key = Annotated[str, BeforeValidator(str)]

Count = Annotated[Int, Field(ge=0)]
Positive = Annotated[Int, Field(ge=1)]
Share = Annotated[Float, Field(gt=0, le=1)]
NonNegative = Annotated[Float, Field(ge=0)]


class Expected(ValueError):
    """Raised by a field check: the value is not ``what`` (``an ISO date ...``)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Mismatch(ValueError):
    """Raised by a section's cross-field check; ``render(key)`` words it with the
    dotted keys, ``key("end")`` being e.g. ``timeline.end``."""

    def __init__(self, render: Callable[[Callable[[str], str]], str]) -> None:
        super().__init__("fields that do not agree")
        self.render = render


def _check_iso(value: str) -> str:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Expected("an ISO date such as 2024-01-31") from None
    if when.tzinfo is not None:
        raise Expected("a date without a time zone (the data's clock has none)")
    return value


def _date_as_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


#: An ISO date or instant (``2024-01-31``) without a time zone, kept as written.
IsoDate = Annotated[Str, BeforeValidator(_date_as_text), AfterValidator(_check_iso)]


def _check_cadence(value: str) -> str:
    from pandas.tseries.frequencies import to_offset

    try:
        steps = to_offset(value).n
    except (ValueError, TypeError):
        steps = 0
    if steps <= 0:
        raise Expected("a pandas offset alias that moves forward, such as MS (1st of each month)")
    return value


#: A pandas offset alias that moves forward (``MS``, ``W``, ``7D``).
Cadence = Annotated[Str, AfterValidator(_check_cadence)]


def _depth(value: int) -> int:
    if value != -1 and value < 1:
        raise Expected("-1 (no limit) or at least 1")
    return value


#: A tree depth: at least 1, or -1 for no limit.
Depth = Annotated[Int, AfterValidator(_depth)]

# ------------------------------------------------------------------ errors in words

_BOUNDS = (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below"))
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def config_error(exc: ValidationError, root: type) -> ConfigError:
    """One ConfigError for ``exc`` raised while validating ``root``: its first problem
    (an unknown key first, as a typo explains the rest), keyed like ``a.b[0].c``."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "unexpected_keyword_argument")
    message = _describe(errors[0], root)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})"
    return ConfigError(message)


def _describe(error: Any, root: type) -> str:
    loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
    key = _dotted(loc)
    tp = _annotation_at(root, loc)
    if kind == "unexpected_keyword_argument":
        names = [f.name for f in dataclasses.fields(_bare(_annotation_at(root, loc[:-1])))]
        return f"unknown key {key}; expected one of: {', '.join(sorted(names))}"
    if kind in ("missing", "missing_argument"):
        return f"{key}: expected {_type_name(tp)}, got nothing (the key is required)"
    if kind == "value_error":
        cause = error["ctx"]["error"]
        if isinstance(cause, Mismatch):
            return cause.render(lambda name: _dotted((*loc, name)))
        if isinstance(cause, Expected):
            return f"{key}: expected {cause.what}, got {given!r}"
    if kind == "finite_number":
        return f"{key}: expected a finite number, got {given!r}"
    if kind in _RANGE_ERRORS:
        return f"{key}: expected {_range(tp)}, got {given!r}"
    return f"{key}: expected {_type_name(tp)}, got {given!r}"


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "params"


def _annotation_at(root: Any, loc: tuple) -> Any:
    """The annotation (constraints included) of the value at ``loc`` under ``root``."""
    tp = root
    for part in loc:
        base = _bare(tp)
        origin = typing.get_origin(base)
        if dataclasses.is_dataclass(base):
            tp = typing.get_type_hints(base, include_extras=True).get(part)
        elif origin is list:
            tp = typing.get_args(base)[0]
        elif origin is dict:
            tp = typing.get_args(base)[1]
        else:
            return None
    return tp


def _bare(tp: Any) -> Any:
    """``tp`` without its constraints, and without ``| None``."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp if tp is _without_none(tp) else _bare(_without_none(tp))


def _without_none(tp: Any) -> Any:
    """``X`` of ``X | None`` (the only unions of the sections), else ``tp``."""
    if typing.get_origin(tp) not in (types.UnionType, typing.Union):
        return tp
    (tp, *_) = [a for a in typing.get_args(tp) if a is not type(None)]
    return tp


def _range(tp: Any) -> str:
    """``at least 2 and at most 131072``, from the constraints on ``tp``."""
    tp = _without_none(tp)  # ``Share | None``
    found = []
    for item in typing.get_args(tp)[1:] if typing.get_origin(tp) is Annotated else ():
        found.extend(getattr(item, "metadata", [item]))  # a Field() holds its bounds
    parts = [f"{word} {_number(getattr(item, attr))}" for attr, word in _BOUNDS
             for item in found if getattr(item, attr, None) is not None]
    return " and ".join(parts) or "a value in range"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _type_name(tp: Any) -> str:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp)))
