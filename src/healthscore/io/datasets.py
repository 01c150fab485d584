"""Training sets on disk: Parquet plus a provenance sidecar (``FILE.meta.json``) that
describes the file exactly, and the content fingerprints it checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from healthscore import __version__
from healthscore.errors import DataError, ProvenanceError
from healthscore.data.schema import SCHEMA_VERSION
from healthscore.data.tables import Tables
from healthscore.io.files import write_json_atomic, write_parquet_atomic

def fingerprint_frame(frame: pd.DataFrame) -> str:
    """A content hash of a frame: row order, column names and values."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(str(len(frame)).encode())
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(hashed.tobytes())
    return digest.hexdigest()


def fingerprint_tables(tables: Tables) -> str:
    """A content hash of every contract table of a source (16 hex digits)."""
    digest = hashlib.sha256()
    for name in sorted(tables.frames):
        digest.update(name.encode())
        digest.update(fingerprint_frame(tables.frames[name]).encode())
    digest.update(str(tables.observed_until).encode())
    return digest.hexdigest()[:16]


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def make_meta(**fields: Any) -> dict[str, Any]:
    """The provenance every persisted table carries, plus ``fields``."""
    return {
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }


def write_dataset(frame: pd.DataFrame, path: str | Path, *, meta: Mapping[str, Any]) -> Path:
    """Write a training set and its sidecar ``<path>.meta.json``, both atomically.

    ``meta`` should come from :func:`make_meta`; ``rows``, ``feature_names`` and the
    frame's fingerprint are added here so they always match the file.
    """
    feature_names = [c for c in frame.columns if "__" in c]
    full = dict(meta)
    full.setdefault("package_version", __version__)
    full.setdefault("schema_version", SCHEMA_VERSION)
    full.update(rows=int(len(frame)), feature_names=feature_names,
                content_fingerprint=fingerprint_frame(frame))
    write_parquet_atomic(frame, path)
    write_json_atomic(full, sidecar_path(path))
    return Path(path)


def read_dataset(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a training set written by :func:`write_dataset` and check its sidecar.

    Raises
    ------
    ProvenanceError
        The sidecar is missing, of another schema version, or does not describe the
        file (row count, feature names or content differ).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset {path} does not exist (build it with `healthscore build-dataset`)")
    meta_path = sidecar_path(path)
    if not meta_path.exists():
        raise ProvenanceError(f"dataset {path} has no sidecar {meta_path.name}; rebuild it with build-dataset")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ProvenanceError(f"sidecar {meta_path} is not valid JSON ({exc})") from None
    frame = pd.read_parquet(path)
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ProvenanceError(
            f"dataset {path} has schema version {meta.get('schema_version')!r}, "
            f"this healthscore reads {SCHEMA_VERSION!r}; rebuild it"
        )
    if meta.get("rows") != len(frame):
        raise ProvenanceError(
            f"dataset {path} has {len(frame)} rows but its sidecar says {meta.get('rows')}"
        )
    names = [c for c in frame.columns if "__" in c]
    if meta.get("feature_names") != names:
        raise ProvenanceError(f"dataset {path}: its columns differ from the feature names in its sidecar")
    if meta.get("content_fingerprint") not in (None, fingerprint_frame(frame)):
        raise ProvenanceError(f"dataset {path} was changed after it was written (content fingerprint differs)")
    return frame, meta
