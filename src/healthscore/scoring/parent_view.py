"""Parent accounts at scoring and in ``healthscore explain``.

:func:`attach_parents` is the one call the score path makes: when the risk list carries
``parent_account_id``, it rolls the members up (:func:`healthscore.scoring.parents.roll_up_parents`)
into ``outputs.parents`` and ``outputs.parent_drivers``, and alerts the parents
(``outputs.parent_alerts``: :mod:`healthscore.scoring.parent_alerts`), written with the
date (``parents/``, ``parent_drivers/``, ``parent_alerts/<as_of>.parquet``). Without the
column nothing is added: every output is as before.

:func:`read_parent` and :func:`render_parent` read a parent back from the stored
outputs and say it in the account view's words (``healthscore explain PARENT_ID``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from healthscore.data.schema import PARENT_ID
from healthscore.features.catalogue import FAMILIES
from healthscore.features.phrases import is_missing, money
from healthscore.scoring.account import parse_account_id
from healthscore.scoring.arr_range import describe_range
from healthscore.scoring.history import read_parent_history, trend_line
from healthscore.scoring.outputs import OutputLayout, as_of_text
from healthscore.scoring.parents import has_parents, parent_groups, roll_up_parents
from healthscore.scoring.risk_words import driver_lines, family_lines, horizon_words
from healthscore.scoring.wording import percent


def attach_parents(outputs: Any, *, exported: Any, tables: Any, layout: OutputLayout, params: Any) -> None:
    """Set ``outputs.parents`` and ``outputs.parent_drivers`` (in place) when the risk
    list has parents, and record their count under ``parents`` in ``outputs.run``."""
    if not has_parents(outputs.risk_list):
        return
    from healthscore.scoring.engine import level_sd_of

    risk = outputs.risk_list
    members = risk.loc[parent_groups(risk).notna(), "account_id"]
    points = outputs.read_points(account_ids=members)
    earlier = layout.previous_date(outputs.as_of)
    previous = layout.read_table("parents", earlier) if earlier is not None else None
    settings = params.parents
    outputs.parents, outputs.parent_drivers = roll_up_parents(
        risk, points, scale=exported.scale, catalogue=outputs.run.get("catalogue") or {},
        profile=params.score.profile_features, top_drivers=settings.top_drivers,
        children_named=settings.children_named, level=settings.level, logit_sd=level_sd_of(exported),
        accounts=None if tables is None else tables.accounts, previous=previous,
        model_version=str(outputs.run.get("model_version", "")), as_of=outputs.as_of,
        currency=params.report.currency)
    from healthscore.scoring.parent_alerts import make_parent_alerts

    told = layout.read_table("parent_alerts", earlier) if earlier is not None else None
    outputs.parent_alerts = make_parent_alerts(outputs.parents, previous, risk, outputs.alerts, params.alerts,
                                               previous_alerts=told)
    outputs.run = {**outputs.run, "parents": {
        "parents": int(len(outputs.parents)), "accounts": int(len(members)), "level": float(settings.level),
        "alerts": int(len(outputs.parent_alerts))}}


@dataclass
class ParentExplanation:
    """A parent on one date: its ``parents`` row, its drivers (``parent_drivers`` rows,
    hurting then helping) and its accounts (risk-list rows, most ARR at risk first)."""

    parent_id: Any
    as_of: pd.Timestamp
    row: dict[str, Any]
    hurting: list[dict[str, Any]] = field(default_factory=list)
    helping: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    horizon_days: int | None = None
    level: float = 0.8
    previous_as_of: pd.Timestamp | None = None
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)  # as_of, health_score per date


def read_parent(layout: OutputLayout, parent_id: Any, as_of: Any = None) -> ParentExplanation | None:
    """The parent ``parent_id`` on ``as_of`` (default: the latest date scored); None
    when that date has no parent of that id (not a parent, or no parents at all)."""
    when = layout.scored_date(as_of)
    parents = layout.read_table("parents", when)
    if parents.empty:
        return None
    key = parse_account_id(parent_id, parents[PARENT_ID].dtype)
    match = parents.loc[parents[PARENT_ID] == key] if key is not None else parents.iloc[:0]
    if match.empty:
        return None
    run = layout.read_run(when)
    horizon = run.get("horizon") if isinstance(run.get("horizon"), dict) else {}
    drivers = layout.read_table("parent_drivers", when)
    mine = drivers.loc[drivers[PARENT_ID] == key].sort_values(["kind", "rank"]) if not drivers.empty else drivers
    risk = layout.read_table("risk_list", when)
    members = risk.loc[parent_groups(risk) == key] if PARENT_ID in risk else risk.iloc[:0]
    members = members.sort_values(["arr_at_risk", "risk_proba"], ascending=False, kind="stable")
    return ParentExplanation(
        parent_id=key, as_of=when, row=match.iloc[0].to_dict(),
        hurting=mine.loc[mine["kind"] == "hurting"].to_dict("records") if len(mine) else [],
        helping=mine.loc[mine["kind"] == "helping"].to_dict("records") if len(mine) else [],
        members=members.to_dict("records"),
        horizon_days=None if horizon.get("horizon_days") is None else int(horizon["horizon_days"]),
        level=float((run.get("parents") or {}).get("level", 0.8)),
        previous_as_of=layout.previous_date(when),
        trend=read_parent_history(layout, parent_ids=[key], until=when))


def parent_title(row: dict[str, Any], parent_id: Any) -> str:
    """``Acme Holdings (parent 12)``, or ``Parent 12`` for a parent that is only a group id."""
    name = row.get("name")
    return f"{name} (parent {parent_id})" if not is_missing(name) else f"Parent {parent_id}"


def render_parent(info: ParentExplanation, *, currency: str = "$", outcome: str = "are lost") -> str:
    """Terminal text of a :class:`ParentExplanation`."""
    r = info.row
    horizon = horizon_words(info.horizon_days)
    within = f" within {horizon}" if horizon else ""
    facts = [f"{k}: {r[k]}" for k in ("owner", "segment") if not is_missing(r.get(k))]
    facts += [f"{int(r['accounts'])} account{'s' if int(r['accounts']) != 1 else ''}",
              f"ARR {money(r['arr'], symbol=currency)}"]
    lines = [parent_title(r, info.parent_id) + " - " + ", ".join(facts),
             f"As of {as_of_text(info.as_of)}: parent health score {int(r['health_score'])} / 100, "
             f"{r['band']} (model {r['model_version']})"]
    lines.append(f"ARR-weighted risk{within}: {percent(r['arr_weighted_risk'])} of its ARR is expected to be "
                 f"lost; ARR at risk " + describe_range(r["arr_at_risk"], r["arr_lost_low"], r["arr_lost_high"],
                                                        level=info.level, currency=currency) + ".")
    lines.append("The parent's score is the score of one account with that risk, on the same scale as "
                 "its accounts' scores; it is not the average of their scores.")
    low, high = int(r["accounts_lost_low"]), int(r["accounts_lost_high"])
    span = f"{low}" if low == high else f"{low}-{high}"
    lines.append(f"Chance that at least one of its accounts is {outcome.removeprefix('are ')}{within}: "
                 f"{percent(r['any_lost_proba'])}; accounts expected lost {r['expected_accounts_lost']:.1f} "
                 f"({percent(info.level)} range {span}); {int(r['red_accounts'])} in the red band.")
    if not is_missing(r.get("score_change")) and info.previous_as_of is not None:
        lines.append(f"Since {as_of_text(info.previous_as_of)}: {int(r['score_change']):+d} points")
    if trend_line(info.trend):
        lines.append(trend_line(info.trend))
    lines.append("")
    lines.append("Its accounts' behaviour, each account's points weighted by its share of the parent's ARR:")
    lines += driver_lines((("What lowers the parent's health", info.hurting), ("What raises it", info.helping)),
                          lambda d: f"{d['label']} ({d['family']})" + (f": {d['accounts']}" if d.get("accounts") else ""))
    lines.append("")
    lines.append("Points lost by family, ARR-weighted:")
    lines += family_lines((f, r[f"points_{f}"]) for f in FAMILIES if f"points_{f}" in r)
    lines.append("")
    lines.append("Its accounts, most ARR at risk first:")
    for m in info.members:
        name = m.get("name")
        who = f"{name} (account {m['account_id']})" if not is_missing(name) else f"Account {m['account_id']}"
        own = " [the parent's own account]" if m["account_id"] == info.parent_id else ""
        lines.append(f"  {who}{own}: score {int(m['health_score'])} {m['band']}, risk {percent(m['risk_proba'])}, "
                     f"ARR {money(m['arr'], symbol=currency)}, at risk {money(m['arr_at_risk'], symbol=currency)}")
    return "\n".join(lines)
