"""Accounts in buckets: feature builds across machines, scoring beyond memory.

A feature row depends on its own account's rows only, and the few whole-table choices
(the most common event and signal types, category levels) are fixed by a
:class:`~healthscore.features.FeaturePlan`. So accounts split into buckets build
independently, and the union of the buckets' rows equals one build with the same plan
(tested, on Spark in local mode too). Every scoring output is per account as well, so
`score` can read one bucket at a time and merge (:func:`score_bucketed`, tested equal
to one run over the whole source).

The bucketed source is a folder in the layout Spark's ``partitionBy`` writes::

    ROOT/buckets.json                      {"buckets": n, "observed_until": ...}
    ROOT/<table>/bucket=<k>/*.parquet      canonical rows of the accounts in bucket k

:func:`write_buckets` makes it from validated tables, :func:`simulate_buckets` straight
from the simulator at any size; a Spark job can write the same thing from its own
frames (canonical column names, ``bucket`` from :func:`account_bucket`).
:func:`build_bucket` builds one bucket; :func:`spark_build_features` runs every bucket
as a Spark task (``applyInPandas``), so the executors must see ``ROOT`` (a shared mount
or a local path in local mode).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from healthscore.config import DataParams, FeatureParams
from healthscore.data.end import observed_until_after
from healthscore.errors import DataError, NoActiveAccountsError
from healthscore.features import FeaturePlan, build_features
from healthscore.io.files import write_json_atomic
from healthscore.io.sources import map_tables
from healthscore.io.staging import Stage, folder_lock, has_pending_commit, is_bookkeeping, settle
from healthscore.data.tables import Tables
from healthscore.data.validate import validate_tables

META = "buckets.json"


def account_bucket(account_ids: Any, buckets: int) -> np.ndarray:
    """The bucket (0 .. ``buckets`` - 1) of each account id: a stable hash of the id's
    text, so integer and string ids bucket the same way on every machine."""
    text = pd.Series(account_ids).astype(str).to_numpy(dtype=object)
    return (pd.util.hash_array(text) % np.uint64(buckets)).astype(np.int64)


def write_buckets(tables: Tables, root: str | Path, buckets: int, *, force: bool = False) -> Path:
    """Write validated tables as a bucketed source (module docstring); returns ``root``.

    Every table gets a file in every bucket, empty where no account of the bucket has
    rows, so each bucket sees the same tables and columns. ``force``: write into a
    folder that holds other files (they are kept).
    """
    if buckets < 1:
        raise DataError(f"buckets: expected an integer >= 1, got {buckets!r}")
    root = Path(root)

    def write(staging: Path) -> pd.Timestamp:
        for name in tables:
            frame = tables[name]
            which = account_bucket(frame["account_id"], buckets)
            for k in range(buckets):
                part = staging / name / f"bucket={k}"
                part.mkdir(parents=True, exist_ok=True)
                table = pa.Table.from_pandas(frame[which == k], preserve_index=False)
                pq.write_table(table, part / "part-0.parquet")
        return tables.observed_until

    return _write_aside(root, buckets, write, force=force)


def simulate_buckets(spec: Any, root: str | Path, buckets: int, *, force: bool = False) -> Path:
    """Simulate ``spec`` straight into a bucketed source (no whole-source file).

    Each chunk of ``spec.chunk_accounts`` accounts is split by :func:`account_bucket`
    into ``ROOT/<table>/bucket=<k>/part-<chunk>.parquet``, so memory stays bounded by a
    chunk whatever the number of accounts; ``observed_until`` is what reading the whole
    simulation gives (the day after its latest dated row). Staged, then committed, as
    :func:`write_buckets` (``force`` as there).
    """
    from healthscore.data.schema import TABLES
    from healthscore.sim.run import iter_chunks

    if buckets < 1:
        raise DataError(f"buckets: expected an integer >= 1, got {buckets!r}")
    root = Path(root)

    def write(staging: Path) -> pd.Timestamp:
        latest = []  # each chunk's latest event time per table
        for chunk, (tables, _) in enumerate(iter_chunks(spec)):
            for name, table in tables.items():
                if not table.num_rows:
                    continue
                which = account_bucket(table.column("account_id").to_numpy(), buckets)
                for k in np.unique(which):
                    part = staging / name / f"bucket={k}"
                    part.mkdir(parents=True, exist_ok=True)
                    pq.write_table(table.filter(pa.array(which == k)), part / f"part-{chunk:05d}.parquet")
                column = TABLES[name].event_time if name in TABLES else None
                if column and column in table.column_names:
                    latest.append(pa.compute.max(table.column(column)).as_py())
        return observed_until_after(latest)  # as reading the whole simulation gives

    return _write_aside(root, buckets, write, force=force)


def _write_aside(root: Path, buckets: int, write, *, force: bool = False) -> Path:
    """Run ``write(staging) -> observed_until`` in a staging folder inside ``root``, add
    the metadata, then commit it in place of the previous source's tables, under the
    folder's lock (:mod:`healthscore.io.staging`; a failed run leaves ``root`` whole)."""
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: is a file; expected a folder for a bucketed source")
    if not force and root.is_dir() and not (root / META).exists() and _names(root):
        raise DataError(f"{root}: exists and is not a bucketed source (holds {_names(root)[0]!r}, no "
                        f"{META}); refusing to replace it")
    with folder_lock(root, what="bucketed source"), Stage(root, "buckets") as stage:
        observed_until = write(stage.new)
        write_json_atomic({"buckets": buckets, "observed_until": str(observed_until)}, stage.new / META)
        entries = sorted(p.name for p in stage.new.iterdir() if p.name != META) + [META]
        # the previous source's tables that this one has not; none of a foreign folder's files
        stale = [] if not (root / META).exists() else [n for n in _names(root) if n not in entries]
        stage.commit(entries, remove=stale)
    return root


def _names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not is_bookkeeping(p.name))


def read_meta(root: str | Path) -> dict[str, Any]:
    if has_pending_commit(root):  # a killed write: finish it before reading
        settle(root)
    path = Path(root) / META
    if not path.exists():
        raise DataError(f"{root}: not a bucketed source (no {META}); make one with write_buckets")
    return json.loads(path.read_text())


def read_bucket(root: str | Path, bucket: int) -> Tables:
    """The tables of one bucket, validated as any source is (with the whole source's
    ``observed_until``, so a bucket keeps exactly the rows a single build keeps)."""
    root = Path(root)
    meta = read_meta(root)
    raw = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        part = folder / f"bucket={bucket}"
        files = sorted(part.glob("*.parquet")) if part.is_dir() else []
        if files:
            raw[folder.name] = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
        else:  # Spark writes no folder for a bucket without rows: same columns, no rows
            any_file = next(folder.glob("bucket=*/*.parquet"), None)
            if any_file is not None:
                raw[folder.name] = pq.read_schema(any_file).empty_table().to_pandas()
    frames, extras = map_tables(raw, DataParams())
    tables, _ = validate_tables(frames, extras=extras, observed_until=pd.Timestamp(meta["observed_until"]),
                                on_invalid_rows="error")
    return tables


def build_bucket(root: str | Path, bucket: int, cutoffs: pd.DataFrame, params: FeatureParams,
                 plan: FeaturePlan) -> pd.DataFrame:
    """:func:`~healthscore.features.build_features` of one bucket's ``cutoffs`` rows."""
    if cutoffs.empty:
        return _empty_result(cutoffs, plan)
    return build_features(read_bucket(root, bucket), cutoffs, params, plan=plan)


def _empty_result(cutoffs: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    out = cutoffs[["account_id", "cutoff_time"]].reset_index(drop=True)
    for name in plan.feature_names:
        out[name] = pd.Series(dtype="float64")
    return out


def spark_schema(plan: FeaturePlan, account_id_type: str = "long") -> str:
    """The Spark DDL schema of a build's rows: categorical features as strings."""
    cols = [f"account_id {account_id_type}", "cutoff_time timestamp"]
    cols += [f"`{name}` {'string' if name in plan.categories else 'double'}" for name in plan.feature_names]
    return ", ".join(cols)


def to_spark_rows(frame: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """A build's frame in the types of :func:`spark_schema` (categories as text, None
    for missing)."""
    out = frame.copy()
    for name in plan.categories:
        if name in out:
            out[name] = out[name].astype(object).where(out[name].notna(), None).map(
                lambda v: None if v is None else str(v))
    return out


def spark_build_features(spark: Any, root: str | Path, cutoffs: Any, params: FeatureParams,
                         plan: FeaturePlan) -> Any:
    """Features for ``cutoffs`` (a Spark or pandas frame of ``account_id``,
    ``cutoff_time``) on Spark: one ``applyInPandas`` task per bucket of ``root``.

    Returns a Spark DataFrame in :func:`spark_schema`. Set the session's time zone to
    UTC (``spark.sql.session.timeZone``): cutoff times are naive UTC.
    """
    root = str(Path(root).resolve())
    buckets = int(read_meta(root)["buckets"])
    if isinstance(cutoffs, pd.DataFrame):
        cutoffs = spark.createDataFrame(cutoffs[["account_id", "cutoff_time"]])
    id_type = dict(cutoffs.dtypes)["account_id"]
    plan_dict = plan.to_dict()

    def add_bucket(parts):
        for part in parts:
            yield part.assign(bucket=account_bucket(part["account_id"], buckets))

    def build(part: pd.DataFrame) -> pd.DataFrame:
        the_plan = FeaturePlan.from_dict(plan_dict)
        bucket = int(part["bucket"].iloc[0])
        rows = part[["account_id", "cutoff_time"]].reset_index(drop=True)
        rows["cutoff_time"] = pd.to_datetime(rows["cutoff_time"]).astype("datetime64[us]")
        return to_spark_rows(build_bucket(root, bucket, rows, params, the_plan), the_plan)

    with_bucket = cutoffs.select("account_id", "cutoff_time").mapInPandas(
        add_bucket, f"account_id {id_type}, cutoff_time timestamp, bucket long")
    return with_bucket.groupBy("bucket").applyInPandas(build, spark_schema(plan, id_type))


# ------------------------------------------------------------------ scoring


def is_bucketed(source: str | Path | None) -> bool:
    """Whether ``source`` is a bucketed folder (:func:`write_buckets`)."""
    return source is not None and (Path(source) / META).is_file()


def score_bucketed(root: str | Path, exported: Any, *, as_of: pd.Timestamp, features: FeatureParams,
                   score: Any, alerts: Any, previous: Any = None, reuse: pd.DataFrame | None = None,
                   currency: str = "$"):
    """:func:`~healthscore.scoring.score_date` one bucket at a time, merged.

    Only one bucket's tables are in memory at once, so the source's size no longer
    bounds a run; the outputs (one row per active account) do. The merged outputs equal
    those of one run over the whole source (tested): every output row is per account,
    and the merged frames are put back in the order one run gives.
    """
    from healthscore.scoring import score_date
    from healthscore.scoring.history import Previous

    buckets = int(read_meta(root)["buckets"])
    parts = []
    for k in range(buckets):
        tables = read_bucket(root, k)
        ids = pd.Index(tables.accounts["account_id"])
        if ids.empty:
            continue
        prev = None if previous is None else Previous(
            previous.as_of, previous.history[previous.history["account_id"].isin(ids)],
            previous.points[previous.points["account_id"].isin(ids)], previous.model_version,
            None if previous.alerts is None or previous.alerts.empty
            else previous.alerts[previous.alerts["account_id"].isin(ids)])
        mine = None if reuse is None else reuse[reuse["account_id"].isin(ids)]
        try:
            parts.append(score_date(tables, exported, as_of=as_of, features=features, score=score,
                                    alerts=alerts, previous=prev, reuse=mine, currency=currency))
        except NoActiveAccountsError:
            pass  # a bucket with no customer on that date
        del tables
    if not parts:
        raise NoActiveAccountsError(f"no account is active on {as_of:%Y-%m-%d} in any bucket of {root}")
    return merge_outputs(parts)


def merge_outputs(parts: list) -> Any:
    """One :class:`~healthscore.scoring.outputs.DateOutputs` from per-bucket ones, in the
    order one run gives (per-account frames by account, as the cutoffs come)."""
    from healthscore.scoring.alerts import sort_alerts
    from healthscore.scoring.outputs import DateOutputs
    from healthscore.scoring.risk_list import sort_risk_list

    def cat(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    def by_account(frame: pd.DataFrame, *then: str) -> pd.DataFrame:
        return frame.sort_values(["account_id", *then], kind="stable").reset_index(drop=True)

    run = dict(parts[0].run)
    counts = {key: sum(int(p.run["counts"].get(key, 0)) for p in parts) for key in run["counts"]}
    timings = {key: sum(float(p.run.get("timings", {}).get(key, 0.0)) for p in parts)
               for key in run.get("timings", {})}
    run.update(counts=counts, timings=timings, buckets=len(parts))
    return DateOutputs(parts[0].as_of, sort_risk_list(cat("risk_list")), by_account(cat("history")),
                       by_account(cat("points")), by_account(cat("changes"), "rank"),
                       sort_alerts(cat("alerts")), run)
