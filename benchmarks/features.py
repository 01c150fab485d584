"""Speed and memory of the point-in-time feature builder (issue 3, item 6).

Builds (or reuses, under ``benchmarks/.cache/``) a data set of ``--accounts`` accounts
from the simulator (``--source simulate``, default; about 250 events per account over
24 months, so 100,000 accounts give 20M+ events) or from a small synthetic generator
(``--source synthetic``), cuts every account off at 24 monthly cutoffs, and times in
separate child processes (so each peak RSS is its own):

* ``events``: :func:`build_features` over accounts, subscriptions and events (the hot
  path; the two small tables add a handful of cheap features);
* ``full``: every table;
* ``pandas``: a straightforward pandas version of the event features (merge cutoffs
  with events, then group by row per window) on the first ``--baseline-accounts``
  accounts, extrapolated linearly in rows to the full size; the builder runs on the
  same slice and the two must agree on every event feature.

Targets (2 cores, 100,000 accounts, 2.4M rows): events <= 25 s and <= 6 GB peak RSS;
every table <= 90 s. Figures go to ``benchmarks/results/features.json``/``.md``
(``features_<accounts>`` for other sizes).

    python benchmarks/features.py                      # 100,000 accounts (minutes)
    python benchmarks/features.py --accounts 2000      # smoke run (seconds)
    python benchmarks/features.py --derived --skip pandas --name features_derived
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.config import DataParams, FeatureParams
from healthscore.features import build_features, plan_features
from healthscore.features.plan import slugify
from healthscore.io.sources import read_source
from healthscore.data.tables import Tables

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
START = pd.Timestamp("2023-01-01")
EVENT_TABLES = ("accounts", "subscriptions", "events")
TARGETS = {"events_seconds": 25.0, "events_peak_gib": 6.0, "full_seconds": 90.0}


# ------------------------------------------------------------------------- data


def write_synthetic(out: Path, *, accounts: int, months: int, seed: int) -> None:
    """A plain generator of every table (about 10 events per account-month)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = np.arange(1, accounts + 1, dtype=np.int64)
    seats = np.clip(np.round(rng.lognormal(2.3, 0.8, accounts)), 1, 400)
    span_us = months * 30 * 86_400_000_000
    t0 = START.value // 1000

    def times(n):
        return (t0 + rng.integers(0, span_us, n)).astype("datetime64[us]")

    def acc(n):
        return ids[rng.integers(0, accounts, n)]

    pd.DataFrame({
        "account_id": ids, "segment": rng.choice(["SMB", "Mid-Market", "Enterprise"], accounts),
        "plan": rng.choice(["Starter", "Growth", "Business"], accounts),
        "industry": rng.choice(["Software", "Retail", "Health"], accounts),
        "region": rng.choice(["EMEA", "APAC", "NA"], accounts), "seats": seats,
        "created_at": np.full(accounts, START - pd.Timedelta(days=400)).astype("datetime64[us]"),
    }).to_parquet(out / "accounts.parquet")
    starts = np.repeat((START - pd.Timedelta(days=365)).to_datetime64(), accounts).astype("datetime64[us]")
    subs = pd.DataFrame({"account_id": np.repeat(ids, 3), "start_date": np.concatenate(
        [starts + np.timedelta64(365 * k, "D") for k in range(3)]).reshape(3, -1).T.ravel()})
    subs["end_date"] = subs["start_date"] + np.timedelta64(365, "D")
    subs["mrr"] = rng.choice([100.0, 250.0, 900.0], len(subs))
    subs.to_parquet(out / "subscriptions.parquet")
    n = accounts * months * 10
    frame = pd.DataFrame({"account_id": np.sort(acc(n))})
    frame["user_id"] = frame["account_id"] * 1000 + rng.integers(0, 12, n)
    frame["timestamp"] = times(n)
    frame["event"] = rng.choice(["login", "view", "edit", "search", "share", "export", "api"], n,
                                p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.05, 0.05])
    frame["quantity"] = 1.0 + rng.poisson(1.0, n)
    frame.to_parquet(out / "events.parquet")
    n = accounts * months
    opened = times(n)
    pd.DataFrame({"account_id": acc(n), "opened_at": opened,
                  "closed_at": opened + rng.integers(1, 20 * 86_400, n).astype("timedelta64[s]"),
                  "priority": rng.choice(["low", "normal", "high", "urgent"], n),
                  "csat": rng.choice([1.0, 3.0, 5.0, np.nan], n)}).to_parquet(out / "tickets.parquet")
    issued = times(n)
    pd.DataFrame({"account_id": acc(n), "issued_at": issued, "due_at": issued + np.timedelta64(30, "D"),
                  "paid_at": issued + rng.integers(1, 50 * 86_400, n).astype("timedelta64[s]"),
                  "amount": rng.choice([100.0, 250.0], n)}).to_parquet(out / "invoices.parquet")
    n = accounts * months // 3
    pd.DataFrame({"account_id": acc(n), "responded_at": times(n),
                  "score": rng.integers(0, 11, n).astype(float)}).to_parquet(out / "surveys.parquet")
    n = accounts * months * 2
    sent = times(n)
    pd.DataFrame({"account_id": acc(n), "sent_at": sent,
                  "opened_at": sent + rng.integers(60, 5 * 86_400, n).astype("timedelta64[s]")}
                 ).to_parquet(out / "emails.parquet")
    n = accounts * months // 2
    pd.DataFrame({"account_id": acc(n), "timestamp": times(n),
                  "signal": rng.choice(["referral", "meeting", "downgrade_request"], n),
                  "value": rng.choice([1.0, 2.0], n)}).to_parquet(out / "signals.parquet")


def prepare(args) -> Path:
    """The cached, validated tables (one Parquet file each) of this data set."""
    root = CACHE / f"features-{args.source}-{args.accounts}-s{args.seed}"
    canonical = root / "canonical"
    if (canonical / "meta.json").exists():
        return canonical
    raw = root / "raw"
    if args.source == "simulate":
        from healthscore.sim.simulate import SimulationSpec, write_simulation
        write_simulation(SimulationSpec(n_accounts=args.accounts, months=args.months, seed=args.seed,
                                        start=str(START.date())), raw)
    else:
        write_synthetic(raw, accounts=args.accounts, months=args.months, seed=args.seed)
    tables, _ = read_source(DataParams(source=str(raw)))
    canonical.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.frames.items():
        frame.to_parquet(canonical / f"{name}.parquet", index=False)
    rows = {name: len(frame) for name, frame in tables.frames.items()}
    (canonical / "meta.json").write_text(json.dumps(
        {"observed_until": tables.observed_until.isoformat(), "rows": rows}))
    return canonical


def load(data: Path, names=None) -> Tables:
    meta = json.loads((data / "meta.json").read_text())
    names = names or list(meta["rows"])
    frames = {name: pd.read_parquet(data / f"{name}.parquet") for name in names
              if name in meta["rows"]}
    return Tables(frames, pd.Timestamp(meta["observed_until"]))


def monthly_cutoffs(accounts: pd.DataFrame, months: int) -> pd.DataFrame:
    """Every account at the first of each month after the start (months x accounts)."""
    grid = pd.date_range(START + pd.DateOffset(months=1), periods=months, freq="MS")
    ids = np.sort(accounts["account_id"].to_numpy())
    return pd.DataFrame({"account_id": np.repeat(ids, len(grid)),
                         "cutoff_time": np.tile(grid.to_numpy().astype("datetime64[us]"), len(ids))})


# ------------------------------------------------------------ pandas baseline


def pandas_event_features(tables: Tables, cutoffs: pd.DataFrame, params: FeatureParams,
                          event_types, *, chunk_accounts: int = 1000) -> pd.DataFrame:
    """The event features the plain pandas way: merge, filter, group by row per window.

    Processed in chunks of accounts (a single merge does not fit in memory at scale).
    """
    day = pd.Timedelta(days=1)
    windows, trends = params.windows, params.trend_windows
    back = max(max(windows), 2 * max(trends, default=0)) * day
    rows = cutoffs[["account_id", "cutoff_time"]].reset_index(drop=True)
    rows["row"] = np.arange(len(rows))
    events = tables["events"][["account_id", "user_id", "timestamp", "event", "quantity"]]
    seats = tables.accounts.set_index("account_id")["seats"]
    ids = rows["account_id"].unique()
    parts = []
    for lo in range(0, len(ids), chunk_accounts):
        group = ids[lo:lo + chunk_accounts]
        r = rows[rows["account_id"].isin(group)]
        m = r.merge(events[events["account_id"].isin(group)], on="account_id")
        m["age"] = m["cutoff_time"] - m["timestamp"]
        m = m[(m["age"] > pd.Timedelta(0)) & (m["age"] <= back)]
        m["day"] = m["timestamp"].dt.floor("D")
        res = pd.DataFrame(index=pd.Index(r["row"], name="row"))
        for w in windows:
            win = m[m["age"] <= w * day]
            g = win.groupby("row")
            res[f"events__count__{w}d"] = g.size()
            res[f"events__quantity__{w}d"] = g["quantity"].sum()
            res[f"events__active_days__{w}d"] = g["day"].nunique()
            res[f"events__active_users__{w}d"] = g["user_id"].nunique()
            res[f"events__event_types__{w}d"] = g["event"].nunique()
            for name, slug in zip(event_types, slugify(event_types)):
                res[f"events__{slug}__count__{w}d"] = win[win["event"] == name].groupby("row").size()
        for w in trends:
            now, prev = m[m["age"] <= w * day], m[(m["age"] > w * day) & (m["age"] <= 2 * w * day)]
            res[f"events__count__{w}d_vs_prev_{w}d"] = (
                (now.groupby("row").size().reindex(res.index).fillna(0) + 1)
                / (prev.groupby("row").size().reindex(res.index).fillna(0) + 1))
            res[f"events__active_users__{w}d_vs_prev_{w}d"] = (
                (now.groupby("row")["user_id"].nunique().reindex(res.index).fillna(0) + 1)
                / (prev.groupby("row")["user_id"].nunique().reindex(res.index).fillna(0) + 1))
        parts.append(res)
    out = pd.concat(parts).reindex(rows["row"]).fillna(0.0)
    last = pd.merge_asof(rows.sort_values("cutoff_time"), events[["account_id", "timestamp"]]
                         .sort_values("timestamp"), left_on="cutoff_time", right_on="timestamp",
                         by="account_id", allow_exact_matches=False, direction="backward")
    last = last.set_index("row").reindex(rows["row"])
    out["events__days_since_last"] = ((last["cutoff_time"] - last["timestamp"]) / day).to_numpy()
    per_seat = rows["account_id"].map(seats).where(lambda s: s > 0).to_numpy()
    for w in windows:
        out[f"events__seat_utilisation__{w}d"] = out[f"events__active_users__{w}d"].to_numpy() / per_seat
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- measurement


def _rss_gib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**30


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


#: ``--derived``: the behaviour metrics params.yaml leaves to each data set (issue 15),
#: on the simulator's own event types.
DERIVED = {"ratio_pairs": [["search", "login"], ["comment", "record_edit"], ["dashboard_view", "login"]],
           "per_seat": ["events__count", "events__active_users"], "pct_change": ["events__count"]}


def child(kind: str, data: Path, args) -> dict:
    """One measurement in this (fresh) process."""
    params = FeatureParams(**(DERIVED if args.derived and kind != "pandas" else {}))
    if kind == "events":
        tables = load(data, EVENT_TABLES)
    elif kind == "full":
        tables = load(data)
    else:
        tables = load(data, EVENT_TABLES)
        keep = np.sort(tables.accounts["account_id"].to_numpy())[:args.baseline_accounts]
        tables = tables.subset(keep)
    cutoffs = monthly_cutoffs(tables.accounts, args.months)
    before = _rss_gib()
    started = time.perf_counter()
    if kind == "pandas":
        plan = plan_features(tables, params)
        frame = pandas_event_features(tables, cutoffs, params, plan.event_types)
    else:
        frame = build_features(tables, cutoffs, params)
    seconds = time.perf_counter() - started
    out = {"seconds": round(seconds, 2), "rows": len(cutoffs),
           "rows_computed": int(frame["events__count__7d"].notna().sum()),
           "rows_per_second": round(len(cutoffs) / seconds),
           "features": int(sum("__" in c for c in frame.columns)),
           "rss_before_gib": round(before, 2), "peak_rss_gib": round(_peak_gib(), 2),
           "accounts": int(len(tables.accounts)), "events": int(len(tables["events"]))}
    if kind == "pandas":
        fast = build_features(tables, cutoffs, params)
        worst = 0.0
        for name in frame.columns:
            a, b = fast[name].to_numpy(float), frame[name].to_numpy(float)
            if not np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True):
                worst = max(worst, float(np.nanmax(np.abs(a - b))) if np.isfinite(a - b).any() else np.inf)
        out["matches_builder"] = worst == 0.0
    return out


def _run_child(kind: str, data: Path, args) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--data", str(data),
               "--months", str(args.months), "--baseline-accounts", str(args.baseline_accounts)]
    command += ["--derived"] if args.derived else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"benchmark child {kind!r} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24, help="monthly cutoffs per account")
    parser.add_argument("--source", choices=("simulate", "synthetic"), default="simulate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-accounts", type=int, default=10_000,
                        help="accounts in the pandas baseline's slice")
    parser.add_argument("--skip", nargs="*", default=[], choices=("events", "full", "pandas"))
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--derived", action="store_true",
                        help="the derived behaviour metrics on too (DERIVED: ratios, per seat, "
                             "percentage change; not in the pandas baseline)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, Path(args.data), args)))
        return 0

    args.baseline_accounts = min(args.baseline_accounts, args.accounts)
    started = time.perf_counter()
    data = prepare(args)
    meta = json.loads((data / "meta.json").read_text())
    figures: dict = {"data": {"source": args.source, "accounts": args.accounts, "seed": args.seed,
                              "cutoffs_per_account": args.months, "table_rows": meta["rows"],
                              "prepare_seconds": round(time.perf_counter() - started, 1)}}
    for kind in ("events", "full", "pandas"):
        if kind not in args.skip:
            figures[kind] = _run_child(kind, data, args)
            print(kind, figures[kind], flush=True)
    if "pandas" in figures:
        full_rows = args.accounts * args.months
        base = figures["pandas"]
        base["extrapolated_seconds_at_full_size"] = round(base["seconds"] * full_rows / base["rows"], 1)
    checks = {}
    if "events" in figures:
        checks["events_seconds_ok"] = figures["events"]["seconds"] <= TARGETS["events_seconds"]
        checks["events_peak_ok"] = figures["events"]["peak_rss_gib"] <= TARGETS["events_peak_gib"]
    if "full" in figures:
        checks["full_seconds_ok"] = figures["full"]["seconds"] <= TARGETS["full_seconds"]
    figures["targets"] = {**TARGETS, **checks} if args.accounts == 100_000 else dict(TARGETS)
    name = args.name or ("features" if args.accounts == 100_000 else f"features_{args.accounts}")
    command = "python benchmarks/features.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    notes = ("Wall time of one build_features call per child process; peak_rss_gib is the "
             "child's whole-process high-water mark (tables loaded from cached Parquet "
             "included; rss_before_gib is the RSS just before the call). 'events' includes "
             "the accounts and subscriptions features. The pandas baseline runs on the first "
             f"{args.baseline_accounts} accounts and is extrapolated linearly in rows; "
             "'matches_builder' compares it with build_features on the same slice.")
    from _common import record  # benchmarks/_common.py, beside this script

    paths = record(name, figures, command=command.strip(), notes=notes)
    print(f"wrote {paths['json']} and {paths['md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
