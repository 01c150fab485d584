"""The report reads the wide points from their file a few columns at a time
(io/columns.py, report/points.py): the same sums, rows and standings as the whole frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataError
from healthscore.io.columns import ParquetColumns
from healthscore.report import points as points_module
from healthscore.report.points import normalise_points, point_summary
from healthscore.scoring.profile import with_standing

N_ACCOUNTS = 300
N_FEATURES = 70  # more than two column groups (points.COLUMN_GROUP)


def _wide(seed: int = 3) -> pd.DataFrame:
    """Wide points as `score` writes them: values, points (some missing), base,
    residual, a categorical value, a value without points, the bookkeeping columns."""
    rng = np.random.default_rng(seed)
    data = {"account_id": rng.permutation(np.arange(10, 10 + N_ACCOUNTS)).astype("int64")}
    for j in range(N_FEATURES):
        name = f"events__count_{j}__30d"
        values = rng.normal(50, 20, N_ACCOUNTS)
        data[name] = values
        points = rng.normal(0, 10.0 ** rng.integers(-3, 2), N_ACCOUNTS)
        points[rng.random(N_ACCOUNTS) < 0.15] = np.nan
        data[f"points:{name}"] = points
    data["subscriptions__plan"] = pd.Categorical(rng.choice(["basic", "pro"], N_ACCOUNTS))
    data["points:subscriptions__plan"] = rng.normal(0, 3, N_ACCOUNTS)
    data["accounts__seats"] = rng.integers(1, 50, N_ACCOUNTS).astype("float64")  # no points
    data["points:accounts__tenure_days"] = -0.0  # a points column without its value
    data["base"] = 61.5
    data["residual"] = rng.normal(0, 1e-9, N_ACCOUNTS)
    data["row_hash"] = "x"
    return pd.DataFrame(data)


@pytest.fixture()
def stored(tmp_path):
    frame = _wide()
    path = tmp_path / "part-0.parquet"
    frame.to_parquet(path, index=False)
    return pd.read_parquet(path).drop(columns=["row_hash"]), ParquetColumns(path, drop=("row_hash",))


def test_the_file_answers_as_the_frame(stored):
    frame, file = stored
    assert list(file.columns) == list(frame.columns) and "row_hash" not in file.columns
    assert len(file) == N_ACCOUNTS and not file.empty and file.shape == frame.shape
    pd.testing.assert_series_equal(file["subscriptions__plan"], frame["subscriptions__plan"])
    pd.testing.assert_frame_equal(file[["base", "accounts__seats"]], frame[["base", "accounts__seats"]])
    with pytest.raises(KeyError, match="row_hash"):
        file["row_hash"]


def test_a_file_that_is_not_parquet_is_a_named_error(tmp_path):
    path = tmp_path / "part-0.parquet"
    path.write_text("account_id,points\n1,2\n")
    with pytest.raises(DataError, match="part-0.parquet: not a readable Parquet file"):
        ParquetColumns(path)


def test_sums_are_those_of_the_whole_frame_to_the_last_bit(stored):
    frame, file = stored
    profile = ("subscriptions__plan", "accounts__")
    # the whole frame at once, as the report summed before (the reference)
    cols = [c for c in frame.columns if c.startswith("points:")]
    wide = frame[cols].apply(pd.to_numeric, errors="coerce")
    ids = frame["account_id"].to_numpy()
    flags = np.array([c.split(":", 1)[1].startswith(("subscriptions__plan", "accounts__")) for c in cols])
    want_sums = pd.Series(wide.sum(axis=1).to_numpy(), index=ids).groupby(level=0).sum()
    want_profile = pd.Series(wide.loc[:, flags].sum(axis=1).to_numpy(), index=ids).groupby(level=0).sum()
    want_means = pd.Series(wide.abs().mean(axis=0).to_numpy(), index=[c[7:] for c in cols]).dropna()
    for source in (frame, file):
        sums, profile_sums, means = point_summary(source, profile)
        assert np.array_equal(sums.to_numpy(), want_sums.to_numpy())  # bitwise, not approx
        assert list(sums.index) == list(want_sums.index)
        assert np.array_equal(profile_sums.to_numpy(), want_profile.to_numpy())
        pd.testing.assert_series_equal(means, want_means, check_exact=True)
    # a group sum (columns added group by group) would not be the same bits
    grouped = sum(frame[cols[i:i + points_module.COLUMN_GROUP]].sum(axis=1).to_numpy()
                  for i in range(0, len(cols), points_module.COLUMN_GROUP))
    assert not np.array_equal(grouped, wide.sum(axis=1).to_numpy())


@pytest.mark.parametrize("detail, hurt_below", [(None, None), ([11, 12, 40], -2.0), ((), -0.5)])
def test_long_rows_from_the_file_are_those_from_the_frame(stored, detail, hurt_below):
    frame, file = stored
    catalogue = {"accounts__seats": {"label": "Seats", "family": "account"}}
    from_frame, extras_frame = normalise_points(frame, catalogue, detail=detail, hurt_below=hurt_below,
                                                profile=("subscriptions__plan",))
    from_file, extras_file = normalise_points(file, catalogue, detail=detail, hurt_below=hurt_below,
                                              profile=("subscriptions__plan",))
    pd.testing.assert_frame_equal(from_file, from_frame, check_exact=True)
    pd.testing.assert_frame_equal(extras_file, extras_frame, check_exact=True)
    assert len(from_frame) and from_frame["profile"].any()
    if detail == ():  # only hurting rows are kept: none above the line
        assert (from_frame["points"] <= -0.5).all()


def test_standings_among_the_file_are_those_among_the_frame(stored):
    frame, file = stored
    catalogue = {f: {"healthy_direction": 1 if i % 2 else -1}
                 for i, f in enumerate(c for c in frame.columns if c.startswith("events__"))}
    long, _ = normalise_points(frame, catalogue, detail=[11, 12], hurt_below=-1.0)
    groups = pd.Series(np.where(frame["account_id"] % 3 == 0, "smb", "ent"), index=frame["account_id"])
    want = with_standing(long, frame, catalogue=catalogue, groups=groups, accounts=[11, 12])
    got = with_standing(long, file, catalogue=catalogue, groups=groups, accounts=[11, 12])
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert want["standing"].notna().sum() > 50


def test_rows_of_some_accounts_in_the_files_order(stored):
    frame, file = stored
    got = file.rows([40, 12, 999, 12])
    want = frame[frame["account_id"].isin([12, 40])].reset_index(drop=True)
    assert len(want) == 2
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
    none = file.rows([])
    assert none.empty and list(none.columns) == list(frame.columns)
