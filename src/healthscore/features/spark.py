"""The feature build of a bucketed source (:mod:`healthscore.io.buckets`): one bucket
on one machine (:func:`build_bucket`), every bucket as a Spark task
(:func:`spark_build_features`, ``applyInPandas``; the executors must see ``ROOT``, a
shared mount or a local path in local mode). The union of the buckets' rows equals one
build with the same plan (tested, on Spark in local mode too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.config import FeatureParams
from healthscore.features.build import build_features
from healthscore.features.plan import FeaturePlan
from healthscore.io.buckets import account_bucket, read_bucket, read_meta


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


def spark_session(master: str | None = None, *, app_name: str = "healthscore") -> tuple[Any, bool]:
    """The Spark session healthscore runs on, and whether this call started it.

    The active session when there is one (a Databricks job, a caller's own), else a new
    one on ``master`` (None: what ``spark-submit`` or the cluster sets). Either way the
    session time zone is UTC: cutoff times are naive UTC. On a ``local[...]`` master the
    Python workers default (``PYSPARK_PYTHON``) to this Python, which has the packages,
    and the web UI is off.
    """
    import os
    import sys

    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    created = spark is None
    if created:
        builder = SparkSession.builder.appName(app_name)
        if master is not None and master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.ui.enabled", "false")
        if master is not None:
            builder = builder.master(master)
        spark = builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark, created
