"""Arrow schemas of the simulator's output and the assembly of one chunk's tables.

The engine collects plain NumPy arrays (ints for codes, int64 microseconds or days
for instants, ``-1`` for missing); this module turns them into Arrow tables with the
contract's column names and types, sorted by account and time, with row ids.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from healthscore.sim import world as w
from healthscore.sim.spec import DAY_US

TS = pa.timestamp("us")

SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([
        ("account_id", pa.int64()), ("name", pa.string()), ("segment", pa.string()),
        ("plan", pa.string()), ("industry", pa.string()), ("region", pa.string()),
        ("owner", pa.string()), ("created_at", TS), ("seats", pa.float64()),
    ]),
    "subscriptions": pa.schema([
        ("account_id", pa.int64()), ("subscription_id", pa.int64()),
        ("start_date", TS), ("end_date", TS), ("mrr", pa.float64()), ("plan", pa.string()),
    ]),
    "events": pa.schema([
        ("account_id", pa.int64()), ("user_id", pa.int64()), ("timestamp", TS),
        ("event", pa.string()), ("quantity", pa.float64()),
    ]),
    "tickets": pa.schema([
        ("account_id", pa.int64()), ("ticket_id", pa.int64()), ("opened_at", TS),
        ("closed_at", TS), ("priority", pa.string()), ("csat", pa.float64()),
    ]),
    "invoices": pa.schema([
        ("account_id", pa.int64()), ("invoice_id", pa.int64()), ("issued_at", TS),
        ("due_at", TS), ("paid_at", TS), ("amount", pa.float64()),
    ]),
    "surveys": pa.schema([
        ("account_id", pa.int64()), ("user_id", pa.int64()), ("responded_at", TS),
        ("score", pa.float64()), ("kind", pa.string()),
    ]),
    "emails": pa.schema([
        ("account_id", pa.int64()), ("sent_at", TS), ("opened_at", TS), ("clicked_at", TS),
    ]),
    "signals": pa.schema([
        ("account_id", pa.int64()), ("timestamp", TS), ("signal", pa.string()),
        ("value", pa.float64()),
    ]),
    "ground_truth": pa.schema([
        ("account_id", pa.int64()), ("subscription_id", pa.int64()),
        ("renewal_date", TS), ("decision_date", TS), ("churn_proba", pa.float64()),
        ("churned", pa.bool_()), ("primary_cause", pa.string()),
        ("cause_family", pa.string()), ("cause_at", TS), ("segment", pa.string()),
        ("term_months", pa.int64()), ("health", pa.float64()),
    ]),
    "oracle": pa.schema([
        ("account_id", pa.int64()), ("cutoff_time", TS), ("horizon_days", pa.int64()),
        ("risk_horizon", pa.float64()), ("next_renewal_date", TS),
        ("risk_next_renewal", pa.float64()), ("term_months", pa.int64()),
    ]),
    # written only when the spec asks for contacts (healthscore.sim.people)
    "contacts": pa.schema([
        ("account_id", pa.int64()), ("user_id", pa.int64()), ("role", pa.string()),
        ("name", pa.string()), ("email", pa.string()), ("started_at", TS), ("left_at", TS),
    ]),
    # written only when the spec has plays (healthscore.sim.plays)
    "interventions": pa.schema([
        ("account_id", pa.int64()), ("play", pa.string()), ("date", TS), ("outcome", pa.string()),
    ]),
    "play_assignments": pa.schema([
        ("account_id", pa.int64()), ("play", pa.string()), ("as_of", TS), ("arm", pa.string()),
        ("segment", pa.string()),
    ]),
    "play_truth": pa.schema([
        ("account_id", pa.int64()), ("play", pa.string()), ("as_of", TS), ("arm", pa.string()),
        ("decision_date", TS), ("renewal_date", TS), ("proba_untreated", pa.float64()),
        ("proba_treated", pa.float64()),
    ]),
}
CONTRACT_TABLES = ("accounts", "subscriptions", "events", "tickets", "invoices", "surveys",
                   "emails", "signals")
OUTPUT_TABLES = CONTRACT_TABLES + ("ground_truth",)
#: Written only when the spec asks for it (``oracle_horizon_days``).
ORACLE_TABLE = "oracle"
#: Written only when the spec asks for it (``contacts``): a contract table.
CONTACTS_TABLE = "contacts"
#: Written only when the spec has plays (``plays``): a contract table, then the truth.
PLAY_TABLES = ("interventions", "play_assignments", "play_truth")

#: Columns held as integer codes, and the names the codes stand for.
CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("accounts", "segment"): w.SEGMENTS,
    ("accounts", "plan"): w.PLANS,
    ("accounts", "industry"): w.INDUSTRIES,
    ("accounts", "region"): w.REGIONS,
    ("subscriptions", "plan"): w.PLANS,
    ("events", "event"): w.EVENT_TYPES,
    ("tickets", "priority"): w.PRIORITIES,
    ("surveys", "kind"): w.SURVEY_KINDS,
    ("signals", "signal"): w.SIGNALS,
    ("ground_truth", "primary_cause"): w.CAUSE_NAMES,
    ("ground_truth", "cause_family"): tuple(c.family for c in w.CAUSES),
    ("ground_truth", "segment"): w.SEGMENTS,
    ("play_assignments", "segment"): w.SEGMENTS,
}
#: Instants held as days since 1970-01-01 (midnight) rather than microseconds.
DAY_COLUMNS = {("accounts", "created_at"), ("contacts", "started_at"), ("contacts", "left_at"), ("subscriptions", "start_date"),
               ("subscriptions", "end_date"), ("invoices", "issued_at"),
               ("invoices", "due_at"), ("ground_truth", "renewal_date"),
               ("ground_truth", "decision_date"), ("ground_truth", "cause_at"),
               ("oracle", "cutoff_time"), ("oracle", "next_renewal_date"),
               ("interventions", "date"), ("play_assignments", "as_of"), ("play_truth", "as_of"),
               ("play_truth", "decision_date"), ("play_truth", "renewal_date")}
#: Time column each table is sorted by (after account_id), and its row-id column.
SORT_BY = {"subscriptions": "start_date", "events": "timestamp", "tickets": "opened_at",
           "invoices": "issued_at", "surveys": "responded_at", "emails": "sent_at",
           "signals": "timestamp", "ground_truth": "renewal_date",
           "oracle": "cutoff_time", "interventions": "date", "play_assignments": "as_of",
           "play_truth": "renewal_date", "contacts": "started_at"}
ROW_IDS = {"tickets": ("ticket_id", 100_000), "invoices": ("invoice_id", 10_000)}


#: ``accounts.parent_account_id``, written when the spec draws parents (-1: none).
PARENT_FIELD = pa.field("parent_account_id", pa.int64())


#: ``oracle.expansion_proba``, written when the spec asks for the expansion oracle.
EXPANSION_FIELD = pa.field("expansion_proba", pa.float64())


def table_schema(table: str, *, parents: bool = False, expansion: bool = False) -> pa.Schema:
    """The Arrow schema of ``table``: :data:`SCHEMAS`'s, with ``parent_account_id``
    last in ``accounts`` when the spec draws parents and ``expansion_proba`` last in
    ``oracle`` when it asks for the expansion oracle."""
    schema = SCHEMAS[table]
    if parents and table == "accounts":
        return schema.append(PARENT_FIELD)
    return schema.append(EXPANSION_FIELD) if expansion and table == "oracle" else schema


def output_tables(*, oracle: bool, plays: bool = False, contacts: bool = False) -> tuple[str, ...]:
    """The tables a simulation writes: :data:`OUTPUT_TABLES`, then ``oracle`` if asked,
    then :data:`PLAY_TABLES` when the spec has plays, then ``contacts`` if asked."""
    return (OUTPUT_TABLES + ((ORACLE_TABLE,) if oracle else ()) + (PLAY_TABLES if plays else ())
            + ((CONTACTS_TABLE,) if contacts else ()))


def spec_tables(spec) -> tuple[str, ...]:
    """:func:`output_tables` of a :class:`~healthscore.sim.spec.SimulationSpec`."""
    return output_tables(oracle=spec.oracle_horizon_days is not None, plays=bool(spec.plays),
                         contacts=spec.contacts)


class Columns:
    """Growing column arrays of every output table (parts appended month by month)."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[str, list[np.ndarray]]] = defaultdict(
            lambda: defaultdict(list))

    def add(self, table: str, **columns: np.ndarray) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:  # a bug in the engine, not user input
            raise ValueError(f"{table}: columns of unequal lengths {lengths}")
        for name, values in columns.items():
            self._parts[table][name].append(np.asarray(values))

    def arrays(self, table: str) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self._parts[table].items()}


def _to_arrow(table: str, name: str, values: np.ndarray, field: pa.Field) -> pa.Array:
    if (table, name) in CODES:
        names = pa.array(CODES[(table, name)], type=pa.string())
        codes = values.astype(np.int64)
        return pc.take(names, pa.array(codes, mask=codes < 0))
    if field.type == TS:
        micros = values.astype(np.int64)
        missing = micros < 0
        if (table, name) in DAY_COLUMNS:
            micros = micros * DAY_US
        return pa.array(micros, type=TS, mask=missing)
    if field.type == pa.string():
        return pa.array(values.astype(str), type=pa.string())
    if field.type == pa.float64():
        values = values.astype(np.float64)
        return pa.array(values, mask=np.isnan(values))
    if field == PARENT_FIELD:
        return pa.array(values, type=field.type, mask=values < 0)
    return pa.array(values, type=field.type)


def _seq_within(keys: np.ndarray) -> np.ndarray:
    """1-based position of each row within its run of equal (sorted) keys."""
    idx = np.arange(len(keys))
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0)) + 1


def build_table(table: str, arrays: dict[str, np.ndarray]) -> pa.Table:
    """One chunk's table, sorted by (account_id, time), with row ids filled in."""
    schema = table_schema(table, parents="parent_account_id" in arrays,
                          expansion="expansion_proba" in arrays)
    n = len(arrays["account_id"]) if arrays else 0
    if n == 0:
        return schema.empty_table()
    if table in SORT_BY:
        order = np.lexsort((arrays[SORT_BY[table]], arrays["account_id"]))
        arrays = {k: v[order] for k, v in arrays.items()}
    if table in ROW_IDS:
        column, base = ROW_IDS[table]
        arrays[column] = arrays["account_id"] * base + _seq_within(arrays["account_id"])
    columns = [_to_arrow(table, f.name, arrays[f.name], f) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
