"""`healthscore promote [VERSION]`: make a registered version the champion.

Checks the quality gates of ``params.tracking.gates`` (test ECE, and test ROC-AUC
against the current champion) and, when the version was scored beside the champion
(``healthscore score --challenger VERSION``), the gates of ``params.challenger`` on
the matured outcomes of both over the same dates (a one-line comparison is printed;
"no matured outcomes yet" leaves the test-window gates to decide). When they pass,
moves the ``champion`` alias and exports the champion to ``params.tracking.export_dir``
so scoring needs no tracking server. A failing gate is an error naming the gate and
its figures; nothing changes then.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("version", nargs="?", default=None, type=int,
                        help="registered model version to promote (default: the latest)")
    parser.add_argument("--no-export", action="store_true",
                        help="move the alias only; do not rewrite the exported folder")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="the scoring output folder whose challenger runs are compared "
                             "(default: score.out_dir)")
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="the data the matured outcomes are read from (default: data.source)")


def run(args: argparse.Namespace, params) -> int:
    from healthscore import tracking

    result = tracking.promote(args.version, params=params.tracking, export=not args.no_export,
                              more_gates=lambda candidate, champion: matured_gates(
                                  candidate, champion, args=args, params=params))
    for check in result.checks:
        print(f"gate {check.gate}: passed ({check.message})")
    before = f" (was version {result.previous_champion})" if result.previous_champion else ""
    print(f"{result.registered_model} version {result.version} is the champion{before}")
    if result.export_dir is not None:
        print(f"exported to {result.export_dir}")
    return 0


def matured_gates(candidate: str, champion: str | None, *, args: argparse.Namespace, params) -> list:
    """The matured-outcome gates of ``candidate`` against the champion's outputs of the
    same dates; prints the comparison in one line (nothing without a champion). The
    data is read only when some date was scored with ``--challenger candidate``."""
    from pathlib import Path

    from healthscore.model.gates import check_matured
    from healthscore.scoring import OutputLayout
    from healthscore.monitor.challenger import challenger_dates, compare_on_matured, comparison_line

    if champion is None:  # the first champion: nothing to compare with
        return []
    layout = OutputLayout(Path(args.out or params.score.out_dir))
    if not challenger_dates(layout, candidate):
        comparison = {"status": "not measured",
                      "reason": f"no date under {layout.root} was scored with --challenger {candidate}"}
    else:
        from healthscore.io.sources import read_source

        tables, _ = read_source(params.data, source=args.data)
        comparison = compare_on_matured(layout, tables, params, version=candidate)
    print(comparison_line(comparison))
    return check_matured(comparison, params.challenger)
