"""`healthscore promote [VERSION]`: make a registered version the champion.

Checks the quality gates of ``params.tracking.gates`` (test ECE, and test ROC-AUC
against the current champion); when they pass, moves the ``champion`` alias and exports
the champion to ``params.tracking.export_dir`` so scoring needs no tracking server.
A failing gate is an error naming the gate and its figures; nothing changes then.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("version", nargs="?", default=None, type=int,
                        help="registered model version to promote (default: the latest)")
    parser.add_argument("--no-export", action="store_true",
                        help="move the alias only; do not rewrite the exported folder")


def run(args: argparse.Namespace, params) -> int:
    from healthscore import tracking

    result = tracking.promote(args.version, params=params.tracking, export=not args.no_export)
    for check in result.checks:
        print(f"gate {check.gate}: passed ({check.message})")
    before = f" (was version {result.previous_champion})" if result.previous_champion else ""
    print(f"{result.registered_model} version {result.version} is the champion{before}")
    if result.export_dir is not None:
        print(f"exported to {result.export_dir}")
    return 0
