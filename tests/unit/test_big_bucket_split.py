"""The previous date split once per account bucket (healthscore.scoring.bucket_split):
each bucket's read from its part equals the account-filtered read of the whole file
(rows, order, dtypes); ids of several buckets fall back to the file; closing removes
the parts. And the peer standings read a few columns per read of the file
(scoring.profile.with_standing), equal to the standings ranked over the whole frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import healthscore.scoring.bucket_split as bucket_split
from healthscore.io.buckets import account_bucket
from healthscore.io.columns import COLUMN_GROUP, ParquetColumns
from healthscore.report.points import normalise_points
from healthscore.scoring.bucket_split import BucketSplit
from healthscore.scoring.profile import peer_standing, with_standing

BUCKETS = 4


def _stored(ids) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = len(ids)
    value = rng.normal(size=n)
    value[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({
        "account_id": ids,
        "events__count__30d": value,
        "points:events__count__30d": rng.normal(size=n),
        "accounts__plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        "band": pd.array(rng.choice(["red", "green", None], n), dtype="string"),
        "model_fingerprint": "abc",
    })


@pytest.fixture(params=["int", "text"])
def stored(request, tmp_path):
    ids = np.arange(500, dtype=np.int64) if request.param == "int" else \
        np.array([f"acc-{i:04d}" for i in range(500)], dtype=object)
    path = tmp_path / "points" / "part-0.parquet"
    path.parent.mkdir()
    _stored(ids).to_parquet(path, index=False, row_group_size=64)  # sorted by account, as written
    return path, ids


def test_each_bucket_reads_from_its_part_what_the_file_gives(stored, tmp_path, monkeypatch):
    monkeypatch.setattr(bucket_split, "SPLIT_ROWS", 50)  # many batches, each across every bucket
    path, ids = stored
    split = BucketSplit(path, buckets=BUCKETS, root=tmp_path, label="2024-06-01")
    try:
        assert sorted(split.parts) == list(range(BUCKETS))
        which = account_bucket(ids, BUCKETS)
        for k in range(BUCKETS):
            mine = list(np.random.default_rng(k).permutation(ids[which == k]))  # any order asked
            want = pd.read_parquet(path, filters=[("account_id", "in", mine)])
            got = split.read(mine)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert len(got) == (which == k).sum() and got["account_id"].is_monotonic_increasing
        part = pd.read_parquet(split.parts[0])
        assert set(account_bucket(part["account_id"], BUCKETS)) == {0}  # a part holds its bucket only
        mixed = list(ids[:7])
        pd.testing.assert_frame_equal(split.read(mixed), pd.read_parquet(
            path, filters=[("account_id", "in", mixed)]), check_exact=True)
    finally:
        split.close()
    assert not split._stage.path.exists()
    split.close()  # idempotent


def test_standings_read_a_few_columns_per_read_equal_those_over_the_whole_frame(tmp_path):
    rng = np.random.default_rng(4)
    n, features = 240, [f"events__count_{j}__30d" for j in range(2 * COLUMN_GROUP + 5)]
    frame = pd.DataFrame({"account_id": np.arange(n, dtype=np.int64),
                          **{f: rng.normal(50, 20, n).round(0) for f in features},
                          **{f"points:{f}": rng.normal(0, 3, n) for f in features}})
    path = tmp_path / "points.parquet"
    frame.to_parquet(path, index=False)
    catalogue = {f: {"healthy_direction": (1, -1, 0, None)[j % 4]} for j, f in enumerate(features)}
    groups = pd.Series(np.where(frame["account_id"] % 3 == 0, "smb", "ent"), index=frame["account_id"])
    long, _ = normalise_points(frame, catalogue, detail=[3, 4, 5], hurt_below=-2.0)

    class Counted(ParquetColumns):  # the real file reader, its reads counted
        reads = 0

        def read(self, columns):
            Counted.reads += 1
            return super().read(columns)

    got = with_standing(long, Counted(path), catalogue=catalogue, groups=groups, accounts=[3, 4, 5])
    ranked = [f for j, f in enumerate(features) if j % 4 in (0, 1)]
    assert Counted.reads <= len(ranked) // COLUMN_GROUP + 1  # not one read per feature
    whole = peer_standing(frame, ranked, directions={f: catalogue[f]["healthy_direction"] for f in ranked},
                          groups=groups, accounts=[3, 4, 5])
    want = long.merge(whole, on=["account_id", "feature"], how="left", validate="m:1")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_exact=True)
    shown = got[got["account_id"].isin([3, 4, 5])]
    assert shown["standing"].notna().sum() == 3 * len(ranked)
