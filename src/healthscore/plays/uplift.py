"""What a play is worth: churn of the accounts it treated against those it held out.

A play's accounts are assigned at random (a seeded hash, :mod:`healthscore.plays.assign`)
to the ``task`` arm or the ``holdout`` arm, so the difference in churn between the arms
is the play's effect, without the selection bias of comparing the accounts a play is
aimed at with the rest. Each (play, account) counts once, in the arm and on the date of
its first assignment (intent to treat: a task not done still counts as treated, and
the touches the ``interventions`` table records say how many were done).

An assignment's outcome has matured once the horizon after its date (plus the grace
period) lies inside the data: the account was lost within the horizon (1) or not (0),
read from the subscriptions by :func:`healthscore.dataset.labels.lost_dates`, the
function the labels use. Assignments not matured yet are counted, never guessed.

The difference in churn (held out minus treated: accounts saved per account treated)
comes with a Newcombe hybrid-score interval (the Wilson intervals of each arm,
combined; Newcombe 1998, method 10), which holds its level at the small counts and
rare events of a play far better than the normal approximation. A play "works" when
the whole interval is above zero; otherwise a power calculation says about how many
more accounts would show an effect the size of the one seen (or ``min_effect``, if
larger) with 80 % power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

from healthscore.data.tables import Tables
from healthscore.errors import DataError
from healthscore.plays.assign import ARM_HOLDOUT, ARM_TASK, ARMS

#: The columns :func:`measure_uplift` returns, in order.
UPLIFT_COLUMNS = (
    "play", "first_as_of", "last_as_of", "treated", "held_out", "pending", "treated_lost",
    "held_out_lost", "treated_churn", "held_out_churn", "saved_per_account", "low", "high",
    "treated_arr", "treated_arr_lost", "held_out_arr", "held_out_arr_lost", "arr_saved",
    "touched", "held_out_touched", "accounts_needed", "works", "verdict",
)
ASSIGNMENT_COLUMNS = ("play", "account_id", "as_of", "arm")


@dataclass(frozen=True)
class UpliftSettings:
    """How :func:`measure_uplift` reads the outcomes and words the verdict.

    ``horizon_days``: an account treated on T is lost when the data shows it lost
    before ``T + horizon_days``. ``grace_days``: a gap this short between contracts is a
    renewal (``labels.grace_days``). ``level``: of the interval (0.90). ``power``: of the
    accounts-needed calculation. ``min_effect``: the smallest saving (share of treated
    accounts) worth detecting.
    """

    horizon_days: int = 365
    grace_days: int = 0
    level: float = 0.90
    power: float = 0.80
    min_effect: float = 0.03




def first_assignments(tasks: pd.DataFrame) -> pd.DataFrame:
    """One row per (play, account): its first assignment (``as_of``, ``arm``) in the
    tasks tables, with ``arr`` when the tasks carry it.

    Raises
    ------
    DataError
        A column is missing, or an ``arm`` is neither ``task`` nor ``holdout``.
    """
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in tasks.columns]
    if missing:
        example = tasks.head(1).to_dict("records")
        raise DataError(f"tasks: column {missing[0]!r} is missing (uplift needs {', '.join(ASSIGNMENT_COLUMNS)}); "
                        f"example row: {example[0] if example else 'none'}")
    arm = tasks["arm"].astype("string")
    bad = ~arm.isin(ARMS).fillna(False).to_numpy(bool)
    if bad.any():
        raise DataError(f"tasks: column 'arm' holds {arm[bad].iloc[0]!r} in {int(bad.sum())} row(s), expected "
                        f"{' or '.join(ARMS)}; example row: {tasks.loc[bad].iloc[0].to_dict()}")
    first = tasks.sort_values(["as_of", "account_id"], kind="stable").drop_duplicates(["play", "account_id"])
    keep = [c for c in (*ASSIGNMENT_COLUMNS, "arr") if c in first.columns]
    out = first.loc[:, keep].reset_index(drop=True)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    out["arm"] = out["arm"].astype(str)
    return out


def attach_outcomes(assignments: pd.DataFrame, tables: Tables, *, settings: UpliftSettings) -> pd.DataFrame:
    """``assignments`` with ``matured`` (bool), ``lost`` (1/0, <NA> while pending) and
    ``lost_at``, from the subscriptions of ``tables`` (as known at the report date), and
    ``touched`` (bool, <NA> without an ``interventions`` table): a touch of the play
    recorded on or after the assignment, within the horizon. Accounts whose
    subscriptions lost a row in validation are pending: their outcome is unknown."""
    from healthscore.dataset.labels import lost_dates

    frame = assignments.reset_index(drop=True).copy()
    frame["account_id"] = frame["account_id"].astype(tables.accounts["account_id"].dtype)
    rows = pd.DataFrame({"account_id": frame["account_id"], "cutoff_time": frame["as_of"]})
    lost_at = lost_dates(rows, tables, grace_days=settings.grace_days).to_numpy("datetime64[us]")
    horizon = np.timedelta64(settings.horizon_days, "D")
    end = frame["as_of"].to_numpy("datetime64[us]") + horizon
    observed = np.datetime64(pd.Timestamp(tables.observed_until).as_unit("us"))
    matured = end + np.timedelta64(settings.grace_days, "D") <= observed
    matured &= ~frame["account_id"].isin(list(tables.incomplete_accounts)).to_numpy(bool)
    lost = ~np.isnat(lost_at) & (lost_at < end)
    frame["matured"] = matured
    frame["lost"] = pd.Series(lost.astype(int), dtype="Int64").mask(~matured)
    frame["lost_at"] = lost_at
    frame["touched"] = _touched(frame, tables, horizon)
    return frame


def _touched(frame: pd.DataFrame, tables: Tables, horizon: np.timedelta64) -> pd.Series:
    if "interventions" not in tables:
        return pd.Series(pd.NA, index=frame.index, dtype="boolean")
    touches = tables["interventions"].loc[:, ["account_id", "play", "date"]]
    touches = touches.assign(play=touches["play"].astype(str))
    joined = frame.reset_index().loc[:, ["index", "account_id", "play", "as_of"]].merge(
        touches, on=["account_id", "play"], how="inner")
    inside = (joined["date"] >= joined["as_of"]) & (joined["date"] < joined["as_of"] + horizon)
    hit = set(joined.loc[inside, "index"])
    return pd.Series([i in hit for i in frame.index], index=frame.index, dtype="boolean")


def wilson_interval(lost: int, n: int, *, level: float = 0.90) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``lost / n`` (NaN when ``n`` is 0)."""
    if n <= 0:
        return math.nan, math.nan
    ci = binomtest(int(lost), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def difference_interval(lost_a: int, n_a: int, lost_b: int, n_b: int, *,
                        level: float = 0.90) -> tuple[float, float, float]:
    """``p_a - p_b`` and its Newcombe hybrid-score interval (``p = lost / n``)."""
    if n_a <= 0 or n_b <= 0:
        return math.nan, math.nan, math.nan
    p_a, p_b = lost_a / n_a, lost_b / n_b
    l_a, u_a = wilson_interval(lost_a, n_a, level=level)
    l_b, u_b = wilson_interval(lost_b, n_b, level=level)
    d = p_a - p_b
    return d, d - math.sqrt((p_a - l_a) ** 2 + (u_b - p_b) ** 2), d + math.sqrt((u_a - p_a) ** 2 + (p_b - l_b) ** 2)


def accounts_needed(base_churn: float, effect: float, *, holdout_share: float, level: float = 0.90,
                    power: float = 0.80) -> int:
    """Accounts (both arms) for a two-sided test at ``1 - level`` to detect a fall in
    churn from ``base_churn`` (held out) by ``effect`` with ``power``, a share
    ``holdout_share`` of them held out (the normal approximation to two proportions)."""
    s = min(max(holdout_share, 1e-3), 0.999)
    p_h = min(max(base_churn, 1e-4), 1 - 1e-4)
    p_t = min(max(p_h - effect, 1e-4), 1 - 1e-4)
    d = abs(p_h - p_t)
    if d <= 0:
        return 0
    z_a, z_b = norm.ppf(0.5 + level / 2), norm.ppf(power)
    pooled = s * p_h + (1 - s) * p_t
    root = (z_a * math.sqrt(pooled * (1 - pooled) * (1 / s + 1 / (1 - s)))
            + z_b * math.sqrt(p_h * (1 - p_h) / s + p_t * (1 - p_t) / (1 - s)))
    return int(math.ceil(root * root / (d * d)))


def measure_uplift(outcomes: pd.DataFrame, *, settings: UpliftSettings = UpliftSettings()) -> pd.DataFrame:
    """Per play: the arms, their churn and ARR lost, the accounts saved per account
    treated with its interval, the ARR saved, and a verdict in words.

    Parameters
    ----------
    outcomes : DataFrame
        :func:`attach_outcomes`' frame: ``play``, ``account_id``, ``as_of``, ``arm``,
        ``matured``, ``lost``, optional ``arr`` (ARR at assignment) and ``touched``.

    Returns
    -------
    DataFrame
        Columns :data:`UPLIFT_COLUMNS`, one row per play (in order of first assignment).
        ``saved_per_account`` = held-out churn minus treated churn, in [-1, 1]; ``low``,
        ``high``: its interval at ``settings.level``; ``arr_saved`` = (share of ARR lost
        held out - share treated) x ARR treated; ``works``: ``low > 0``.
    """
    rows = []
    frame = outcomes.copy()
    if "arr" not in frame:
        frame["arr"] = np.nan
    if "touched" not in frame:
        frame["touched"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    for play, group in frame.groupby("play", sort=False):
        done = group.loc[group["matured"].to_numpy(bool)]
        arms = {arm: done.loc[done["arm"] == arm] for arm in ARMS}
        t, h = arms[ARM_TASK], arms[ARM_HOLDOUT]
        n_t, n_h = len(t), len(h)
        x_t, x_h = int(t["lost"].sum()), int(h["lost"].sum())
        d, low, high = difference_interval(x_h, n_h, x_t, n_t, level=settings.level)
        arr = {arm: float(a["arr"].fillna(0).sum()) for arm, a in arms.items()}
        arr_lost = {arm: float((a["arr"].fillna(0) * a["lost"].astype(float)).sum()) for arm, a in arms.items()}
        share_lost = {arm: arr_lost[arm] / arr[arm] if arr[arm] > 0 else math.nan for arm in ARMS}
        arr_saved = (share_lost[ARM_HOLDOUT] - share_lost[ARM_TASK]) * arr[ARM_TASK]
        touched, held_touched = t["touched"], h["touched"]
        works = bool(low > 0) if not math.isnan(low) else False
        needed = 0
        if not works:
            base = x_h / n_h if n_h else (x_t / n_t if n_t else math.nan)
            effect = max(d if not math.isnan(d) else 0.0, settings.min_effect)
            share = n_h / (n_h + n_t) if n_h + n_t else math.nan
            if math.isnan(base) or math.isnan(share) or n_h == 0:
                needed = -1  # no hold-out: no number of accounts shows anything
            else:
                total = accounts_needed(base, effect, holdout_share=share, level=settings.level,
                                        power=settings.power)
                needed = max(0, total - (n_h + n_t))
        row = {
            "play": str(play), "first_as_of": group["as_of"].min(), "last_as_of": group["as_of"].max(),
            "treated": n_t, "held_out": n_h, "pending": int((~group["matured"].to_numpy(bool)).sum()),
            "treated_lost": x_t, "held_out_lost": x_h,
            "treated_churn": x_t / n_t if n_t else math.nan, "held_out_churn": x_h / n_h if n_h else math.nan,
            "saved_per_account": d, "low": low, "high": high,
            "treated_arr": arr[ARM_TASK], "treated_arr_lost": arr_lost[ARM_TASK],
            "held_out_arr": arr[ARM_HOLDOUT], "held_out_arr_lost": arr_lost[ARM_HOLDOUT],
            "arr_saved": arr_saved,
            "touched": _count(touched), "held_out_touched": _count(held_touched),
            "accounts_needed": needed, "works": works,
        }
        row["verdict"] = verdict(row, level=settings.level, min_effect=settings.min_effect)
        rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in UPLIFT_COLUMNS])
    return out.astype({"touched": "Int64", "held_out_touched": "Int64"})


def _count(flags: pd.Series):
    return pd.NA if flags.isna().all() and len(flags) else int(flags.fillna(False).sum())


def verdict(row, *, level: float = 0.90, min_effect: float = 0.03) -> str:
    """The play's effect in a sentence a CS leader can repeat (one row of
    :func:`measure_uplift`)."""
    pct = f"{level * 100:.0f} %"
    if row["treated"] == 0 or row["held_out"] == 0:
        missing = "no hold-out" if row["held_out"] == 0 else "no treated account"
        pending = f" ({row['pending']:,} pending)" if row["pending"] else ""
        return f"not measurable: {missing} with a matured outcome yet{pending}"
    per100 = [row["saved_per_account"] * 100, row["low"] * 100, row["high"] * 100]
    shown = [_per100(v) for v in per100]
    if row["works"]:
        return (f"saves about {shown[0]} in 100 accounts it touches, {pct} interval "
                f"{shown[1]}-{shown[2]}")
    if row["high"] < 0:
        return (f"loses about {_per100(-per100[0])} more in 100 accounts it touches than it holds out, "
                f"{pct} interval {_per100(-per100[2])}-{_per100(-per100[1])}: review the play")
    size = max(row["saved_per_account"], min_effect) * 100
    return (f"no measurable effect yet ({shown[0]} in 100, {pct} interval {shown[1]} to {shown[2]}), "
            f"about {row['accounts_needed']:,} more accounts needed to see a saving of {_per100(size)} in 100")


def _per100(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 2 or value == 0 else f"{value:.1f}"
