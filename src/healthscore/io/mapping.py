"""The data contract's mapping: a source's own table and column names onto ours
(``data.tables``, ``data.columns``) and code columns through lookup tables
(``data.lookups``), one rule for every kind of source (files, DuckDB, PostgreSQL,
buckets)."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from healthscore.config import DataParams
from healthscore.data.schema import REQUIRED_TABLES, SIMULATOR_ONLY, TABLES
from healthscore.errors import SchemaError


def map_tables(raw: Mapping[str, pd.DataFrame], data: DataParams) -> tuple[dict, dict]:
    """Apply ``data.tables``, ``data.columns`` and ``data.lookups``.

    Returns ``(frames, extras)``: contract tables under our names with our column names
    (other columns kept), and tables outside the contract (e.g. ``ground_truth``).
    """
    unknown = sorted(set(data.tables) - set(TABLES))
    if unknown:
        raise SchemaError(
            f"data.tables names {unknown[0]!r}, which is not a contract table "
            f"(expected one of {', '.join(TABLES)})"
        )
    used: set[str] = set()
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        theirs = data.tables.get(name, name)
        if theirs not in raw:
            if name in data.tables:
                raise SchemaError(
                    f"table {name}: data.tables maps it to {theirs!r}, which is not in the "
                    f"source (found: {', '.join(sorted(raw)) or 'nothing'})"
                )
            continue
        used.add(theirs)
        frame = raw[theirs]
        mapping = data.columns.get(name, {})
        bad = sorted(set(mapping) - set(TABLES[name].columns))
        if bad:
            raise SchemaError(
                f"data.columns.{name} maps {bad[0]!r}, which is not a column of the "
                f"contract's {name} table (expected one of {', '.join(TABLES[name].columns)})"
            )
        missing = [theirs_col for theirs_col in mapping.values() if theirs_col not in frame]
        if missing:
            raise SchemaError(
                f"table {name}: data.columns maps to column {missing[0]!r}, which is not in "
                f"{theirs} (found: {', '.join(map(str, frame.columns))})"
            )
        renamed = {their: ours for ours, their in mapping.items()}
        # A user column that happens to carry one of our names but is mapped elsewhere
        # would collide; keep the mapped one.
        collide = [c for c in frame.columns if c in mapping and c not in renamed]
        frame = frame.drop(columns=collide).rename(columns=renamed)
        for column, lookup in data.lookups.get(name, {}).items():
            frame = _apply_lookup(frame, name, column, lookup, raw)
            used.add(lookup.table)
        frames[name] = frame
    for name in REQUIRED_TABLES:
        if name not in frames:
            raise SchemaError(
                f"required table {name!r} is missing (the source has: "
                f"{', '.join(sorted(raw)) or 'no tables'}); name it {name}.parquet/.csv "
                f"or map yours under data.tables.{name}"
            )
    extras = {k: v for k, v in raw.items() if k not in used and k in SIMULATOR_ONLY}
    return frames, extras


def _apply_lookup(frame, table, column, lookup, raw) -> pd.DataFrame:
    if lookup.table not in raw:
        raise SchemaError(f"data.lookups.{table}.{column}: lookup table {lookup.table!r} is not in the source")
    ref = raw[lookup.table]
    for col in (lookup.key, lookup.value):
        if col not in ref:
            raise SchemaError(
                f"data.lookups.{table}.{column}: column {col!r} is not in {lookup.table} "
                f"(found: {', '.join(map(str, ref.columns))})"
            )
    if column not in frame:
        raise SchemaError(f"data.lookups.{table}.{column}: {table} has no column {column!r}")
    names = pd.Series(ref[lookup.value].astype("str").to_numpy(), index=ref[lookup.key].to_numpy())
    if names.index.has_duplicates:
        raise SchemaError(f"data.lookups.{table}.{column}: {lookup.table}.{lookup.key} has duplicate keys")
    codes = frame[column]
    mapped = codes.map(names)
    # Codes missing from the lookup keep their code as a name, so no row disappears.
    frame = frame.copy()
    frame[column] = mapped.where(mapped.notna(), codes.astype("str")).astype("str")
    return frame
