"""The account simulator: a B2B SaaS market with known causes of churn.

Accounts (SMB, Mid-Market, Enterprise) sign monthly or annual contracts that renew or
not. Each has a hidden health that drifts month to month and suffers events a
customer-success manager would recognise (the champion leaves, a bad release, a
budget cut, payment trouble, a support escalation, a competitor evaluation; good news:
a new team onboarded, a referral). Every cause leaves traces in its family of
observable signals, and the renewal decision is drawn at the notice date
(``renewal_date - notice_days``) from what happened before it, so a model cut off
``notice_days`` before the renewal can approach the oracle (``ground_truth``).

Public API::

    spec = SimulationSpec(n_accounts=2000, months=24, seed=1)
    frames = simulate(spec)                      # dict of DataFrames, small sizes
    paths = write_simulation(spec, "data/demo")  # chunked Parquet, bounded memory

The parts live in :mod:`healthscore.sim`.
"""

from __future__ import annotations

from healthscore.sim.output import write_simulation
from healthscore.sim.run import simulate
from healthscore.sim.spec import SimulationSpec
from healthscore.sim.tables import CONTRACT_TABLES, OUTPUT_TABLES, SCHEMAS
from healthscore.sim.world import CAUSES, FAMILIES

__all__ = ["CAUSES", "CONTRACT_TABLES", "FAMILIES", "OUTPUT_TABLES", "SCHEMAS",
           "SimulationSpec", "simulate", "write_simulation"]
