"""Writing a folder safely: one writer at a time, everything staged, one journaled commit.

Every writer of a folder (the scoring outputs, the HTML report, a simulation, a
bucketed source) works the same way::

    with folder_lock(root):                      # one writer per folder; leftovers settled
        with Stage(root, "score-2024-06-01") as stage:
            write(stage.new / "history/as_of=2024-06-01/part-0.parquet")
            ...
            stage.commit(["history/as_of=2024-06-01", ..., "run/2024-06-01.json"])

**The lock** is ``ROOT/.lock``, held with ``flock``: the kernel releases it when the
process dies, however it dies, so a killed run never leaves a folder locked. A second
writer waits for it up to ``wait`` seconds, then fails with
:class:`~healthscore.errors.FolderLockedError` naming the folder and the pid holding it
(the holder writes its pid into the file). The same process may nest locks on a folder
(one writer per process: the nesting is per process, not per thread).

**The commit protocol.** Entries are paths relative to ``ROOT`` (files or folders):

1. *Stage*: everything is written under ``ROOT/.staging-<label>-<id>/new/``. A crash
   here leaves only that folder: ``ROOT`` is as it was, and the next writer removes it.
2. *Commit point*: ``COMMIT.json`` (the entries to install, in order, and those to
   remove) is renamed into the staging folder. From here on the commit happens.
3. *Install*: for each entry, an existing folder is first moved into the staging
   folder's ``old/``, then the new one is renamed in (a file is renamed over the old
   one directly). Each step is one rename and a step already done is skipped, so
   installing again after a crash at any step finishes the same commit.
4. *Clean up*: ``COMMIT.json`` is removed, then the staging folder.

A crash before step 2 leaves the old state; after it, :func:`settle` rolls the commit
forward to the new one. Whoever takes the lock settles first, and
:meth:`~healthscore.scoring.outputs.OutputLayout.dates` settles a folder that holds a
committed journal before it answers, so no reader sees half a commit left by a killed
run: the old date stays complete until the new one is. Leftovers of the older
writers (``.<name>.old-<id>`` folders beside a swapped folder, ``.<name>.<id>.tmp``
files) are put back or removed by :func:`settle` too.

**Crash hook (tests only).** With ``HEALTHSCORE_CRASH_AT=k`` in the environment, the
process ends with ``os._exit(CRASH_EXIT)`` at the k-th commit step it reaches (steps:
staged, committed, then each rename of the install, then the journal removed), as a
kill would; ``tests/reliability/test_reliability_runs.py`` kills a real commit at
every step. Nothing else reads the variable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator, Sequence

from healthscore.errors import FolderLockedError, OutputError

LOCK = ".lock"
STAGING_PREFIX = ".staging-"
JOURNAL = "COMMIT.json"
#: How long a writer waits for another one's lock by default (seconds).
LOCK_WAIT_S = 600.0
CRASH_ENV = "HEALTHSCORE_CRASH_AT"
CRASH_EXIT = 86

_held: dict[Path, int] = {}  # folders whose lock this process holds: depth of nesting
_steps = 0  # commit steps reached in this process (for the crash hook)


def is_bookkeeping(name: str) -> bool:
    """Whether a name in a folder is this module's own (the lock, a staging folder)."""
    return name == LOCK or name.startswith(STAGING_PREFIX)


def check_folder(root: str | Path, *, what: str = "output folder") -> Path:
    """``root`` as a Path, or :class:`OutputError` when it exists and is not a folder."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{what} {root} is a file; expected a folder (or a path that does not exist yet)")
    return root


# ------------------------------------------------------------------ the lock


@contextlib.contextmanager
def folder_lock(root: str | Path, *, wait: float = LOCK_WAIT_S,
                what: str = "output folder") -> Iterator[Path]:
    """Hold ``ROOT/.lock`` for the block (module docstring); creates ``root``.

    Leftovers of killed runs under ``root`` are settled (:func:`settle`) once the lock is
    held. ``wait``: seconds to wait for another process's lock (0: fail at once).

    Raises
    ------
    OutputError
        ``root`` is a file or cannot be created.
    FolderLockedError
        Another process still held the lock after ``wait`` seconds.
    """
    root = check_folder(root, what=what)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {root}: cannot create it ({exc.strerror})") from None
    key = root.resolve()
    if key in _held:  # this process holds it already
        _held[key] += 1
        try:
            yield root
        finally:
            _held[key] -= 1
        return
    fd = _acquire(root, wait=wait, what=what)
    _held[key] = 1
    try:
        _settle_locked(root)
        yield root
    finally:
        del _held[key]
        os.close(fd)  # releases the flock


def _acquire(root: Path, *, wait: float, what: str) -> int:
    path = root / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{what} {root}: cannot open its lock file {LOCK} ({exc.strerror})") from None
    deadline = time.monotonic() + max(float(wait), 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise OutputError(f"{what} {root}: cannot lock {LOCK} ({exc.strerror})") from None
            if time.monotonic() >= deadline:
                holder = _read_holder(fd)
                os.close(fd)
                raise FolderLockedError(
                    f"{what} {root} is being written by another healthscore run "
                    f"({holder}, lock file {path}); waited {wait:g} s. Wait for it to finish, "
                    f"or write elsewhere") from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return f"pid {text}" if text.isdigit() else "pid unknown"


# ------------------------------------------------------------------ staging


class Stage:
    """One commit into ``root``: files written under :attr:`new`, then :meth:`commit`.

    Use it as a context manager inside :func:`folder_lock`; leaving the block without
    committing (an exception) removes the staging folder and leaves ``root`` as it was.
    """

    def __init__(self, root: str | Path, label: str) -> None:
        self.root = Path(root)
        self.path = self.root / f"{STAGING_PREFIX}{label}-{uuid.uuid4().hex[:8]}"
        self.new = self.path / "new"

    def __enter__(self) -> "Stage":
        self.new.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.path.exists() and not (self.path / JOURNAL).exists():
            shutil.rmtree(self.path, ignore_errors=True)  # never committed: discard

    def commit(self, install: Sequence[str], *, remove: Sequence[str] = ()) -> None:
        """Put the staged ``install`` entries in place of ``root``'s, in order (the last
        one marks the unit complete for readers), then drop the ``remove`` entries."""
        missing = [rel for rel in install if not (self.new / rel).exists()]
        if missing:
            raise OutputError(f"{self.path}: entry {missing[0]!r} was not staged")
        _crash_point()  # staged, nothing committed
        tmp = self.path / f".{JOURNAL}.tmp"
        tmp.write_text(json.dumps({"install": list(install), "remove": list(remove)}))
        os.replace(tmp, self.path / JOURNAL)
        _crash_point()  # committed, nothing installed
        _roll_forward(self.root, self.path)


def _roll_forward(root: Path, staging: Path) -> None:
    """Finish the commit journaled in ``staging`` (idempotent), then remove ``staging``."""
    journal = json.loads((staging / JOURNAL).read_text())
    new, old = staging / "new", staging / "old"
    for rel in journal["install"]:
        src, target = new / rel, root / rel
        if not src.exists() and not src.is_symlink():
            continue  # installed before a crash
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not target.is_symlink() and (target.is_dir() or src.is_dir()):
            _move_aside(target, old / rel)
            _crash_point()  # the old folder aside, the new one not yet in
        os.replace(src, target)
        _crash_point()  # one entry in
    for rel in journal["remove"]:
        target = root / rel
        if target.exists() or target.is_symlink():
            _move_aside(target, old / rel)
            _crash_point()
    (staging / JOURNAL).unlink()
    _crash_point()  # done; only the staging folder's rest is left
    shutil.rmtree(staging, ignore_errors=True)


def _move_aside(target: Path, aside: Path) -> None:
    aside.parent.mkdir(parents=True, exist_ok=True)
    if aside.exists():  # from an earlier attempt of the same commit
        shutil.rmtree(aside) if aside.is_dir() else aside.unlink()
    os.replace(target, aside)


def _crash_point() -> None:
    """The crash hook (module docstring): end the process at the k-th step."""
    global _steps
    at = os.environ.get(CRASH_ENV)
    if not at:
        return
    _steps += 1
    if _steps == int(at):
        os._exit(CRASH_EXIT)


# ------------------------------------------------------------------ leftovers


def has_pending_commit(root: str | Path) -> bool:
    """Whether a killed run left a committed but unfinished journal under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return False
    return any((p / JOURNAL).exists() for p in root.glob(f"{STAGING_PREFIX}*"))


def settle(root: str | Path, *, wait: float = LOCK_WAIT_S) -> None:
    """Finish or undo what killed runs left under ``root``, under its lock.

    A committed journal is rolled forward, an uncommitted staging folder removed, a
    folder an older writer had moved aside put back (when its place is empty) or
    removed, and its temporary files removed. A no-op (no lock taken) when nothing
    is pending and nothing was left.
    """
    root = Path(root)
    if not root.is_dir() or not _leftovers(root):
        return
    try:
        with folder_lock(root, wait=wait):
            pass  # taking the lock settles
    except OSError as exc:
        raise OutputError(f"{root}: a killed run left an unfinished commit that cannot be finished "
                          f"here ({exc}); rerun the command with write access to {root}") from None


#: Names the older writers left beside their targets: io.replace_dir's
#: ``.<name>.old-<id>``, io.atomic_path's ``.<name>.<id>.tmp``, the report's
#: ``.<name>.staging-<id>``, the bucketed source's ``.<name>.tmp-<id>``, the
#: simulation's ``.simulate-<id>``.
_OLD_WRITERS = (".old-", ".staging-", ".tmp-")


def _leftovers(root: Path) -> list[Path]:
    found = [p for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    for folder in (root, *(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))):
        found += [p for p in folder.iterdir() if _left_by_older_writer(p.name)]
    return found


def _left_by_older_writer(name: str) -> bool:
    return (name.startswith(".") and not name.startswith(STAGING_PREFIX)
            and (any(mark in name for mark in _OLD_WRITERS) or name.endswith(".tmp")
                 or name.startswith(".simulate-")))


def _settle_locked(root: Path) -> None:
    for path in sorted(_leftovers(root)):
        if path.name.startswith(STAGING_PREFIX):
            if (path / JOURNAL).exists():
                _roll_forward(root, path)
            else:
                shutil.rmtree(path, ignore_errors=True)
        elif ".old-" in path.name:  # io.replace_dir's ".<name>.old-<id>"
            original = path.with_name(path.name[1:].rsplit(".old-", 1)[0])
            if original.exists():
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.replace(path, original)
        else:  # temporary files and staging folders of the older writers
            path.unlink(missing_ok=True) if path.is_file() else shutil.rmtree(path, ignore_errors=True)
