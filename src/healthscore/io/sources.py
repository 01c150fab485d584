"""Reading a source: a folder of Parquet or CSV files (one per table), a DuckDB
database file or a PostgreSQL database (a ``postgresql://`` URI, :mod:`healthscore.io.sql`),
mapped onto the data contract and validated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.config import DataParams
from healthscore.data.end import check_observed_until, parse_observed_until
from healthscore.errors import DataError
from healthscore.data.problems import ValidationReport
from healthscore.data.tables import Tables
from healthscore.data.validate import validate_tables
from healthscore.io.mapping import map_tables
from healthscore.io.sql import is_sql_uri

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

    Returns a mapping from the user's table name to its frame, untouched. A
    ``postgresql://`` URI is read through :mod:`healthscore.io.sql`.
    """
    where = source if source is not None else data.source
    if is_sql_uri(where):
        from healthscore.io.sql import SqlSource

        return SqlSource(str(where), data).read_raw()
    path = Path(where)
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
            # one block per column: no copy into 2-D blocks (a third of a plain read)
            return _writable(pd.read_parquet(file, to_pandas_kwargs={"split_blocks": True}))
        return pd.read_csv(file, low_memory=False)
    except Exception as exc:  # pyarrow / pandas raise many kinds
        raise DataError(f"cannot read {file}: {exc}") from None


def _writable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every NumPy column writable, as a consolidating read gives it: a
    column Arrow handed over without a copy (one chunk) is read-only, so it is copied."""
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, np.dtype) and not np.asarray(series.array).flags.writeable:
            frame[column] = series.copy(deep=True)
    return frame


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
        Canonical, validated frames (see :mod:`healthscore.data.schema`).
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
