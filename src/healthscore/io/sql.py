"""Reading a SQL database: ``data.source`` a ``postgresql://user@host:port/database`` URI.

The tables are read through ADBC (``adbc-driver-postgresql``, the ``sql`` extra) straight
into Arrow, then mapped and validated as every other source is
(:func:`healthscore.io.mapping.map_tables`, :mod:`healthscore.data.validate`). The
password comes from the environment variable named by ``data.sql.password_env``, never
from ``params.yaml`` or the URI.

:class:`SqlSource` also reads the accounts in buckets (``data.sql.buckets``): every query
of bucket ``k`` carries ``WHERE <hash of the account id> = k``, computed by the server, so
only one bucket's rows ever reach this process; ``score`` goes bucket by bucket as it
does over a bucketed folder (:mod:`healthscore.scoring.buckets`). Table and column names
from ``params.yaml`` enter the SQL only as quoted identifiers (:func:`quote`); values
(the schema, the bucket number and count) only as bound parameters.

Warehouses that speak PostgreSQL's wire protocol (Amazon Redshift, CockroachDB,
YugabyteDB, Neon, AlloyDB, Supabase, Timescale) take the same URI; bucketed reads need
the server's ``hashtext`` (PostgreSQL's, also in CockroachDB and YugabyteDB), so
elsewhere keep ``data.sql.buckets: 1``.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote as quote_url, unquote, urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa

from healthscore.config import DataParams
from healthscore.data.end import drop_far_after, observed_until_after, parse_observed_until, robust_end
from healthscore.data.problems import ValidationReport
from healthscore.data.schema import SIMULATOR_ONLY, TABLES
from healthscore.data.tables import Tables
from healthscore.data.validate import parse_times, validate_tables
from healthscore.errors import ConfigError, DataError, SchemaError
from healthscore.io.mapping import map_tables

SCHEMES = ("postgresql", "postgres")

#: The bucket of an account id as the server computes it: PostgreSQL's hash of the id's
#: text, folded into 0 .. n - 1 ($1 = n, $2 = the bucket). Only identifiers are put in.
BUCKET_WHERE = "(((hashtext(CAST({column} AS text))::bigint % $1) + $1) % $1) = $2"


def is_sql_uri(source: Any) -> bool:
    """Whether ``source`` is a database URI (``postgresql://...``) rather than a path."""
    if not isinstance(source, str) or "://" not in source:
        return False
    return source.split("://", 1)[0].lower() in SCHEMES


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (a double quote inside is doubled)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ConfigError(f"data.sql: {name!r} is not a table or column name")
    return '"' + name.replace('"', '""') + '"'


def redacted(uri: str) -> str:
    """``uri`` as it may be printed: user, host, port and database, never a password."""
    parts = urlsplit(uri)
    host = parts.hostname or "localhost"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connection_uri(uri: str, *, password_env: str) -> str:
    """The URI handed to the driver: ``uri`` with the password from ``password_env``.

    Raises
    ------
    ConfigError
        The URI holds a password itself (params.yaml is committed and logged).
    """
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        raise ConfigError(f"data.source: {redacted_netloc(uri)}: the port is not a number") from None
    if parts.password is not None:
        raise ConfigError(
            f"data.source: the URI {redacted(uri)} holds a password; remove it and set the "
            f"environment variable {password_env} (named by data.sql.password_env) instead")
    password = os.environ.get(password_env)
    if not password:
        return uri
    user = quote_url(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{user}:{quote_url(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redacted_netloc(uri: str) -> str:
    return "postgresql://" + uri.split("://", 1)[-1].rsplit("@", 1)[-1]


def connect(uri: str, *, password_env: str) -> Any:
    """An ADBC DB-API connection to ``uri``; every failure is one :class:`DataError` line."""
    try:
        from adbc_driver_postgresql import dbapi
    except ImportError:
        raise ConfigError("data.source is a postgresql:// URI, which needs the ADBC driver: "
                          "pip install 'healthscore[sql]' (adbc-driver-postgresql)") from None
    target = connection_uri(uri, password_env=password_env)
    try:
        return dbapi.connect(target)
    except dbapi.Error as exc:
        raise DataError(connect_error(str(exc), redacted(uri), password_env=password_env)) from None


def connect_error(text: str, where: str, *, password_env: str) -> str:
    """One line saying why the server at ``where`` took no connection (libpq's text)."""
    detail = " ".join(text.replace("IO: [libpq] Failed to connect:", "").split())
    detail = re.sub(r"^connection to server at \S+ port \d+ failed: (FATAL: )?", "", detail)
    lower = detail.lower()
    if "password authentication failed" in lower or "no password supplied" in lower \
            or re.search(r'role ".*" does not exist', lower):
        return (f"PostgreSQL at {where} refused the login: {detail} (the password is read from "
                f"the environment variable {password_env}, named by data.sql.password_env)")
    if re.search(r'database ".*" does not exist', lower):
        return f"PostgreSQL at {where}: {detail}; check the database name in data.source"
    if "connection refused" in lower or "could not translate host name" in lower \
            or "timeout" in lower or "timed out" in lower or "no route to host" in lower:
        return (f"cannot reach the PostgreSQL server at {where}: {detail.split(' Is the server')[0]} "
                f"(is it running and accepting TCP connections there?)")
    return f"cannot connect to PostgreSQL at {where}: {detail}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for prefix in ("NOT_FOUND: ", "INVALID_ARGUMENT: ", "IO: "):
        text = text.removeprefix(prefix)
    return text.splitlines()[0].removeprefix("Failed to prepare query: ").strip() if text else type(exc).__name__


class SqlSource:
    """A database source: read whole (:meth:`read_raw`) or one account bucket at a time
    (:meth:`read_bucket`, :meth:`meta`), with the user's table and column names."""

    def __init__(self, uri: str, data: DataParams) -> None:
        self.uri = uri
        self.data = data
        self.sql = data.sql
        self.buckets = int(data.sql.buckets)
        self._observed_until: pd.Timestamp | None = None

    def __str__(self) -> str:
        return redacted(self.uri)

    # ------------------------------------------------------------------ reading
    def _connect(self) -> Any:
        return connect(self.uri, password_env=self.sql.password_env)

    def _columns(self, con: Any) -> dict[str, list[str]]:
        """The schema's tables and their columns, in order."""
        with con.cursor() as cur:
            cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = $1 ORDER BY table_name, ordinal_position", (self.sql.schema,))
            rows = cur.fetchall()
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(table, []).append(column)
        if not found:
            raise SchemaError(f"PostgreSQL at {self}: schema {self.sql.schema!r} holds no table "
                              f"(set data.sql.schema to where the tables are)")
        return found

    def _contract_tables(self, found: dict[str, list[str]]) -> dict[str, str]:
        """Our table name -> the source's table name, for the contract tables present."""
        return {name: self.data.tables.get(name, name) for name in TABLES
                if self.data.tables.get(name, name) in found}

    def _account_column(self, name: str, theirs: str, found: dict[str, list[str]]) -> str:
        column = self.data.columns.get(name, {}).get("account_id", "account_id")
        if column not in found[theirs]:
            raise SchemaError(
                f"table {name}: column {column!r} (the account id) is not in {self.sql.schema}.{theirs} "
                f"(found: {', '.join(found[theirs])}); map yours under data.columns.{name}.account_id")
        return column

    def _query(self, con: Any, table: str, *, columns: list[str] | None = None,
               account: str | None = None, bucket: int | None = None) -> pd.DataFrame:
        select = ", ".join(map(quote, columns)) if columns else "*"
        sql = f"SELECT {select} FROM {quote(self.sql.schema)}.{quote(table)}"
        args: tuple = ()
        if bucket is not None:
            sql += " WHERE " + BUCKET_WHERE.format(column=quote(account))
            args = (self.buckets, int(bucket))
        try:
            with con.cursor() as cur:
                cur.execute(sql, args)
                arrow = cur.fetch_arrow_table()
        except Exception as exc:  # the driver's errors: one line naming the table
            raise DataError(f"cannot read table {self.sql.schema}.{table} of {self}: {_first_line(exc)}") from None
        return _to_pandas(arrow)

    def read_raw(self, *, bucket: int | None = None) -> dict[str, pd.DataFrame]:
        """The source's tables under their own names: the contract tables (only the
        accounts of ``bucket`` when given), their lookup tables, and, read whole, the
        simulator's ground truth when present. Other tables are not read."""
        con = self._connect()
        try:
            found = self._columns(con)
            raw: dict[str, pd.DataFrame] = {}
            for name, theirs in self._contract_tables(found).items():
                account = None if bucket is None else self._account_column(name, theirs, found)
                raw[theirs] = self._query(con, theirs, account=account, bucket=bucket)
            for lookups in self.data.lookups.values():
                for lookup in lookups.values():
                    if lookup.table in found and lookup.table not in raw:
                        raw[lookup.table] = self._query(con, lookup.table)
            if bucket is None:
                for extra in SIMULATOR_ONLY:
                    if extra in found and extra not in raw:
                        raw[extra] = self._query(con, extra)
            # the tables not read, by name only: an error about a missing table lists them
            others = {t: pd.DataFrame() for t in found if t not in raw and t not in SIMULATOR_ONLY}
            return raw | others
        finally:
            con.close()

    # ------------------------------------------------------------------ buckets
    def meta(self) -> dict[str, Any]:
        """``{"buckets", "observed_until"}`` as a bucketed folder's ``buckets.json`` holds."""
        return {"buckets": self.buckets, "observed_until": str(self.observed_until())}

    def observed_until(self) -> pd.Timestamp:
        """The whole source's end of the data, so that every bucket keeps exactly the rows
        one read of the whole source keeps: ``data.observed_until`` when set, else what
        validation finds (:mod:`healthscore.data.end`) from the event-time columns alone
        (one column per table; rows that validation would drop for another reason count
        here, so set ``data.observed_until`` where the data has such rows)."""
        if self._observed_until is not None:
            return self._observed_until
        given = parse_observed_until(self.data.observed_until)
        if given is None:
            given = self._find_observed_until()
        self._observed_until = given
        return given

    def _find_observed_until(self) -> pd.Timestamp:
        con = self._connect()
        times: dict[str, pd.DataFrame] = {}
        try:
            found = self._columns(con)
            for name, theirs in self._contract_tables(found).items():
                ours = TABLES[name].event_time
                column = self.data.columns.get(name, {}).get(ours, ours) if ours else None
                if column is None or column not in found[theirs]:
                    continue
                frame = self._query(con, theirs, columns=[column])
                times[name] = pd.DataFrame({ours: parse_times(frame[column], name, column)[0]})
        finally:
            con.close()
        report = ValidationReport()  # what validation finds and drops: as validate_tables
        limit = robust_end(times)
        if limit is not None:
            times = {name: drop_far_after(name, frame, limit[1], report, False) for name, frame in times.items()}
        return observed_until_after(frame[TABLES[name].event_time].max() for name, frame in times.items()
                                    if len(frame))

    def read_bucket(self, bucket: int) -> Tables:
        """The validated tables of the accounts in ``bucket`` (0 .. buckets - 1)."""
        if not 0 <= bucket < self.buckets:
            raise DataError(f"{self}: bucket {bucket} is outside 0 .. {self.buckets - 1}")
        frames, extras = map_tables(self.read_raw(bucket=bucket), self.data)
        tables, _ = validate_tables(frames, extras=extras, observed_until=self.observed_until(),
                                    on_invalid_rows=self.data.on_invalid_rows)
        return tables


def _to_pandas(arrow: pa.Table) -> pd.DataFrame:
    """Arrow to pandas as a Parquet read gives: NUMERIC columns (decimals) as float64,
    the contract's amounts."""
    columns = []
    for field in arrow.schema:
        column = arrow[field.name]
        if pa.types.is_decimal(field.type):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.table(columns, names=arrow.column_names).to_pandas()
