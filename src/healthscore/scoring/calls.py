"""The call list: per owner, the few accounts to contact this week, and why.

Built from one scored date's outputs: the risk list, its alerts and its why-it-changed
lines (and, for accounts without an alert, their stored points). An account is a
candidate when it alerted (:mod:`healthscore.scoring.alerts`), or when it is red and
renews within ``params.calls.renewal_days``. Its urgency counts what makes it pressing
now: newly red, renewal soon, a sharp behavioural drop (the ``score_drop`` alert).
Accounts are ranked per owner by ARR at stake times ``1 + urgency`` (the most money
at stake first, an urgent one before a calm one of the same size), and the first
``per_owner`` are kept.

Each call carries one reason in plain words (the alert's leading reason, else the
account's costliest behavioural driver, both as the explanation words them) and one
next step (:func:`healthscore.scoring.actions.step_for` on that reason's signal).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.config import CallParams
from healthscore.data.schema import POINTS_PREFIX
from healthscore.scoring.drivers import catalogue_entry, profile_mask
from healthscore.features.phrases import money
from healthscore.scoring.actions import step_for
from healthscore.scoring.changes import describe_change, reason_labels
from healthscore.scoring.wording import alert_label, count_words, in_days

#: Columns of the call list, in order.
CALL_COLUMNS = (
    "owner", "rank", "account_id", "name", "arr", "arr_at_risk", "health_score", "band",
    "days_to_renewal", "urgency", "why_now", "reason", "next_step", "priority",
)

#: The step when no rule matches the reason's signal.
DEFAULT_STEP = "Book a health check-up call."


def make_calls(
    risk_list: pd.DataFrame,
    alerts: pd.DataFrame,
    changes: pd.DataFrame,
    *,
    params: CallParams,
    catalogue: Mapping[str, Any],
    points: pd.DataFrame | None = None,
    profile: Sequence[str] = (),
    step_overrides: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The call list of one scored date.

    Parameters
    ----------
    risk_list : DataFrame
        The date's risk list (``account_id, name, owner, arr, arr_at_risk, health_score,
        band, days_to_renewal, top_drivers``).
    alerts : DataFrame
        The date's alerts (:data:`~healthscore.data.schema.ALERT_COLUMNS`); may be empty.
    changes : DataFrame
        The date's why-it-changed lines (``account_id, label, feature, family``); may be empty.
    params : CallParams
    catalogue : mapping
        Feature catalogue (the run record's), for a driver's family.
    points : DataFrame, optional
        Wide points rows of (at least) the candidates without an alert, for their
        costliest behavioural driver's signal; without it their step is the default.
    profile : sequence of str
        ``score.profile_features``: never a reason.
    step_overrides : mapping, optional
        ``params.report.next_steps``.

    Returns
    -------
    DataFrame
        Columns :data:`CALL_COLUMNS`, per owner (sorted by name) ranked 1..``per_owner``.
    """
    alerted = alerts.drop_duplicates("account_id").set_index("account_id") if len(alerts) else None
    kind = (risk_list["account_id"].map(alerted["kind"]) if alerted is not None
            else pd.Series(pd.NA, index=risk_list.index)).astype("string")
    alert_reason = (risk_list["account_id"].map(alerted["reason"]) if alerted is not None
                    else pd.Series(pd.NA, index=risk_list.index)).astype("string")
    days = pd.to_numeric(risk_list["days_to_renewal"], errors="coerce")
    soon = (days <= params.renewal_days).fillna(False).to_numpy(dtype=bool)
    red = (risk_list["band"].astype("string") == "red").fillna(False).to_numpy(dtype=bool)
    has_alert = kind.notna().to_numpy(dtype=bool)
    keep = has_alert | (red & soon)
    frame = risk_list.loc[keep].copy()
    kinds = kind[keep].fillna("").to_numpy(dtype=object)
    new_red = np.array(["new_red" in k for k in kinds], dtype=bool)
    sharp = np.array(["score_drop" in k for k in kinds], dtype=bool)
    soon = soon[keep]
    urgency = new_red.astype(int) + soon.astype(int) + sharp.astype(int)
    at_stake = pd.to_numeric(frame["arr_at_risk"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    frame["urgency"] = urgency
    frame["priority"] = at_stake * (1 + urgency)
    frame["why_now"] = [_why_now(k, d, s) for k, d, s in zip(kinds, days[keep], soon)]
    frame["alert_reason"] = alert_reason[keep].to_numpy(dtype=object)
    frame["owner"] = frame["owner"].astype("string").fillna("(no owner)")
    frame = frame.sort_values(["owner", "priority", "account_id"], ascending=[True, False, True],
                              kind="stable")
    frame["rank"] = frame.groupby("owner", sort=False).cumcount() + 1
    frame = frame.loc[frame["rank"] <= params.per_owner].copy()

    # the reasons of the calls kept only (the priority does not read them)
    lead = [_lead(a, r, changes, points, catalogue, profile)
            for a, r in zip(frame["account_id"], frame["alert_reason"])]
    drivers = frame["top_drivers"].astype("string").fillna("").to_numpy(dtype=object)
    frame["reason"] = [text or (d.split("; ")[0] if d else "") for (text, _, _), d in zip(lead, drivers)]
    frame["next_step"] = [
        (step_for(f, fam, overrides=step_overrides) if f else None) or DEFAULT_STEP
        for _, f, fam in lead]
    for column in ("reason", "next_step", "why_now", "owner"):
        frame[column] = frame[column].astype("string")
    return frame.loc[:, list(CALL_COLUMNS)].reset_index(drop=True)


def _why_now(kind: str, days: Any, soon: bool) -> str:
    words = [alert_label(k).lower() for k in ("new_red", "score_drop", "band_drop") if k in kind]
    if "new_red" in kind and "band_drop" in kind:
        words.remove(alert_label("band_drop").lower())  # newly red says it
    if soon:
        words.append(f"renews {in_days(days)}")
    text = ", ".join(words)
    return text[:1].upper() + text[1:]


def _lead(account: Any, reason: Any, changes: pd.DataFrame, points: pd.DataFrame | None,
          catalogue: Mapping[str, Any], profile: Sequence[str]) -> tuple[str, str | None, str | None]:
    """(reason text, its feature, its family): the alert's leading reason, else the
    costliest behavioural driver of the stored points (text: the risk list's)."""
    labels = reason_labels(reason)
    if labels:
        text = str(reason).split("; ")[0]
        if len(changes):
            mine = changes.loc[changes["account_id"] == account]
            line = mine.loc[mine["label"] == labels[0]]
            if line.empty and "points_change" in mine:  # a line not worded "label: ..." (first seen)
                said = [describe_change(r) == text for r in mine.to_dict("records")]
                line = mine.loc[np.array(said, dtype=bool)]
            if len(line):
                return text, str(line["feature"].iloc[0]), str(line["family"].iloc[0])
        return text, None, None
    if points is None or points.empty:
        return "", None, None
    row = points.loc[points["account_id"] == account]
    if row.empty:
        return "", None, None
    names = [c[len(POINTS_PREFIX):] for c in row.columns if c.startswith(POINTS_PREFIX)]
    names = [n for n, p in zip(names, profile_mask(names, list(profile))) if not p]
    if not names:
        return "", None, None
    values = row[[POINTS_PREFIX + n for n in names]].to_numpy(np.float64)[0]
    worst = int(np.nanargmin(values)) if np.isfinite(values).any() else -1
    if worst < 0 or values[worst] >= 0:
        return "", None, None
    feature = names[worst]
    return "", feature, str(catalogue_entry(catalogue, feature)["family"])


def needing_points(risk_list: pd.DataFrame, alerts: pd.DataFrame) -> pd.Series:
    """The candidates whose reason comes from their stored points: red accounts
    without an alert (their costliest behavioural driver)."""
    alerted = alerts["account_id"] if len(alerts) else pd.Series([], dtype=risk_list["account_id"].dtype)
    return risk_list.loc[~risk_list["account_id"].isin(alerted)
                         & (risk_list["band"].astype("string") == "red").fillna(False), "account_id"]


#: The risk list's columns :func:`make_calls` reads.
RISK_COLUMNS = ("account_id", "name", "owner", "arr", "arr_at_risk", "health_score", "band",
                "days_to_renewal", "top_drivers")


def calls_of(outputs: Any, params: Any, *, members: pd.DataFrame | None = None) -> pd.DataFrame:
    """The call list of one date's outputs (a :class:`~healthscore.scoring.outputs.DateOutputs`,
    in memory or read back), with ``params``'s ``calls``, ``score``, ``report`` (and
    ``parents``) sections.

    Reads only what a call can show: the risk list's candidates (alerted or red) and
    their :data:`RISK_COLUMNS`, the change lines of the alerted accounts, and the points
    columns of the red accounts without an alert (a bucketed run's are spooled on disk).
    With parents (``outputs.parents``), their lines join the list
    (:func:`with_parent_lines`; ``members``: the whole risk list their accounts are read
    from, when ``outputs.risk_list`` is one owner's).
    """
    risk_list, alerts = outputs.risk_list, outputs.alerts
    alerted = alerts["account_id"] if len(alerts) else pd.Series([], dtype=risk_list["account_id"].dtype)
    red = (risk_list["band"].astype("string") == "red").fillna(False).to_numpy(dtype=bool)
    candidates = risk_list.loc[red | risk_list["account_id"].isin(alerted).to_numpy(),
                               [c for c in RISK_COLUMNS if c in risk_list.columns]]
    catalogue = dict(outputs.run).get("catalogue") or {}
    points = outputs.read_points(account_ids=needing_points(candidates, alerts),
                                 columns=[POINTS_PREFIX + n for n in catalogue])
    changes = outputs.read_changes(account_ids=alerted.unique())
    calls = make_calls(candidates, alerts, changes, params=params.calls, catalogue=catalogue,
                       points=points, profile=params.score.profile_features,
                       step_overrides=params.report.next_steps)
    if getattr(outputs, "parents", None) is None:
        return calls  # no parent_account_id: the list as it always was
    return with_parent_lines(calls, outputs, params,
                             members=outputs.risk_list if members is None else members)


def with_parent_lines(calls: pd.DataFrame, outputs: Any, params: Any, *, members: pd.DataFrame) -> pd.DataFrame:
    """``calls`` with one line per parent to call, ranked with its owner's accounts.

    A parent is a candidate as an account is (:func:`make_calls` on its row of
    :func:`~healthscore.scoring.parent_alerts.parent_accounts`: a parent alert, or red
    with one of its accounts renewing within ``calls.renewal_days``); its reason is its
    alert's (the accounts that fell) or its costliest driver, its next step that of its
    costliest driver's signal. Every line gets ``line`` (``account`` or ``parent``) and
    ``children`` (a parent's accounts, most ARR at risk first, at most
    ``parents.children_named``: :func:`~healthscore.scoring.parent_alerts.children_text`).
    """
    from healthscore.data.schema import PARENT_ID
    from healthscore.scoring.parent_alerts import children_text, parent_accounts

    rows = parent_accounts(outputs.parents, members)
    owners = set(calls["owner"].astype(str)) | set(outputs.risk_list["owner"].astype("string").fillna("(no owner)"))
    rows = rows.loc[rows["owner"].astype("string").fillna("(no owner)").isin(owners).to_numpy(dtype=bool)]
    found = getattr(outputs, "parent_alerts", None)
    alerts = (pd.DataFrame() if found is None or found.empty
              else found.rename(columns={PARENT_ID: "account_id"}))
    lines = make_calls(rows, alerts, pd.DataFrame(), params=params.calls, catalogue={},
                       step_overrides=params.report.next_steps)
    drivers = getattr(outputs, "parent_drivers", None)
    if drivers is not None and len(drivers) and len(lines):
        costliest = drivers.loc[(drivers["kind"] == "hurting") & (drivers["rank"] == 1)] \
            .drop_duplicates(PARENT_ID).set_index(PARENT_ID)
        lines["next_step"] = pd.array([
            (step_for(costliest.at[p, "feature"], costliest.at[p, "family"], overrides=params.report.next_steps)
             if p in costliest.index else None) or step for p, step in zip(lines["account_id"], lines["next_step"])],
            dtype="string")
    named = children_text(members, named=params.parents.children_named)
    lines = lines.assign(line="parent", children=lines["account_id"].map(named).astype("string").to_numpy())
    merged = pd.concat([calls.assign(line="account", children=""), lines], ignore_index=True)
    merged = merged.sort_values(["owner", "priority", "line", "account_id"], ascending=[True, False, False, True],
                                kind="stable")
    merged["rank"] = merged.groupby("owner", sort=False).cumcount() + 1
    merged = merged.loc[merged["rank"] <= params.calls.per_owner]
    for column in ("line", "children"):
        merged[column] = merged[column].astype("string")
    return merged.reset_index(drop=True)


def render_calls(calls: pd.DataFrame, *, as_of: Any, currency: str = "$") -> str:
    """The call list as text, one block per owner (``healthscore calls``)."""
    if calls.empty:
        return f"No calls for the week of {pd.Timestamp(as_of):%Y-%m-%d}: no alert, no red renewal soon."
    out = [f"Calls for the week of {pd.Timestamp(as_of):%Y-%m-%d} ({count_words(len(calls), 'account')}, "
           f"{count_words(calls['owner'].nunique(), 'owner')})"]
    for owner, group in calls.groupby("owner", sort=False):
        out.append("")
        out.append(f"{owner}: {len(group)} to contact")
        for row in group.to_dict("records"):
            parent = row.get("line") == "parent"  # its name says so: "Acme (parent)"
            out.append(f"  {row['rank']}. {row['name']} (#{row['account_id']}): "
                       f"{money(row['arr_at_risk'], symbol=currency, compact=True)} ARR at stake "
                       f"of {money(row['arr'], symbol=currency, compact=True)}, "
                       f"score {row['health_score']} ({row['band']})"
                       + (f"; {row['why_now']}" if row["why_now"] else ""))
            if parent and not pd.isna(row.get("children")) and row.get("children"):
                out.append(f"     accounts: {row['children']}")
            if row["reason"]:
                out.append(f"     why: {row['reason']}")
            out.append(f"     next: {row['next_step']}")
    return "\n".join(out)
