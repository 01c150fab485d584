"""The report's edge: put rendered files into a folder, all or nothing.

The files are written into a staging folder beside the target; only when all are
written does the staging folder replace the target (two renames). A failure leaves the
previous report as it was. A folder that holds other files than a previous report is
never replaced: the report refuses it rather than delete someone's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from healthscore.errors import HealthscoreError
from healthscore.io import replace_dir
from healthscore.report.inputs import ReportInputs
from healthscore.report.render import render_report

#: A file marking a folder as a report written by healthscore (safe to replace).
MARKER = ".healthscore-report"


def write_files(files: Mapping[str, str], out_dir: str | Path) -> Path:
    """Write ``files`` (relative POSIX name -> text) as the folder ``out_dir``.

    Returns ``out_dir``. Raises :class:`HealthscoreError` when ``out_dir`` exists, is
    not empty and is not a previous report, or when a name leaves the folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HealthscoreError(f"report folder {out_dir} is a file; expected a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise HealthscoreError(
            f"report folder {out_dir} holds other files and no previous report "
            f"({MARKER} is absent); choose an empty or new folder with --out"
        )
    for name in files:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise HealthscoreError(f"report file name {name!r}: expected a relative path inside the folder")
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=parent))
    try:
        os.chmod(staging, 0o755)
        for name, content in files.items():
            path = staging.joinpath(*PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        (staging / MARKER).write_text("written by `healthscore report`; replaced on every run\n")
        replace_dir(staging, parent / out_dir.name)  # a failed swap puts the previous report back
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def write_report(inputs: ReportInputs, params: Any, *, out_dir: str | Path) -> Path:
    """Render the report of ``inputs`` and write it as the folder ``out_dir``.

    The last step of ``healthscore score`` and ``make demo``::

        from healthscore.report import read_report_inputs, write_report
        index = write_report(read_report_inputs(out, as_of=as_of, model_dir=model_dir),
                             params.report, out_dir=Path(out) / "report")

    Returns the path of ``index.html``.
    """
    files = render_report(inputs, params)
    write_files(files, out_dir)
    return Path(out_dir) / "index.html"
