"""Writing a simulation to disk: one file per table, chunk by chunk, atomically.

A folder a simulation wrote is recognised by its README's first line
(:data:`README_TITLE`); any other folder that holds files is refused unless the caller
says ``force``, so ``simulate --out`` cannot overwrite someone's real tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from healthscore.errors import ConfigError, OutputError
from healthscore.sim import world as w
from healthscore.sim.run import iter_chunks
from healthscore.sim.spec import SimulationSpec
from healthscore.sim.tables import (CONTACTS_TABLE, CONTRACT_TABLES, ORACLE_TABLE, OUTPUT_TABLES,
                                    PLAY_TABLES, SCHEMAS, spec_tables, table_schema)
from healthscore.io.staging import Stage, folder_lock, is_bookkeeping

#: The README's first line: the mark of a folder a simulation wrote.
README_TITLE = "# Simulated B2B SaaS accounts (healthscore simulate)"

#: Parquet options: fixed, so the same spec gives byte-identical files.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}

TABLE_NOTES = {
    "accounts": "one row per account: firmographics, the CSM who owns it, creation "
                "date; `plan` and `seats` as first contracted in the data",
    "subscriptions": "one row per contract (monthly or annual); a renewal is a new row "
                     "starting exactly at its predecessor's `end_date`; no successor = "
                     "churn. Contracts ending after the window are current ones",
    "events": "product usage: one user's use of one feature on one day (`quantity` = "
              "actions); every active user appears at least once a month",
    "tickets": "support tickets with priority low/normal/high/urgent, `closed_at` "
               "(null while open) and `csat` 1-5 (null when not answered)",
    "invoices": "monthly, quarterly or annual invoices; card payers are charged on the "
                "issue date (due the next day), the others pay net 30; `paid_at` null "
                "when unpaid (or not yet paid at the end of the window)",
    "surveys": "NPS answers (`kind` = nps, `score` 0-10)",
    "emails": "marketing and CS emails with open and click instants (null if none)",
    "signals": "CRM signals: " + ", ".join(w.SIGNALS),
    "contacts": "each account's champion (seat 0; `left_at` when the champion left, the "
                "heir's `started_at` that day) and executive sponsor (no product use)",
}


def _open_writer(path: Path, schema: pa.Schema, fmt: str):
    if fmt == "parquet":
        return pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)
    return pacsv.CSVWriter(path, schema)


def render_readme(spec: SimulationSpec, rows: dict[str, int], fmt: str) -> str:
    """The schema note written beside the tables (deterministic: no clock)."""
    lines = [
        README_TITLE,
        "",
        f"Window: [{spec.start}, {spec.end}) ({spec.months} months), "
        f"{spec.n_accounts} accounts, seed {spec.seed}. Timestamps are naive UTC, "
        "microsecond precision; `account_id` is int64 in every table.",
        "",
        "## Tables",
        "",
        "| table | rows | columns | meaning |",
        "|---|---:|---|---|",
    ]
    for name in CONTRACT_TABLES + ((CONTACTS_TABLE,) if spec.contacts else ()):
        cols = ", ".join(table_schema(name, parents=bool(spec.parents_share)).names)
        note = TABLE_NOTES[name]
        if name == "accounts" and spec.parents_share:
            note += ("; `parent_account_id`: the parent account of a child (null for the others), "
                     "whose family shares a shift of hidden health")
        lines.append(f"| {name}.{fmt} | {rows[name]} | {cols} | {note} |")
    causes = ", ".join(f"{c.name} ({c.family})" for c in w.CAUSES)
    lines += [
        "",
        "## Ground truth (`ground_truth." + fmt + "`, never a feature)",
        "",
        f"{rows['ground_truth']} rows, one per renewal inside the window whose outcome "
        "was drawn: " + ", ".join(SCHEMAS["ground_truth"].names) + ".",
        "",
        f"Each account has a hidden health that drifts monthly (AR(1)). A customer "
        f"decides at `decision_date` = `renewal_date` - {spec.notice_days} days (the "
        "notice date) from its hidden health at the end of the previous month and the "
        "causes that struck at least a month before; `churn_proba` is the logistic "
        "probability used to draw `churned`. `primary_cause` is the cause adding the "
        f"most log-odds (at least {w.PRIMARY_CAUSE_MIN_LOGIT}), also on retained "
        f"renewals; its `cause_family` is where it shows: {causes}. `cause_at` is "
        "when it struck; `health` the latent hidden health used (before the causes' "
        "own effects); `term_months` 1 or 12 (the contract length).",
        "",
        "Renewals ending after the window have no row (their outcome is censored). "
        "Monthly contracts whose notice date falls before the account's first month "
        "renew by default and have no row. Several signals are partial on purpose: "
        "a cause is recorded as a CRM signal only sometimes (downgrade_request 70 %, "
        "contact_change 40 %, competitor_mention 35 %).",
        "",
    ]
    if spec.oracle_horizon_days is not None:
        lines += _oracle_notes(spec, rows, fmt)
    if spec.plays:
        lines += _play_notes(spec, rows, fmt)
    lines += [
        "## Spec",
        "",
        "```json",
        json.dumps(spec.to_dict(), indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def _oracle_notes(spec: SimulationSpec, rows: dict[str, int], fmt: str) -> list[str]:
    days = spec.oracle_horizon_days
    share = spec.oracle_expansion_increase
    names = table_schema("oracle", expansion=share is not None).names
    lines = [
        f"## Oracle (`oracle.{fmt}`, never a feature)",
        "",
        f"{rows['oracle']} rows, one per (`account_id`, `cutoff_time`) for every first "
        "of a month in the window (00:00) at which the account is a customer (a "
        "contract with `start_date` < `cutoff_time` <= `end_date`): "
        + ", ".join(names) + ".",
        "",
        f"`risk_horizon` is the true probability that the account's last contract ends "
        f"within [`cutoff_time`, `cutoff_time` + {days} days), `risk_next_renewal` "
        "that the renewal at `next_renewal_date` (the current contract's end) is lost, "
        "both given only the hidden state at the cutoff: health, cause intensities, "
        "and the probability (never the outcome) of every decision already drawn. "
        "The future is averaged over Monte Carlo paths of the simulator's own "
        "dynamics (standard error: median 0.003, below 0.0065 for 95 % of the rows).",
        "",
    ]
    if share is not None:
        lines += [
            f"`expansion_proba` is the true probability that the MRR rises by at least "
            f"{share:.0%} over the MRR held at the cutoff at some renewal within the same "
            f"{days} days and that the account is not lost in them (the expansion label "
            "with no lead time), given the same hidden state plus the contract and the "
            "pending new teams and budget cuts; averaged over paths the same way.",
            "",
        ]
    return lines


def _play_notes(spec: SimulationSpec, rows: dict[str, int], fmt: str) -> list[str]:
    plays = "; ".join(f"`{p.name}` aimed at {', '.join(p.targets)}, removing "
                      + (", ".join(f"{e:.0%} of {c}" for c, e in p.effects.items() if e) or "nothing (a null play)")
                      + f", {p.holdout:.0%} held out" for p in spec.plays)
    return [
        f"## Plays (`interventions.{fmt}`; `play_assignments.{fmt}`, `play_truth.{fmt}` never features)",
        "",
        f"Plays with a known true effect: {plays}. An account a target cause struck is "
        "assigned at the first of the next month, once per play, to the task or the hold-out "
        "arm by the seeded hash of the real plays (stratified by segment); each treated "
        "account's renewal decisions drawn from then on lose that share of the cause's "
        "churn log-odds.",
        "",
        f"`interventions` ({rows['interventions']} rows): one touch per treated account "
        f"(a contract table). `play_assignments` ({rows['play_assignments']} rows): every "
        f"assignment, both arms. `play_truth` ({rows['play_truth']} rows): every decision "
        "of an assigned account drawn after its assignment, with its churn probability "
        "untreated and treated.",
        "",
    ]


def is_simulation_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a simulation's README (it wrote the folder)."""
    readme = Path(folder) / "README.md"
    try:
        with readme.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == README_TITLE
    except (OSError, UnicodeDecodeError):
        return False


def check_simulation_target(out_dir: str | Path, *, force: bool = False) -> Path:
    """``out_dir`` as a Path when a simulation may write it: missing, empty, written by
    a simulation, or ``force``; else :class:`OutputError` naming a file found there."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"simulate --out {out} is a file; expected a folder")
    if force or not out.is_dir() or is_simulation_folder(out):
        return out
    theirs = sorted(p.name for p in out.iterdir() if not is_bookkeeping(p.name))
    if theirs:
        raise OutputError(
            f"simulate --out {out} holds files a simulation did not write (e.g. {theirs[0]!r}; "
            f"no README.md starting {README_TITLE!r}); choose an empty or new folder, or pass "
            "--force to overwrite its tables")
    return out


def write_simulation(spec: SimulationSpec, out_dir: str | Path, *,
                     format: Literal["parquet", "csv"] = "parquet", force: bool = False) -> dict[str, Path]:
    """Simulate ``spec`` chunk by chunk and write every table to ``out_dir``.

    Memory is bounded by one chunk (``spec.chunk_accounts`` accounts). Under the
    folder's lock, files are written into a staging folder inside ``out_dir`` and put
    in place by one commit (:mod:`healthscore.io.staging`) only when all are complete, so
    a failed run leaves earlier files untouched. The same spec gives byte-identical
    files. Tables of an earlier simulation that this one does not write (the other
    format, an oracle no longer asked for) are removed, so no stale table is read.

    Parameters
    ----------
    spec : SimulationSpec
    out_dir : path
        Created if missing. Receives ``<table>.<format>`` for every contract table,
        ``ground_truth.<format>`` (``oracle.<format>`` when the spec asks for it) and
        ``README.md``. A folder holding files a simulation did not write is refused
        (:class:`~healthscore.errors.OutputError`) unless ``force``.
    format : {"parquet", "csv"}
    force : bool
        Write into a folder a simulation did not write (its tables of the same names
        are overwritten; its other files are kept).

    Returns
    -------
    dict of str to Path
        Table name (and ``"readme"``) to the file written.
    """
    if format not in ("parquet", "csv"):
        raise ConfigError(f"simulate: format={format!r}, expected 'parquet' or 'csv'")
    out = check_simulation_target(out_dir, force=force)
    with folder_lock(out, what="simulation folder"), Stage(out, "simulate") as stage:
        ours = is_simulation_folder(out)
        if not ours:
            check_simulation_target(out, force=force)  # again, now that no one else writes it
        names = spec_tables(spec)
        paths = {name: stage.new / f"{name}.{format}" for name in names}
        expansion = spec.oracle_expansion_increase is not None
        writers = {name: _open_writer(paths[name], table_schema(
            name, parents=bool(spec.parents_share), expansion=expansion), format) for name in names}
        rows = dict.fromkeys(names, 0)
        try:
            for tables, _ in iter_chunks(spec):
                for name, table in tables.items():
                    if table.num_rows:
                        writers[name].write_table(table)
                        rows[name] += table.num_rows
        finally:
            for writer in writers.values():
                writer.close()
        paths["readme"] = stage.new / "README.md"
        paths["readme"].write_text(render_readme(spec, rows, format), encoding="utf-8")
        written = [path.name for path in paths.values()]
        stale = [f"{name}.{ext}" for name in (*OUTPUT_TABLES, ORACLE_TABLE, *PLAY_TABLES, CONTACTS_TABLE)
                 for ext in ("parquet", "csv")
                 if ours and f"{name}.{ext}" not in written and (out / f"{name}.{ext}").is_file()]
        stage.commit([n for n in written if n != "README.md"] + ["README.md"], remove=stale)
    return {name: out / path.name for name, path in paths.items()}
