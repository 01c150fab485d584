"""Quality gates: pure checks of ECE and of the AUC drop against the champion."""

from __future__ import annotations

from healthscore.config import GateParams
from healthscore.model.gates import check_gates

GATES = GateParams(max_auc_drop=0.01, max_ece=0.05)


def _verdicts(candidate, champion):
    return {c.gate: c.passed for c in check_gates(candidate, champion, GATES)}


def test_first_model_needs_only_a_calibrated_ece():
    assert _verdicts({"roc_auc": 0.7, "ece": 0.02}, None) == {"max_ece": True, "max_auc_drop": True}
    assert _verdicts({"roc_auc": 0.7, "ece": 0.08}, None)["max_ece"] is False


def test_a_worse_model_is_refused_with_its_figures():
    checks = check_gates({"roc_auc": 0.78, "ece": 0.02}, {"roc_auc": 0.80, "ece": 0.01}, GATES,
                         candidate_name="version 3", champion_name="champion (version 2)")
    failed = [c for c in checks if not c.passed]
    assert [c.gate for c in failed] == ["max_auc_drop"]
    assert "0.7800" in failed[0].message and "0.8000" in failed[0].message
    assert "version 3" in failed[0].message and "version 2" in failed[0].message


def test_a_small_drop_within_the_allowance_passes():
    assert _verdicts({"roc_auc": 0.795, "ece": 0.02}, {"roc_auc": 0.80, "ece": 0.01})["max_auc_drop"]


def test_missing_figures_fail():
    assert _verdicts({}, None) == {"max_ece": False, "max_auc_drop": False}
