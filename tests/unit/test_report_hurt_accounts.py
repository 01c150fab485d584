"""report.points.hurt_accounts: per feature, the accounts its points cost at least
``min_points``, profile facts and pseudo-features left out, the same from the wide file
layout (read a few columns at a time) and from the long rows; and the overview's
"growing drivers" counted from it equal to those counted from the long rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.data.schema import POINTS_PREFIX
from healthscore.io.columns import COLUMN_GROUP
from healthscore.report.points import hurt_accounts, points_to_long

PROFILE = ("subscriptions__contract_days",)


def _wide(seed: int, accounts: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = [f"events__type_{i}__30d" for i in range(COLUMN_GROUP + 5)] + list(PROFILE)
    frame = {"account_id": np.arange(accounts) + 100, "base": rng.normal(50, 1, accounts)}
    for f in features:
        pts = np.round(rng.normal(0, 3, accounts), 2)
        pts[rng.random(accounts) < 0.1] = np.nan
        frame[f] = rng.random(accounts)
        frame[POINTS_PREFIX + f] = pts
    return pd.DataFrame(frame)


def _expected(wide: pd.DataFrame, limit: float, accounts) -> pd.Series:
    counts = {}
    for col in [c for c in wide.columns if c.startswith(POINTS_PREFIX)]:
        feature = col[len(POINTS_PREFIX):]
        if feature in PROFILE:
            continue
        hit = (wide[col] <= -limit) & wide["account_id"].isin(accounts)
        counts[feature] = int(wide.loc[hit, "account_id"].nunique())
    return pd.Series(counts, dtype="int64")


def test_wide_and_long_layouts_count_the_same_accounts():
    wide = _wide(3)
    shown = wide["account_id"].iloc[::2]  # the scored accounts of today's risk list
    expected = _expected(wide, 2.0, shown)
    assert expected.sum() > 0
    from_wide = hurt_accounts(wide, min_points=2.0, profile=PROFILE, accounts=shown)
    pd.testing.assert_series_equal(from_wide.sort_index(), expected.sort_index(), check_names=False)
    long = points_to_long(wide)
    from_long = hurt_accounts(long, min_points=-2.0, profile=PROFILE, accounts=shown)  # sign ignored
    nonzero = expected[expected > 0]
    pd.testing.assert_series_equal(from_long.sort_index().astype("int64"), nonzero.sort_index(),
                                   check_names=False)
    assert not set(from_wide.index) & set(PROFILE)


def test_every_account_by_default_and_empty_points_count_nothing():
    wide = _wide(5, accounts=12)
    everyone = hurt_accounts(wide, min_points=1.0, profile=PROFILE)
    pd.testing.assert_series_equal(everyone.sort_index(), _expected(wide, 1.0, wide["account_id"]).sort_index(),
                                   check_names=False)
    assert hurt_accounts(pd.DataFrame(), min_points=1.0).empty
