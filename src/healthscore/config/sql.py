"""The ``data.sql:`` block of ``params.yaml``: reading a SQL database (``data.source`` a URI)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from healthscore.config.fields import Positive, Str, section

#: The environment variable that holds the database password unless params name another.
PASSWORD_ENV = "HEALTHSCORE_DB_PASSWORD"


@section
class SqlParams:
    """How a ``postgresql://user@host:port/database`` source is read (:mod:`healthscore.io.sql`).

    ``password_env`` names the environment variable that holds the password (never the
    password itself; a URI with a password in it is refused). ``schema`` is where the
    tables are. ``buckets``: ``score`` reads the accounts in this many buckets, one query
    per table and bucket (a hash of the account id, computed by the server), so only one
    bucket's rows are in memory at a time; 1 reads each table in one query.
    """

    password_env: Annotated[Str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = PASSWORD_ENV
    schema: Annotated[Str, Field(min_length=1)] = "public"
    buckets: Positive = 1
