"""Which simulated causes the data shows by a cutoff (``model.oracle.cause_traced``).

The explanation fidelity and the oracle gap are split by it: a cause that left no
trace between its strike and the cutoff is in no data a model or an explanation reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataError
from healthscore.model.oracle import cause_traced

T = pd.Timestamp


def rows(*items: tuple) -> pd.DataFrame:
    """(account, cause, cause_at, cutoff) per row."""
    return pd.DataFrame(items, columns=["account_id", "primary_cause", "cause_at", "cutoff_time"]).astype(
        {"cause_at": "datetime64[us]", "cutoff_time": "datetime64[us]"})


TABLES = {
    "invoices": pd.DataFrame({
        "account_id": [1, 2, 3, 4],
        "due_at": [T("2024-03-01"), T("2024-03-01"), T("2024-01-01"), T("2024-03-01")],
        # 1: paid late; 2: paid on time; 3: unpaid but due before the strike; 4: unpaid
        "paid_at": [T("2024-03-20"), T("2024-02-25"), pd.NaT, pd.NaT],
    }).astype({"due_at": "datetime64[us]", "paid_at": "datetime64[us]"}),
    "signals": pd.DataFrame({
        "account_id": [5, 6, 7],
        "timestamp": [T("2024-02-10"), T("2024-02-10"), T("2024-02-10")],
        "signal": ["downgrade_request", "feature_request", "competitor_mention"],
    }).astype({"timestamp": "datetime64[us]"}),
    "surveys": pd.DataFrame({
        "account_id": [8, 9], "responded_at": [T("2024-02-10"), T("2024-02-10")], "score": [4.0, 9.0],
    }).astype({"responded_at": "datetime64[us]"}),
}


def test_a_cause_is_traced_only_by_its_own_trace_between_the_strike_and_the_cutoff():
    frame = rows(
        (1, "payment_trouble", "2024-02-01", "2024-04-01"),  # paid late: overdue on 03-01
        (2, "payment_trouble", "2024-02-01", "2024-04-01"),  # paid on time
        (3, "payment_trouble", "2024-02-01", "2024-04-01"),  # overdue since before the strike
        (4, "payment_trouble", "2024-02-01", "2024-04-01"),  # unpaid
        (4, "payment_trouble", "2024-02-01", "2024-02-15"),  # not due yet at the cutoff
        (5, "budget_cut", "2024-02-01", "2024-04-01"),       # downgrade request recorded
        (6, "budget_cut", "2024-02-01", "2024-04-01"),       # another signal only
        (7, "competitor_evaluation", "2024-02-01", "2024-04-01"),  # a mention
        (8, "competitor_evaluation", "2024-02-01", "2024-04-01"),  # a detractor answer
        (9, "competitor_evaluation", "2024-02-01", "2024-04-01"),  # a promoter answer
        (5, "budget_cut", "2024-02-01", "2024-02-05"),       # recorded after the cutoff
    )
    assert cause_traced(frame, TABLES).tolist() == [
        True, False, False, True, False, True, False, True, True, False, False]


def test_usage_and_support_causes_always_show_once_struck_and_no_cause_never_does():
    frame = rows(
        (1, "champion_left", "2024-02-01", "2024-04-01"),
        (1, "support_escalation", "2024-02-01", "2024-04-01"),
        (1, "bad_release", "2024-05-01", "2024-04-01"),      # strikes after the cutoff
        (1, None, None, "2024-04-01"),
        (1, "budget_cut", None, "2024-04-01"),                # no strike date
    )
    assert cause_traced(frame, TABLES).tolist() == [True, True, False, False, False]


def test_an_absent_table_shows_no_trace_and_a_missing_column_is_named():
    frame = rows((1, "payment_trouble", "2024-02-01", "2024-04-01"))
    assert not cause_traced(frame, {}).any()
    assert isinstance(cause_traced(frame, TABLES), np.ndarray)
    with pytest.raises(DataError, match="cause_at"):
        cause_traced(frame.drop(columns="cause_at"), TABLES)
