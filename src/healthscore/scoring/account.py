"""One account's explanation, read back from the stored scoring outputs.

:func:`read_account` gathers what ``healthscore explain`` and the report show for one
account on one as-of date: score, band, risk within the run's horizon, the next
renewal, the starting point (the score of accounts like this one: base plus the
profile facts' points), behavioural drivers with phrases and points, their points by
family and the lines of why it changed. :func:`render_account` turns it into terminal
text, in the report's words (:mod:`healthscore.scoring.profile`,
:func:`healthscore.scoring.risk_words.describe_risk`). Nothing is recomputed from the model: the
stored points are the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from healthscore.scoring.drivers import catalogue_entry, family_hurting_points, find_drivers, profile_mask
from healthscore.errors import DataError
from healthscore.features.catalogue import FAMILIES
from healthscore.features.phrases import feature_info, is_missing, money
from healthscore.scoring.profile import (
    STARTING_POINT, contract_days_of, holds_up, peer_standing, profile_features_of, split_changes,
    standing_words, starting_point_words, whole,
)
from healthscore.scoring.wording import percent, renewal_words
from healthscore.scoring.risk_words import (
    describe_risk, driver_lines, family_lines, format_points, horizon_words,
)
from healthscore.scoring.changes import describe_change, is_model_update, split_words
from healthscore.scoring.history import trend_line
from healthscore.scoring.outputs import OutputLayout, as_of_text
from healthscore.scoring.points import feature_names_of, points_matrix
from healthscore.scoring.risk_list import PhraseBook, RowView, feature_columns


@dataclass
class AccountExplanation:
    """Everything shown about one account on one date.

    ``drivers_hurting`` / ``drivers_helping``: dicts with ``feature``, ``label``,
    ``family``, ``value``, ``phrase``, ``points``; behavioural only (never a profile
    fact). ``families``: the points each family costs (hurting points only, the rule
    of the report and the backtest). ``profile_score``: the starting
    point, ``base`` plus the profile facts' points. ``trend``: ``as_of`` and
    ``health_score`` per date scored. ``changes``: the stored why-it-changed lines
    (``text``, ``points_change``, values); :func:`render_account` shows them as
    :func:`healthscore.scoring.profile.split_changes` sorts them.
    """

    account_id: Any
    as_of: pd.Timestamp
    health_score: int
    band: str
    risk_proba: float
    unclipped_score: float
    base: float
    model_version: str
    details: dict[str, Any] = field(default_factory=dict)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers_hurting: list[dict[str, Any]] = field(default_factory=list)
    drivers_helping: list[dict[str, Any]] = field(default_factory=list)
    families: dict[str, float] = field(default_factory=dict)
    previous_as_of: pd.Timestamp | None = None
    score_change: int | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    profile_score: float = float("nan")
    profile: tuple[str, ...] = ()
    contract_days: Any = None
    horizon_days: int | None = None


def parse_account_id(text: Any, dtype: Any) -> Any:
    """``text`` in the stored ``account_id`` dtype (None when it cannot be one)."""
    if pd.api.types.is_integer_dtype(dtype):
        try:
            return int(str(text).strip())
        except ValueError:
            return None
    return str(text)


def read_account(layout: OutputLayout, account_id: Any, as_of: Any = None, *, top: int = 5,
                 profile: Any = None, currency: str = "$") -> AccountExplanation:
    """Read one account's explanation on ``as_of`` (default: the latest date scored).

    ``profile``: the profile features when the run does not record its own
    (``params.score.profile_features``); the run's are used when it does. A signal
    whose value is poor next to similar accounts (the same segment, from the date's
    points of every account: :func:`healthscore.scoring.profile.peer_standing`) is never what
    raises the score; one that is good is said so. ``currency``: ``report.currency``.

    Raises
    ------
    DataError
        Nothing was scored yet, the date was not scored, or the account was not scored
        on it.
    """
    when = layout.scored_date(as_of)
    dtype = layout.read_partition("history", when, columns=["account_id"]).dtypes["account_id"]
    key = parse_account_id(account_id, dtype)
    rows = layout.read_partition("history", when, account_ids=[key]) if key is not None else None
    if rows is None or rows.empty:
        seen = layout.read_history(account_ids=[key], columns=["health_score"]) if key is not None else None
        hint = ("unknown account, or not active on that date" if seen is None or seen.empty else
                "it was scored on " + ", ".join(as_of_text(d) for d in seen["as_of"].tail(3)))
        raise DataError(f"account {account_id} was not scored on {as_of_text(when)} ({hint})")
    row = rows.iloc[0]
    run = layout.read_run(when)
    catalogue = run.get("catalogue") or {}
    horizon = run.get("horizon") if isinstance(run.get("horizon"), dict) else {}
    result = AccountExplanation(
        account_id=key, as_of=when, health_score=int(row["health_score"]), band=str(row["band"]),
        risk_proba=float(row["risk_proba"]), unclipped_score=float(row["unclipped_score"]),
        base=float(row["base"]), model_version=str(row["model_version"]),
        profile=profile_features_of(run, **({} if profile is None else {"default": tuple(profile)})),
        horizon_days=None if horizon.get("horizon_days") is None else int(horizon["horizon_days"]),
    )
    result.trend = layout.read_history(account_ids=[key], columns=["health_score", "band"])
    risk = layout.read_table("risk_list", when)
    if not risk.empty:
        match = risk.loc[risk["account_id"] == key]
        if len(match):
            found = match.iloc[0]
            result.details = {c: found[c] for c in ("name", "owner", "segment", "lifecycle_stage",
                                                    "arr", "arr_at_risk",
                                                    "renewal_date", "days_to_renewal", "renewal_risk",
                                                    "profile_score", "previous_band", "score_change")
                              if c in found.index}
    points = layout.read_partition("points", when, account_ids=[key])
    names = feature_names_of(points)
    matrix = points_matrix(points, names)
    is_profile = profile_mask(names, result.profile)
    stored = result.details.get("profile_score")
    result.profile_score = float(stored) if not is_missing(stored) else result.base + float(matrix[:, is_profile].sum())
    matrix[:, is_profile] = 0.0  # profile facts are the starting point, never drivers
    drivers = find_drivers(matrix, k=3 * top)  # room for the helping ones left out below
    families = {n: catalogue_entry(catalogue, n)["family"] for n in names}
    by_family = family_hurting_points(matrix, names, families).iloc[0]  # one rule: report, backtest
    result.families = {f: float(by_family[f"points_{f}"]) for f in FAMILIES}
    columns = feature_columns(points, [c for c in points.columns if "__" in c and ":" not in c])
    view = RowView(columns, 0)
    result.contract_days = contract_days_of(view)
    book = PhraseBook(catalogue, currency=currency)
    chosen = [names[j] for j in (*drivers.hurting[0][:top], *drivers.helping[0]) if j >= 0]
    standing = _standing(layout, when, key, [n for n in chosen if n in points.columns], catalogue, risk)
    for which, index, pts in (("hurting", drivers.hurting[0], drivers.hurting_points[0]),
                              ("helping", drivers.helping[0], drivers.helping_points[0])):
        out = result.drivers_hurting if which == "hurting" else result.drivers_helping
        for j, p in zip(index, pts):
            if j < 0 or len(out) >= top:
                break
            name = names[j]
            if which == "helping" and not holds_up(p, standing.get(name)):
                continue
            info = feature_info(name, catalogue.get(name))
            relative = standing_words(standing.get(name), points=p)
            phrase = book.describe(name, view)
            out.append({"feature": name, "label": info.label,
                        "family": info.family, "value": view.get(name), "points": float(p),
                        "phrase": f"{phrase}, {relative}" if relative else phrase})
    changes = layout.read_table("changes", when)
    if not changes.empty:
        mine = changes.loc[changes["account_id"] == key].sort_values("rank")
        if len(mine):
            result.previous_as_of = pd.Timestamp(mine["previous_as_of"].iloc[0])
            change = mine["score_change"].iloc[0]
            result.score_change = None if pd.isna(change) else int(change)
            result.changes = [{"text": describe_change(line), **line} for line in mine.to_dict("records")]
    return result


def _standing(layout: OutputLayout, when: Any, key: Any, features: list[str],
              catalogue: dict[str, Any], risk: pd.DataFrame) -> dict[str, float]:
    """Feature -> where the account's value stands among similar accounts on ``when``
    (``features``: value columns of the points partition)."""
    directions = {n: catalogue_entry(catalogue, n).get("healthy_direction") for n in features}
    wanted = [n for n, d in directions.items() if not is_missing(d) and int(d) != 0]
    if not wanted:
        return {}
    columns = list(dict.fromkeys(wanted))
    everyone = layout.read_partition("points", when, columns=["account_id", *columns])
    groups = (risk.set_index("account_id")["segment"]
              if not risk.empty and "segment" in risk.columns else None)
    found = peer_standing(everyone, columns, directions=directions, groups=groups, accounts=[key])
    return dict(zip(found["feature"], found["standing"]))


def render_account(info: AccountExplanation, *, outcome: str = "are lost", currency: str = "$") -> str:
    """Terminal text of an :class:`AccountExplanation`, in the report's words.

    ``outcome`` and ``currency``: ``report.outcome`` and ``report.currency``.
    """
    d = info.details
    name = d.get("name")
    title = f"{name} (account {info.account_id})" if not is_missing(name) else f"Account {info.account_id}"
    facts = [f"{k}: {d[k]}" for k in ("owner", "segment") if not is_missing(d.get(k))]
    if not is_missing(d.get("lifecycle_stage")):
        facts.append(f"stage: {d['lifecycle_stage']}")
    if not is_missing(d.get("arr")):
        facts.append(f"ARR {money(d['arr'], symbol=currency)}")
    lines = [title + (" - " + ", ".join(facts) if facts else "")]
    lines.append(f"As of {as_of_text(info.as_of)}: health score {info.health_score} / 100, "
                 f"{info.band} (model {info.model_version})")
    horizon = horizon_words(info.horizon_days)
    lines.append(f"Chance of being lost{f' within {horizon}' if horizon else ''}: {percent(info.risk_proba)} "
                 f"({describe_risk(info.risk_proba, horizon_days=info.horizon_days, outcome=outcome)}).")
    if "renewal_date" in d:
        lines.append(renewal_words(d.get("renewal_date"), d.get("days_to_renewal"), d.get("arr"),
                                   d.get("renewal_risk"), currency=currency) + ".")
    if trend_line(info.trend):
        lines.append(trend_line(info.trend))
    lines.append("")
    start = starting_point_words(info.profile_score, segment=d.get("segment"), contract_days=info.contract_days)
    lines.append(f"Starting point: {start}.")
    lines.append("Measured against it, this account's behaviour:")
    lines += driver_lines((("What lowers the score", info.drivers_hurting),
                           ("What raises the score", info.drivers_helping)), lambda d: d["phrase"])
    lines.append("")
    lines.append(f"Points lost by family, behaviour only (against the starting point of {whole(info.profile_score)}):"
                 if not is_missing(info.profile_score) else "Points lost by family, behaviour only:")
    lines += family_lines(info.families)
    if info.previous_as_of is not None:
        lines.append("")
        change = "n/a points" if info.score_change is None else \
            f"{info.score_change:+d} point{'' if abs(info.score_change) == 1 else 's'}"
        lines.append(f"Since {as_of_text(info.previous_as_of)}: {change}")
        view = split_changes(info.changes, profile=info.profile,
                             profile_now=info.profile_score if not is_missing(info.profile_score) else None,
                             top=len(info.changes))
        if view.starting_point is not None:
            sp = view.starting_point
            then_now = "" if sp["before"] is None else f": {whole(sp['before'])} -> {whole(sp['now'])}"
            lines.append(f"  {STARTING_POINT}{then_now} ({format_points(sp['points_change'])})")
        model = [line for line in view.named if is_model_update(line)]
        if model:  # the change split: the account's data, then the model
            data_words, model_words = split_words(model[0])
            lines.append(f"  {data_words[0].upper()}{data_words[1:]}:")
        for line in view.named:
            if not is_model_update(line):
                lines.append(f"  {'  ' if model else ''}{describe_change(line)}")
        if abs(view.rest) >= 0.05:
            lines.append(f"  {'  ' if model else ''}Other changes ({format_points(view.rest)})")
        if model:
            lines.append(f"  {model_words[0].upper()}{model_words[1:]}:")
            lines.append(f"    {describe_change(model[0])}")
    elif len(info.trend) <= 1:
        lines.append("")
        lines.append("First scoring of this account: no earlier date to compare with.")
    return "\n".join(lines)

