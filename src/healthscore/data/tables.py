"""The validated input tables of one data source, in canonical form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import pandas as pd

from healthscore.errors import SchemaError


@dataclass(frozen=True)
class Tables:
    """The contract's tables after reading, mapping and validation.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Our table name to its canonical frame (see :mod:`healthscore.data.schema`). Only
        the tables present in the source are here; ``accounts`` and
        ``subscriptions`` always are.
    observed_until : Timestamp
        The exclusive end of what the data describes: no row is dated at or after it,
        and an outcome window that ends after it is censored.
    extras : mapping of str to DataFrame
        Tables outside the contract that were present (e.g. the simulator's
        ``ground_truth``); never used as features.
    incomplete_accounts : frozenset
        Accounts whose subscriptions lost a row or a value in validation (an
        unparsable date, an absurd amount): their outcomes are unknown, so their labels
        are censored (:mod:`healthscore.dataset.labels`), never read from the gap.
    """

    frames: Mapping[str, pd.DataFrame]
    observed_until: pd.Timestamp
    extras: Mapping[str, pd.DataFrame] = None  # type: ignore[assignment]
    incomplete_accounts: frozenset = frozenset()

    def __post_init__(self) -> None:
        if self.extras is None:
            object.__setattr__(self, "extras", {})

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.frames[name]
        except KeyError:
            raise SchemaError(f"table {name!r} is not in the data source") from None

    def __contains__(self, name: object) -> bool:
        return name in self.frames

    def __iter__(self) -> Iterator[str]:
        return iter(self.frames)

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)

    @property
    def accounts(self) -> pd.DataFrame:
        return self.frames["accounts"]

    @property
    def subscriptions(self) -> pd.DataFrame:
        return self.frames["subscriptions"]

    def subset(self, account_ids) -> "Tables":
        """The same tables restricted to ``account_ids`` (a partition)."""
        ids = pd.Index(account_ids)
        frames = {
            name: frame[frame["account_id"].isin(ids)].reset_index(drop=True)
            for name, frame in self.frames.items()
        }
        return Tables(frames, self.observed_until, self.extras,
                      incomplete_accounts=frozenset(a for a in self.incomplete_accounts if a in ids))
