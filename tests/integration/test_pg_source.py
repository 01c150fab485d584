"""A PostgreSQL database as the data source: a real server started here on the loopback
address (Debian's ``postgresql`` package), a simulated world loaded into it through ADBC,
then ``validate``, ``build-dataset`` and ``score`` (bucket by bucket, the buckets chosen by
the server) from the ``postgresql://`` URI give what the Parquet files give."""

from __future__ import annotations

import glob
import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote as quote_url

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.errors import ConfigError, DataError, SchemaError
from healthscore.io.sources import read_source
from healthscore.io.sql import SqlSource, quote
from healthscore.scoring import OutputLayout

IN_CI = os.environ.get("CI", "").lower() == "true"  # as the browser tests: there, skipping is failing


def _missing(reason: str, *, module: bool = False) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true requires the PostgreSQL tests)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


try:
    import adbc_driver_postgresql  # noqa: F401
except ImportError:
    _missing("the sql extra (adbc-driver-postgresql) is not installed", module=True)

USER, PASSWORD, ENV = "healthscore", "s3cret 'pw\"", "HEALTHSCORE_DB_PASSWORD"
D1, D2 = "2024-05-01", "2024-06-01"
pytestmark = pytest.mark.xdist_group("postgres")


def _pg_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: on PATH, Debian's versioned folder, or pg_config's."""
    candidates = [Path(p).parent for p in [shutil.which("initdb") or ""] if p]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    return next((d for d in candidates if all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres"))), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A PostgreSQL server on 127.0.0.1 (a free port) in a temporary folder, password
    authentication over TCP; as root it runs as ``nobody`` (postgres refuses root)."""
    bindir = _pg_bindir()
    if bindir is None:
        _missing("no PostgreSQL binaries (initdb, pg_ctl, postgres); install Debian's postgresql package")
    root = Path(tempfile.mkdtemp(prefix="hs-pg-"))
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root (CI runs as root)
        user = "nobody"
        try:
            os.chown(root, pwd.getpwnam(user).pw_uid, -1)
        except KeyError:
            _missing("running as root and there is no user 'nobody' to run PostgreSQL as")
    (root / "pw").write_text(PASSWORD + "\n")
    port = _free_port()

    def run(*argv: str) -> None:
        done = subprocess.run([str(bindir / argv[0]), *argv[1:]], capture_output=True, text=True,
                              user=user, cwd=root, timeout=120)
        assert done.returncode == 0, f"{argv[0]} failed: {done.stdout}{done.stderr}"

    run("initdb", "-D", str(root / "data"), "-U", USER, "--pwfile", str(root / "pw"), "-E", "UTF8",
        "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync", "--no-instructions")
    run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t", "60", "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def load_tables(uri: str, folder: Path, *, schema: str = "public", rename: dict | None = None) -> None:
    """Every Parquet table of ``folder`` into ``schema`` of the database (ADBC bulk ingest)."""
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(uri.replace(f"{USER}@", f"{USER}:{quote_url(PASSWORD, safe='')}@")) as con:
        with con.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            for file in sorted(folder.glob("*.parquet")):
                table = pq.read_table(file)
                table = pa.table([c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                                  for c in (table[n].combine_chunks() for n in table.column_names)],
                                 names=table.column_names)
                name = (rename or {}).get(file.stem, file.stem)
                cur.adbc_ingest(name, table, mode="replace", db_schema_name=schema)
        con.commit()


@pytest.fixture(scope="module")
def world(server, tmp_path_factory, simulated_renewals):
    """A simulated world (200 accounts) as Parquet files and in the database, and a small
    LightGBM model trained on it."""
    root = tmp_path_factory.mktemp("pg-world")
    data, tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=3)
    load_tables(server, data)
    simulated_renewals.save(labelled, names, 30, root / "model")
    return {"uri": server, "data": data, "model": root / "model", "tables": tables}


@pytest.fixture()
def password(monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_validate_from_the_uri_prints_what_the_files_give(world, password, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc_files, files, _ = cli(capsys, "validate", "--data", str(world["data"]))
    rc_db, db, _ = cli(capsys, "validate", "--data", world["uri"])
    assert rc_files == rc_db == 0
    assert db == files and "accounts: 200" in db
    tables, _ = read_source(make_params({}).data, source=world["uri"])
    for name in world["tables"]:
        pd.testing.assert_frame_equal(tables[name], world["tables"][name], obj=name)
    assert tables.observed_until == world["tables"].observed_until


def test_build_dataset_from_the_uri_gives_what_the_files_give(world, password, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, source in (("files", str(world["data"])), ("db", world["uri"])):
        assert main(["build-dataset", "--data", source, "--out", str(tmp_path / f"{name}.parquet")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "db.parquet"),
                                  pd.read_parquet(tmp_path / "files.parquet"))


def test_scoring_from_the_uri_bucket_by_bucket_gives_what_the_files_give(world, password, tmp_path,
                                                                          monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO, logger="healthscore.progress")
    layouts = {}
    for name, source, extra in (("files", str(world["data"]), []),
                                ("db", world["uri"], ["--set", "data.sql.buckets=3"])):
        out = tmp_path / name
        for as_of in (D1, D2):  # the second date has changes and alerts against the first
            assert main(["--set", f"score.out_dir={out}", *extra, "score", "--as-of", as_of,
                         "--data", source, "--model", str(world["model"]), "--no-report"]) == 0
        layouts[name] = OutputLayout(out)
    db, files = layouts["db"], layouts["files"]
    for as_of in (D1, D2):
        for name, path in (("risk_list", lambda layout: layout.risk_list(as_of)),
                           ("changes", lambda layout: layout.root / "changes" / f"{as_of}.parquet"),
                           ("alerts", lambda layout: layout.root / "alerts" / f"{as_of}.parquet")):
            pd.testing.assert_frame_equal(pd.read_parquet(path(db)), pd.read_parquet(path(files)), obj=name)
        for kind in ("history", "points"):
            pd.testing.assert_frame_equal(db.read_partition(kind, as_of), files.read_partition(kind, as_of),
                                          obj=kind)
    assert len(pd.read_parquet(files.root / "changes" / f"{D2}.parquet")) > 0
    run = json.loads((db.root / "run" / f"{D2}.json").read_text())
    assert run["buckets"] == 3
    progress = [r.getMessage() for r in caplog.records if r.name == "healthscore.progress"]
    assert sum(m.startswith("score: 3 of 3 buckets (100%)") for m in progress) == 2  # one per date


def test_the_buckets_split_the_accounts_and_their_rows(world, password):
    data = make_params({"data": {"sql": {"buckets": 4}}}).data
    source = SqlSource(world["uri"], data)
    assert source.meta() == {"buckets": 4, "observed_until": str(world["tables"].observed_until)}
    seen = []
    for k in range(4):
        bucket = source.read_bucket(k)
        ids = set(bucket.accounts["account_id"])
        assert ids and set(bucket["events"]["account_id"]) <= ids
        assert set(bucket["subscriptions"]["account_id"]) <= ids
        seen.extend(ids)
    assert sorted(seen) == sorted(world["tables"].accounts["account_id"])
    whole = world["tables"]["events"]
    assert sum(len(source.read_bucket(k)["events"]) for k in range(4)) == len(whole)


def test_names_from_params_are_quoted_identifiers_never_sql(world, password):
    # a table whose name holds a quote, a space and SQL: read as a name, nothing executed
    odd = 'ev"ents; DROP TABLE accounts; --'
    load_tables(world["uri"], world["data"], schema="odd", rename={"events": odd})
    data = make_params({"data": {"tables": {"events": odd}, "sql": {"schema": "odd", "buckets": 2}}}).data
    tables, _ = read_source(data, source=world["uri"])
    pd.testing.assert_frame_equal(tables["events"], world["tables"]["events"])
    assert len(SqlSource(world["uri"], data).read_bucket(1)["events"]) > 0
    assert len(read_source(make_params({}).data, source=world["uri"])[0].accounts) == 200


def test_a_server_that_is_not_there_is_one_line(world, password):
    uri = f"postgresql://{USER}@127.0.0.1:{_free_port()}/postgres"
    with pytest.raises(DataError, match=r"^cannot reach the PostgreSQL server at postgresql://healthscore@127\.0"
                                        r"\.0\.1:\d+/postgres: .*Connection refused") as err:
        read_source(make_params({}).data, source=uri)
    assert "\n" not in str(err.value)


def test_a_wrong_or_missing_password_is_one_line_naming_the_variable(world, monkeypatch):
    monkeypatch.setenv(ENV, "wrong")
    with pytest.raises(DataError, match=rf"refused the login: password authentication failed for user "
                                        rf"\"healthscore\".*{ENV}") as err:
        read_source(make_params({}).data, source=world["uri"])
    assert "wrong" not in str(err.value) and "\n" not in str(err.value)
    monkeypatch.delenv(ENV)
    with pytest.raises(DataError, match=rf"refused the login: .*{ENV}"):
        read_source(make_params({}).data, source=world["uri"])


def test_a_password_in_the_uri_is_refused(world):
    uri = world["uri"].replace(f"{USER}@", f"{USER}:hunter2@")
    with pytest.raises(ConfigError, match=rf"holds a password; .*{ENV}") as err:
        read_source(make_params({}).data, source=uri)
    assert "hunter2" not in str(err.value)


def test_a_missing_database_table_or_column_is_one_line_naming_it(world, password):
    with pytest.raises(DataError, match=r'database "nope" does not exist'):
        read_source(make_params({}).data, source=world["uri"].rsplit("/", 1)[0] + "/nope")
    with pytest.raises(SchemaError, match=r"table events: data.tables maps it to 'usage', which is not in "
                                          r"the source"):
        read_source(make_params({"data": {"tables": {"events": "usage"}}}).data, source=world["uri"])
    with pytest.raises(SchemaError, match=r"table accounts: data.columns maps to column 'customer_id', "
                                          r"which is not in accounts"):
        read_source(make_params({"data": {"columns": {"accounts": {"account_id": "customer_id"}}}}).data,
                    source=world["uri"])
    bucketed = make_params({"data": {"sql": {"buckets": 2},
                                     "columns": {"events": {"account_id": "customer_id"}}}}).data
    with pytest.raises(SchemaError, match=r"table events: column 'customer_id' \(the account id\) is not in "
                                          r"public.events"):
        SqlSource(world["uri"], bucketed).read_bucket(0)
    with pytest.raises(SchemaError, match=r"schema 'nowhere' holds no table"):
        read_source(make_params({"data": {"sql": {"schema": "nowhere"}}}).data, source=world["uri"])


def test_a_database_without_the_accounts_table_names_what_it_has(world, password):
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(world["uri"].replace(f"{USER}@", f"{USER}:{quote_url(PASSWORD, safe='')}@")) as con:
        with con.cursor() as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS partial")
            cur.execute("CREATE TABLE IF NOT EXISTS partial.customers (id bigint)")
        con.commit()
    data = make_params({"data": {"sql": {"schema": "partial", "buckets": 2}}}).data
    for read in (lambda: read_source(data, source=world["uri"]), lambda: SqlSource(world["uri"], data).read_bucket(0)):
        with pytest.raises(SchemaError, match=r"required table 'accounts' is missing \(the source has: customers\)"):
            read()
