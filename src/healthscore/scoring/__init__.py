"""Score an as-of date: the risk list, the score history, why it changed and alerts.

* :func:`score_date`: features, scores and explanations of every active account, and
  every output frame of the date (pure: nothing read nor written).
* :class:`OutputLayout`, :func:`write_date`: the output folders, read back and written
  one date at a time, atomically (see :mod:`healthscore.scoring.outputs`).
* :func:`read_previous`, :func:`read_reusable_points`: what earlier dates left.
* :func:`read_account`, :func:`render_account`: one account's stored explanation.
* :func:`attribute_changes`, :func:`make_alerts`, :func:`build_risk_list`,
  :func:`neutralise_formulas`: the pieces, for the report and tests.
"""

from healthscore.scoring.account import AccountExplanation, read_account, render_account
from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.changes import attribute_changes, change_reasons, describe_change
from healthscore.scoring.engine import explain_rows, model_identity, score_date
from healthscore.scoring.history import Previous, make_history_rows, read_previous, read_reusable_points
from healthscore.scoring.outputs import DateOutputs, OutputLayout, as_of_text, write_date
from healthscore.scoring.risk_list import (
    build_risk_list, check_as_of, make_scoring_cutoffs, neutralise_formulas, write_risk_csv,
)

__all__ = [
    "AccountExplanation", "DateOutputs", "OutputLayout", "Previous", "as_of_text",
    "attribute_changes", "build_risk_list", "change_reasons", "check_as_of", "describe_change",
    "explain_rows", "make_alerts", "make_history_rows", "make_scoring_cutoffs", "model_identity",
    "neutralise_formulas", "read_account", "read_previous",
    "read_reusable_points", "render_account", "score_date", "write_date", "write_risk_csv",
]
