"""`healthscore simulate`: write a simulated B2B SaaS data set with its ground truth."""

from __future__ import annotations

import argparse
import logging
import time

from healthscore.errors import ConfigError
from healthscore.sim.simulate import SimulationSpec, write_simulation

log = logging.getLogger(__name__)
DEFAULTS = SimulationSpec()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=DEFAULTS.n_accounts, metavar="N",
                        help=f"accounts in the data (default {DEFAULTS.n_accounts})")
    parser.add_argument("--months", type=int, default=DEFAULTS.months, metavar="M",
                        help=f"length of the window in months (default {DEFAULTS.months})")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, metavar="S",
                        help=f"random seed; same seed, same bytes (default {DEFAULTS.seed})")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: data.source of params.yaml)")
    parser.add_argument("--start", default=DEFAULTS.start, metavar="DATE",
                        help=f"first day of the window, first of a month "
                             f"(default {DEFAULTS.start})")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="file format of the tables (default parquet)")
    parser.add_argument("--buckets", type=int, default=None, metavar="K",
                        help="write a bucketed source (K account buckets, Parquet) instead of "
                             "one file per table; for sources larger than memory")
    parser.add_argument("--churn-scale", type=float, default=DEFAULTS.churn_scale,
                        metavar="X", help="multiply the odds of churn at every renewal "
                                          "(default 1.0: about 13%% annual logo churn)")
    parser.add_argument("--notice-days", type=int, default=DEFAULTS.notice_days,
                        metavar="D", help="days before the renewal date that customers "
                                          f"decide (default {DEFAULTS.notice_days})")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that holds files a simulation did not write "
                             "(its tables of the same names are overwritten)")
    parser.add_argument("--parents-share", type=float, default=DEFAULTS.parents_share, metavar="S",
                        help="share of the accounts grouped under parent accounts "
                             "(accounts.parent_account_id; families share a health shock); "
                             "default 0: none")
    parser.add_argument("--oracle-horizon-days", type=int, default=None, metavar="N",
                        help="also write oracle.<format>: the true probability that each "
                             "customer is lost within N days of every first-of-month "
                             "cutoff (365 typical; Monte Carlo, slower; default: none)")
    parser.add_argument("--oracle-expansion", action="store_true",
                        help="with --oracle-horizon-days: the oracle also has expansion_proba, "
                             "the true probability that the MRR rises by expansion.min_increase "
                             "of params.yaml within the horizon (the expansion label with no "
                             "lead time); every other column and table is unchanged")
    parser.add_argument("--contacts", action="store_true",
                        help="also write contacts.<format>: each account's champion (with "
                             "left_at when the champion left, and the new one) and "
                             "executive sponsor; every other table is unchanged")


def run(args: argparse.Namespace, params) -> int:
    increase = None
    if getattr(args, "oracle_expansion", False):
        if args.oracle_horizon_days is None:
            raise ConfigError("simulate --oracle-expansion needs --oracle-horizon-days N (the "
                              "expansion oracle's horizon; expansion.horizon_days is "
                              f"{params.expansion.horizon_days})")
        if params.expansion.lead_time_days:
            raise ConfigError("simulate --oracle-expansion: the oracle's window starts at the "
                              "cutoff, but expansion.lead_time_days is "
                              f"{params.expansion.lead_time_days}; set it to 0")
        increase = float(params.expansion.min_increase)
    spec = SimulationSpec(
        n_accounts=args.accounts, months=args.months, seed=args.seed, start=args.start,
        churn_scale=args.churn_scale, notice_days=args.notice_days,
        oracle_horizon_days=args.oracle_horizon_days, oracle_expansion_increase=increase,
        contacts=args.contacts,
        parents_share=getattr(args, "parents_share", DEFAULTS.parents_share),
    )
    out = args.out if args.out is not None else params.data.source
    began = time.perf_counter()
    if args.buckets is not None:
        from healthscore.sim.buckets import simulate_buckets

        if args.format != "parquet":
            raise ConfigError("simulate: --buckets writes Parquet only; drop --format csv")
        root = simulate_buckets(spec, out, args.buckets, force=args.force)
        log.info("simulated %d accounts over %d months in %.1f s", spec.n_accounts,
                 spec.months, time.perf_counter() - began)
        print(f"wrote a bucketed source ({args.buckets} account buckets) to {root}")
        return 0
    paths = write_simulation(spec, out, format=args.format, force=args.force)
    log.info("simulated %d accounts over %d months in %.1f s", spec.n_accounts,
             spec.months, time.perf_counter() - began)
    print(f"wrote {len(paths) - 1} tables and README.md to {paths['accounts'].parent}")
    for name, path in paths.items():
        print(f"  {name:<14} {path}")
    return 0
