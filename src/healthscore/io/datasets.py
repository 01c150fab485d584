"""Training sets on disk: Parquet plus a provenance sidecar (``FILE.meta.json``) that
describes the file exactly, and the content fingerprints it checks.

A training set is one Parquet file (:func:`write_dataset`) or, built bucket by bucket
(:mod:`healthscore.dataset.buckets`), a folder of parts ``PATH/part-<k>.parquet``
(:class:`DatasetParts`) whose sidecar ``PATH.meta.json`` lists every part with its rows
and fingerprint. :func:`read_dataset` reads both the same way; it reads parts one at a
time and can keep a stable share of the accounts only (:func:`stable_share`), so a set
larger than memory is read in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore import __version__
from healthscore.errors import DataError, ProvenanceError
from healthscore.data.schema import SCHEMA_VERSION
from healthscore.data.tables import Tables
from healthscore.io.files import write_json_atomic, write_parquet_atomic
from healthscore.io.staging import Stage, folder_lock

#: The sidecar's ``layout`` of a training set written in parts.
PARTS = "parts"

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


def stable_share(ids: pd.Series, *, share: float, key: str) -> np.ndarray:
    """Whether each account is in a stable ``share`` of accounts (bool array): a hash of
    its id's text keyed by ``key`` (16 characters), the same on every machine, for
    whatever rows or part of the data the id comes in."""
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=key)
    return (hashed.to_numpy() % 10_000) < share * 10_000


class DatasetParts:
    """Write a training set part by part (module docstring), staged and committed as
    one with its sidecar (:mod:`healthscore.io.staging`): a failed build leaves the
    previous set at ``path`` whole. Parts without rows are not written.

    Use as ``with DatasetParts(path) as parts: parts.add(frame) ...; parts.commit(meta)``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.parts: list[dict[str, Any]] = []
        self.feature_names: list[str] | None = None
        self._lock = self._stage = None

    def __enter__(self) -> "DatasetParts":
        self._lock = folder_lock(self.path.parent, what="training set folder")
        self._lock.__enter__()
        self._stage = Stage(self.path.parent, "dataset").__enter__()
        (self._stage.new / self.path.name).mkdir()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._stage.__exit__(*exc)
        finally:
            self._lock.__exit__(*exc)

    def add(self, frame: pd.DataFrame) -> None:
        """Write one part (its rows in the order given)."""
        names = [c for c in frame.columns if "__" in c]
        if self.feature_names is None:
            self.feature_names = names
        elif names != self.feature_names:  # a bug in the builder, not user input
            raise RuntimeError(f"{self.path}: part {len(self.parts)} has other columns than the first")
        if frame.empty:
            return
        name = f"part-{len(self.parts):05d}.parquet"
        frame.to_parquet(self._stage.new / self.path.name / name, index=False)
        self.parts.append({"file": name, "rows": int(len(frame)),
                           "content_fingerprint": fingerprint_frame(frame)})

    def commit(self, meta: Mapping[str, Any]) -> Path:
        """Write the sidecar (``meta`` plus ``layout``, ``rows``, ``feature_names`` and
        ``parts``) and put the set in place."""
        full = dict(meta)
        full.setdefault("package_version", __version__)
        full.setdefault("schema_version", SCHEMA_VERSION)
        digest = hashlib.sha256("".join(p["content_fingerprint"] for p in self.parts).encode())
        full.update(layout=PARTS, rows=sum(p["rows"] for p in self.parts),
                    feature_names=self.feature_names or [], parts=self.parts,
                    content_fingerprint=digest.hexdigest())  # of the parts, in order
        side = sidecar_path(self.path).name
        write_json_atomic(full, self._stage.new / side)
        self._stage.commit([self.path.name, side])
        return self.path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The sidecar of a training set (file or parts), checked for its schema version.

    Raises
    ------
    DataError
        No training set at ``path``.
    ProvenanceError
        The sidecar is missing, not JSON or of another schema version.
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
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ProvenanceError(
            f"dataset {path} has schema version {meta.get('schema_version')!r}, "
            f"this healthscore reads {SCHEMA_VERSION!r}; rebuild it"
        )
    return meta


def read_dataset(path: str | Path, *, share: float = 1.0,
                 key: str = "sample-000000000") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a training set written by :func:`write_dataset` or :class:`DatasetParts`
    and check its sidecar.

    Parts are read one at a time, checked against the sidecar, and concatenated in the
    order one build of the whole source gives (by cutoff, then account). ``share`` < 1:
    only the rows of the :func:`stable_share` of accounts (``key``) are kept, part by
    part (a single file by row group), so the peak is about that share of the set.

    Raises
    ------
    ProvenanceError
        The sidecar is missing, of another schema version, or does not describe the
        file (row count, feature names or content differ).
    """
    path = Path(path)
    meta = read_meta(path)
    if meta.get("layout") == PARTS:
        frame = _read_parts(path, meta, share=share, key=key)
    else:
        frame = _read_file(path, meta, share=share, key=key)
    names = [c for c in frame.columns if "__" in c]
    if meta.get("feature_names") != names:
        raise ProvenanceError(f"dataset {path}: its columns differ from the feature names in its sidecar")
    return frame, meta


def _read_file(path: Path, meta: Mapping[str, Any], *, share: float, key: str) -> pd.DataFrame:
    if share < 1:
        import pyarrow.parquet as pq

        kept = []
        for batch in pq.ParquetFile(path).iter_batches():
            part = batch.to_pandas()
            kept.append(part.loc[stable_share(part["account_id"], share=share, key=key)])
        return _concat(kept)
    frame = pd.read_parquet(path)
    if meta.get("rows") != len(frame):
        raise ProvenanceError(
            f"dataset {path} has {len(frame)} rows but its sidecar says {meta.get('rows')}"
        )
    if meta.get("content_fingerprint") not in (None, fingerprint_frame(frame)):
        raise ProvenanceError(f"dataset {path} was changed after it was written (content fingerprint differs)")
    return frame


def _read_parts(path: Path, meta: Mapping[str, Any], *, share: float, key: str) -> pd.DataFrame:
    frames = []
    listed = {p["file"] for p in meta["parts"]}
    found = {p.name for p in path.glob("*.parquet")}
    if found != listed:
        odd = sorted(found ^ listed)[0]
        raise ProvenanceError(f"dataset {path}: part {odd!r} is {'missing' if odd in listed else 'not in its sidecar'}")
    for part in meta["parts"]:
        frame = pd.read_parquet(path / part["file"])
        if len(frame) != part["rows"] or fingerprint_frame(frame) != part["content_fingerprint"]:
            raise ProvenanceError(f"dataset {path}: part {part['file']} was changed after it was "
                                  f"written ({len(frame)} rows, sidecar {part['rows']}, or its content differs)")
        if share < 1:
            frame = frame.loc[stable_share(frame["account_id"], share=share, key=key)]
        frames.append(frame)
    if not frames:
        raise ProvenanceError(f"dataset {path}: its sidecar lists no part")
    frame = _concat(frames)
    return frame.sort_values(["cutoff_time", "account_id"], kind="stable").reset_index(drop=True)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of one set concatenated; a categorical column whose parts carry other
    levels (a row group holds the levels it uses) gets their sorted union, the order
    the feature plan gives."""
    frames = [f for f in frames if len(f)] or frames[:1]
    for column in frames[0].columns:
        dtypes = [f[column].dtype for f in frames]
        if isinstance(dtypes[0], pd.CategoricalDtype) and any(d != dtypes[0] for d in dtypes):
            levels = sorted(set().union(*(d.categories for d in dtypes)), key=str)
            frames = [f.assign(**{column: f[column].cat.set_categories(levels)}) for f in frames]
    return pd.concat(frames, ignore_index=True)
