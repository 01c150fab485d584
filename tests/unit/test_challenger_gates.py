"""The promotion gates on matured outcomes of champion and challenger, and how
``--challenger`` names a model."""

from __future__ import annotations

import pytest

from healthscore.config import make_params
from healthscore.errors import ConfigError
from healthscore.model.gates import check_matured
from healthscore.monitor.challenger import comparison_line
from healthscore.scoring.challenger import challenger_reference

SETTINGS = make_params({"challenger": {"max_auc_drop": 0.02, "max_ece_rise": 0.01, "min_accounts": 100}}).challenger


def measured(auc, ece, *, accounts=400):
    return {"status": "measured", "dates": ["2024-03-01", "2024-06-01"], "accounts": accounts, "churned": 40,
            "champion": {"roc_auc": 0.80, "ece": 0.03, "versions": ["1"]},
            "challenger": {"roc_auc": auc, "ece": ece, "version": "2"}}


def by_gate(checks):
    return {c.gate: c for c in checks}


def test_a_challenger_within_the_margins_passes_both_gates():
    checks = by_gate(check_matured(measured(0.79, 0.035), SETTINGS))
    assert set(checks) == {"matured_auc", "matured_ece"} and all(c.passed for c in checks.values())
    assert "challenger 0.7900 against 0.8000 for the champion, a drop of +0.0100, within the allowed 0.0200" \
        in checks["matured_auc"].message


@pytest.mark.parametrize(("auc", "ece", "failed"), [
    (0.77, 0.03, {"matured_auc"}),          # ROC-AUC 0.03 below: more than 0.02
    (0.80, 0.045, {"matured_ece"}),         # ECE 0.015 above: more than 0.01
    (0.50, 0.20, {"matured_auc", "matured_ece"}),
    (float("nan"), 0.03, {"matured_auc"}),  # no ROC-AUC (one class): not shown to be as good
])
def test_a_worse_challenger_fails_the_gate_that_names_its_figures(auc, ece, failed):
    checks = by_gate(check_matured(measured(auc, ece), SETTINGS))
    assert {g for g, c in checks.items() if not c.passed} == failed
    for gate in failed:
        assert "beyond the allowed" in checks[gate].message


def test_no_matured_outcomes_or_too_few_fall_back_to_the_test_window_gates():
    not_yet = {"status": "not measured", "reason": "no matured outcomes yet: ..."}
    assert check_matured(not_yet, SETTINGS) == []
    assert comparison_line(not_yet) == "matured outcomes: no matured outcomes yet: ...; the test-window gates decide"
    (check,) = check_matured(measured(0.5, 0.5, accounts=99), SETTINGS)
    assert check.passed and "only 99 matured outcomes, fewer than 100" in check.message


def test_the_comparison_is_one_line():
    line = comparison_line(measured(0.79, 0.035))
    assert "\n" not in line
    assert line == ("matured outcomes of 400 accounts (40 lost) on 2 date(s) 2024-03-01..2024-06-01: "
                    "champion (version 1) ROC-AUC 0.800 ECE 0.030; challenger version 2 ROC-AUC 0.790 ECE 0.035")


def test_a_bare_number_is_a_registered_version_unless_a_folder_has_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert challenger_reference("3", registered_model="healthscore") == "models:/healthscore/3"
    (tmp_path / "3").mkdir()
    assert challenger_reference("3", registered_model="healthscore") == "3"
    assert challenger_reference("models:/x@challenger", registered_model="healthscore") == "models:/x@challenger"


def test_the_challenger_section_refuses_an_unknown_key_and_a_margin_out_of_range():
    with pytest.raises(ConfigError, match="challenger"):
        make_params({"challenger": {"max_auc_dorp": 0.01}})
    with pytest.raises(ConfigError, match="max_ece_rise"):
        make_params({"challenger": {"max_ece_rise": 2}})
