"""Validation of the contract's tables (DESIGN.md section 1).

Each problem names the table, the column, how many rows and an example row. Rows that
can be dropped without changing the meaning of the rest (orphans, unparsable or
missing keys and times, exact duplicates, rows dated far after the rest of the data)
are dropped with a counted warning; a value no sum can take (``inf``, ``-inf``, a
magnitude above :data:`MAX_MAGNITUDE`, a score outside its scale) is blanked with a
counted warning (or, in a required column, its row dropped), so one bad cell never
reaches another account through a sum (NaN is a missing value and stays missing);
rows dated at or after the end of the data are ignored (counted). ``on_invalid_rows: error`` turns every drop and blank into a stop. The rest
stop the run with a :class:`~healthscore.errors.ValidationError`, and so does a table
(or a column) that would lose most of its rows (values): that is a mapping or format
problem, not a few bad rows.

An account whose subscriptions lost a row or a value is listed in
:attr:`ValidationReport.damaged_accounts` and in
:attr:`healthscore.tables.Tables.incomplete_accounts`: its outcomes are unknown, so
:mod:`healthscore.labels` censors them rather than read a loss into the gap.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError, SchemaError, ValidationError
from healthscore.schema import REQUIRED_TABLES, TABLES, TableSpec
from healthscore.tables import Tables

log = logging.getLogger(__name__)

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_DAY_FIRST_OR_MONTH_FIRST = re.compile(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")

#: The largest magnitude a numeric cell may hold: sums of millions of such values stay
#: far from overflow; anything larger is a unit or export error.
MAX_MAGNITUDE = 1e15

#: A table that would lose more than this share of its rows to drops (or a column more
#: than this share of its values to blanks) stops the run instead: a wrong format or
#: mapping, not a few bad rows.
MOST = 0.5

#: The data's robust end is this quantile of every dated row's event time ...
END_QUANTILE = 0.99
#: ... and a row dated more than ``max(LATE_MIN_DAYS, LATE_SPAN_SHARE x the data's
#: span)`` after it is "far after the rest of the data": dropped, never the data's end.
LATE_MIN_DAYS = 62
LATE_SPAN_SHARE = 0.1
#: Below this many dated rows no end is robust: the latest row is the end.
LATE_MIN_ROWS = 100
#: Rows sampled (evenly) to find the robust end of a big source.
END_SAMPLE = 1_000_000

ISO_HINT = ("expected ISO 8601 timestamps such as 2024-01-31 or 2024-01-31T09:30:00Z")


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


class _Checker:
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

    def flag(self, column: str, mask, rule: str, *, droppable: bool, raw=None, hint: str = "",
             damage: bool = True) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if not n:
            return
        action = "dropped" if droppable and not self.strict else "stop"
        example = _example(raw if raw is not None else self.frame, mask)
        self.found.append(Problem(self.name, column, rule, n, example, action, hint))
        if action == "dropped":
            self.drop |= mask
            self.invalid |= mask
            if damage:
                self.damage |= mask

    def blank(self, column: str, values: np.ndarray, mask, rule: str, *, raw=None,
              hint: str = "") -> np.ndarray:
        """``values`` with the cells under ``mask`` set missing (counted); the rows stay."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if not n:
            return values
        present = int((pd.notna(values) | mask).sum())
        action = "blanked" if not self.strict else "stop"
        if n > MOST * present:
            action = "stop"
            rule = f"{rule}: {n:,} of the column's {present:,} values ({n / present:.0%}), most of them"
        example = _example(raw if raw is not None else self.frame, mask)
        self.found.append(Problem(self.name, column, rule, n, example, action, hint))
        self.damage |= mask
        values = values.copy()
        values[mask] = np.datetime64("NaT") if values.dtype.kind == "M" else np.nan
        return values

    def ignore(self, column: str, mask, rule: str) -> None:
        """Rows outside the observed period: removed silently but counted."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n:
            example = _example(self.frame, mask)
            self.found.append(Problem(self.name, column, rule, n, example, "ignored"))
            self.drop |= mask

    def result(self) -> pd.DataFrame:
        lost = int(self.invalid.sum())
        if lost > MOST * len(self.frame):
            share = f"{lost:,} of its {len(self.frame):,} rows ({lost / len(self.frame):.0%})"
            self.found = [
                dataclasses.replace(p, action="stop", rule=f"{p.rule}; the table would lose {share}")
                if p.action == "dropped" else p
                for p in self.found
            ]
        self.report.problems.extend(self.found)
        if self.damage.any() and "account_id" in self.frame:
            ids = self.frame["account_id"].to_numpy()[self.damage]
            self.report.damaged_accounts.setdefault(self.name, set()).update(
                pd.unique(ids[pd.notna(ids)]).tolist())
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
    frame = raw.copy(deep=False)  # columns are replaced, never changed in place
    check = _Checker(name, frame, report, strict)

    for column in spec.required:
        if column not in spec.timestamps:
            check.flag(column, frame[column].isna(), "have no value in a required column",
                       droppable=name != "accounts")
    for column in spec.timestamps:
        if column not in frame:
            continue
        parsed, bad = _parse_times(frame[column], name, column)
        hint = _time_hint(name, column, raw[column], bad)
        if name == "accounts":  # an account is never dropped for a date it does not need
            frame[column] = check.blank(column, parsed.to_numpy(), bad, "have an unparsable timestamp",
                                        raw=raw, hint=hint)
            continue
        frame[column] = parsed
        check.flag(column, bad, "have an unparsable timestamp", droppable=True, raw=raw, hint=hint)
        if column in spec.required:
            check.flag(column, parsed.isna().to_numpy() & ~bad, "have no timestamp", droppable=True)
    for column in spec.numeric:
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        bad = frame[column].notna().to_numpy() & values.isna().to_numpy()
        check.flag(column, bad, "are not numbers", droppable=False, raw=raw)
        frame[column] = _check_magnitudes(check, spec, column, values, raw)
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
        check.flag("account_id", orphan, "have an account_id that matches no account", droppable=True,
                   hint=f"accounts.account_id holds e.g. {account_ids.iloc[0]!r}; map the right "
                        f"column under data.columns.{name}.account_id" if len(account_ids) else "")
    for column in frame.columns:
        if column in spec.columns and column not in spec.timestamps and column not in spec.numeric \
                and column != "account_id" and not column.endswith("_id") \
                and not isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = frame[column].astype("str").where(frame[column].notna())
    frame = check.result()
    return _check_keys(name, frame, spec, report, strict)


def _check_magnitudes(check: _Checker, spec: TableSpec, column: str, values: pd.Series,
                      raw: pd.DataFrame) -> pd.Series:
    """Blank (or, in a required column, drop the rows of) values no sum can take:
    non-finite, above :data:`MAX_MAGNITUDE` or outside the column's scale
    (``TableSpec.bounds``). Two reductions when all are fine; masks only otherwise."""
    array = values.to_numpy()
    low, high = spec.bounds.get(column, (-MAX_MAGNITUDE, MAX_MAGNITUDE))
    if not len(array) or (np.fmin.reduce(array) >= max(low, -MAX_MAGNITUDE)
                          and np.fmax.reduce(array) <= min(high, MAX_MAGNITUDE)):
        return values  # NaN (missing) passes: fmin/fmax skip it; an all-NaN column too
    absurd = np.abs(array) > MAX_MAGNITUDE  # False for NaN, True for +-inf
    rules = [(absurd, f"are infinite or larger than {MAX_MAGNITUDE:.0e} in magnitude",
              "a unit or export error? fix the source or leave the cell empty")]
    if column in spec.bounds:
        rules.append((((array < low) | (array > high)) & ~absurd, f"are outside the scale {low:g}..{high:g}",
                      f"the contract reads {spec.name}.{column} on {low:g}..{high:g}"))
    for mask, rule, hint in rules:
        if column in spec.required:  # the row means nothing without it
            check.flag(column, mask, rule, droppable=True, raw=raw, hint=hint)
            array = np.where(mask, np.nan, array)
        else:
            array = check.blank(column, array, mask, rule, raw=raw, hint=hint)
    return pd.Series(array, index=values.index, name=values.name)


def _time_hint(table: str, column: str, raw: pd.Series, bad: np.ndarray) -> str:
    """How to fix unparsable timestamps: the format expected and where to map."""
    if not bad.any():
        return ""
    text = str(raw.iloc[int(np.argmax(bad))])
    seen = (" (it looks like a day/month or month/day date: write the column as ISO "
            "dates, e.g. 2024-01-31)" if _DAY_FIRST_OR_MONTH_FIRST.match(text) else "")
    return (f"{ISO_HINT}, got {text!r}{seen}; or map another column under "
            f"data.columns.{table}.{column}")


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
    check.flag(keys[0], exact, "are exact duplicates of another row", droppable=True, damage=False)
    frame = check.result()
    clash = frame.duplicated(subset=keys, keep=False).to_numpy()
    check = _Checker(name, frame, report, strict)
    check.flag(keys[0], clash, f"share a {', '.join(keys)} with a different row", droppable=False)
    return check.result()


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


def robust_end(frames: Mapping[str, pd.DataFrame]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``(end, limit)``: the data's robust end and the instant after which a row is far
    after the rest of the data; None when too few rows are dated.

    The data's robust end R is the :data:`END_QUANTILE` quantile of the event times of
    every dated row of every table (pooled, so the biggest tables weigh most; an even
    sample of at most :data:`END_SAMPLE` rows); the limit is R plus
    ``max(LATE_MIN_DAYS, LATE_SPAN_SHARE * (R - first row))``. None below
    :data:`LATE_MIN_ROWS` dated rows, where no end is robust.
    """
    columns = [frame[TABLES[name].event_time] for name, frame in frames.items()
               if TABLES[name].event_time and TABLES[name].event_time in frame]
    total = sum(len(c) for c in columns)
    if total < LATE_MIN_ROWS:
        return None
    step = max(1, total // END_SAMPLE)
    sample = np.concatenate([c.to_numpy("datetime64[us]")[::step].view(np.int64) for c in columns])
    sample = sample[sample != np.iinfo(np.int64).min]  # NaT
    if len(sample) < LATE_MIN_ROWS:
        return None
    first, end = np.quantile(sample, [0.0, END_QUANTILE], method="lower")
    span_days = (end - first) / 86_400e6
    slack = pd.Timedelta(days=max(LATE_MIN_DAYS, LATE_SPAN_SHARE * span_days))
    end = pd.Timestamp(int(end), unit="us")
    return end, end + slack


def check_observed_until(tables: Tables, *, key: str = "data.observed_until") -> None:
    """Raise :class:`ConfigError` when an explicit end of the data is far after its
    rows (later than :func:`robust_end`'s limit): every account still a customer at the
    data's real end would then read as lost."""
    found = robust_end(tables.frames)
    if found is not None and tables.observed_until > found[1]:
        raise ConfigError(
            f"{key}: {tables.observed_until:%Y-%m-%d} is far after the end of the data "
            f"({END_QUANTILE:.0%} of its dated rows are before {found[0]:%Y-%m-%d}); every "
            f"account still a customer then would read as lost. Set a date inside the data, "
            f"or null for the day after the latest row")


def _check_start(observed_until: pd.Timestamp, subscriptions: pd.DataFrame) -> None:
    first = subscriptions["start_date"].min() if len(subscriptions) else pd.NaT
    if pd.notna(first) and observed_until <= first:
        raise ConfigError(
            f"data.observed_until: {observed_until:%Y-%m-%d} is at or before the start of the "
            f"data (the first subscription starts {first:%Y-%m-%d}); nothing would be observed. "
            f"Set a later date, or null for the day after the latest row")


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
        after the latest event time of the rows not far after the rest of the data
        (:func:`robust_end`; those rows are dropped with a warning).
    on_invalid_rows : {'drop', 'error'}
        ``error`` turns every droppable problem into a stopping one.

    Raises
    ------
    ConfigError
        ``observed_until`` is at or before the first subscription's start.
    SchemaError, ValidationError
        A table or column is missing, or rows break the contract beyond a safe drop.
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
    ids = accounts["account_id"]
    parsed: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        if name == "accounts" or name not in frames or len(frames[name]) == 0:
            continue
        frame = _derive_row_ids(name, frames[name])
        parsed[name] = _canonical_table(name, frame, TABLES[name], report, strict, ids)
    if observed_until is None:
        found = robust_end(parsed)
        if found is not None:
            parsed = {name: _drop_far_after(name, frame, found[1], report, strict)
                      for name, frame in parsed.items()}
            accounts = _drop_far_after("accounts", accounts, found[1], report, strict)
        observed_until = default_observed_until(parsed | {"accounts": accounts})
    else:
        _check_start(observed_until, parsed["subscriptions"])
    out["accounts"] = accounts
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
        if problem.action in ("dropped", "blanked"):
            log.warning("%s", problem.describe())
        elif problem.rows:
            log.info("%s", problem.describe())
    incomplete = frozenset(report.damaged_accounts.get("subscriptions", ()))
    return Tables(out, observed_until, dict(extras or {}), incomplete_accounts=incomplete), report


def _drop_far_after(name: str, frame: pd.DataFrame, limit: pd.Timestamp, report: ValidationReport,
                    strict: bool) -> pd.DataFrame:
    """Drop the rows dated far after the rest of the data (after ``limit``, from
    :func:`robust_end`), so that one mistyped year never becomes the data's end; an
    account's ``created_at`` that late is blanked (the account stays)."""
    hint = ("a mistyped year or a placeholder date? fix the rows, or set data.observed_until "
            "to where the data really ends")
    rule = f"are dated far after the rest of the data (after {limit:%Y-%m-%d})"
    check = _Checker(name, frame, report, strict)
    if name == "accounts":
        if "created_at" in frame:
            frame["created_at"] = check.blank("created_at", frame["created_at"].to_numpy(),
                                              _after(frame["created_at"], limit), rule, hint=hint)
        return check.result()
    column = TABLES[name].event_time
    if column and column in frame:
        check.flag(column, _after(frame[column], limit), rule, droppable=True, hint=hint)
    return check.result()


def _after(times: pd.Series, when: pd.Timestamp, *, inclusive: bool = False) -> np.ndarray:
    """``times > when`` (``>=`` when inclusive) for a ``datetime64[us]`` column, NaT
    False, in one integer pass (pandas would first convert the column to ``when``'s unit)."""
    ticks = times.to_numpy("datetime64[us]").view(np.int64)
    bound = pd.Timestamp(when).to_datetime64().astype("datetime64[us]").astype(np.int64)
    return ticks >= bound if inclusive else ticks > bound


def _apply_observed_until(name, frame, observed_until, report) -> pd.DataFrame:
    spec = TABLES[name]
    check = _Checker(name, frame, report, strict=False)
    if spec.event_time:
        late = _after(frame[spec.event_time], observed_until, inclusive=True)
        check.ignore(spec.event_time, late,
                     f"are dated at or after the end of the data ({observed_until.date()})")
    frame = check.result()
    for column in spec.timestamps:
        if column != spec.event_time and column in frame and column not in spec.required:
            frame[column] = frame[column].where(frame[column] < observed_until)
    return frame
