"""The scoring outputs on disk: their layout, reading them back, and writing one as-of
date as a unit.

Layout under ``params.score.out_dir`` (architecture.md, "Scoring outputs")::

    risk_list/<as_of>.parquet, risk_list/<as_of>.csv, risk_list/latest.parquet
    history/as_of=<YYYY-MM-DD>/part-0.parquet   one row per scored account
    points/as_of=<YYYY-MM-DD>/part-0.parquet    wide: values and points per feature
    changes/<as_of>.parquet                     why it changed (long)
    alerts/<as_of>.parquet
    tasks/<as_of>.parquet                       tasks the plays made (healthscore.plays)
    calls/<as_of>.csv                           the week's call list (healthscore.scoring.calls)
    people/<as_of>.parquet                      the contacts behind the score (healthscore.scoring.people)
    drift/<as_of>.parquet                       PSI per feature against training (healthscore.monitor)
    uplift/<as_of>.parquet                      each play's measured uplift (healthscore.plays.uplift)
    parents/<as_of>.parquet                     parent accounts rolled up (healthscore.scoring.parents)
    parent_drivers/<as_of>.parquet              the parents' drivers, naming their accounts
    challenger/<version>/risk_list/<as_of>.parquet  a challenger's risk list (score --challenger)
    run/<as_of>.json                            model version, counts, params

Partition files hold no ``as_of`` column: the folder name carries it (Hive style), and
:meth:`OutputLayout.read_history` adds it back.

Writing a date is a transaction (:mod:`healthscore.io.staging`): under the folder's lock,
every file is first written under a staging folder inside ``out_dir``, then one
journaled commit renames them into place (``run/<as_of>.json`` last, so a date with a
run file is complete). An exception while staging leaves every earlier output as it
was; a kill at any step of the commit leaves the old state or a journal that the next
run (or :meth:`OutputLayout.dates`) rolls forward to the new one, so a re-scored date
is complete, old or new, at every moment. Rerunning a date replaces that date's files
and partitions, and nothing else.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from healthscore.errors import DataError
from healthscore.io.files import write_json_atomic
from healthscore.io.staging import Stage, folder_lock, has_pending_commit, settle

_PARTITIONING = ds.partitioning(pa.schema([("as_of", pa.string())]), flavor="hive")


def parse_as_of(as_of: Any) -> pd.Timestamp:
    """``as_of`` (a date or its text) as a timestamp.

    Raises
    ------
    DataError
        Not a date (``''`` and ``'NaT'`` included).
    """
    try:
        when = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        when = pd.NaT
    if pd.isna(when):
        raise DataError(f"--as-of {as_of!r}: expected a date such as 2024-06-30")
    return when


def as_of_text(as_of: Any) -> str:
    """``YYYY-MM-DD`` of an as-of date."""
    return pd.Timestamp(as_of).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class OutputLayout:
    """Paths of the scoring outputs under ``root`` (``params.score.out_dir``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -------------------------------------------------------------- paths

    def risk_list(self, as_of: Any, *, suffix: str = "parquet") -> Path:
        return self.root / "risk_list" / f"{as_of_text(as_of)}.{suffix}"

    @property
    def latest_risk_list(self) -> Path:
        return self.root / "risk_list" / "latest.parquet"

    def history_partition(self, as_of: Any) -> Path:
        return self.root / "history" / f"as_of={as_of_text(as_of)}"

    def points_partition(self, as_of: Any) -> Path:
        return self.root / "points" / f"as_of={as_of_text(as_of)}"

    def changes(self, as_of: Any) -> Path:
        return self.root / "changes" / f"{as_of_text(as_of)}.parquet"

    def alerts(self, as_of: Any) -> Path:
        return self.root / "alerts" / f"{as_of_text(as_of)}.parquet"

    def tasks(self, as_of: Any) -> Path:
        return self.root / "tasks" / f"{as_of_text(as_of)}.parquet"

    def calls(self, as_of: Any) -> Path:
        return self.root / "calls" / f"{as_of_text(as_of)}.csv"

    def people(self, as_of: Any) -> Path:
        return self.root / "people" / f"{as_of_text(as_of)}.parquet"

    def drift(self, as_of: Any) -> Path:
        return self.root / "drift" / f"{as_of_text(as_of)}.parquet"

    def uplift(self, as_of: Any) -> Path:
        return self.root / "uplift" / f"{as_of_text(as_of)}.parquet"

    def parents(self, as_of: Any) -> Path:
        """The parent accounts' roll-up (:mod:`healthscore.scoring.parents`)."""
        return self.root / "parents" / f"{as_of_text(as_of)}.parquet"

    def parent_drivers(self, as_of: Any) -> Path:
        return self.root / "parent_drivers" / f"{as_of_text(as_of)}.parquet"

    def parent_alerts(self, as_of: Any) -> Path:
        """The parents' alerts (:mod:`healthscore.scoring.parent_alerts`)."""
        return self.root / "parent_alerts" / f"{as_of_text(as_of)}.parquet"

    def parent_tasks(self, as_of: Any) -> Path:
        return self.root / "parent_tasks" / f"{as_of_text(as_of)}.parquet"

    def run(self, as_of: Any) -> Path:
        return self.root / "run" / f"{as_of_text(as_of)}.json"

    def challenger_risk_list(self, version: str, as_of: Any) -> Path:
        """A challenger's risk list (:mod:`healthscore.scoring.challenger`)."""
        return self.root / "challenger" / str(version) / "risk_list" / f"{as_of_text(as_of)}.parquet"

    # ------------------------------------------------------------ reading

    def dates(self) -> list[pd.Timestamp]:
        """As-of dates with a complete run (a run file and a history partition), sorted.

        A commit a killed run left half done is finished first (under the folder's lock),
        so a re-scored date counts with its old or its new files, never with neither.
        """
        if has_pending_commit(self.root):
            settle(self.root)
        folder = self.root / "run"
        if not folder.is_dir():
            return []
        found = []
        for path in folder.glob("*.json"):
            try:
                when = pd.Timestamp(path.stem)
            except ValueError:
                continue
            if (self.history_partition(when) / "part-0.parquet").exists():
                found.append(when)
        return sorted(found)

    def previous_date(self, as_of: Any) -> pd.Timestamp | None:
        """The latest complete date strictly before ``as_of``, or None."""
        earlier = [d for d in self.dates() if d < pd.Timestamp(as_of)]
        return earlier[-1] if earlier else None

    def scored_date(self, as_of: Any = None) -> pd.Timestamp:
        """``as_of`` (default: the latest date) when it has a complete run.

        Raises
        ------
        DataError
            ``as_of`` is not a date; nothing was scored yet under this folder, or not
            on ``as_of``.
        """
        dates = self.dates()
        if not dates:
            raise DataError(f"no scoring runs under {self.root}; run `healthscore score --as-of DATE` first")
        when = dates[-1] if as_of is None else parse_as_of(as_of)
        if when not in dates:
            shown = ", ".join(as_of_text(d) for d in dates[-5:])
            raise DataError(f"as-of date {as_of_text(when)} was not scored under {self.root} "
                            f"(scored dates: {shown})")
        return when

    def latest_date(self) -> pd.Timestamp | None:
        dates = self.dates()
        return dates[-1] if dates else None

    def read_history(
        self, *, account_ids: Any = None, columns: list[str] | None = None, until: Any = None
    ) -> pd.DataFrame:
        """Every history partition (complete dates only), with ``as_of`` (datetime64[us]).

        ``account_ids`` keeps only those accounts (pushed down to the Parquet scan);
        ``until``: only the dates up to it (those partitions alone are read).
        """
        dates = [d for d in self.dates() if until is None or d <= pd.Timestamp(until)]
        if not dates:
            return pd.DataFrame()
        files = [str(self.history_partition(d) / "part-0.parquet") for d in dates]
        dataset = ds.dataset(
            files, format="parquet", partitioning=_PARTITIONING,
            partition_base_dir=str(self.root / "history"),
        )
        where = None
        if account_ids is not None:
            where = ds.field("account_id").isin(pa.array(pd.Series(list(account_ids))))
        cols = None if columns is None else [  # those the partitions have
            c for c in dict.fromkeys(["account_id", *columns, "as_of"]) if c in dataset.schema.names]
        frame = dataset.to_table(columns=cols, filter=where).to_pandas()
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
        return frame.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)

    def read_partition(self, kind: str, as_of: Any, *, account_ids: Any = None,
                       columns: list[str] | None = None, drop: tuple[str, ...] = ()) -> pd.DataFrame:
        """One ``history`` or ``points`` partition (``columns``: only those; ``drop``:
        all but those); DataError when absent."""
        folder = self.history_partition(as_of) if kind == "history" else self.points_partition(as_of)
        path = folder / "part-0.parquet"
        if not path.exists():
            raise DataError(f"no {kind} for as-of date {as_of_text(as_of)} under {self.root}")
        filters = None
        if account_ids is not None:
            filters = [("account_id", "in", list(account_ids))]
        if drop:
            import pyarrow.parquet as pq

            columns = [c for c in (columns or pq.read_schema(path).names) if c not in drop]
        return pd.read_parquet(path, filters=filters, columns=columns)

    def read_table(self, kind: str, as_of: Any) -> pd.DataFrame:
        """``changes``, ``alerts``, ``tasks``, ``parents``, ``parent_drivers``,
        ``parent_alerts``, ``parent_tasks`` or the risk list of a date (empty frame if absent)."""
        path = self.risk_list(as_of) if kind == "risk_list" else getattr(self, kind)(as_of)
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    def read_run(self, as_of: Any) -> dict[str, Any]:
        path = self.run(as_of)
        if not path.exists():
            raise DataError(f"no scoring run for as-of date {as_of_text(as_of)} under {self.root}")
        return json.loads(path.read_text())


# ---------------------------------------------------------------- writing


@dataclass
class DateOutputs:
    """Everything one as-of date writes; ``write_date`` puts it in place."""

    as_of: pd.Timestamp
    risk_list: pd.DataFrame
    history: pd.DataFrame
    points: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    run: Mapping[str, Any]
    tasks: pd.DataFrame | None = None  # written when set (healthscore.plays)
    calls: pd.DataFrame | None = None  # written as CSV when set (healthscore.scoring.calls)
    drift: pd.DataFrame | None = None  # written when set (healthscore.monitor)
    uplift: pd.DataFrame | None = None  # written when set (healthscore.plays.uplift)
    parents: pd.DataFrame | None = None  # written when set (healthscore.scoring.parents)
    parent_drivers: pd.DataFrame | None = None  # written with ``parents``
    parent_alerts: pd.DataFrame | None = None  # written when set (healthscore.scoring.parent_alerts)
    parent_tasks: pd.DataFrame | None = None  # written when set: the plays' tasks of the parent alerts
    people: pd.DataFrame | None = None  # written when set: a source with contacts (scoring.people)
    challengers: Mapping[str, pd.DataFrame] | None = None  # version -> risk list (score --challenger)
    #: A bucketed run's spooled points and changes (healthscore.scoring.spool): then
    #: ``points`` and ``changes`` are None, read with :meth:`read_points` / :meth:`read_changes`.
    spool: Any = None

    def read_points(self, *, account_ids: Any = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The points rows (of ``account_ids``; ``columns`` with ``account_id``), in
        memory or spooled."""
        return self._read("points", account_ids, columns)

    def read_changes(self, *, account_ids: Any = None) -> pd.DataFrame:
        """The why-it-changed lines (of ``account_ids``), in memory or spooled."""
        return self._read("changes", account_ids, None)

    def _read(self, kind: str, account_ids: Any, columns: list[str] | None) -> pd.DataFrame:
        frame = getattr(self, kind)
        if frame is None and self.spool is not None:
            return self.spool.read(kind, account_ids=account_ids, columns=columns)
        if frame is None:  # nothing stored of this kind (e.g. no account needs its points)
            return None
        if account_ids is not None:
            frame = frame.loc[frame["account_id"].isin(pd.Index(account_ids))]
        if columns is not None:
            wanted = {"account_id", *columns}
            frame = frame.loc[:, [c for c in frame.columns if c in wanted]]
        return frame


def write_date(
    layout: OutputLayout,
    outputs: DateOutputs,
    *,
    write_csv: Callable[[pd.DataFrame, Path], None],
    update_latest: bool,
) -> None:
    """Write one date's outputs under ``layout.root``, all or nothing (module docstring).

    Takes the folder's lock (:func:`~healthscore.io.staging.folder_lock`; a caller holding
    it already, as ``healthscore score`` does for the whole run, keeps it).

    Parameters
    ----------
    write_csv : callable
        Writes the risk list as CSV (formula cells neutralised by the caller's writer).
    update_latest : bool
        Replace ``risk_list/latest.parquet`` (only when this is the latest date).
    """
    when = outputs.as_of
    with folder_lock(layout.root), Stage(layout.root, f"score-{as_of_text(when)}") as stage:
        staged = OutputLayout(stage.new)
        # the risk list's CSV (the interpreter's work) in a thread while the Parquet files
        # (written outside the interpreter's lock) are merged; waited for before the commit
        # and before the stage is removed on an error
        with ThreadPoolExecutor(max_workers=1) as pool:
            csv = pool.submit(_write_csv, write_csv, outputs.risk_list, staged.risk_list(when, suffix="csv"))
            for kind, path in (("points", staged.points_partition(when) / "part-0.parquet"),
                               ("changes", staged.changes(when))):
                if getattr(outputs, kind) is None and outputs.spool is not None:
                    outputs.spool.write_merged(kind, path)  # merged from the buckets' parts
                else:
                    _write_parquet(getattr(outputs, kind), path)
            _write_parquet(outputs.history, staged.history_partition(when) / "part-0.parquet")
            _write_parquet(outputs.alerts, staged.alerts(when))
            _write_parquet(outputs.risk_list, staged.risk_list(when))
            csv.result()
        entries = [staged.points_partition(when), staged.history_partition(when), staged.changes(when),
                   staged.alerts(when), staged.risk_list(when), staged.risk_list(when, suffix="csv")]
        if outputs.tasks is not None:
            _write_parquet(outputs.tasks, staged.tasks(when))
            entries.append(staged.tasks(when))
        if outputs.calls is not None:
            staged.calls(when).parent.mkdir(parents=True, exist_ok=True)
            write_csv(outputs.calls, staged.calls(when))
            entries.append(staged.calls(when))
        if outputs.drift is not None:
            _write_parquet(outputs.drift, staged.drift(when))
            entries.append(staged.drift(when))
        if outputs.uplift is not None:
            _write_parquet(outputs.uplift, staged.uplift(when))
            entries.append(staged.uplift(when))
        if outputs.parents is not None:
            for kind in ("parents", "parent_drivers", "parent_alerts", "parent_tasks"):
                if getattr(outputs, kind) is not None:
                    _write_parquet(getattr(outputs, kind), getattr(staged, kind)(when))
                    entries.append(getattr(staged, kind)(when))
        if outputs.people is not None:
            _write_parquet(outputs.people, staged.people(when))
            entries.append(staged.people(when))
        for version, frame in (outputs.challengers or {}).items():
            _write_parquet(frame, staged.challenger_risk_list(version, when))
            entries.append(staged.challenger_risk_list(version, when))
        if update_latest:
            shutil.copyfile(staged.risk_list(when), staged.latest_risk_list)
            entries.append(staged.latest_risk_list)
        write_json_atomic(dict(outputs.run), staged.run(when))
        entries.append(staged.run(when))  # last: the run file marks the date complete
        stage.commit([p.relative_to(stage.new).as_posix() for p in entries])
    if outputs.spool is not None:
        outputs.spool.close()


def _write_csv(write_csv: Callable[[pd.DataFrame, Path], None], frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    from healthscore.scoring.spool import write_parquet  # row groups a per-bucket read can skip

    write_parquet(frame, path)
