"""The pieces a Spark scoring run (:mod:`healthscore.scoring.spark`) adds around the
one-machine merge: parts written by tasks and adopted by the driver's spool merge to the
file the spool's own parts give, and a task's project error comes back of its class."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.errors import DataError, HealthscoreError, ModelError, ValidationError
from healthscore.scoring.tasks import model_folder_of, task_error
from healthscore.scoring.spool import Spool, write_part


def _bucket(ids, rank_first=1):
    return pd.DataFrame({"account_id": pd.Series(ids, dtype="int64"),
                         "rank": pd.Series([rank_first] * len(ids), dtype="int64"),
                         "feature": pd.array([f"f{i}" for i in ids], dtype="string"),
                         "points_change": [0.5 * i for i in ids]})


def test_adopted_parts_merge_to_what_added_parts_merge_to(tmp_path):
    frames = [_bucket([9, 3, 5]), _bucket([]), _bucket([4, 1])]
    added, adopted = Spool(tmp_path / "a", "d"), Spool(tmp_path / "b", "d")
    for number, frame in enumerate(frames):
        added.add("changes", frame)
        adopted.adopt("changes", write_part(adopted.folder, "changes", frame, number))
    assert len(adopted.parts["changes"]) == 2  # the empty part keeps its columns only
    added.write_merged("changes", tmp_path / "a.parquet")
    adopted.write_merged("changes", tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pd.read_parquet(tmp_path / "b.parquet")["account_id"].tolist() == [1, 3, 4, 5, 9]
    pd.testing.assert_frame_equal(adopted.read("changes", account_ids=[4, 9]),
                                  added.read("changes", account_ids=[4, 9]))


def test_only_empty_parts_merge_to_an_empty_file_with_the_columns(tmp_path):
    spool = Spool(tmp_path / "out", "d")
    spool.adopt("changes", write_part(spool.folder, "changes", _bucket([]), 0))
    spool.write_merged("changes", tmp_path / "empty.parquet")
    got = pd.read_parquet(tmp_path / "empty.parquet")
    assert got.empty and list(got.columns) == ["account_id", "rank", "feature", "points_change"]
    spool.close()
    assert not spool.folder.exists()


@pytest.mark.parametrize("kind, expected", [
    ("ModelError", ModelError), ("DataError", DataError),
    ("ValidationError", DataError),  # takes a list of problems: its base carries the text
    ("NotAnError", HealthscoreError),
])
def test_a_task_error_comes_back_of_its_class_naming_the_bucket(kind, expected):
    error = task_error(3, "/data/buckets", kind, "accounts.account_id: duplicate key 17")
    assert type(error) is expected
    assert str(error) == "bucket 3 of /data/buckets: accounts.account_id: duplicate key 17"
    assert not isinstance(error, ValidationError)


def test_a_registry_uri_is_refused_before_spark_starts(tmp_path):
    with pytest.raises(ModelError, match="from a folder"):
        model_folder_of("models:/healthscore@champion")
    assert model_folder_of(tmp_path / "m" / ".." / "m") == str((tmp_path / "m").resolve())
