"""A feature in words: its entry, its phrase and its value, the one home of each.

The risk list's driver text, the terminal ``explain``, the why-it-changed lines and the
report all word a feature here: :func:`feature_info` (a catalogue entry, also for a
name without one), :func:`render_phrase` (an entry's phrase for one row) and
:func:`format_value` / :func:`value_text` (a value, by its phrase's format spec and its
unit, the scale said: ``CSAT 1.9 of 5``), the one formatter of a value. Pure.
"""

from __future__ import annotations

import functools
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


#: Units whose values are on a fixed scale: the scale is said with the value ("1.9 of 5").
SCALE_WORDS = {"csat": "of 5", "nps": "of 10"}

#: A unit's value without a format spec: its default spec.
_UNIT_SPEC = {"share": ".0%", "rate": ".0%", "ratio_share": ".0%", "ratio": ".2f",
              "days": ",.0f", "currency": ",.0f", "csat": ".1f", "nps": ".1f"}


def format_value(value: Any, unit: Any = None, *, spec: str | None = None,
                 missing: str = "none recorded", currency: str = "$") -> str:
    """A feature value for people: the one wording of a value, everywhere.

    The number is written with ``spec`` (the format spec the feature's phrase uses for
    ``{value}``, :func:`value_spec`), else the unit's default; then the unit is said:
    days with their word (``1 day``, ``45 days``), currency with ``currency``'s symbol
    (``$1,200``, ``+$300`` for a signed spec), a scale with its range (``1.9 of 5``,
    :data:`SCALE_WORDS`), a ratio with ``x``; shares are percentages. Without a unit,
    whole numbers are whole and others have at most two decimals. ``missing``: the
    words for a missing value; text is kept as it is.
    """
    if is_missing(value):
        return missing
    if isinstance(value, str):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    unit = str(unit or "")
    spec = spec or _UNIT_SPEC.get(unit)
    if spec:
        try:
            number = format(abs(v) if unit == "currency" else v, spec.replace("+", "")
                            if unit == "currency" else spec)
        except (TypeError, ValueError):
            number = None
    else:
        number = None
    if number is None:
        number = f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")
    if number.startswith("-") and not any(ch in "123456789" for ch in number):
        number = number[1:]  # "-0" reads as a bug
    if unit == "currency":
        zero = not any(ch in "123456789" for ch in number)
        sign = "-" if v < 0 and not zero else ("+" if spec and "+" in spec and not zero else "")
        return f"{sign}{currency}{number}"
    if unit == "days":
        return f"{number} day{'' if number in ('1', '-1') else 's'}"
    if unit == "ratio":
        return f"{number}x"
    if unit in SCALE_WORDS:
        return f"{number} {SCALE_WORDS[unit]}"
    return number


def value_text(info: FeatureInfo, value: Any, *, currency: str = "$",
               missing: str = "none recorded") -> str:
    """``info``'s value in words: :func:`format_value` with its phrase's spec and its
    unit, as the phrase says it (``Mean CSAT ...: 1.9 of 5`` and ``1.9 of 5``)."""
    return format_value(value, info.unit, spec=value_spec(info), missing=missing, currency=currency)


def value_spec(entry: Any) -> str | None:
    """The format spec of ``{value}`` in an entry's phrase (``.0%``), if any."""
    phrase = entry.get("phrase") if isinstance(entry, Mapping) else getattr(entry, "phrase", None)
    if not phrase:
        return None
    try:
        for _, field, spec, _ in _parse_phrase(phrase)[0]:
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


#: A phrase literal right after ``{value}`` that already says the unit (an entry
#: written before values carried their unit): the value is then the bare number.
_UNIT_SAID = {"days": (" day",), "ratio": ("x", "\u00d7"), "csat": (" of ",), "nps": (" of ",)}


def _value_in_phrase(info: FeatureInfo, value: Any, spec: str, conversion: str | None,
                     following: str, currency: str) -> str:
    if spec == "yesno" or conversion or isinstance(value, str) or info.kind == "categorical":
        return _format(value, spec, conversion)
    if following.startswith(_UNIT_SAID.get(info.unit, ("\0",))):
        return _format(value, spec, conversion)
    return format_value(value, info.unit, spec=spec or None, currency=currency)


@functools.lru_cache(maxsize=4096)
def _parse_phrase(phrase: str) -> tuple[tuple[tuple[Any, ...], ...], tuple[str, ...]]:
    """A phrase's pieces (``string.Formatter().parse``) and the literal after each,
    parsed once per phrase, not once per row."""
    parsed = tuple(string.Formatter().parse(phrase))
    following = tuple(parsed[i + 1][0] if i + 1 < len(parsed) else "" for i in range(len(parsed)))
    return parsed, following


def render_phrase(info: FeatureInfo, row: Mapping, *, currency: str = "$") -> str:
    """The entry's phrase for one row (a dict or Series of feature values).

    ``{value}`` is ``row[info.name]``, worded as :func:`value_text` words it (its unit
    said: ``15 days``, ``1.9 of 5``, ``$1,200`` with ``currency``); other fields are
    the row's features by name. A missing value gives ``"<label>: not available"``; a
    missing other field cuts the phrase after ``{value}``; an entry without a phrase
    gives ``"<label>: <value>"``.
    """
    value = _lookup(row, info.name)
    if is_missing(value):
        return f"{info.label}: not available"
    if not info.phrase:
        return f"{info.label}: {value_text(info, value, currency=currency)}"
    parsed, following = _parse_phrase(info.phrase)
    pieces: list[str] = []
    complete = True
    for (literal, field, spec, conversion), after in zip(parsed, following):
        if field is None:
            pieces.append(literal)
            continue
        current = value if field == "value" else _lookup(row, field)
        if is_missing(current):
            complete = False
            break
        pieces.append(literal)
        pieces.append(_value_in_phrase(info, current, spec or "", conversion, after, currency)
                      if field == "value" else _format(current, spec or "", conversion))
    if complete:
        return "".join(pieces)
    cut: list[str] = []
    for (literal, field, spec, conversion), after in zip(parsed, following):
        cut.append(literal)
        if field == "value":
            cut.append(_value_in_phrase(info, value, spec or "", conversion, after, currency))
            return "".join(cut).rstrip(" (,;:-")
        if field is not None:
            break
    return f"{info.label}: {value_text(info, value, currency=currency)}"
