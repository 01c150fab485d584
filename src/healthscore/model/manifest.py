"""Verified model folders: every file's SHA-256 and size, listed at export, checked at load.

A model folder (a bundle, or the exported MLflow model folder around one) carries a
manifest: a JSON object whose ``files`` maps each file's path inside the folder
(``/``-separated, the manifest itself excluded) to its ``sha256`` and ``size`` in bytes,
and whose ``fingerprint`` is the SHA-256 of that listing. :func:`write_manifest` writes
it last, atomically; :func:`verify_folder` checks it before any other file is parsed,
so a truncated ``model.txt`` never reaches LightGBM and a same-length edit of a leaf, a
threshold or the scale never scores silently.

The manifest guards against damage and edits, not against someone who rewrites the
manifest too: it is a checksum list, not a signature. Loading runs no code from the
folder either way (:mod:`healthscore.model.pyfunc`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from healthscore.errors import ModelError
from healthscore.io.files import write_json_atomic

#: What a user does about a damaged folder.
REEXPORT = "re-export the model (`healthscore train`, then `healthscore promote`)"
REPROMOTE = "re-export it with `healthscore promote VERSION`"

_CHUNK = 1 << 20


def describe_file(path: Path) -> dict[str, Any]:
    """``{"sha256": hex digest, "size": bytes}`` of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "size": path.stat().st_size}


def list_files(folder: Path, *, manifest: str) -> dict[str, dict[str, Any]]:
    """Every file under ``folder`` but the top-level ``manifest``, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if name != manifest and path.is_file():
            out[name] = describe_file(path)
    return out


def files_fingerprint(files: Mapping[str, Mapping[str, Any]]) -> str:
    """SHA-256 of a ``files`` listing (order-free): the folder's identity."""
    text = json.dumps({k: dict(v) for k, v in files.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(folder: str | Path, header: Mapping[str, Any], *, name: str) -> dict[str, Any]:
    """List every file of ``folder`` into ``folder/name`` (written last, atomically).

    ``header`` adds fields (format, kind, package version, ...); ``files`` and
    ``fingerprint`` are this module's. Returns the manifest written.
    """
    folder = Path(folder)
    files = list_files(folder, manifest=name)
    manifest = {**header, "files": files, "fingerprint": files_fingerprint(files)}
    write_json_atomic(manifest, folder / name)
    return manifest


def verify_folder(folder: str | Path, *, name: str, redo: str = REEXPORT) -> dict[str, Any]:
    """The manifest ``folder/name`` once every file it lists matches, and no other exists.

    Reads no file of the folder but the manifest until the listing matches: sizes first,
    then hashes.

    Raises
    ------
    ModelError
        The manifest is missing or not a manifest, or a file is missing, extra, or of
        another size or hash; the message names the folder, the file and ``redo``.
    """
    folder = Path(folder)
    path = folder / name
    if not path.is_file():
        raise ModelError(f"model folder {folder}: no {name}, so its files cannot be verified; {redo}")
    manifest = read_model_json(path, redo=redo)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise ModelError(f"{path}: expected a manifest listing each file's sha256 and size "
                         f"(written by healthscore before manifests did?); {redo}")
    if manifest.get("fingerprint") != files_fingerprint(files):
        raise ModelError(f"{path}: the file list was edited after export (its fingerprint "
                         f"does not match); {redo}")
    problems = _compare(folder, files, manifest=name)
    if problems:
        more = f" (and {len(problems) - 1} more: {', '.join(p[0] for p in problems[1:4])})" \
            if len(problems) > 1 else ""
        file, what = problems[0]
        raise ModelError(f"model folder {folder}: {file} {what}{more}; {redo}")
    return manifest


def _compare(folder: Path, files: Mapping[str, Mapping[str, Any]], *,
             manifest: str) -> list[tuple[str, str]]:
    """``(file, what is wrong)`` for each mismatch, extra and missing files first."""
    present = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
               if p.is_file() or p.is_symlink()}
    present.pop(manifest, None)
    problems = [(n, f"is not listed in {manifest} (a file added after export)")
                for n in present if n not in files]
    problems += [(n, f"is missing (listed in {manifest})") for n in files if n not in present]
    for n, expected in files.items():
        p = present.get(n)
        if p is None:
            continue
        if p.is_symlink():
            problems.append((n, "is a link; a model folder holds plain files"))
            continue
        size = p.stat().st_size
        if size != expected.get("size"):
            problems.append((n, f"has {size} bytes, expected {expected.get('size')} "
                                "(truncated or changed after export)"))
        elif (sha := describe_file(p)["sha256"]) != expected.get("sha256"):
            problems.append((n, f"was changed after export (SHA-256 {sha[:12]}..., "
                                f"expected {str(expected.get('sha256'))[:12]}...)"))
    return problems


def read_model_json(path: str | Path, default: Any = ..., *, redo: str = REEXPORT) -> Any:
    """The JSON value of a model file; ``default`` when absent (given), else an error.

    Raises
    ------
    ModelError
        The file is missing (no ``default``), unreadable, or not valid JSON.
    """
    path = Path(path)
    if not path.exists():
        if default is not ...:
            return default
        raise ModelError(f"model folder {path.parent}: missing {path.name}; {redo}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); {redo}") from None


def read_kind_json(path: str | Path, *, kind: str, format: int, what: str) -> dict:
    """A model file's JSON object that says it is ``kind`` of ``format`` (``what``
    names it in the error): missing, unreadable, or another kind or format is a
    :class:`~healthscore.errors.ModelError`."""
    data = read_model_json(path)
    if not isinstance(data, dict) or data.get("format") != format or data.get("kind") != kind:
        raise ModelError(f"{path}: expected {what} of format {format}")
    return data


def check_model_text(text: str, path: Path) -> None:
    """Refuse a LightGBM model text whose trees are not where ``tree_sizes`` says.

    LightGBM cuts the text into trees by the byte counts of its ``tree_sizes`` line and
    reads past the end of a truncated or resized file (a native abort); so each cut must
    land on ``Tree=<i>`` and the last on ``end of trees``, before LightGBM sees it.
    """
    data = text.encode("utf-8")
    problem = None
    head, marker, _ = data.partition(b"\ntree_sizes=")
    if not data.startswith(b"tree\n") or not marker:
        problem = "no LightGBM header with tree_sizes"
    else:
        line_end = data.find(b"\n", len(head) + len(marker))
        try:
            sizes = [int(v) for v in data[len(head) + len(marker):line_end].split()]
        except ValueError:
            sizes = None
        position = data.find(b"Tree=0\n", line_end)
        if sizes is None or line_end < 0 or (sizes and position < 0):
            problem = "an unreadable tree_sizes line"
        else:
            position = position if sizes else line_end + 2
            for index, size in enumerate(sizes):
                if not data.startswith(f"Tree={index}\n".encode(), position):
                    problem = f"tree {index} is not where tree_sizes puts it"
                    break
                position += size
            if problem is None and not data.startswith(b"end of trees\n", position):
                problem = "the trees do not end where tree_sizes says"
            if problem is None and not data.rstrip().rpartition(b"\n")[2].startswith(b"pandas_categorical:"):
                problem = "it does not end with LightGBM's last line (truncated?)"
    if problem:
        raise ModelError(f"{path}: not a complete LightGBM model ({problem}); {REEXPORT}")
