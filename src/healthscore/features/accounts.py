"""Firmographic features from the ``accounts`` table (family ``account``).

The contract's ``accounts`` table holds one row per account and no history, so "as of
the cutoff" means the row's current value: a seat count or segment that changed
later shows its latest value at earlier cutoffs too. Accounts created at or after a
cutoff get no features at all (the builder returns NaN for that row).

``accounts__seats``
    ``seats`` (float).
``accounts__<column>``
    For ``params.categoricals`` present in the table (default segment, plan,
    industry, region) and non-numeric ``params.account_attributes``: pandas
    ``category`` with levels from the whole table (sorted), so every partition
    encodes them identically. Numeric ``account_attributes`` are float64.

``accounts__tenure_days`` is built with the subscriptions (it needs the first start).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import FeatureParams
from healthscore.features._base import floats_of
from healthscore.features.plan import categorical_columns, numeric_attributes
from healthscore.data.tables import Tables

TABLE = "accounts"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    accounts = tables.accounts
    out = ["accounts__seats"] if "seats" in accounts.columns else []
    out += [f"accounts__{c}" for c in numeric_attributes(accounts, params)]
    out += [f"accounts__{c}" for c in categorical_columns(accounts, params)]
    return out


def account_values(accounts: pd.DataFrame, params: FeatureParams,
                   categories) -> dict[str, np.ndarray]:
    """Per account (row of ``accounts``): float values, or int32 category codes
    (-1 missing) for the names in ``categories``."""
    out: dict[str, np.ndarray] = {}
    if "seats" in accounts.columns:
        out["accounts__seats"] = floats_of(accounts, "seats")
    for column in numeric_attributes(accounts, params):
        out[f"accounts__{column}"] = floats_of(accounts, column)
    for column in categorical_columns(accounts, params):
        name = f"accounts__{column}"
        levels = pd.Index(categories.get(name, ()))
        codes = levels.get_indexer(accounts[column]) if len(levels) else np.full(len(accounts), -1)
        codes = np.where(accounts[column].isna().to_numpy(), -1, codes)
        out[name] = codes.astype(np.int32)
    return out
