"""One bucket scored as a task outside the run's process: on a Spark executor
(:mod:`healthscore.scoring.spark`) or in a worker process of this machine
(:mod:`healthscore.scoring.pool`).

A task loads the model once per process from its folder (:func:`task_model`), runs what
one machine runs for its bucket (:func:`~healthscore.scoring.buckets.score_bucket`) and
writes the bucket's frames as Parquet parts into the date's spool folder inside the
output folder (:func:`bucket_task`). It returns only the run record of its part and the
project error it stopped on; the run's process reads the parts back
(:func:`read_part`) and merges them as a bucketed run does
(:func:`~healthscore.scoring.buckets.finish_buckets`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore import errors
from healthscore.errors import HealthscoreError, ModelError, NoActiveAccountsError
from healthscore.io.files import json_text
from healthscore.scoring.buckets import score_bucket
from healthscore.scoring.outputs import DateOutputs
from healthscore.scoring.spool import SPOOLED, Spool, write_part

#: The frames a task writes besides the spooled ones (one narrow row per account).
NARROW = ("risk_list", "history", "alerts")

_MODELS: dict[tuple[str, str | None], Any] = {}


def task_model(folder: str, fingerprint: str | None) -> Any:
    """The exported model of ``folder``, loaded once per Python process and kept.

    Raises
    ------
    ModelError
        The folder now holds another model than the run loaded (``fingerprint``, the
        bundle's): it changed during the run.
    """
    key = (folder, fingerprint)
    if key not in _MODELS:
        from healthscore.model.export import load_exported

        exported = load_exported(folder)
        found = exported.info.get("bundle_fingerprint")
        if found != fingerprint:
            raise ModelError(f"{folder}: the model folder holds bundle {found}, the driver loaded "
                             f"{fingerprint}; was it promoted during the run? Score again")
        _MODELS[key] = exported
    return _MODELS[key]


def model_folder_of(model: Any, *, where: str = "a Spark run") -> str:
    """The model folder the tasks load (an absolute path).

    Raises
    ------
    ModelError
        A registry URI: the tasks load a folder; export the champion
        (``healthscore promote``) to a folder they can read.
    """
    from healthscore.model.export import is_model_uri

    if is_model_uri(str(model)):
        raise ModelError(f"--model {model}: {where} loads the model in its tasks from a folder; "
                         "pass the exported model folder (healthscore promote exports it) on a path "
                         "the tasks can read")
    return str(Path(model).resolve())


def bucket_task(root: str, bucket: int, model: Any, where: str, options: dict[str, Any]
                ) -> tuple[str | None, str | None]:
    """Score one bucket and write its parts into the spool folder ``where``.

    Returns ``(run, error)``: the run record of the part as JSON (None: nothing active
    in the bucket) and the project error it stopped on as ``[class, message]`` JSON
    (None: none); other errors propagate.
    """
    try:
        part = score_bucket(root, bucket, model, **options)
    except HealthscoreError as exc:  # the run's process raises it again, in one line
        return None, json.dumps([type(exc).__name__, str(exc)])
    if part is None:
        return None, None
    for kind in (*SPOOLED, *NARROW):
        write_part(Path(where), kind, getattr(part, kind), bucket)
    if part.people is not None:  # a source with contacts
        write_part(Path(where), "people", part.people, bucket)
    return json_text(dict(part.run)), None


def task_error(bucket: int, root: str, kind: str, message: str) -> HealthscoreError:
    """The project error a task stopped on, naming the bucket (:func:`project_error`)."""
    return project_error(kind, f"bucket {bucket} of {root}: {message}")


def project_error(kind: str, message: str) -> HealthscoreError:
    """A project error of the class named ``kind`` (another process's, by name), or of
    the nearest base that takes a message alone (``ValidationError`` -> ``DataError``)."""
    found = getattr(errors, kind, None)
    cls = found if isinstance(found, type) and issubclass(found, HealthscoreError) else HealthscoreError
    cls = next(c for c in cls.__mro__ if c.__init__ is Exception.__init__)
    return cls(message)


def read_part(spool: Spool, bucket: int, run_text: str, as_of: pd.Timestamp) -> DateOutputs:
    """One task's part: its spooled frames adopted by ``spool``, its narrow ones read."""
    path = {kind: spool.folder / kind / f"part-{bucket:05d}.parquet" for kind in (*SPOOLED, *NARROW)}
    for kind in SPOOLED:
        spool.adopt(kind, path[kind])
    narrow = {kind: pd.read_parquet(path[kind]) for kind in NARROW}
    people = spool.folder / "people" / f"part-{bucket:05d}.parquet"
    return DateOutputs(pd.Timestamp(as_of), narrow["risk_list"], narrow["history"], None, None,
                       narrow["alerts"], json.loads(run_text),
                       people=pd.read_parquet(people) if people.exists() else None)


def resolved(stored: Any) -> Any:
    """A :class:`~healthscore.scoring.history.PreviousDate` or ``StoredPoints`` whose
    output folder is an absolute path (the tasks may run in another folder); anything
    else as it is."""
    from healthscore.scoring.outputs import OutputLayout

    if dataclasses.is_dataclass(stored) and isinstance(getattr(stored, "layout", None), OutputLayout):
        return dataclasses.replace(stored, layout=OutputLayout(stored.layout.root.resolve()))
    return stored


def collect_parts(spool: Spool, results: list[tuple[int, str | None, str | None]], *, root: str,
                  as_of: pd.Timestamp) -> list[DateOutputs]:
    """The parts of the tasks' ``(bucket, run, error)`` results, in bucket order.

    Raises
    ------
    HealthscoreError
        The first bucket's error, naming the bucket (:func:`task_error`).
    NoActiveAccountsError
        No bucket had an active account.
    """
    results = sorted(results, key=lambda r: r[0])
    for bucket, _, error in results:
        if error is not None:
            raise task_error(bucket, root, *json.loads(error))
    parts = [read_part(spool, bucket, run, as_of) for bucket, run, _ in results if run is not None]
    if not parts:
        raise NoActiveAccountsError(f"no account is active on {as_of:%Y-%m-%d} in any bucket of {root}")
    return parts
