"""The spool of a bucketed run (healthscore.scoring.spool): parts written per bucket and
merged as sorted runs give the file one sorted frame gives; reads keep only the rows
and columns asked for; closing removes the parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import healthscore.scoring.spool as spool
from healthscore.io.staging import folder_lock
from healthscore.scoring.spool import Spool


def _frame(ids, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(ids)
    return pd.DataFrame({
        "account_id": ids,
        "value": rng.normal(size=n),
        "plan": pd.Categorical(rng.choice(["basic", "pro", "team"], n), categories=["basic", "pro", "team"]),
        "note": pd.array(rng.choice(["a", "b", None], n), dtype="string"),
        "points:x": rng.normal(size=n),
    })


@pytest.mark.parametrize("ids", [np.arange(60, dtype=np.int64),
                                 np.array([f"acc-{i:03d}" for i in range(60)], dtype=object)])
def test_parts_merge_into_the_frame_sorted_by_account(tmp_path, monkeypatch, ids):
    monkeypatch.setattr(spool, "MERGE_ROWS", 7)  # many ranges, each across every part
    monkeypatch.setattr(spool, "ROW_GROUP_ROWS", 3)
    shuffled = np.random.default_rng(0).permutation(ids)
    parts = [_frame(shuffled[k::4], seed=k) for k in range(4)]  # interleaved, as hashed buckets are
    box = Spool(tmp_path, "2024-06-01")
    for part in parts:
        box.add("points", part)
    box.add("points", parts[0].iloc[:0])  # an empty bucket adds nothing
    box.write_merged("points", tmp_path / "merged.parquet")
    want = pd.concat(parts, ignore_index=True).sort_values("account_id", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "merged.parquet"), want)

    picked = want["account_id"].iloc[[3, 17, 40]].tolist()
    got = box.read("points", account_ids=picked, columns=["points:x", "not-there"])
    assert list(got.columns) == ["account_id", "points:x"]
    pd.testing.assert_frame_equal(got, want.loc[want["account_id"].isin(picked), ["account_id", "points:x"]]
                                  .reset_index(drop=True))
    box.close()
    assert not list(tmp_path.glob(".staging-*"))


def test_changes_keep_their_rank_order_within_an_account(tmp_path, monkeypatch):
    monkeypatch.setattr(spool, "MERGE_ROWS", 2)
    lines = pd.DataFrame({"account_id": [5, 5, 5, 2, 2, 9], "rank": [2, 1, 3, 1, 2, 1],
                          "feature": ["b", "a", "c", "x", "y", "z"]})
    box = Spool(tmp_path, "d")
    box.add("changes", lines.iloc[:3])
    box.add("changes", lines.iloc[3:])
    box.write_merged("changes", tmp_path / "changes.parquet")
    got = pd.read_parquet(tmp_path / "changes.parquet")
    assert list(zip(got["account_id"], got["rank"])) == [(2, 1), (2, 2), (5, 1), (5, 2), (5, 3), (9, 1)]
    assert got["feature"].tolist() == ["x", "y", "a", "b", "c", "z"]


def test_no_part_writes_the_empty_frame_and_leftovers_go_with_the_next_writer(tmp_path):
    box = Spool(tmp_path, "d")
    empty = pd.DataFrame({"account_id": pd.Series([], dtype="int64"), "rank": pd.Series([], dtype="int64")})
    box.add("changes", empty)
    box.write_merged("changes", tmp_path / "out" / "changes.parquet")
    got = pd.read_parquet(tmp_path / "out" / "changes.parquet")
    assert got.empty and list(got.columns) == ["account_id", "rank"]
    assert box.read("changes").empty
    # a killed run never closes its spool: the next writer of the folder removes it
    assert list(tmp_path.glob(".staging-spool-*"))
    with folder_lock(tmp_path):
        pass
    assert not list(tmp_path.glob(".staging-spool-*"))
