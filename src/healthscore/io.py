"""Every file format the project reads or writes, and nothing else.

Sources: a folder of Parquet or CSV files (one per table) or a DuckDB database file.
Outputs are written atomically: to a temporary file beside the target, then renamed,
so a failed run never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from healthscore import __version__
from healthscore.config import DataParams
from healthscore.data_end import check_observed_until
from healthscore.errors import ConfigError, DataError, ProvenanceError, SchemaError
from healthscore.problems import ValidationReport
from healthscore.schema import REQUIRED_TABLES, SCHEMA_VERSION, SIMULATOR_ONLY, TABLES
from healthscore.tables import Tables
from healthscore.validate import validate_tables

DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")

#: A DuckDB database file holds these bytes at offset 8 (its header's magic number).
DUCKDB_MAGIC = (8, b"DUCK")
#: Other database files a user may pass by mistake, by the bytes they start with.
OTHER_DATABASES = {b"SQLite format 3\x00": "an SQLite database"}

#: The source is read, never extended: no extension is installed or loaded (an SQLite
#: file would make DuckDB fetch one from the network) and no query reads other files
#: (a view over a remote or local file); locked so no statement can change it.
DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False,
                 "enable_external_access": False, "lock_configuration": True}

# ---------------------------------------------------------------------- reading


def detect_format(source: Path, declared: str = "auto") -> str:
    """``parquet``, ``csv`` or ``duckdb`` for ``source`` (a folder or a file)."""
    if declared != "auto":
        return declared
    if source.is_file():
        if source.suffix.lower() in DUCKDB_SUFFIXES:
            return "duckdb"
        raise DataError(
            f"data source {source} is a file but not a DuckDB database "
            f"(expected one of {', '.join(DUCKDB_SUFFIXES)} or a folder of tables)"
        )
    if not source.is_dir():
        raise DataError(f"data source {source} does not exist")
    if any(source.glob("*.parquet")):
        return "parquet"
    if any(source.glob("*.csv")):
        return "csv"
    raise DataError(f"data source {source} holds no .parquet or .csv files")


def read_raw_tables(data: DataParams, *, source: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read every table of the source under the user's own table and column names.

    Returns a mapping from the user's table name to its frame, untouched.
    """
    path = Path(source if source is not None else data.source)
    fmt = detect_format(path, data.format)
    if fmt == "duckdb":
        return _read_duckdb(path)
    frames: dict[str, pd.DataFrame] = {}
    for file in sorted(path.glob(f"*.{fmt}")):
        frames[file.stem] = _read_file(file, fmt)
    return frames


def _read_file(file: Path, fmt: str) -> pd.DataFrame:
    try:
        if fmt == "parquet":
            return pd.read_parquet(file)
        return pd.read_csv(file, low_memory=False)
    except Exception as exc:  # pyarrow / pandas raise many kinds
        raise DataError(f"cannot read {file}: {exc}") from None


def _read_duckdb(path: Path) -> dict[str, pd.DataFrame]:
    import duckdb

    if not path.is_file():
        raise DataError(f"DuckDB database {path} is a folder, not a database file" if path.is_dir()
                        else f"DuckDB database {path} does not exist")
    _check_duckdb_header(path)
    try:
        con = duckdb.connect(str(path), read_only=True, config=DUCKDB_CONFIG)
    except duckdb.Error as exc:
        raise DataError(f"cannot open DuckDB database {path}: {_first_line(exc)}") from None
    name = "information_schema.tables"
    try:
        names = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()]
        frames = {}
        for name in sorted(names):
            frames[name] = con.table(name).df()
        return frames
    except duckdb.Error as exc:
        raise DataError(f"cannot read table {name} of DuckDB database {path}: {_first_line(exc)}") from None
    finally:
        con.close()


def _check_duckdb_header(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` starts like a DuckDB database file."""
    offset, magic = DUCKDB_MAGIC
    with path.open("rb") as handle:
        head = handle.read(64)
    if head[offset:offset + len(magic)] == magic:
        return
    kind = next((what for start, what in OTHER_DATABASES.items() if head.startswith(start)),
                None if head else "an empty file")
    raise DataError(
        f"data source {path} is {kind + ', ' if kind else ''}not a DuckDB database (its first bytes are "
        f"{head[:16]!r}; expected {magic!r} at byte {offset}). Export its tables to a "
        f"folder of .parquet or .csv files, or into a DuckDB file, and point data.source there"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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


def read_source(
    data: DataParams, *, source: str | Path | None = None
) -> tuple[Tables, ValidationReport]:
    """Read, map and validate a data source.

    Parameters
    ----------
    data : DataParams
        The ``data`` section of ``params.yaml``.
    source : path, optional
        Overrides ``data.source`` (the CLI's ``--data``).

    Returns
    -------
    tables : Tables
        Canonical, validated frames (see :mod:`healthscore.schema`).
    report : ValidationReport
        What was found and what was dropped.

    Raises
    ------
    SchemaError, ValidationError
        When the source breaks the contract in a way no row-drop can fix.
    """
    observed = parse_observed_until(data.observed_until)
    raw = read_raw_tables(data, source=source)
    frames, extras = map_tables(raw, data)
    tables, report = validate_tables(
        frames, extras=extras, observed_until=observed, on_invalid_rows=data.on_invalid_rows
    )
    if observed is not None:
        check_observed_until(tables)
    return tables, report


def parse_observed_until(text: Any) -> pd.Timestamp | None:
    """``data.observed_until`` as a naive-UTC instant (None when unset).

    Raises
    ------
    ConfigError
        Not an ISO date or instant.
    """
    if text is None:
        return None
    try:
        value = pd.to_datetime(str(text).strip(), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        value = pd.NaT
    if pd.isna(value):
        raise ConfigError(f"data.observed_until: expected an ISO date such as 2024-06-30, got {text!r}")
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value.as_unit("us")


# ---------------------------------------------------------------------- writing


def read_cutoffs_file(path: str | Path) -> pd.DataFrame:
    """Read a cutoffs file as given (CSV cells as text, so ids keep their form)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"cutoffs file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=True)
    except Exception as exc:  # pyarrow / pandas raise many kinds
        raise DataError(f"cannot read cutoffs file {path}: {exc}") from None
    raise DataError(f"cutoffs file {path}: expected a .parquet or .csv file")


def read_ground_truth(path: str | Path) -> pd.DataFrame:
    """The simulator's ``ground_truth`` table (Parquet or CSV)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"ground truth {path} does not exist")
    if path.suffix == ".csv":
        return pd.read_csv(path, parse_dates=["renewal_date"])
    return pd.read_parquet(path)


def read_oracle(path: str | Path) -> pd.DataFrame:
    """The simulator's ``oracle`` table (Parquet or CSV): true risk per (account, cutoff)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"oracle {path} does not exist")
    if path.suffix == ".csv":
        frame = pd.read_csv(path, parse_dates=["cutoff_time", "next_renewal_date"])
        return frame.astype({"cutoff_time": "datetime64[us]",
                             "next_renewal_date": "datetime64[us]"})
    return pd.read_parquet(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet at ``path`` atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def replace_dir(staged: str | Path, target: str | Path) -> Path:
    """Swap the folder ``staged`` in as ``target``: the old one aside, the new one in,
    the old one removed. If the swap fails, the old folder is put back and ``staged``
    is left for the caller to clean up."""
    staged, target = Path(staged), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def write_text_atomic(text: str, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    return write_text_atomic(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ------------------------------------------------------------------- provenance


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """A content hash of a frame: row order, column names and values."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(str(len(frame)).encode())
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(hashed.tobytes())
    return digest.hexdigest()


def fingerprint_tables(tables: Tables) -> str:
    """A content hash of every contract table of a source (16 hex digits)."""
    digest = hashlib.sha256()
    for name in sorted(tables.frames):
        digest.update(name.encode())
        digest.update(fingerprint_frame(tables.frames[name]).encode())
    digest.update(str(tables.observed_until).encode())
    return digest.hexdigest()[:16]


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def make_meta(**fields: Any) -> dict[str, Any]:
    """The provenance every persisted table carries, plus ``fields``."""
    return {
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }


def write_dataset(frame: pd.DataFrame, path: str | Path, *, meta: Mapping[str, Any]) -> Path:
    """Write a training set and its sidecar ``<path>.meta.json``, both atomically.

    ``meta`` should come from :func:`make_meta`; ``rows``, ``feature_names`` and the
    frame's fingerprint are added here so they always match the file.
    """
    feature_names = [c for c in frame.columns if "__" in c]
    full = dict(meta)
    full.setdefault("package_version", __version__)
    full.setdefault("schema_version", SCHEMA_VERSION)
    full.update(rows=int(len(frame)), feature_names=feature_names,
                content_fingerprint=fingerprint_frame(frame))
    write_parquet_atomic(frame, path)
    write_json_atomic(full, sidecar_path(path))
    return Path(path)


def read_dataset(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a training set written by :func:`write_dataset` and check its sidecar.

    Raises
    ------
    ProvenanceError
        The sidecar is missing, of another schema version, or does not describe the
        file (row count, feature names or content differ).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset {path} does not exist (build it with `healthscore build-dataset`)")
    meta_path = sidecar_path(path)
    if not meta_path.exists():
        raise ProvenanceError(f"dataset {path} has no sidecar {meta_path.name}; rebuild it with build-dataset")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ProvenanceError(f"sidecar {meta_path} is not valid JSON ({exc})") from None
    frame = pd.read_parquet(path)
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ProvenanceError(
            f"dataset {path} has schema version {meta.get('schema_version')!r}, "
            f"this healthscore reads {SCHEMA_VERSION!r}; rebuild it"
        )
    if meta.get("rows") != len(frame):
        raise ProvenanceError(
            f"dataset {path} has {len(frame)} rows but its sidecar says {meta.get('rows')}"
        )
    names = [c for c in frame.columns if "__" in c]
    if meta.get("feature_names") != names:
        raise ProvenanceError(f"dataset {path}: its columns differ from the feature names in its sidecar")
    if meta.get("content_fingerprint") not in (None, fingerprint_frame(frame)):
        raise ProvenanceError(f"dataset {path} was changed after it was written (content fingerprint differs)")
    return frame, meta
