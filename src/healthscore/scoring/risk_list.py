"""Who is scored on an as-of date, the risk list, its driver text and its CSV.

An account is active at the as-of instant ``t`` (midnight of the as-of date) when one
of its subscriptions started strictly before ``t`` and has not ended before it
(``start_date < t <= end_date``), as in the timeline's horizon mode: a subscription
starting at ``t`` is invisible under the time rule, one ending at ``t`` is the renewal
being decided. An account created at or after ``t`` is not scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.scoring.drivers import Drivers
from healthscore.errors import DataError
from healthscore.features.catalogue import FeatureInfo
from healthscore.features.phrases import feature_info, render_phrase
from healthscore.scoring.risk_words import format_points
from healthscore.scoring.outputs import parse_as_of
from healthscore.data.schema import PARENT_ID, RISK_LIST_COLUMNS
from healthscore.data.tables import Tables
from healthscore.terminal import UNSAFE_CHARACTER, clean_text

#: A CSV cell starting with one of these is run as a formula by spreadsheets (a
#: leading tab or carriage return, OWASP's other two, is a space by then).
FORMULA_STARTS = ("=", "+", "-", "@")


def make_scoring_cutoffs(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rows to score: one per account active at ``as_of``.

    Returns
    -------
    DataFrame
        ``account_id``, ``cutoff_time`` (= ``as_of``, datetime64[us]),
        ``renewal_date`` (the latest end of the covering subscriptions: the next date
        the account can be lost, as in the timeline's horizon mode), ``term_days``
        (the length of the contract ending then) and ``mrr`` (the sum of the covering
        subscriptions' MRR; NaN without an ``mrr`` column), sorted by account.
    """
    t = pd.Timestamp(as_of).as_unit("us")
    subs = tables.subscriptions
    covering = subs.loc[(subs["start_date"] < t) & (subs["end_date"] >= t)]
    mrr = covering["mrr"] if "mrr" in covering else pd.Series(np.nan, index=covering.index)
    frame = pd.DataFrame({"account_id": covering["account_id"], "renewal_date": covering["end_date"],
                          "start": covering["start_date"], "mrr": mrr.astype(np.float64)})
    total = frame.groupby("account_id", sort=True)["mrr"].sum(min_count=1)
    last = (frame.sort_values(["account_id", "renewal_date", "start"], kind="stable")
            .drop_duplicates("account_id", keep="last").set_index("account_id").sort_index())
    rows = pd.DataFrame({
        "account_id": last.index.to_numpy(),
        "renewal_date": last["renewal_date"].to_numpy(),
        "term_days": ((last["renewal_date"] - last["start"]) / pd.Timedelta(days=1)).to_numpy(np.float64),
        "mrr": total.reindex(last.index).to_numpy(np.float64),
    })
    if len(rows) == 0:
        rows["account_id"] = rows["account_id"].astype(subs["account_id"].dtype)
    accounts = tables.accounts
    if "created_at" in accounts:
        created = rows["account_id"].map(accounts.set_index("account_id")["created_at"])
        rows = rows.loc[~(created >= t).fillna(False).to_numpy(dtype=bool)]
    rows.insert(1, "cutoff_time", pd.Series(t, index=rows.index).astype("datetime64[us]"))
    rows["renewal_date"] = rows["renewal_date"].astype("datetime64[us]")
    return rows.reset_index(drop=True)


def check_as_of(as_of: Any, observed_until: pd.Timestamp) -> pd.Timestamp:
    """``as_of`` as a midnight timestamp, not after the end of the data
    (``observed_until``, e.g. ``Tables.observed_until``).

    Raises
    ------
    DataError
        Not a date, or later than ``observed_until`` (features would miss days).
    """
    when = parse_as_of(as_of)
    if when != when.normalize():
        raise DataError(f"--as-of {as_of!r}: expected a date without a time of day")
    if when > observed_until:
        raise DataError(
            f"--as-of {when:%Y-%m-%d} is after the end of the data ({observed_until:%Y-%m-%d}); "
            "score a date the data covers, or set data.observed_until"
        )
    return when.as_unit("us")


# ------------------------------------------------------------------- driver text


class RowView(Mapping):
    """Read-only mapping of one row of column arrays (feature name -> value)."""

    __slots__ = ("_columns", "_i")

    def __init__(self, columns: Mapping[str, np.ndarray], i: int) -> None:
        self._columns = columns
        self._i = i

    def __getitem__(self, key: str) -> Any:
        value = self._columns[key][self._i]
        return None if value is pd.NA else value

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def feature_columns(values: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Feature values as one numpy array per column (numbers float, categories object)."""
    out = {}
    for name in names:
        series = values[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[name] = series.astype(object).where(series.notna(), None).to_numpy()
    return out


class PhraseBook:
    """Renders catalogue phrases (:func:`healthscore.features.phrases.render_phrase`);
    resolves each feature's entry once, not per row."""

    def __init__(self, catalogue: Mapping[str, Any], *, currency: str = "$") -> None:
        self._catalogue = catalogue
        self._currency = currency
        self._resolved: dict[str, FeatureInfo] = {}

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        """The phrase of feature ``name`` in ``row`` ("Active users ...: 4 of 25 seats")."""
        info = self._resolved.get(name)
        if info is None:
            info = self._resolved[name] = feature_info(name, self._catalogue.get(name))
        return render_phrase(info, row, currency=self._currency)


def render_drivers(
    drivers: Drivers,
    *,
    feature_names: Sequence[str],
    columns: Mapping[str, np.ndarray],
    catalogue: Mapping[str, Any],
    which: str = "hurting",
    currency: str = "$",
) -> list[str]:
    """One text per row: ``phrase (-12 pts); phrase (-5 pts)`` of its top drivers.

    Text is rendered for the chosen drivers only, never for every feature; amounts
    with ``currency`` (``report.currency``).
    """
    index = drivers.hurting if which == "hurting" else drivers.helping
    points = drivers.hurting_points if which == "hurting" else drivers.helping_points
    book = PhraseBook(catalogue, currency=currency)
    texts = []
    for i in range(index.shape[0]):
        row = RowView(columns, i)
        parts = []
        for j, p in zip(index[i], points[i]):
            if j < 0:
                break
            parts.append(f"{book.describe(feature_names[j], row)} ({format_points(p)})")
        texts.append("; ".join(parts))
    return texts


# --------------------------------------------------------------------- risk list


def build_risk_list(
    scores: pd.DataFrame,
    accounts: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    top_drivers: Sequence[str],
    model_version: str,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """The risk list: one row per scored account, sorted by ``arr_at_risk`` descending.

    Parameters
    ----------
    scores : DataFrame
        ``account_id``, ``mrr``, ``health_score``, ``band``, ``risk_proba``; optionally
        ``renewal_date`` (the next renewal), ``renewal_risk`` (the chance it is lost)
        and ``profile_score`` (the score of accounts with the same profile).
    accounts : DataFrame
        The accounts table (``name``, ``owner``, ``segment`` where present).
    previous : DataFrame or None
        The previous date's history rows (``account_id``, ``health_score``, ``band``).
    top_drivers : sequence of str
        Driver text per row of ``scores``.
    """
    out = pd.DataFrame({"account_id": scores["account_id"].to_numpy()})
    info = accounts.set_index("account_id")
    for column in ("name", "owner", "segment"):
        values = out["account_id"].map(info[column]) if column in info else None
        out[column] = pd.Series(values, dtype="string") if values is not None else pd.Series(
            pd.NA, index=out.index, dtype="string")
    out["arr"] = 12.0 * scores["mrr"].to_numpy(dtype=np.float64)
    out["health_score"] = scores["health_score"].to_numpy(dtype=np.int64)
    out["band"] = scores["band"].to_numpy()
    out["risk_proba"] = scores["risk_proba"].to_numpy(dtype=np.float64)
    out["arr_at_risk"] = out["arr"] * out["risk_proba"]
    nat = pd.Series(pd.NaT, index=scores.index, dtype="datetime64[us]")
    renewal = pd.to_datetime(scores.get("renewal_date", nat)).astype("datetime64[us]")
    out["renewal_date"] = renewal.to_numpy()
    out["days_to_renewal"] = ((renewal - pd.Timestamp(as_of)) / pd.Timedelta(days=1)).to_numpy(np.float64)
    nan = pd.Series(np.nan, index=scores.index)
    out["renewal_risk"] = scores.get("renewal_risk", nan).to_numpy(dtype=np.float64)
    out["profile_score"] = scores.get("profile_score", nan).to_numpy(dtype=np.float64)
    if previous is not None and len(previous):
        before = previous.set_index("account_id")
        prev_score = out["account_id"].map(before["health_score"]).astype("Int64")
        out["score_change"] = out["health_score"].astype("Int64") - prev_score
        out["previous_band"] = out["account_id"].map(before["band"]).astype("string")
    else:
        out["score_change"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        out["previous_band"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out["top_drivers"] = pd.Series(list(top_drivers), index=out.index, dtype="string")
    out["model_version"] = model_version
    out["as_of"] = pd.Series(pd.Timestamp(as_of), index=out.index).astype("datetime64[us]")
    columns = list(RISK_LIST_COLUMNS)
    if PARENT_ID in info:  # the parent of each account, last (absent: the list as before)
        out[PARENT_ID] = out["account_id"].map(info[PARENT_ID]).astype(info[PARENT_ID].dtype)
        columns.append(PARENT_ID)
    return sort_risk_list(out.loc[:, columns])


def with_stage(risk_list: pd.DataFrame, account_ids: Any, stages: Any) -> pd.DataFrame:
    """The risk list with a ``lifecycle_stage`` column (string) after ``segment``, the
    stage of each account of ``account_ids`` (same order as ``stages``)."""
    from healthscore.features.lifecycle import STAGE_COLUMN

    by_account = pd.Series(np.asarray(stages, dtype=object), index=pd.Index(np.asarray(account_ids)))
    out = risk_list.copy()
    at = list(out.columns).index("segment") + 1 if "segment" in out.columns else len(out.columns)
    out.insert(at, STAGE_COLUMN, out["account_id"].map(by_account).astype("string"))
    return out


def sort_risk_list(frame: pd.DataFrame) -> pd.DataFrame:
    """The risk list's order: most ARR at risk first, then risk, then account id."""
    return frame.sort_values(["arr_at_risk", "risk_proba", "account_id"], ascending=[False, False, True],
                             kind="stable", na_position="last").reset_index(drop=True)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells hold one line each and cannot run as spreadsheet formulas.

    In text cells, terminal escape sequences and control characters are removed and
    line breaks and tabs become spaces (:func:`healthscore.terminal.clean_text`), so
    that every reader, a line counter included, sees one row per account; then a cell
    starting with ``= + - @`` (after any spaces) gets a leading single quote (OWASP's
    advice for CSV injection). Numbers and dates are untouched.
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        text = series.astype("string")
        unsafe = text.str.contains(UNSAFE_CHARACTER.pattern, regex=True).fillna(False).to_numpy(dtype=bool)
        if unsafe.any():
            text = text.where(~unsafe, text.map(clean_text, na_action="ignore"))
        risky = text.str.lstrip(" ").str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            text = text.where(~risky, "'" + text)
        if unsafe.any() or risky.any():
            out[column] = text
    return out


def write_risk_csv(frame: pd.DataFrame, path: Path) -> None:
    """The risk list as CSV (UTF-8, dates as ``YYYY-MM-DD``, one line per account,
    formulas neutralised: :func:`neutralise_formulas`)."""
    neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
