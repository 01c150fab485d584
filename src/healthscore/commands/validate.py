"""`healthscore validate --data DIR`: check a source against the contract and summarise it."""

from __future__ import annotations

import argparse

from healthscore.config import Params
from healthscore.errors import ValidationError
from healthscore.io.sources import read_source
from healthscore.data.problems import ValidationReport
from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="folder of .parquet/.csv tables, a .duckdb file or a postgresql:// URI (default: data.source)")


def summarise(tables: Tables, report: ValidationReport) -> str:
    """A readable summary: rows per table, date range, accounts, problems."""
    lines = [f"accounts: {len(tables.accounts):,}", "tables:"]
    width = max(len(n) for n in TABLES)
    for name, spec in TABLES.items():
        if name not in tables:
            lines.append(f"  {name:<{width}}  absent")
            continue
        frame = tables[name]
        span = ""
        if spec.event_time and len(frame):
            first, last = frame[spec.event_time].min(), frame[spec.event_time].max()
            span = f"  {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
        dropped = report.rows_in.get(name, len(frame)) - len(frame)
        note = f"  ({dropped:,} dropped or ignored)" if dropped else ""
        lines.append(f"  {name:<{width}}  {len(frame):>12,} rows{span}{note}")
    lines.append(f"data observed until: {tables.observed_until:%Y-%m-%d} (exclusive)")
    if tables.incomplete_accounts:
        example = sorted(tables.incomplete_accounts, key=str)[0]
        lines.append(f"accounts whose subscriptions lost a row or a value (labels censored): "
                     f"{len(tables.incomplete_accounts):,}, e.g. account_id={example!r}")
    if report.problems:
        lines.append(f"problems ({len(report.problems)}):")
        lines.extend(f"  - {p.describe()}" for p in report.problems)
    else:
        lines.append("problems: none")
    return "\n".join(lines)


def run(args: argparse.Namespace, params: Params) -> int:
    try:
        tables, report = read_source(params.data, source=args.data)
    except ValidationError as exc:
        print(f"{len(exc.problems)} problem(s) stop the run:")
        for problem in exc.problems:
            print(f"  - {problem.describe()}")
        return 2
    print(summarise(tables, report))
    return 0
