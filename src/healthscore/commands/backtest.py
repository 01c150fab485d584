"""`healthscore backtest`: replay scoring at past as-of dates and compare with what happened.

Each date is replayed as ``train`` and ``score`` would have run then, on the data as
known then (:mod:`healthscore.backtest`); the figures go to ``--out``: ``backtest.md``
(the tables a person reads), ``backtest.json`` and ``rows.parquet`` (every scored
account and date with its outcome).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="folder of tables, a .duckdb file or a postgresql:// URI (default: data.source)")
    parser.add_argument("--dates", default=None, metavar="DATE,DATE,...",
                        help="as-of dates (default: every --step months from --first while "
                             "the horizon after them is inside the data)")
    parser.add_argument("--first", default=None, metavar="DATE",
                        help="first as-of date (default: 18 months after the data's first cutoff)")
    parser.add_argument("--step", type=int, default=3, metavar="MONTHS",
                        help="months between as-of dates (default 3)")
    parser.add_argument("--oracle", default=None, metavar="FILE",
                        help="simulator oracle (oracle.parquet: account_id, cutoff_time, "
                             "risk_horizon): adds the model/oracle comparison")
    parser.add_argument("--ground-truth", default=None, metavar="FILE",
                        help="simulator ground truth (ground_truth.parquet): adds the explanation "
                             "fidelity of the accounts lost")
    parser.add_argument("--out", default="backtest", metavar="DIR",
                        help="folder for backtest.md, backtest.json and rows.parquet (default: backtest)")


def run(args: argparse.Namespace, params) -> int:
    from healthscore.backtest import backtest_dates, run_backtest
    from healthscore.io.files import atomic_path, read_ground_truth, write_text_atomic
    from healthscore.io.sources import read_source
    from healthscore.model.exposure import Horizon
    from healthscore.dataset.timeline import data_start

    tables, _ = read_source(params.data, source=args.data)
    horizon = Horizon.from_params(params.timeline, params.labels)
    if args.dates:
        dates = [pd.Timestamp(d.strip()).as_unit("us") for d in args.dates.split(",") if d.strip()]
    else:
        first = (pd.Timestamp(args.first) if args.first
                 else data_start(tables).normalize() + pd.DateOffset(months=18))
        dates = backtest_dates(tables, horizon, first=first, step_months=args.step)
    if not dates:
        from healthscore.errors import DataError

        raise DataError(f"backtest: no as-of date has its {horizon.horizon_days}-day horizon inside "
                        f"the data (it ends {tables.observed_until:%Y-%m-%d}); give --dates or --first")
    oracle = read_ground_truth(args.oracle) if args.oracle else None
    truth = read_ground_truth(args.ground_truth) if args.ground_truth else None
    result = run_backtest(tables, params, dates, oracle=oracle, ground_truth=truth)
    out = Path(args.out)
    command = shlex.join(["healthscore", *sys.argv[1:]])
    markdown = render_backtest(result, horizon=horizon, command=command)
    with atomic_path(out / "rows.parquet") as tmp:
        result["rows"].to_parquet(tmp, index=False)
    record = {name: frame.to_dict(orient="records") for name, frame in result.items() if name != "rows"}
    record["command"] = command
    record["dates"] = [f"{d:%Y-%m-%d}" for d in dates]
    write_text_atomic(json.dumps(record, indent=2, default=str) + "\n", out / "backtest.json")
    write_text_atomic(markdown, out / "backtest.md")
    print(markdown)
    print(f"written: {out / 'backtest.md'}, {out / 'backtest.json'}, {out / 'rows.parquet'}")
    return 0


def render_backtest(result: dict, *, horizon, command: str) -> str:
    """The backtest's tables in Markdown."""
    from healthscore.model.oracle import TRACES_IN_WORDS

    metrics = result["metrics"]
    pooled = metrics.loc[metrics["as_of"] == "all"]
    columns = ["group", "value", "accounts", "lost", "observed", "predicted", "ece", "roc_auc"]
    extra = [c for c in ("oracle_predicted", "oracle_ece", "oracle_auc", "auc_to_oracle") if c in pooled]
    cover = result["coverage"]
    coverage = (cover.groupby("by")["inside"].agg(["mean", "size"])
                .rename(columns={"mean": "coverage", "size": "ranges"}).reset_index())
    dates = sorted(set(metrics["as_of"]) - {"all"})
    lines = [
        "# Backtest of the served risk_proba",
        "",
        f"`risk_proba` = the chance the account is lost {horizon.describe()} of the as-of date. "
        f"Replayed at {len(dates)} as-of dates ({', '.join(dates)}), each with a model trained "
        "only on what was known then, scored as `healthscore score` would have, and compared "
        "with what happened in the full data.",
        "",
        f"Command: `{command}`",
        "",
        "## Pooled over the dates",
        "",
        _table(pooled[columns + extra]),
        "",
        "## Per date",
        "",
        _table(metrics.loc[(metrics["as_of"] != "all") & (metrics["group"] != "segment"), ["as_of", *columns, *extra]]),
        "",
        "## Churn per band (pooled)",
        "",
        _table(result["bands"]),
        "",
        "## Reliability (pooled)",
        "",
        _table(result["reliability"]),
        "",
        "## ARR at risk: how often the realised loss falls inside the 80 % range",
        "",
        _table(coverage),
        "",
    ]
    if "fidelity" in result:
        lines += ["## Explanation fidelity (accounts lost, cause family in the top 3 behavioural families)",
                  "", "`fidelity`: every loss with a named cause; `fidelity_seen`: those whose cause "
                  "struck before the as-of date (a later cause is in no data the explanation read); "
                  "`fidelity_traced`: those whose cause had also left its direct trace in the data "
                  f"by then ({TRACES_IN_WORDS}).",
                  "", _table(result["fidelity"]), ""]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    def cell(v):
        if isinstance(v, float):
            return "" if pd.isna(v) else f"{v:.4f}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
