"""Read the scoring outputs of one as-of date into :class:`ReportInputs` (the edge).

Reads the layout of :class:`healthscore.scoring.outputs.OutputLayout` under
``params.score.out_dir`` and the exported model folder (``models/healthscore/``: its
bundle's ``manifest.json``, ``scale.json``, ``catalogue.json``, ``metrics.json``, an
optional ``reliability.json``, PNG plots, and ``registry.json``). Every part but the
risk list is optional: a missing part leaves an empty frame or dict and the report says
what is missing instead of failing.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.errors import DataError
from healthscore.io.columns import ParquetColumns
from healthscore.report.inputs import ReportInputs
from healthscore.scoring.outputs import OutputLayout, as_of_text

log = logging.getLogger(__name__)

#: The history columns the report shows (besides ``account_id`` and ``as_of``).
HISTORY_SHOWN = ("health_score", "band", "risk_proba", "arr")
#: Points columns no view reads (incremental scoring's).
POINTS_NOT_SHOWN = ("row_hash", "model_fingerprint")

#: Largest PNG plot embedded in the model page, and how many.
MAX_PLOT_BYTES = 2_000_000
MAX_PLOTS = 6


def _read_json(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def read_model_info(model_dir: str | Path | None) -> dict[str, Any]:
    """What the model page shows, from an exported model folder ({} when absent).

    The bundle is found as :func:`healthscore.model.export.find_bundle` finds it (the
    folder itself or ``data/bundle/`` of an MLflow model folder), and verified.
    """
    from healthscore.errors import ModelError
    from healthscore.model.export import find_bundle, verify_bundle

    if model_dir is None:
        return {}
    folder = Path(model_dir)
    try:
        bundle = find_bundle(folder)
    except ModelError:
        log.warning("report: no exported model under %s; the model page will be sparse", folder)
        return {}
    verify_bundle(bundle)  # a damaged folder is a named error, never shown as the model
    manifest = _read_json(bundle / "manifest.json", {})
    registry = _read_json(folder / "registry.json", {})
    info = dict(manifest.get("info") or {})
    plots = {}
    for path in sorted({*bundle.glob("*.png"), *folder.glob("*.png"), *(bundle / "plots").glob("*.png")}):
        if len(plots) < MAX_PLOTS and path.stat().st_size <= MAX_PLOT_BYTES:
            plots[path.name] = base64.b64encode(path.read_bytes()).decode("ascii")
    return {
        "version": registry.get("model_version") or info.get("model_version"),
        "run_id": registry.get("run_id") or info.get("run_id"),
        "kind": manifest.get("kind"),
        "created_at": manifest.get("created_at"),
        "package_version": manifest.get("package_version"),
        "metrics": _read_json(bundle / "metrics.json", {}),
        "catalogue": _read_json(bundle / "catalogue.json", {}),
        "scale": _read_json(bundle / "scale.json", {}),
        "reliability": _read_json(bundle / "reliability.json", None),
        "plots": plots,
    }


def read_report_inputs(
    outputs_dir: str | Path,
    *,
    as_of: Any = None,
    model_dir: str | Path | None = None,
) -> ReportInputs:
    """The scoring outputs of ``as_of`` (default: the latest complete run).

    Parameters
    ----------
    outputs_dir : path
        ``params.score.out_dir``.
    as_of : date-like, optional
        A date with a complete scoring run; default the latest.
    model_dir : path, optional
        The exported model folder (``params.tracking.export_dir``).

    Raises
    ------
    DataError
        No complete scoring run (at ``as_of``) under ``outputs_dir``.
    """
    layout = OutputLayout(Path(outputs_dir))
    when = layout.scored_date(as_of)
    previous = layout.previous_date(when)
    risk_list = layout.read_table("risk_list", when)
    if risk_list.empty:
        raise DataError(f"risk_list: {layout.risk_list(when)} is missing or empty")
    # only what the views show: the history's score columns, the dates up to this one;
    # the points without the bookkeeping of incremental scoring
    history = layout.read_history(columns=list(HISTORY_SHOWN), until=when)

    def points_of(date: Any) -> pd.DataFrame | ParquetColumns:
        # the wide points stay in their file, read a few columns at a time by the views
        # (hundreds of columns for every account: gigabytes in pandas at a million)
        path = None if date is None else layout.points_partition(date) / "part-0.parquet"
        if path is None or not path.exists():
            return pd.DataFrame()
        return ParquetColumns(path, drop=POINTS_NOT_SHOWN)

    run_info = layout.read_run(when)
    runs = tuple(_run_summary(layout.read_run(d), d) for d in layout.dates() if d < when)
    model_info = read_model_info(model_dir)
    if not model_info.get("version") and run_info.get("model_version"):
        model_info["version"] = run_info["model_version"]
    return ReportInputs(
        as_of=when,
        previous_as_of=previous,
        risk_list=risk_list,
        history=history,
        points=points_of(when),
        previous_points=points_of(previous),
        changes=(ParquetColumns(layout.changes(when)) if layout.changes(when).exists()
                 else pd.DataFrame()),  # read for the accounts shown only (normalise_inputs)
        alerts=layout.read_table("alerts", when),
        calls=_read_calls(layout.calls(when)),
        run_info=run_info,
        runs=(*runs, _run_summary(run_info, when)),
        uplift=read_uplift(layout, when),
        parents=layout.read_table("parents", when),
        parent_drivers=layout.read_table("parent_drivers", when),
        parent_alerts=layout.read_table("parent_alerts", when),
        people=layout.read_table("people", when),
        model_info=model_info,
    )


#: What the trend across runs takes from each ``run/<as_of>.json``.
RUN_SUMMARY_KEYS = ("as_of", "counts", "arr_at_risk")


def _run_summary(run: dict[str, Any], when: pd.Timestamp) -> dict[str, Any]:
    """A run file cut to what the trend needs (run files also hold the catalogue and
    params: the report keeps one of those, the current run's); ``as_of`` is the date
    the file is named for."""
    return {**{key: run[key] for key in RUN_SUMMARY_KEYS if key in run}, "as_of": as_of_text(when)}


def _read_calls(path: Path) -> pd.DataFrame:
    """The date's call list (``calls/<as_of>.csv``, written by ``score``); empty when
    the run wrote none. Ids and text stay text."""
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_uplift(layout: OutputLayout, when: pd.Timestamp) -> pd.DataFrame:
    """The plays' uplift of the latest date on or before ``when`` (``uplift/<date>.parquet``,
    written by ``score`` with its date, or by ``healthscore plays``), with ``as_of``: that
    date; empty when there is none."""
    from healthscore.scoring.outputs import parse_as_of

    dates = []
    for path in (layout.root / "uplift").glob("????-??-??.parquet"):
        try:
            dates.append(parse_as_of(path.stem))
        except DataError:
            continue  # not a date's file
    dates = [d for d in dates if d <= when]
    if not dates:
        return pd.DataFrame()
    latest = max(dates)
    return layout.read_table("uplift", latest).assign(as_of=latest)
