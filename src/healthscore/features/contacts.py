"""Per-user health rolled up to the account: the people behind the score.

From the user-level rows that exist (``events.user_id``, ``surveys.user_id``) and the
optional ``contacts`` table (a role per person: champion, executive sponsor, ...).
Built only with ``features.contacts.enabled`` (:mod:`healthscore.config.contacts`), so
the default feature set is unchanged. For a cutoff ``q``, ``w`` =
``contacts.window_days`` and ``N`` = ``contacts.left_days``, strictly before ``q``:

``contacts__champion_events__<w>d``
    Events of the account's champion in ``[q - w, q)``. The champion at ``q`` is the
    ``contacts`` row with role ``champion`` that has started (``started_at < q``, or
    unknown) and not left (``left_at`` unknown or ``>= q``); of several, the latest to
    start (then the highest user id). NaN: no such row.
``contacts__champion_days_since_active``
    Days from the champion's last event before ``q`` to ``q`` (NaN: none yet).
``contacts__champion_survey_last``
    The champion's latest survey score before ``q`` (NPS rows only when the plan says
    so, as :mod:`healthscore.features.surveys`; NaN: none).
``contacts__champion_tenure_days``
    Days since the champion started (``started_at``; NaN when unknown).
``contacts__power_users_active__<w>d``
    The power users are the top ``ceil(power_user_share x n)`` of the ``n`` users with
    an event in ``[q - 2w, q - w)``, by their events there (ties by user id); the share
    of them with an event in ``[q - w, q)`` (NaN when ``n`` is 0).
``contacts__left__<N>d``
    Contacts (any role) with ``left_at`` in ``[q - N, q)``. Without a ``contacts.left_at``
    column, inferred: 1 when the most active user of ``[q - 2N, q - N)`` (ties by user
    id) has no event in ``[q - N, q)``, else 0 (NaN: no user active then).

The champion's features need a ``contacts`` table; the rest need ``events.user_id``.
Every value depends only on the account's own rows, so the result does not depend on
how accounts are partitioned; user ids are compared by value (as text when the
tables' dtypes differ), so the input order never matters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import FeatureParams
from healthscore.data.tables import Tables
from healthscore.features._windows import DAY_US, NAT, as_us

#: Query-user pairs handled at once (bounds memory on accounts with many users).
PAIR_BLOCK = 2_000_000


def names(tables: Tables, params: FeatureParams) -> list[str]:
    """The ``contacts__*`` columns built for these tables (none when disabled)."""
    config = params.contacts
    if not config.enabled:
        return []
    users = "events" in tables and "user_id" in tables["events"].columns
    contacts = tables.get("contacts")
    out: list[str] = []
    if contacts is not None:
        if users:
            out += [f"contacts__champion_events__{config.window_days}d",
                    "contacts__champion_days_since_active"]
        if "surveys" in tables and "user_id" in tables["surveys"].columns:
            out.append("contacts__champion_survey_last")
        if "started_at" in contacts.columns:
            out.append("contacts__champion_tenure_days")
    if users:
        out.append(f"contacts__power_users_active__{config.window_days}d")
    if (contacts is not None and "left_at" in contacts.columns) or users:
        out.append(f"contacts__left__{config.left_days}d")
    return out


def params_for_names(params: FeatureParams, feature_names) -> FeatureParams:
    """``params`` with ``contacts`` set to build the ``contacts__*`` columns among
    ``feature_names`` (a model's or a plan's): on, with the windows their names carry,
    when there are any; off otherwise. Scoring thus builds what the model reads, whatever
    ``features.contacts`` says now."""
    import dataclasses

    found = [n.split("__") for n in feature_names if n.startswith("contacts__")]
    config = params.contacts
    if not found:
        return params if not config.enabled else dataclasses.replace(
            params, contacts=dataclasses.replace(config, enabled=False))
    days = {parts[1]: int(parts[2][:-1]) for parts in found if len(parts) == 3 and parts[2].endswith("d")}
    window = days.get("champion_events", days.get("power_users_active", config.window_days))
    wanted = dataclasses.replace(config, enabled=True, window_days=window,
                                 left_days=days.get("left", config.left_days))
    return params if wanted == config else dataclasses.replace(params, contacts=wanted)


class _Log:
    """One table's rows grouped by (account, user), sorted by time within a group.

    ``group`` is the int64 (account, user) key of each row, ``rank`` its time as a rank
    in a common time scale (so a threshold's rank compares exactly with the rows').
    """

    def __init__(self, group: np.ndarray, rank: np.ndarray, n_ranks: int,
                 tiebreak: np.ndarray | None = None):
        order = np.lexsort((tiebreak, rank, group) if tiebreak is not None else (rank, group))
        self.order = order
        self.keys, dense = np.unique(group[order], return_inverse=True)
        self.n_ranks = n_ranks
        self.sorted = dense.astype(np.int64) * n_ranks + rank[order]
        self.rank = rank[order]

    def locate(self, group: np.ndarray) -> np.ndarray:
        """The dense group of each key (-1: no row has it)."""
        if not len(self.keys):
            return np.full(len(group), -1, np.int64)
        at = np.minimum(np.searchsorted(self.keys, group), len(self.keys) - 1)
        return np.where(self.keys[at] == group, at, -1)

    def before(self, dense: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of each group strictly before ``rank``: (count, position of the last)."""
        ok = dense >= 0
        base = np.where(ok, dense, 0).astype(np.int64) * self.n_ranks
        end = np.searchsorted(self.sorted, base + rank, side="left")
        start = np.searchsorted(self.sorted, base, side="left")
        count = np.where(ok, end - start, 0)
        return count, np.where(count > 0, end - 1, -1)


def _as_ints(column: pd.Series) -> np.ndarray | None:
    """Integer user ids (missing: -1 after the caller's mask), or None when not whole numbers."""
    if column.dtype.kind in "iu":
        return column.to_numpy(np.int64)
    if column.dtype.kind == "f":
        values = column.to_numpy(np.float64)
        finite = values[np.isfinite(values)]
        if np.all(finite == np.floor(finite)) and (np.abs(finite) < 2.0**53).all():
            return np.where(np.isfinite(values), values, -1).astype(np.int64)
    return None


def _user_codes(*columns: pd.Series) -> list[np.ndarray]:
    """Codes of user ids shared across tables, by sorted value (-1: missing); compared
    as integers when every table holds whole numbers, else as text."""
    present = [column.notna().to_numpy() for column in columns]
    ints = [_as_ints(column) for column in columns]
    if all(v is not None for v in ints):
        values = ints
    else:
        values = [column.astype("str").to_numpy(object) for column in columns]
    pool = np.concatenate([v[p] for v, p in zip(values, present)])
    uniques = np.unique(pool if len(pool) else np.array([], np.int64))
    out = []
    for v, p in zip(values, present):
        code = np.full(len(v), -1, np.int64)
        code[p] = np.searchsorted(uniques, v[p])
        out.append(code)
    return out


def compute(tables: Tables, params: FeatureParams, *, account: np.ndarray, times: np.ndarray,
            survey_kind: str | None = None) -> dict[str, np.ndarray]:
    """The ``contacts__*`` features of the cutoff rows (``account``: position in
    ``tables.accounts``, ``times``: cutoff in int64 us); one float64 array per name."""
    wanted = names(tables, params)
    if not wanted:
        return {}
    config = params.contacts
    w, n_days = config.window_days * DAY_US, config.left_days * DAY_US
    index = pd.Index(tables.accounts["account_id"])
    events, surveys, contacts = tables.get("events"), tables.get("surveys"), tables.get("contacts")
    frames = {"events": events if events is not None and "user_id" in events.columns else None,
              "surveys": surveys if surveys is not None and "user_id" in surveys.columns else None,
              "contacts": contacts}
    present = {k: v for k, v in frames.items() if v is not None}
    codes = dict(zip(present, _user_codes(*(v["user_id"] for v in present.values()))))
    n_users = int(max((c.max() for c in codes.values() if len(c)), default=-1)) + 2
    if survey_kind is not None and frames["surveys"] is not None and "kind" in frames["surveys"]:
        kind = frames["surveys"]["kind"]
        survey_rows = (kind.astype("str").str.strip().str.lower().eq(survey_kind) & kind.notna()).to_numpy()
    else:
        survey_rows = None
    offsets = np.array([0, w, 2 * w, n_days, 2 * n_days], dtype=np.int64)
    thresholds = (times[:, None] - offsets[None, :]).ravel()
    logs_t = {}
    for name in ("events", "surveys"):
        frame = frames[name]
        if frame is None:
            continue
        keep = (codes[name] >= 0) & (index.get_indexer(frame["account_id"]) >= 0)
        time_column = "timestamp" if name == "events" else "responded_at"
        t = as_us(frame[time_column])
        keep &= t != NAT
        if name == "surveys":
            keep &= frame["score"].notna().to_numpy()
            if survey_rows is not None:
                keep &= survey_rows
        logs_t[name] = (np.flatnonzero(keep), t[keep])
    allt = np.concatenate([thresholds] + [t for _, t in logs_t.values()])
    uniq, inverse = np.unique(allt, return_inverse=True)
    n_ranks = len(uniq) + 1
    q_rank = inverse[:len(thresholds)].reshape(len(times), len(offsets))
    at = len(thresholds)
    logs: dict[str, _Log] = {}
    values: dict[str, np.ndarray] = {}
    for name, (rows, t) in logs_t.items():
        frame = frames[name]
        acc = index.get_indexer(frame["account_id"].iloc[rows]).astype(np.int64)
        group = acc * n_users + codes[name][rows]
        rank = inverse[at:at + len(rows)].astype(np.int64)
        at += len(rows)
        tie = frame["score"].to_numpy(np.float64)[rows] if name == "surveys" else None
        logs[name] = _Log(group, rank, n_ranks, tiebreak=tie)
        if name == "surveys":
            values["score"] = tie[logs[name].order]
        else:
            values["time"] = t[logs[name].order]
    out = {name: np.full(len(times), np.nan) for name in wanted}
    account = account.astype(np.int64)
    if contacts is not None:
        _champion(out, contacts, codes["contacts"], index, account, times, q_rank, logs, values,
                  n_users=n_users, config=config)
    if "events" in logs:
        _power_and_inferred(out, logs["events"], account, q_rank, n_users=n_users, config=config,
                            infer_left=contacts is None or "left_at" not in contacts.columns)
    return out


def _pairs(account: np.ndarray, first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query row, item) pairs: each query with every item of its account (items sorted
    by account; ``first``/``count`` per account)."""
    n = count[account]
    row = np.repeat(np.arange(len(account)), n)
    start = np.repeat(first[account] - (np.cumsum(n) - n), n)
    return row, start + np.arange(len(row))


def _champion(out, contacts, user_code, index, account, times, q_rank, logs, values, *,
              n_users, config) -> None:
    acc = index.get_indexer(contacts["account_id"]).astype(np.int64)
    keep = (acc >= 0) & (user_code >= 0)
    started = as_us(contacts["started_at"]) if "started_at" in contacts.columns else np.full(len(acc), NAT)
    left = as_us(contacts["left_at"]) if "left_at" in contacts.columns else np.full(len(acc), NAT)
    champion = (contacts["role"] == "champion").fillna(False).to_numpy(bool)
    sel = np.flatnonzero(keep)
    order = sel[np.lexsort((user_code[sel], acc[sel]))]
    c_acc, c_user, c_start, c_left = acc[order], user_code[order], started[order], left[order]
    c_champ = champion[order]
    n_acc = len(index)
    first = np.searchsorted(c_acc, np.arange(n_acc))
    count = np.searchsorted(c_acc, np.arange(n_acc), side="right") - first
    step = max(1, PAIR_BLOCK // max(1, int(count.max(initial=1))))
    for lo in range(0, len(account), step):
        rows = np.arange(lo, min(lo + step, len(account)))
        r, item = _pairs(account[rows], first, count)
        q = times[rows][r]
        known = (c_start[item] == NAT) | (c_start[item] < q)
        gone = (c_left[item] != NAT) & (c_left[item] < q)
        name = f"contacts__left__{config.left_days}d"
        if name in out and "left_at" in contacts.columns:
            recent = known & gone & (c_left[item] >= q - config.left_days * DAY_US)
            out[name][rows] = np.bincount(r, weights=recent, minlength=len(rows))
        live = known & ~gone & c_champ[item]
        r, item = r[live], item[live]
        # the latest to start (unknown start first), then the highest user id: the last
        pick = np.lexsort((c_user[item], np.where(c_start[item] == NAT, np.iinfo(np.int64).min,
                                                   c_start[item]), r))
        r, item = r[pick], item[pick]
        last = np.ones(len(r), bool)
        last[:-1] = r[1:] != r[:-1]
        r, item = r[last], item[last]
        query = rows[r]
        key = c_acc[item] * n_users + c_user[item]
        if "events" in logs:
            log = logs["events"]
            dense = log.locate(key)
            now, pos = log.before(dense, q_rank[query, 0])
            then, _ = log.before(dense, q_rank[query, 1])
            out[f"contacts__champion_events__{config.window_days}d"][query] = now - then
            seen = pos >= 0
            since = np.full(len(query), np.nan)
            since[seen] = (times[query][seen] - values["time"][pos[seen]]) / DAY_US
            out["contacts__champion_days_since_active"][query] = since
        if "surveys" in logs and "contacts__champion_survey_last" in out:
            log = logs["surveys"]
            _, pos = log.before(log.locate(key), q_rank[query, 0])
            out["contacts__champion_survey_last"][query] = np.where(
                pos >= 0, values["score"][np.maximum(pos, 0)], np.nan)
        if "contacts__champion_tenure_days" in out:
            start = c_start[item]
            tenure = np.where(start == NAT, np.nan, (times[query] - start.astype(np.float64)) / DAY_US)
            out["contacts__champion_tenure_days"][query] = tenure


def _power_and_inferred(out, log: _Log, account, q_rank, *, n_users, config, infer_left) -> None:
    """Power users still active and (without ``contacts.left_at``) the inferred leaver."""
    group_acc = log.keys // n_users
    n_acc = int(account.max(initial=0)) + 1
    first = np.searchsorted(group_acc, np.arange(n_acc))
    count = np.searchsorted(group_acc, np.arange(n_acc), side="right") - first
    step = max(1, PAIR_BLOCK // max(1, int(count.max(initial=1))))
    power = out[f"contacts__power_users_active__{config.window_days}d"]
    left = out.get(f"contacts__left__{config.left_days}d") if infer_left else None
    for lo in range(0, len(account), step):
        rows = np.arange(lo, min(lo + step, len(account)))
        r, dense = _pairs(account[rows], first, count)
        ranks = q_rank[rows][r]

        def events(a: int, b: int) -> np.ndarray:  # events in [q - off_b, q - off_a)
            return log.before(dense, ranks[:, a])[0] - log.before(dense, ranks[:, b])[0]

        now, prev = events(0, 1), events(1, 2)
        # rank users by previous-window events (most first, then user id) within a row
        order = np.lexsort((dense, -prev, r))
        r_o, prev_o, now_o = r[order], prev[order], now[order]
        starts = np.searchsorted(r_o, np.arange(len(rows)))
        position = np.arange(len(r_o)) - starts[r_o]
        users = np.bincount(r_o, weights=prev_o > 0, minlength=len(rows))
        k = np.ceil(config.power_user_share * users)
        top = (prev_o > 0) & (position < k[r_o])
        active = np.bincount(r_o, weights=top & (now_o > 0), minlength=len(rows))
        power[rows] = np.where(users > 0, active / np.maximum(k, 1), np.nan)
        if left is not None:
            now, prev = events(0, 3), events(3, 4)
            order = np.lexsort((dense, -prev, r))
            r_o, prev_o, now_o = r[order], prev[order], now[order]
            head = np.ones(len(r_o), bool)
            head[1:] = r_o[1:] != r_o[:-1]
            flag = np.full(len(rows), np.nan)
            lead = head & (prev_o > 0)
            flag[r_o[lead]] = (now_o[lead] == 0).astype(np.float64)
            left[rows] = flag
