"""What validation finds in the contract's tables, and how each finding is counted.

A :class:`Problem` is one rule broken by some rows of one table column; a
:class:`ValidationReport` collects them with the rows per table before and after and
the accounts that lost a row or a value. A :class:`Checker` gathers one table's
problems and applies its drops, blanks and ignored rows; a table (or a column) that
would lose more than :data:`MOST` of its rows (values) stops the run instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

#: A table that would lose more than this share of its rows to drops (or a column more
#: than this share of its values to blanks) stops the run instead: a wrong format or
#: mapping, not a few bad rows.
MOST = 0.5


@dataclass(frozen=True)
class Problem:
    """One rule broken by some rows of one table column."""

    table: str
    column: str
    rule: str
    rows: int
    example: dict[str, Any]
    action: Literal["dropped", "blanked", "stop", "ignored"]
    hint: str = ""

    def describe(self) -> str:
        verb = {"dropped": "dropped", "blanked": "value blanked", "stop": "stop the run",
                "ignored": "ignored"}[self.action]
        example = ", ".join(f"{k}={v!r}" for k, v in self.example.items())
        hint = f"; {self.hint}" if self.hint else ""
        return (f"{self.table}.{self.column}: {self.rows} row(s) {self.rule} ({verb}); "
                f"e.g. {{{example}}}{hint}")


@dataclass
class ValidationReport:
    """What validation found: problems, and rows per table before and after."""

    problems: list[Problem] = field(default_factory=list)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    #: Per table, the accounts that lost a row or a value to a drop or a blank.
    damaged_accounts: dict[str, set] = field(default_factory=dict)

    @property
    def stopping(self) -> list[Problem]:
        return [p for p in self.problems if p.action == "stop"]


def _example(frame: pd.DataFrame, mask: np.ndarray, limit: int = 6) -> dict[str, Any]:
    row = frame.iloc[int(np.argmax(mask))]
    out = {}
    for key, value in list(row.items())[:limit]:
        out[str(key)] = value.isoformat() if isinstance(value, pd.Timestamp) else (
            value.item() if isinstance(value, np.generic) else value
        )
    return out


class Checker:
    """Collects problems for one table and applies drops at the end.

    ``damage`` marks the rows that lost something to invalid data (a drop or a blank),
    as opposed to exact duplicates or rows after the end of the data.
    """

    def __init__(self, name: str, frame: pd.DataFrame, report: ValidationReport, strict: bool):
        self.name, self.frame, self.report, self.strict = name, frame, report, strict
        self.drop = np.zeros(len(frame), dtype=bool)
        self.invalid = np.zeros(len(frame), dtype=bool)
        self.damage = np.zeros(len(frame), dtype=bool)
        self.found: list[Problem] = []
        # whether any row was dropped or damaged: a full pass over the masks only then
        self._dropped = self._damaged = False

    def flag(self, column: str, mask, rule: str, *, droppable: bool, raw=None, hint: str = "",
             damage: bool = True) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = np.count_nonzero(mask)
        if not n:
            return
        action = "dropped" if droppable and not self.strict else "stop"
        example = _example(raw if raw is not None else self.frame, mask)
        self.found.append(Problem(self.name, column, rule, n, example, action, hint))
        if action == "dropped":
            self.drop |= mask
            self.invalid |= mask
            self._dropped = True
            if damage:
                self.damage |= mask
                self._damaged = True

    def blank(self, column: str, values: np.ndarray, mask, rule: str, *, raw=None,
              hint: str = "") -> np.ndarray:
        """``values`` with the cells under ``mask`` set missing (counted); the rows stay."""
        mask = np.asarray(mask, dtype=bool)
        n = np.count_nonzero(mask)
        if not n:
            return values
        present = np.count_nonzero(pd.notna(values) | mask)
        action = "blanked" if not self.strict else "stop"
        if n > MOST * present:
            action = "stop"
            rule = f"{rule}: {n:,} of the column's {present:,} values ({n / present:.0%}), most of them"
        example = _example(raw if raw is not None else self.frame, mask)
        self.found.append(Problem(self.name, column, rule, n, example, action, hint))
        self.damage |= mask
        self._damaged = True
        values = values.copy()
        values[mask] = np.datetime64("NaT") if values.dtype.kind == "M" else np.nan
        return values

    def ignore(self, column: str, mask, rule: str) -> None:
        """Rows outside the observed period: removed silently but counted."""
        mask = np.asarray(mask, dtype=bool)
        n = np.count_nonzero(mask)
        if n:
            example = _example(self.frame, mask)
            self.found.append(Problem(self.name, column, rule, n, example, "ignored"))
            self.drop |= mask
            self._dropped = True

    def result(self) -> pd.DataFrame:
        lost = np.count_nonzero(self.invalid) if self._dropped else 0
        if lost > MOST * len(self.frame):
            share = f"{lost:,} of its {len(self.frame):,} rows ({lost / len(self.frame):.0%})"
            self.found = [
                dataclasses.replace(p, action="stop", rule=f"{p.rule}; the table would lose {share}")
                if p.action == "dropped" else p
                for p in self.found
            ]
        self.report.problems.extend(self.found)
        if self._damaged and self.damage.any() and "account_id" in self.frame:
            ids = self.frame["account_id"].to_numpy()[self.damage]
            self.report.damaged_accounts.setdefault(self.name, set()).update(
                pd.unique(ids[pd.notna(ids)]).tolist())
        if self._dropped:
            return self.frame.loc[~self.drop].reset_index(drop=True)
        return self.frame
