"""The ``healthscore`` command line.

Each command lives in ``healthscore.commands.<name>`` with ``add_arguments(parser)``
and ``run(args, params) -> int``. This module parses arguments, loads ``params.yaml``,
configures logging and turns project errors into one readable line with exit status 2
(the traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from healthscore.errors import HealthscoreError

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check a data source against the contract and summarise it"),
    "simulate": ("simulate", "write a simulated B2B SaaS data set with ground truth"),
    "build-dataset": ("build_dataset", "build a point-in-time training set"),
    "train": ("train", "train, calibrate and evaluate the model beside its baselines"),
    "promote": ("promote", "move the champion alias when the quality gates pass"),
    "score": ("score", "score every active account on an as-of date"),
    "explain": ("explain", "print one account's explanation"),
    "report": ("report", "write the HTML report for an as-of date"),
    "backtest": ("backtest", "replay scoring at past as-of dates and compare with what happened"),
    "demo": ("demo", "simulate, build, train, promote, score and report on demo data"),
}


def one_line(exc: HealthscoreError) -> str:
    """The error as one readable line (the first problem, and how many more)."""
    problems = getattr(exc, "problems", None)
    if problems:
        more = len(problems) - 1
        tail = f" (and {more} more problem(s); --debug lists them all)" if more else ""
        return problems[0].describe() + tail
    return " ".join(str(exc).split())


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthscore",
        description="Customer health scores and churn risk, explained.",
    )
    parser.add_argument("--params", default=None, metavar="FILE",
                        help="params.yaml to use (default: ./params.yaml if present)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _load(module).add_arguments(cmd)
    return parser


def _load(module: str):
    return importlib.import_module(f"healthscore.commands.{module}")


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(message)s" if not args.debug else
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # MLflow configures its own logger on import, from this variable.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "DEBUG" if args.debug else "WARNING")
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "numba", "shap"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from pathlib import Path

        from healthscore.config import read_params

        params_path = args.params
        if params_path is None and Path("params.yaml").exists():
            params_path = "params.yaml"
        params = read_params(params_path, args.overrides)
        module = COMMANDS[args.command][0]
        return int(_load(module).run(args, params) or 0)
    except HealthscoreError as exc:
        if args.debug:
            raise
        print(f"healthscore {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("healthscore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
