"""Validation of the contract's tables (DESIGN.md section 1).

Each problem names the table, the column, how many rows and an example row. Rows that
can be dropped without changing the meaning of the rest (orphans, unparsable or
missing keys and times, exact duplicates, records dated after the end of the data)
are dropped with a counted warning; the rest stop the run with a
:class:`~healthscore.errors.ValidationError`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import SchemaError, ValidationError
from healthscore.schema import REQUIRED_TABLES, TABLES, TableSpec
from healthscore.tables import Tables

log = logging.getLogger(__name__)

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Problem:
    """One rule broken by some rows of one table column."""

    table: str
    column: str
    rule: str
    rows: int
    example: dict[str, Any]
    action: Literal["dropped", "stop", "ignored"]

    def describe(self) -> str:
        verb = {"dropped": "dropped", "stop": "stop the run", "ignored": "ignored"}[self.action]
        example = ", ".join(f"{k}={v!r}" for k, v in self.example.items())
        return f"{self.table}.{self.column}: {self.rows} row(s) {self.rule} ({verb}); e.g. {{{example}}}"


@dataclass
class ValidationReport:
    """What validation found: problems, and rows per table before and after."""

    problems: list[Problem] = field(default_factory=list)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)

    @property
    def stopping(self) -> list[Problem]:
        return [p for p in self.problems if p.action == "stop"]


def _example(frame: pd.DataFrame, mask: np.ndarray, limit: int = 6) -> dict[str, Any]:
    row = frame.loc[np.asarray(mask)].iloc[0]
    out = {}
    for key, value in list(row.items())[:limit]:
        out[str(key)] = value.isoformat() if isinstance(value, pd.Timestamp) else (
            value.item() if isinstance(value, np.generic) else value
        )
    return out


class _Checker:
    """Collects problems for one table and applies drops at the end."""

    def __init__(self, name: str, frame: pd.DataFrame, report: ValidationReport, strict: bool):
        self.name, self.frame, self.report, self.strict = name, frame, report, strict
        self.drop = np.zeros(len(frame), dtype=bool)

    def flag(self, column: str, mask, rule: str, *, droppable: bool, raw=None) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if not n:
            return
        action = "dropped" if droppable and not self.strict else "stop"
        example = _example(raw if raw is not None else self.frame, mask)
        self.report.problems.append(Problem(self.name, column, rule, n, example, action))
        if action == "dropped":
            self.drop |= mask

    def ignore(self, column: str, mask, rule: str) -> None:
        """Rows outside the observed period: removed silently but counted."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n:
            example = _example(self.frame, mask)
            self.report.problems.append(Problem(self.name, column, rule, n, example, "ignored"))
            self.drop |= mask

    def result(self) -> pd.DataFrame:
        if self.drop.any():
            return self.frame.loc[~self.drop].reset_index(drop=True)
        return self.frame


def _parse_times(series: pd.Series, table: str, column: str) -> tuple[pd.Series, np.ndarray]:
    """Parse to naive-UTC ``datetime64[us]``; return (parsed, unparsable mask).

    Raises ValidationError when the column mixes timezone-aware and naive values.
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        parsed = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype("datetime64[us]"), np.zeros(len(series), dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[us]"), np.zeros(len(series), dtype=bool)
    present = series.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        raise ValidationError([Problem(table, column, "are numbers, not timestamps", int(present.sum()),
                                       {column: series[present].iloc[0].item()} if present.any() else {},
                                       "stop")])
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
        series = series.astype("str").where(series.notna())
    text = series.astype("str")
    has_tz = text.str.contains(_TZ_SUFFIX, na=False).to_numpy()
    if has_tz.any() and (present & ~has_tz).any():
        mixed = present & ~has_tz
        raise ValidationError([Problem(
            table, column, "mix timezone-aware and naive timestamps", int(mixed.sum()),
            {"naive": text[mixed].iloc[0], "aware": text[has_tz].iloc[0]}, "stop")])
    try:
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    parsed = parsed.dt.tz_localize(None).astype("datetime64[us]")
    bad = present & parsed.isna().to_numpy()
    return parsed, bad


def _canonical_table(
    name: str, frame: pd.DataFrame, spec: TableSpec, report: ValidationReport, strict: bool,
    account_ids: pd.Series | None,
) -> pd.DataFrame:
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"table {name} has no column {missing[0]!r} (required: {', '.join(spec.required)}; "
            f"found: {', '.join(map(str, frame.columns))}). Map your own column name in "
            f"params.yaml under data.columns.{name}.{missing[0]}"
        )
    raw = frame.reset_index(drop=True)
    frame = raw.copy()
    check = _Checker(name, frame, report, strict)

    for column in spec.required:
        if column not in spec.timestamps:
            check.flag(column, frame[column].isna(), "have no value in a required column",
                       droppable=name != "accounts")
    for column in spec.timestamps:
        if column not in frame:
            continue
        parsed, bad = _parse_times(frame[column], name, column)
        frame[column] = parsed
        check.flag(column, bad, "have an unparsable timestamp", droppable=True, raw=raw)
        if column in spec.required:
            check.flag(column, parsed.isna().to_numpy() & ~bad, "have no timestamp", droppable=True)
    for column in spec.numeric:
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        bad = frame[column].notna().to_numpy() & values.isna().to_numpy()
        check.flag(column, bad, "are not numbers", droppable=False, raw=raw)
        frame[column] = values
    for column in spec.non_negative:
        if column in frame:
            check.flag(column, (frame[column] < 0).to_numpy(), "are negative", droppable=False)
    for start, end in spec.intervals:
        if start in frame and end in frame:
            bad = (frame[end] < frame[start]).to_numpy()
            check.flag(end, bad, f"end before {start}", droppable=name != "subscriptions")
    if account_ids is not None:
        frame["account_id"] = _align_ids(frame["account_id"], account_ids)
        orphan = ~frame["account_id"].isin(account_ids).to_numpy() & frame["account_id"].notna().to_numpy()
        check.flag("account_id", orphan, "have an account_id that matches no account", droppable=True)
    for column in frame.columns:
        if column in spec.columns and column not in spec.timestamps and column not in spec.numeric \
                and column != "account_id" and not column.endswith("_id") \
                and not isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = frame[column].astype("str").where(frame[column].notna())
    frame = check.result()
    return _check_keys(name, frame, spec, report, strict)


def _align_ids(ids: pd.Series, reference: pd.Series) -> pd.Series:
    """Cast ``ids`` to the dtype of ``accounts.account_id`` when they differ."""
    if ids.dtype == reference.dtype:
        return ids
    if pd.api.types.is_integer_dtype(reference):
        converted = pd.to_numeric(ids, errors="coerce")
        if converted.notna().all() and (converted == converted.round()).all():
            return converted.astype(reference.dtype)
        return ids
    return ids.astype("str").where(ids.notna())


def _check_keys(name: str, frame: pd.DataFrame, spec: TableSpec, report, strict) -> pd.DataFrame:
    if not spec.key or not all(k in frame for k in spec.key):
        return frame
    keys = list(spec.key)
    exact = frame.duplicated(keep="first").to_numpy()
    check = _Checker(name, frame, report, strict)
    check.flag(keys[0], exact, "are exact duplicates of another row", droppable=True)
    frame = check.result()
    clash = frame.duplicated(subset=keys, keep=False).to_numpy()
    check = _Checker(name, frame, report, strict)
    check.flag(keys[0], clash, f"share a {', '.join(keys)} with a different row", droppable=False)
    return frame


def _derive_row_ids(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Ids the contract derives as a row number (``TableSpec.derived``, e.g. tickets'
    and invoices') number the rows of the source when absent."""
    for column, how in TABLES[name].derived.items():
        if how == "row number" and column not in frame:
            frame = frame.assign(**{column: np.arange(1, len(frame) + 1, dtype="int64")})
    return frame


def _derive_subscription_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """``<account_id>-<n>``, n counting an account's subscriptions by start date."""
    if "subscription_id" in frame:
        return frame
    frame = frame.sort_values(["account_id", "start_date", "end_date"], kind="stable")
    ordinal = frame.groupby("account_id", sort=False).cumcount() + 1
    frame = frame.assign(subscription_id=frame["account_id"].astype("str") + "-" + ordinal.astype("str"))
    return frame.reset_index(drop=True)


def default_observed_until(frames: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """The day after the latest event time of any table (midnight, exclusive)."""
    latest = []
    for name, frame in frames.items():
        column = TABLES[name].event_time
        if column and column in frame and len(frame):
            latest.append(frame[column].max())
    return observed_until_after(latest)


def observed_until_after(latest_times: Iterable[Any]) -> pd.Timestamp:
    """The end of the data given each table's latest event time (missing ones
    ignored): midnight after the latest of them."""
    latest = [pd.Timestamp(t) for t in latest_times if t is not None and pd.notna(t)]
    if not latest:
        raise SchemaError("no table holds a dated row; set data.observed_until in params.yaml")
    return max(latest).normalize() + pd.Timedelta(days=1)


def validate_tables(
    frames: Mapping[str, pd.DataFrame],
    *,
    extras: Mapping[str, pd.DataFrame] | None = None,
    observed_until: pd.Timestamp | None = None,
    on_invalid_rows: str = "drop",
) -> tuple[Tables, ValidationReport]:
    """Check every table against the contract and return canonical :class:`Tables`.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Contract tables under our table and column names (after mapping).
    observed_until : Timestamp, optional
        Exclusive end of the data. Rows dated at or after it are ignored; later facts
        (``paid_at``, ``closed_at``, ...) at or after it are blanked. Default: the day
        after the latest event time.
    on_invalid_rows : {'drop', 'error'}
        ``error`` turns every droppable problem into a stopping one.
    """
    strict = on_invalid_rows == "error"
    report = ValidationReport()
    for name in REQUIRED_TABLES:
        if name not in frames:
            raise SchemaError(
                f"required table {name!r} is missing (found: {', '.join(sorted(frames)) or 'none'}); "
                f"name it {name}.parquet/.csv or map it under data.tables.{name}"
            )
    out: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        if name not in frames:
            continue
        report.rows_in[name] = len(frames[name])
        if len(frames[name]) == 0:
            problem = Problem(name, "*", "in an empty table", 0, {}, "stop" if name in REQUIRED_TABLES else "ignored")
            report.problems.append(problem)
            if name in REQUIRED_TABLES:
                raise ValidationError([problem])
            continue
    accounts = _canonical_table("accounts", frames["accounts"], TABLES["accounts"], report, strict, None)
    out["accounts"] = accounts
    ids = accounts["account_id"]
    parsed: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        if name == "accounts" or name not in frames or len(frames[name]) == 0:
            continue
        frame = _derive_row_ids(name, frames[name])
        parsed[name] = _canonical_table(name, frame, TABLES[name], report, strict, ids)
    if observed_until is None:
        observed_until = default_observed_until(parsed | {"accounts": accounts})
    for name, frame in parsed.items():
        frame = _apply_observed_until(name, frame, observed_until, report)
        out[name] = _derive_subscription_ids(frame) if name == "subscriptions" else frame
    if "created_at" in accounts:
        late = (accounts["created_at"] >= observed_until).to_numpy()
        check = _Checker("accounts", accounts, report, strict)
        check.ignore("created_at", late, f"are created at or after the end of the data ({observed_until.date()})")
        out["accounts"] = check.result()
    for name, frame in out.items():
        report.rows_out[name] = len(frame)
    if report.stopping:
        raise ValidationError(report.stopping)
    for problem in report.problems:
        if problem.action == "dropped":
            log.warning("%s", problem.describe())
        elif problem.rows:
            log.info("%s", problem.describe())
    return Tables(out, observed_until, dict(extras or {})), report


def _apply_observed_until(name, frame, observed_until, report) -> pd.DataFrame:
    spec = TABLES[name]
    check = _Checker(name, frame, report, strict=False)
    if spec.event_time:
        late = (frame[spec.event_time] >= observed_until).to_numpy()
        check.ignore(spec.event_time, late,
                     f"are dated at or after the end of the data ({observed_until.date()})")
    frame = check.result()
    for column in spec.timestamps:
        if column != spec.event_time and column in frame and column not in spec.required:
            frame[column] = frame[column].where(frame[column] < observed_until)
    return frame
