"""A feature in words: its entry, its phrase and its value, the one home of each.

The risk list's driver text, the terminal ``explain``, the why-it-changed lines and the
report all word a feature here: :func:`feature_info` (a catalogue entry, also for a
name without one), :func:`render_phrase` (an entry's phrase for one row) and
:func:`format_value` (a value, by its phrase's format spec or its unit). Pure.
"""

from __future__ import annotations

import string
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.features.catalogue import FAMILIES, SOURCE_FAMILY, FeatureInfo


# ---------------------------------------------------------- entries and values


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA (a list-like is not missing)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def positive_days(value: Any) -> float | None:
    """A number of days that can be put in words: positive and finite, else None."""
    try:
        days = float(value)
    except (TypeError, ValueError):
        return None
    return days if np.isfinite(days) and days > 0 else None


def feature_label(name: str) -> str:
    """A readable label for a feature without a catalogue entry.

    ``events__active_users__30d`` -> ``Events: active users (30d)``.
    """
    parts = str(name).split("__")
    if len(parts) == 1:
        return str(name).replace("_", " ").capitalize()
    source, measure, *rest = parts
    words = f"{source.replace('_', ' ').capitalize()}: {measure.replace('_', ' ')}"
    if rest:
        words += " (" + ", ".join(r.replace("_", " ") for r in rest) + ")"
    return words


def feature_family(name: str) -> str:
    """Family of a feature from its table prefix (``account`` when unknown)."""
    return SOURCE_FAMILY.get(str(name).split("__", 1)[0], "account")


def feature_info(name: str, entry: Any = None) -> FeatureInfo:
    """``name``'s entry as a :class:`FeatureInfo`: the entry itself, or its fields (a
    dict as ``catalogue.json`` stores it, or an object with those attributes; absent
    fields allowed): a label and family made from the name, no phrase (``label: value``)."""
    if isinstance(entry, FeatureInfo):
        return entry
    def get(key: str) -> Any:
        found = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
        return None if is_missing(found) else found

    family, direction = get("family"), get("healthy_direction")
    return FeatureInfo(
        name=name, label=str(get("label") or feature_label(name)),
        family=str(family) if family in FAMILIES else feature_family(name),
        unit=str(get("unit") or ""), phrase=str(get("phrase") or ""),
        kind=str(get("kind") or "numeric"),
        healthy_direction=0 if direction is None else int(direction),
    )


def money(value: Any, *, symbol: str = "$", compact: bool = False) -> str:
    """``$12,400``; compact: ``$1.2M``, ``$35k``."""
    if is_missing(value):
        return "n/a"
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if compact and v >= 1e6:
        return f"{sign}{symbol}{v / 1e6:.1f}M"
    if compact and v >= 1e4:
        return f"{sign}{symbol}{v / 1e3:.0f}k"
    return f"{sign}{symbol}{v:,.0f}"


def format_value(value: Any, unit: Any = None, *, spec: str | None = None,
                 missing: str = "none recorded") -> str:
    """A feature value for people: the one wording of a value, everywhere.

    ``spec``: a format spec (the one the feature's phrase uses for ``{value}``,
    :func:`value_spec`) applied to a number; else by ``unit``: shares as percentages,
    days with their word, currency as money; else whole numbers whole, others with
    at most two decimals. ``missing``: the words for a missing value (the stored
    why-it-changed lines say ``missing``, the report ``none recorded``); text is kept
    as it is.
    """
    if is_missing(value):
        return missing
    if isinstance(value, str):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if spec:
        try:
            return format(v, spec)
        except (TypeError, ValueError):
            pass
    unit = str(unit or "")
    if unit in ("share", "rate", "ratio_share"):
        return f"{100 * v:.0f}%"
    if unit == "currency":
        return money(v)
    if unit == "days":
        return f"{v:,.0f} day{'s' if round(v) != 1 else ''}"
    if unit == "ratio":
        return f"{v:.2f}\u00d7"
    if v.is_integer() or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def value_spec(entry: Any) -> str | None:
    """The format spec of ``{value}`` in an entry's phrase (``.0%``), if any."""
    phrase = entry.get("phrase") if isinstance(entry, Mapping) else getattr(entry, "phrase", None)
    if not phrase:
        return None
    try:
        for _, field, spec, _ in string.Formatter().parse(phrase):
            if field == "value":
                return spec or None
    except ValueError:
        return None
    return None


# ------------------------------------------------------------------------ phrases


def _format(value: Any, spec: str, conversion: str | None) -> str:
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    if spec == "yesno":
        return "yes" if bool(value) else "no"
    try:
        text = format(value, spec)
    except (TypeError, ValueError):
        return str(value)
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        text = text[1:]  # "-0" reads as a bug
    return text


def _lookup(row: Mapping, key: str) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return None


def render_phrase(info: FeatureInfo, row: Mapping) -> str:
    """The entry's phrase for one row (a dict or Series of feature values).

    ``{value}`` is ``row[info.name]``; other fields are the row's features by name.
    A missing value gives ``"<label>: not available"``; a missing other field cuts
    the phrase after ``{value}``; an entry without a phrase gives
    ``"<label>: <value>"`` (:func:`format_value`).
    """
    value = _lookup(row, info.name)
    if is_missing(value):
        return f"{info.label}: not available"
    if not info.phrase:
        return f"{info.label}: {format_value(value, info.unit)}"
    parsed = list(string.Formatter().parse(info.phrase))
    pieces: list[str] = []
    complete = True
    for literal, field, spec, conversion in parsed:
        if field is None:
            pieces.append(literal)
            continue
        current = value if field == "value" else _lookup(row, field)
        if is_missing(current):
            complete = False
            break
        pieces.append(literal)
        pieces.append(_format(current, spec or "", conversion))
    if complete:
        return "".join(pieces)
    cut: list[str] = []
    for (literal, field, spec, conversion) in parsed:
        cut.append(literal)
        if field == "value":
            cut.append(_format(value, spec or "", conversion))
            return "".join(cut).rstrip(" (,;:-")
        if field is not None:
            break
    return f"{info.label}: {_format(value, '', None)}"
