"""The ``healthscore`` command line.

Each command lives in ``healthscore.commands.<name>`` with ``add_arguments(parser)``
and ``run(args, params) -> int``. This module parses arguments, loads ``params.yaml``,
configures logging and turns project errors into one readable line with exit status 2
(the traceback only with ``--debug``); any other exception is one line naming the
command with exit status 1. Everything printed goes through
:class:`healthscore.terminal.CleanStream`, so text from the data (account names, ...)
cannot reach the terminal as control characters or escape sequences.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from contextlib import contextmanager
from typing import Iterator

from healthscore.errors import HealthscoreError
from healthscore.terminal import CleanStream, clean_text

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check a data source against the contract and summarise it"),
    "simulate": ("simulate", "write a simulated B2B SaaS data set with ground truth"),
    "build-dataset": ("build_dataset", "build a point-in-time training set"),
    "train": ("train", "train, calibrate and evaluate the model beside its baselines"),
    "promote": ("promote", "move the champion alias when the quality gates pass"),
    "score": ("score", "score every active account on an as-of date"),
    "explain": ("explain", "print one account's explanation"),
    "calls": ("calls", "print per owner the accounts to contact this week, with a reason and a step"),
    "report": ("report", "write the HTML report for an as-of date"),
    "notify": ("notify", "send a scored date's tasks by webhook and e-mail (or --dry-run)"),
    "plays": ("plays", "measure each play's uplift: churn of the accounts treated against those held out"),
    "backtest": ("backtest", "replay scoring at past as-of dates and compare with what happened"),
    "monitor": ("monitor", "print whether to retrain and why (drift, matured calibration, model age)"),
    "demo": ("demo", "simulate, build, train, promote, score and report on demo data"),
}


#: Why a command ignores a ``--set`` override: key or section -> reason, per command.
#: The scale's keys are fixed when a model is trained (it carries ``scale.json``).
_SCALE = "the model carries its own scale (scale.json, fixed by train); retrain to change it"
_STORED = "it reads the stored scores, scaled when they were scored"
_BUILT = "the training set was built with its own (see its .meta.json); rebuild it with build-dataset"
_TRAINED = "the model was trained with its own; retrain to change it"
_SCALE_KEYS = ("score.offset", "score.pdo", "score.red_below", "score.green_from")
IGNORED_OVERRIDES: dict[str, dict[str, str]] = {
    "build-dataset": {s: "build-dataset does not train or score" for s in (
        "split", "model", "calibration", "scorecard", "score", "alerts", "report", "tune")},
    "train": {**{s: _BUILT for s in ("data", "timeline", "labels")},
              "alerts": "train does not score", "report": "train does not score"},
    "score": {**{k: _SCALE for k in _SCALE_KEYS},
              **{s: _TRAINED for s in ("timeline", "labels", "split", "model", "calibration",
                                       "scorecard", "tune")}},
    "explain": {k: _STORED for k in _SCALE_KEYS},
    "calls": {k: _STORED for k in _SCALE_KEYS},
    "report": {k: _STORED for k in _SCALE_KEYS},
}


def ignored_overrides(command: str, overrides: list[str]) -> list[str]:
    """A warning line for each ``--set`` override that ``command`` does not read."""
    from healthscore.config import parse_override

    ignored = IGNORED_OVERRIDES.get(command, {})
    lines = []
    for text in overrides:
        path, _ = parse_override(text)
        for depth in range(len(path), 0, -1):
            reason = ignored.get(".".join(path[:depth]))
            if reason:
                lines.append(f"--set {text.strip()} is ignored by {command}: {reason}")
                break
    return lines


def one_line(exc: BaseException) -> str:
    """The error as one readable line (the first problem, and how many more), without
    control characters or escape sequences from the data."""
    problems = getattr(exc, "problems", None)
    if problems:
        more = len(problems) - 1
        tail = f" (and {more} more problem(s); --debug lists them all)" if more else ""
        return " ".join(clean_text(problems[0].describe() + tail).split())
    return " ".join(clean_text(str(exc)).split())


def unexpected_line(command: str, exc: Exception) -> str:
    """One line for an exception that is not a :class:`HealthscoreError`: an
    operating-system error (a path that is a folder, a full disk) or a bug."""
    hint = "(rerun with --debug for the traceback)"
    if isinstance(exc, OSError) and exc.strerror:
        path = exc.filename2 if exc.filename2 is not None else exc.filename
        text = exc.strerror + (f": {path}" if path is not None else "")
        return f"healthscore {command}: error: {' '.join(clean_text(text).split())} {hint}"
    detail = one_line(exc)
    return (f"healthscore {command}: unexpected error: {type(exc).__name__}"
            f"{': ' + detail if detail else ''} {hint}")


@contextmanager
def clean_output() -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` through :class:`CleanStream` meanwhile."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CleanStream(saved[0]), CleanStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _add_common(parser: argparse.ArgumentParser, *, after: bool) -> None:
    """``--params``, ``--set``, ``--debug`` and ``--quiet``: before the command, or after
    it (``after``: kept apart under ``*_after`` and merged by :func:`parse`)."""
    tail = "_after" if after else ""
    unset = argparse.SUPPRESS if after else None
    parser.add_argument("--params", dest=f"params{tail}", default=unset, metavar="FILE",
                        help="params.yaml to use (default: ./params.yaml if present)")
    parser.add_argument("--set", dest=f"overrides{tail}", action="append",
                        default=unset if after else [], metavar="SECTION.KEY=VALUE",
                        help="override one parameter (repeatable)")
    parser.add_argument("--debug", dest=f"debug{tail}", action="store_true",
                        default=unset if after else False, help="show tracebacks")
    parser.add_argument("-q", "--quiet", dest=f"quiet{tail}", action="store_true",
                        default=unset if after else False, help="only warnings and errors")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthscore",
        description="Customer health scores and churn risk, explained. The options "
                    "--params, --set, --debug and --quiet go before or after the command.",
    )
    _add_common(parser, after=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _load(module).add_arguments(cmd)
        _add_common(cmd.add_argument_group("common options (also before the command)"), after=True)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's arguments, the common options merged from both places: a
    ``--params`` after the command wins, ``--set`` overrides add up in order."""
    args = make_parser().parse_args(argv)
    after = {key[: -len("_after")]: vars(args).pop(key) for key in list(vars(args))
             if key.endswith("_after")}
    if "params" in after:
        args.params = after["params"]
    args.overrides = [*args.overrides, *after.get("overrides", [])]
    args.debug = args.debug or after.get("debug", False)
    args.quiet = args.quiet or after.get("quiet", False)
    return args


def _load(module: str):
    return importlib.import_module(f"healthscore.commands.{module}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    with clean_output():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
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
        for line in ignored_overrides(args.command, args.overrides):
            logging.getLogger("healthscore.cli").warning("%s", line)
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
    except Exception as exc:  # not an error we named: one line; the traceback with --debug
        if args.debug:
            raise
        print(unexpected_line(args.command, exc), file=sys.stderr)
        return 2 if isinstance(exc, OSError) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
