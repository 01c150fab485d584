"""The report's edge: put rendered files into a folder, all or nothing.

Under the folder's lock, the files are written into a staging folder inside the target,
then one journaled commit (:mod:`healthscore.io.staging`) renames each top-level entry in
and removes what the previous report had and this one has not. A failure before the
commit leaves the previous report as it was; a kill during it is finished by the next
report. A folder that holds other files than a previous report is never written: the
report refuses it rather than delete someone's files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from healthscore.errors import HealthscoreError
from healthscore.report.inputs import ReportInputs
from healthscore.report.render import render_report
from healthscore.io.staging import Stage, folder_lock, is_bookkeeping

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
    for name in files:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise HealthscoreError(f"report file name {name!r}: expected a relative path inside the folder")
    if out_dir.is_dir() and _foreign(out_dir):
        raise HealthscoreError(
            f"report folder {out_dir} holds other files and no previous report "
            f"({MARKER} is absent); choose an empty or new folder with --out"
        )
    with folder_lock(out_dir, what="report folder"), Stage(out_dir, "report") as stage:
        for name, content in files.items():
            path = stage.new.joinpath(*PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        (stage.new / MARKER).write_text("written by `healthscore report`; replaced on every run\n")
        entries = sorted(p.name for p in stage.new.iterdir())
        stale = sorted(p.name for p in out_dir.iterdir()
                       if p.name not in entries and not is_bookkeeping(p.name))  # the previous report's
        stage.commit([n for n in entries if n != MARKER] + [MARKER], remove=stale)
    return out_dir


def _foreign(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds anything and is not a previous report."""
    names = [p.name for p in out_dir.iterdir() if not is_bookkeeping(p.name)]
    return bool(names) and MARKER not in names


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
