"""Chunks of accounts to tables: the in-memory entry of the simulator."""

from __future__ import annotations

from typing import Iterator

import pandas as pd
import pyarrow as pa

from healthscore.progress import Progress
from healthscore.sim.accounts import make_roster
from healthscore.sim.engine import ChunkEngine, hidden_frame
from healthscore.sim.spec import SimulationSpec
from healthscore.sim.tables import build_table, spec_tables


def _account_table(engine: ChunkEngine) -> dict:
    b = engine.book
    out = {
        "account_id": b.account_id, "name": b.name, "segment": b.segment, "plan": b.plan,
        "industry": b.industry, "region": b.region, "owner": engine.roster.csm_names[b.owner],
        "created_at": b.created_day, "seats": b.seats,
    }
    if engine.parent is not None:  # spec.parents_share
        out["parent_account_id"] = engine.parent
    return out


def n_chunks(spec: SimulationSpec) -> int:
    """How many chunks of ``spec.chunk_accounts`` accounts the spec has."""
    return -(-spec.n_accounts // spec.chunk_accounts)


def iter_chunks(spec: SimulationSpec, *, hidden: bool = False
                ) -> Iterator[tuple[dict[str, pa.Table], pd.DataFrame | None]]:
    """Simulate chunk after chunk; yields ``(tables, hidden_state_or_None)``.

    Each chunk is an independent stream seeded by ``(seed, chunk index)``, so memory
    is bounded by one chunk and the result does not depend on how it is consumed.
    Tables follow :data:`healthscore.sim.tables.SCHEMAS`, sorted by account and time;
    ``oracle`` is among them when ``spec.oracle_horizon_days`` is set.
    """
    names = spec_tables(spec)
    roster = make_roster(spec)
    months = (spec.burn_in_months + spec.months) * n_chunks(spec)
    with Progress(months, what="simulate", unit="months" if n_chunks(spec) == 1 else "chunk-months") as bar:
        for chunk in range(n_chunks(spec)):
            engine = ChunkEngine(spec, roster, chunk, hidden=hidden)
            columns = engine.run(on_month=bar.advance)
            tables = {"accounts": build_table("accounts", _account_table(engine))}
            for name in names[1:]:
                tables[name] = build_table(name, columns.arrays(name))
            yield tables, (hidden_frame(columns) if hidden else None)


def simulate(spec: SimulationSpec, *, return_hidden: bool = False) -> dict[str, pd.DataFrame]:
    """Simulate ``spec`` in memory (for small sizes; use ``write_simulation`` for big).

    Parameters
    ----------
    spec : SimulationSpec
    return_hidden : bool
        Also return ``"hidden"``: one row per active account-month with the hidden
        health (``z``: latent, ``health``: after causes and good news), each cause's
        intensity, the active users and the seats paid for. A debug output, never written to disk.

    Returns
    -------
    dict of str to DataFrame
        Every contract table, ``ground_truth`` (``oracle`` when the spec asks for it;
        and ``hidden``). Timestamps are ``datetime64[us]``, naive UTC; ``account_id``
        is int64 everywhere.
    """
    names = spec_tables(spec)
    parts: dict[str, list[pa.Table]] = {name: [] for name in names}
    hidden_parts = []
    for tables, hidden in iter_chunks(spec, hidden=return_hidden):
        for name, table in tables.items():
            parts[name].append(table)
        if hidden is not None:
            hidden_parts.append(hidden)
    out = {name: pa.concat_tables(tables).to_pandas() for name, tables in parts.items()}
    if return_hidden:
        out["hidden"] = pd.concat(hidden_parts, ignore_index=True)
    return out
