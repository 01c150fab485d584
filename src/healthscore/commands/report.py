"""`healthscore report [--as-of DATE] [--out DIR]`: write the static HTML report.

Reads the scoring outputs of ``params.score.out_dir`` (default date: the latest
complete run) and the exported model (``params.tracking.export_dir``), writes
``index.html``, ``model.html`` and ``accounts/<id>.html`` into ``<out_dir>/report/``
(or ``--out``), and prints the path of ``index.html``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="scoring date to report (default: the latest run in the outputs)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder to write (default: <score.out_dir>/report); replaced as a whole")
    parser.add_argument("--outputs", default=None, metavar="DIR",
                        help="scoring outputs to read (default: score.out_dir)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="exported model folder for the model page (default: tracking.export_dir)")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.report import read_report_inputs, write_report

    outputs = Path(args.outputs or params.score.out_dir)
    model = Path(args.model or params.tracking.export_dir)
    inputs = read_report_inputs(outputs, as_of=args.as_of, model_dir=model if model.exists() else None)
    index = write_report(inputs, params.report, out_dir=Path(args.out) if args.out else outputs / "report")
    print(index)
    return 0
