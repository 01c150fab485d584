"""The fast feature builder equals a slow, obviously correct reference.

The reference is a per-row loop with pandas boolean masks that states each feature's
definition directly (what is known at the cutoff, which rows are in the window). The
random tables are small but dense in ties and boundary hits: times fall on a few
instants per day, and some cutoffs sit exactly on event times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import FeatureParams
from healthscore.features import build_features, plan_features
from healthscore.features.plan import slugify
from healthscore.data.tables import Tables

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2024-01-01")
PARAMS = FeatureParams(windows=[1, 7, 20], trend_windows=[3, 7], top_event_types=3,
                       top_signal_types=2, account_attributes=["score", "tier"],
                       partition_accounts=2)


# ------------------------------------------------------------------- random data


def _times(rng, n, days=60):
    """Instants on a coarse grid (ties, midnights) with a few odd microseconds."""
    day = rng.integers(0, days, n)
    second = rng.choice([0, 1, 3600, 43_200, 86_399], n)
    micro = rng.choice([0, 0, 0, 1, 999_999], n)
    return (T0 + pd.to_timedelta(day, "D") + pd.to_timedelta(second, "s")
            + pd.to_timedelta(micro, "us")).astype("datetime64[us]")


def _later(rng, base, *, none_share=0.3, max_days=30):
    """Instants at or after ``base`` (some NaT: "not yet")."""
    delay = pd.to_timedelta(rng.integers(0, max_days * 86_400, len(base)), "s")
    out = pd.Series(pd.DatetimeIndex(base) + delay).astype("datetime64[us]")
    out[rng.random(len(base)) < none_share] = pd.NaT
    return out


def random_tables(seed: int, *, n_accounts: int = 5, scale: int = 1) -> Tables:
    """Small random tables with every contract table and optional column."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_accounts + 1, dtype=np.int64) * 10
    created = pd.Series(_times(rng, n_accounts, days=40))
    created[rng.random(n_accounts) < 0.3] = pd.NaT
    accounts = pd.DataFrame({
        "account_id": ids,
        "segment": pd.Series(rng.choice(["SMB", "Mid", "Ent", None], n_accounts), dtype="str"),
        "plan": pd.Series(rng.choice(["a", "b"], n_accounts), dtype="str"),
        "seats": rng.choice([0.0, 2.0, 5.0, np.nan], n_accounts),
        "created_at": created.to_numpy(),
        "score": rng.normal(size=n_accounts),
        "tier": pd.Series(rng.choice(["gold", "tin"], n_accounts), dtype="str"),
    })

    def acc(n):
        return rng.choice(ids, n)

    n = 80 * scale
    events = pd.DataFrame({
        "account_id": acc(n), "user_id": rng.integers(1, 5, n), "timestamp": _times(rng, n),
        "event": pd.Series(rng.choice(["view", "edit", "share", "login", "x y"], n), dtype="str"),
        "quantity": rng.choice([1.0, 2.0, 0.1, 0.7], n),
    })
    n = 20 * scale
    opened = _times(rng, n)
    tickets = pd.DataFrame({
        "account_id": acc(n), "ticket_id": np.arange(n), "opened_at": opened,
        "closed_at": _later(rng, opened).to_numpy(),
        "priority": pd.Series(rng.choice(["High", "low", "urgent", None], n), dtype="str"),
        "csat": rng.choice([1.0, 3.0, 4.5, np.nan], n),
    })
    n = 16 * scale
    issued = _times(rng, n)
    invoices = pd.DataFrame({
        "account_id": acc(n), "invoice_id": np.arange(n), "issued_at": issued,
        "due_at": _later(rng, issued, none_share=0.0, max_days=10).to_numpy(),
        "paid_at": _later(rng, issued, none_share=0.25, max_days=25).to_numpy(),
        "amount": rng.choice([10.0, 99.5, 250.0], n),
    })
    n = 16 * scale
    surveys = pd.DataFrame({
        "account_id": acc(n), "user_id": rng.integers(1, 5, n), "responded_at": _times(rng, n),
        "score": rng.integers(0, 11, n).astype(float),
        "kind": pd.Series(rng.choice(["NPS", "csat"], n, p=[0.8, 0.2]), dtype="str"),
    })
    n = 30 * scale
    sent = _times(rng, n)
    emails = pd.DataFrame({
        "account_id": acc(n), "sent_at": sent,
        "opened_at": _later(rng, sent, none_share=0.4, max_days=12).to_numpy(),
        "clicked_at": _later(rng, sent, none_share=0.6, max_days=3).to_numpy(),
    })
    n = 16 * scale
    signals = pd.DataFrame({
        "account_id": acc(n), "timestamp": _times(rng, n),
        "signal": pd.Series(rng.choice(["referral", "downgrade", "misc"], n), dtype="str"),
        "value": rng.choice([1.0, 2.5, np.nan], n),
    })
    n = 3 * n_accounts
    start = _times(rng, n, days=50)
    subscriptions = pd.DataFrame({
        "account_id": acc(n), "subscription_id": [f"s{i}" for i in range(n)],
        "start_date": start,
        "end_date": (pd.DatetimeIndex(start) + pd.to_timedelta(rng.choice([5, 20, 40], n), "D")
                     ).astype("datetime64[us]"),
        "mrr": rng.choice([100.0, 150.0, 80.5, np.nan], n),
    })
    frames = {"accounts": accounts, "subscriptions": subscriptions, "events": events,
              "tickets": tickets, "invoices": invoices, "surveys": surveys, "emails": emails,
              "signals": signals}
    return Tables(frames, T0 + pd.Timedelta(days=120))


def random_cutoffs(tables: Tables, seed: int, n: int = 24) -> pd.DataFrame:
    """Cutoffs at random instants, at event times exactly, and for unknown accounts."""
    rng = np.random.default_rng(seed + 1)
    ids = tables.accounts["account_id"].to_numpy()
    at_events = tables["events"].sample(n // 3, random_state=seed, replace=True)
    frame = pd.concat([
        pd.DataFrame({"account_id": rng.choice(ids, n), "cutoff_time": _times(rng, n, days=75)}),
        pd.DataFrame({"account_id": at_events["account_id"].to_numpy(),
                      "cutoff_time": at_events["timestamp"].to_numpy()}),
        pd.DataFrame({"account_id": [999], "cutoff_time": [T0 + 10 * DAY]}),
        # long after the data: every row is older than the longest window
        pd.DataFrame({"account_id": rng.choice(ids, 3), "cutoff_time": T0 + 150 * DAY}),
    ], ignore_index=True)
    frame["cutoff_time"] = frame["cutoff_time"].astype("datetime64[us]")
    frame["label"] = rng.integers(0, 2, len(frame))  # an extra column, ignored
    return frame


# --------------------------------------------------------------------- reference


def _window(frame, column, q, w, end_back=0):
    t = frame[column]
    return frame[(t >= q - (w + end_back) * DAY) & (t < q - end_back * DAY)]


def reference_row(tables: Tables, a, q, params: FeatureParams, plan) -> dict:
    """Every feature of one (account, cutoff) row, the slow and obvious way."""
    f: dict = {}
    accounts = tables.accounts
    row = accounts[accounts["account_id"] == a]
    if row.empty or pd.isna(q):
        return f
    row = row.iloc[0]
    if pd.notna(row["created_at"]) and row["created_at"] >= q:
        return f
    seats = row["seats"]
    W = params.windows

    # accounts + subscriptions
    f["accounts__seats"] = seats
    f["accounts__score"] = row["score"]
    for c in ("segment", "plan", "tier"):
        f[f"accounts__{c}"] = row[c]
    subs = tables["subscriptions"]
    subs = subs[subs["account_id"] == a]

    def mrr_at(t):
        live = subs[(subs["start_date"] < t) & (subs["end_date"] >= t)]
        return live["mrr"].sum(skipna=True)

    f["subscriptions__mrr__now"] = mrr_at(q)
    for w in W:
        f[f"subscriptions__mrr_change__{w}d"] = mrr_at(q) - mrr_at(q - w * DAY)
    started = subs[subs["start_date"] < q]
    active = started[started["end_date"] >= q]
    if len(active):
        end = active["end_date"].max()
        holder = active[active["end_date"] == end].sort_values("start_date").iloc[-1]
        f["subscriptions__days_to_renewal"] = (end - q) / DAY
        f["subscriptions__contract_days"] = (holder["end_date"] - holder["start_date"]) / DAY
    else:
        f["subscriptions__days_to_renewal"] = f["subscriptions__contract_days"] = np.nan
    f["subscriptions__renewals"] = max(len(started) - 1, 0)
    begins = list(started["start_date"])
    if pd.notna(row["created_at"]):
        begins.append(row["created_at"])
    f["accounts__tenure_days"] = (q - min(begins)) / DAY if begins else np.nan

    # events
    ev = tables["events"]
    ev = ev[(ev["account_id"] == a) & (ev["timestamp"] < q)]
    for w in W:
        win = _window(ev, "timestamp", q, w)
        f[f"events__count__{w}d"] = len(win)
        f[f"events__quantity__{w}d"] = win["quantity"].sum()
        f[f"events__active_days__{w}d"] = win["timestamp"].dt.floor("D").nunique()
        f[f"events__active_users__{w}d"] = win["user_id"].nunique()
        f[f"events__event_types__{w}d"] = win["event"].nunique()
        for name, slug in zip(plan.event_types, slugify(plan.event_types)):
            f[f"events__{slug}__count__{w}d"] = int((win["event"] == name).sum())
        f[f"events__seat_utilisation__{w}d"] = (
            win["user_id"].nunique() / seats if pd.notna(seats) and seats > 0 else np.nan)
    for w in params.trend_windows:
        now, prev = _window(ev, "timestamp", q, w), _window(ev, "timestamp", q, w, end_back=w)
        f[f"events__count__{w}d_vs_prev_{w}d"] = (len(now) + 1) / (len(prev) + 1)
        f[f"events__active_users__{w}d_vs_prev_{w}d"] = (
            (now["user_id"].nunique() + 1) / (prev["user_id"].nunique() + 1))
    f["events__days_since_last"] = (q - ev["timestamp"].max()) / DAY if len(ev) else np.nan
    for w in params.trend_windows:
        now = set(_window(ev, "timestamp", q, w)["user_id"])
        prev = set(_window(ev, "timestamp", q, w, end_back=w)["user_id"])
        f[f"events__lapsed_users__{w}d"] = len(prev - now)
    for w in params.trend_windows:
        now, prev = _window(ev, "timestamp", q, w), _window(ev, "timestamp", q, w, end_back=w)
        users = now["user_id"].nunique()
        f[f"events__count_per_user__{w}d"] = len(now) / users if users else np.nan
        seen_before = set(ev.loc[ev["timestamp"] < q - pd.Timedelta(days=w), "user_id"].dropna())
        f[f"events__new_users__{w}d"] = len(set(now["user_id"].dropna()) - seen_before)
        for name, slug in zip(plan.event_types, slugify(plan.event_types)):
            a_, b_ = int((now["event"] == name).sum()), int((prev["event"] == name).sum())
            f[f"events__{slug}__share__{w}d"] = a_ / len(now) if len(now) else np.nan
            f[f"events__{slug}__count__{w}d_vs_prev_{w}d"] = (a_ + 1) / (b_ + 1)
    created = tables.accounts.set_index("account_id")["created_at"].get(a, pd.NaT)
    age = (q - created) / DAY if pd.notna(created) else np.nan
    for w in W:
        scale = w / min(max(age, 1.0), w) if age > 0 else np.nan
        f[f"events__count_tenure_scaled__{w}d"] = len(_window(ev, "timestamp", q, w)) * scale
    for name, slug in zip(plan.event_types, slugify(plan.event_types)):
        of_type = ev.loc[ev["event"] == name, "timestamp"]
        f[f"events__{slug}__days_since_last"] = (q - of_type.max()) / DAY if len(of_type) else np.nan

    # tickets: a close (and its csat) is known only once it happened
    tk = tables["tickets"]
    tk = tk[tk["account_id"] == a]
    opened = tk[tk["opened_at"] < q]
    closed_known = opened["closed_at"].where(opened["closed_at"] < q)
    f["tickets__open__now"] = int(closed_known.isna().sum())
    closed = tk[tk["closed_at"] < q]
    high = {p.lower() for p in params.high_priority}
    for w in W:
        win = _window(opened, "opened_at", q, w)
        f[f"tickets__opened__{w}d"] = len(win)
        is_high = win["priority"].map(lambda p: isinstance(p, str) and p.lower() in high)
        f[f"tickets__high_priority__{w}d"] = int(is_high.astype(bool).sum())
        f[f"tickets__high_priority_share__{w}d"] = is_high.mean() if len(win) else np.nan
        done = _window(closed, "closed_at", q, w)
        f[f"tickets__days_to_close_mean__{w}d"] = (
            ((done["closed_at"] - done["opened_at"]) / DAY).mean() if len(done) else np.nan)
        f[f"tickets__csat_mean__{w}d"] = done["csat"].mean()
    for w in params.trend_windows:
        now = len(_window(opened, "opened_at", q, w))
        prev = len(_window(opened, "opened_at", q, w, end_back=w))
        f[f"tickets__opened__{w}d_vs_prev_{w}d"] = (now + 1) / (prev + 1)
    urgent = opened[opened["priority"].map(lambda p: isinstance(p, str) and p.lower() in high)]
    f["tickets__days_since_last_high_priority"] = (
        (q - urgent["opened_at"].max()) / DAY if len(urgent) else np.nan)

    # invoices: a payment at or after q is unknown at q
    inv = tables["invoices"]
    inv = inv[(inv["account_id"] == a) & (inv["issued_at"] < q)]
    paid = inv["paid_at"].where(inv["paid_at"] < q)
    late = paid.isna() | (paid > inv["due_at"])
    for w in W:
        due = (inv["due_at"] >= q - w * DAY) & (inv["due_at"] < q)
        f[f"invoices__late__{w}d"] = int((late & due).sum())
        f[f"invoices__late_share__{w}d"] = (late & due).sum() / due.sum() if due.sum() else np.nan
    unpaid = inv[paid.isna()]
    overdue = unpaid[unpaid["due_at"] < q]
    f["invoices__overdue__now"] = len(overdue)
    f["invoices__days_overdue__now"] = ((q - overdue["due_at"]) / DAY).max() if len(overdue) else 0.0
    f["invoices__unpaid_amount__now"] = unpaid["amount"].sum()
    late_due = inv.loc[late & (inv["due_at"] < q), "due_at"]
    f["invoices__days_since_last_late"] = (q - late_due.max()) / DAY if len(late_due) else np.nan
    f["invoices__days_since_last_payment"] = (q - paid.max()) / DAY if paid.notna().any() else np.nan

    # surveys (NPS rows only, as the table has some)
    sv = tables["surveys"]
    sv = sv[sv["kind"].str.lower() == "nps"]
    sv = sv[(sv["account_id"] == a) & (sv["responded_at"] < q)].sort_values(["responded_at", "score"])
    last = sv["score"].iloc[-1] if len(sv) else np.nan
    f["surveys__nps_last"] = last
    f["surveys__nps_change"] = last - sv["score"].iloc[-2] if len(sv) > 1 else np.nan
    f["surveys__nps_detractor"] = float(last <= params.detractor_max) if len(sv) else np.nan
    f["surveys__days_since_last"] = (q - sv["responded_at"].iloc[-1]) / DAY if len(sv) else np.nan
    low = sv[sv["score"] <= params.detractor_max]
    f["surveys__days_since_last_detractor"] = (
        (q - low["responded_at"].max()) / DAY if len(low) else np.nan)
    for w in W:
        win = _window(sv, "responded_at", q, w)
        f[f"surveys__nps_mean__{w}d"] = win["score"].mean()
        f[f"surveys__responses__{w}d"] = len(win)

    # emails: opens and clicks before q only
    em = tables["emails"]
    em = em[em["account_id"] == a]
    for w in W:
        win = _window(em, "sent_at", q, w)
        f[f"emails__sent__{w}d"] = len(win)
        for column, measure in (("opened_at", "open_rate"), ("clicked_at", "click_rate")):
            f[f"emails__{measure}__{w}d"] = (win[column] < q).sum() / len(win) if len(win) else np.nan

    # signals
    sg = tables["signals"]
    sg = sg[(sg["account_id"] == a) & (sg["timestamp"] < q)]
    for name, slug in zip(plan.signal_types, slugify(plan.signal_types)):
        for w in W:
            win = _window(sg[sg["signal"] == name], "timestamp", q, w)
            f[f"signals__{slug}__count__{w}d"] = len(win)
            f[f"signals__{slug}__value__{w}d"] = win["value"].fillna(0).sum()
        mine = sg[sg["signal"] == name]
        f[f"signals__{slug}__days_since_last"] = (
            (q - mine["timestamp"].max()) / DAY if len(mine) else np.nan)
    return f


def reference_features(tables, cutoffs, params, plan) -> pd.DataFrame:
    rows = [reference_row(tables, a, q, params, plan)
            for a, q in zip(cutoffs["account_id"], cutoffs["cutoff_time"])]
    return pd.DataFrame(rows, columns=list(plan.feature_names))


def assert_matches_reference(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    for name in slow.columns:
        got, want = fast[name], slow[name]
        if isinstance(got.dtype, pd.CategoricalDtype):
            g = got.astype(object).where(got.notna(), None).tolist()
            w = want.astype(object).where(want.notna(), None).tolist()
            assert g == w, name
            continue
        np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=name)


# ------------------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", range(6))
def test_builder_equals_reference(seed):
    tables = random_tables(seed)
    cutoffs = random_cutoffs(tables, seed)
    plan = plan_features(tables, PARAMS)
    fast = build_features(tables, cutoffs, PARAMS)
    assert list(fast.columns) == ["account_id", "cutoff_time", *plan.feature_names]
    assert (fast["account_id"].to_numpy() == cutoffs["account_id"].to_numpy()).all()
    assert (fast["cutoff_time"].to_numpy() == cutoffs["cutoff_time"].to_numpy()).all()
    assert_matches_reference(fast, reference_features(tables, cutoffs, PARAMS, plan))


@pytest.mark.parametrize("seed", range(2))
def test_builder_equals_reference_when_every_cutoff_is_late(seed):
    """Rows older than every window still give "the last" and "the first" right."""
    tables = random_tables(seed)
    rng = np.random.default_rng(seed)
    ids = tables.accounts["account_id"].to_numpy()
    cutoffs = pd.DataFrame({"account_id": np.repeat(ids, 2),
                            "cutoff_time": T0 + pd.to_timedelta(rng.integers(40, 90, 2 * len(ids)), "D")})
    cutoffs["cutoff_time"] = cutoffs["cutoff_time"].astype("datetime64[us]")
    plan = plan_features(tables, PARAMS)
    assert_matches_reference(build_features(tables, cutoffs, PARAMS),
                             reference_features(tables, cutoffs, PARAMS, plan))


def test_reference_data_exercises_the_features():
    """The comparison above is only worth something if the features vary."""
    tables = random_tables(3, scale=2)
    cutoffs = random_cutoffs(tables, 3, n=60)
    fast = build_features(tables, cutoffs, PARAMS)
    numeric = fast.select_dtypes("number").drop(columns=["account_id"])
    constant = [c for c in numeric.columns if numeric[c].nunique(dropna=True) < 2]
    assert constant == [], constant
    assert_matches_reference(fast, reference_features(tables, cutoffs, PARAMS,
                                                      plan_features(tables, PARAMS)))
