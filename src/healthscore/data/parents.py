"""The parent of an account (``accounts.parent_account_id``): its contract checks.

A parent id groups child accounts whose health is rolled up
(:mod:`healthscore.scoring.parents`). It may name an account of the table (a
headquarters with its own contract: then it is one of the group, besides its children)
or only a group (an id no account has). One level only: a parent has no parent itself,
so a chain (``a -> b -> c``) or a cycle (``a -> b -> a``) stops the run with the
account to re-point; an account is never its own parent. A parent id has the kind of
``account_id`` (a number under numeric ids), so the same id reads the same in every
output. Missing: the account has no parent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.data.problems import Problem
from healthscore.data.schema import PARENT_ID
from healthscore.errors import ValidationError


def check_parents(accounts: pd.DataFrame) -> pd.DataFrame:
    """``accounts`` with ``parent_account_id`` in the dtype of ``account_id`` (nullable
    ``Int64`` under integer ids, ``str`` otherwise); unchanged without the column.

    Raises
    ------
    ValidationError
        A parent id that is not of the kind of ``account_id``, an account that is its
        own parent, or a parent that has a parent itself (a chain or a cycle); each
        names ``accounts.parent_account_id``, the rows and an example row.
    """
    if PARENT_ID not in accounts.columns:
        return accounts
    raw = accounts[PARENT_ID]
    ids = accounts["account_id"]
    present = raw.notna().to_numpy()
    if pd.api.types.is_integer_dtype(ids):
        number = pd.to_numeric(raw, errors="coerce")
        whole = number.notna() & (number == number.round())
        bad = present & ~whole.to_numpy()
        _stop(accounts, bad, "are not account ids like account_id (numbers)",
              "a parent id is the account_id of the parent, or a numeric group id")
        parents = number.astype("Int64")
    else:
        parents = raw.astype("str").where(raw.notna())
        if not pd.api.types.is_string_dtype(ids):
            parents = parents.astype(object)
    if pd.api.types.is_integer_dtype(ids):
        own = (parents == ids).fillna(False).to_numpy(dtype=bool)
    else:
        own = present & (parents.fillna("").astype(str).to_numpy() == ids.astype(str).to_numpy())
    _stop(accounts.assign(**{PARENT_ID: parents}), own, "name the account itself as its parent",
          "leave parent_account_id empty for an account without a parent")
    with_parent = ids[present]  # accounts that are children: none may be a parent
    nested = present & parents.isin(with_parent).fillna(False).to_numpy(dtype=bool)
    _stop(accounts.assign(**{PARENT_ID: parents}), nested,
          "have a parent that has a parent itself (a chain or a cycle)",
          "one level is rolled up: point each account at its top parent")
    return accounts.assign(**{PARENT_ID: parents})


def _stop(accounts: pd.DataFrame, bad: np.ndarray, rule: str, hint: str) -> None:
    if not bad.any():
        return
    row = accounts.iloc[int(np.argmax(bad))]
    example = {k: (v.item() if isinstance(v, np.generic) else v)
               for k, v in row[["account_id", PARENT_ID]].items()}
    raise ValidationError([Problem("accounts", PARENT_ID, rule, int(bad.sum()), example, "stop", hint)])
