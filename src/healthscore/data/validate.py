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
:attr:`healthscore.data.tables.Tables.incomplete_accounts`: its outcomes are unknown, so
:mod:`healthscore.dataset.labels` censors them rather than read a loss into the gap.

The data's end in time (``observed_until``, the robust end, rows far after it) is
:mod:`healthscore.data.end`; the problems, the report and the checker that counts
drops and blanks are :mod:`healthscore.data.problems`.
"""

from __future__ import annotations

import logging
import re
from typing import Mapping

import numpy as np
import pandas as pd

from healthscore.data.end import (apply_observed_until, check_start, default_observed_until,
                                  drop_far_after, robust_end)
from healthscore.errors import SchemaError, ValidationError
from healthscore.data.parents import check_parents
from healthscore.data.problems import Checker, Problem, ValidationReport
from healthscore.data.schema import REQUIRED_TABLES, TABLES, TableSpec
from healthscore.data.tables import Tables

log = logging.getLogger(__name__)

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_DAY_FIRST_OR_MONTH_FIRST = re.compile(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")

#: The largest magnitude a numeric cell may hold: sums of millions of such values stay
#: far from overflow; anything larger is a unit or export error.
MAX_MAGNITUDE = 1e15

ISO_HINT = ("expected ISO 8601 timestamps such as 2024-01-31 or 2024-01-31T09:30:00Z")


def parse_times(series: pd.Series, table: str, column: str) -> tuple[pd.Series, np.ndarray]:
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
    check = Checker(name, frame, report, strict)

    for column in spec.required:
        if column not in spec.timestamps:
            check.flag(column, frame[column].isna(), "have no value in a required column",
                       droppable=name != "accounts")
    for column in spec.timestamps:
        if column not in frame:
            continue
        parsed, bad = parse_times(frame[column], name, column)
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
        if frame[column].dtype == np.float64:  # already numbers: no copy, nothing to flag
            values = frame[column]
        else:
            values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
            bad = frame[column].notna().to_numpy() & values.isna().to_numpy()
            check.flag(column, bad, "are not numbers", droppable=False, raw=raw)
        frame[column] = _check_magnitudes(check, spec, column, values, raw)
    for column in spec.non_negative:
        if column in frame:
            check.flag(column, np.less(frame[column].to_numpy(), 0), "are negative", droppable=False)
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
            frame[column] = _as_text(frame[column])
    frame = check.result()
    return _check_keys(name, frame, spec, report, strict)


def _as_text(series: pd.Series) -> pd.Series:
    """``series`` as ``str`` (missing stays missing). A categorical of text converts its
    few categories and takes them by code (Arrow), not one Python ``str()`` per row:
    the same values and dtype, 10-20x faster on a big events table."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) and (
            dtype.categories.dtype == object or isinstance(dtype.categories.dtype, pd.StringDtype)):
        names = pd.array(dtype.categories.astype("str"))
        if all(isinstance(v, str) for v in dtype.categories):  # str() of each is itself
            return pd.Series(names.take(series.cat.codes.to_numpy(), allow_fill=True),
                             index=series.index, name=series.name)
    return series.astype("str").where(series.notna())


def _check_magnitudes(check: Checker, spec: TableSpec, column: str, values: pd.Series,
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
    check = Checker(name, frame, report, strict)
    check.flag(keys[0], exact, "are exact duplicates of another row", droppable=True, damage=False)
    frame = check.result()
    clash = frame.duplicated(subset=keys, keep=False).to_numpy()
    check = Checker(name, frame, report, strict)
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


def _interventions_until(frame: pd.DataFrame, observed_until: pd.Timestamp,
                         report: ValidationReport) -> pd.DataFrame:
    """Touches dated at or after the end of the data are ignored (counted), like the
    dated rows of every other table; the table has no ``event_time`` so that the data's
    start and the time rule never depend on when customer success acted."""
    check = Checker("interventions", frame, report, strict=False)
    late = (frame["date"] >= observed_until).fillna(False).to_numpy(bool)
    check.ignore("date", late, f"are dated at or after the end of the data ({observed_until.date()})")
    return check.result()


def _contacts_until(frame: pd.DataFrame, observed_until: pd.Timestamp,
                    report: ValidationReport) -> pd.DataFrame:
    """Contacts: ``role`` in its canonical form (lower case, ``_`` for spaces and
    hyphens, so ``Executive Sponsor`` is ``executive_sponsor``); a contact who starts at
    or after the end of the data is ignored (counted), as a dated row of any other
    table would be (a ``left_at`` at or after it is blanked next, as any later fact)."""
    role = frame["role"].astype("str").str.strip().str.lower().str.replace(r"[\s-]+", "_", regex=True)
    frame = frame.assign(role=role.where(frame["role"].notna()))
    if "started_at" not in frame:
        return frame
    check = Checker("contacts", frame, report, strict=False)
    late = (frame["started_at"] >= observed_until).fillna(False).to_numpy(bool)
    check.ignore("started_at", late, f"start at or after the end of the data ({observed_until.date()})")
    return check.result()


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
    accounts = check_parents(_canonical_table("accounts", frames["accounts"], TABLES["accounts"], report,
                                              strict, None))
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
            parsed = {name: drop_far_after(name, frame, found[1], report, strict)
                      for name, frame in parsed.items()}
            accounts = drop_far_after("accounts", accounts, found[1], report, strict)
        observed_until = default_observed_until(parsed | {"accounts": accounts})
    else:
        check_start(observed_until, parsed["subscriptions"])
    out["accounts"] = accounts
    for name, frame in parsed.items():
        if name == "contacts":  # before apply_observed_until blanks a late start
            frame = _contacts_until(frame, observed_until, report)
        frame = apply_observed_until(name, frame, observed_until, report)
        if name == "interventions":
            frame = _interventions_until(frame, observed_until, report)
        out[name] = _derive_subscription_ids(frame) if name == "subscriptions" else frame
    if "created_at" in accounts:
        late = (accounts["created_at"] >= observed_until).to_numpy()
        check = Checker("accounts", accounts, report, strict)
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
