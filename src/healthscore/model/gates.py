"""Quality gates checked before a model version becomes the champion.

* ``max_ece``: the candidate's test expected calibration error is at most
  ``gates.max_ece``;
* ``max_auc_drop``: the candidate's test ROC-AUC is not below the current champion's
  by more than ``gates.max_auc_drop`` (passes when there is no champion yet);
* on matured outcomes (:func:`check_matured`, ``params.challenger``): a challenger
  scored beside the champion (``score --challenger``) is not worse than it, in ROC-AUC
  and ECE, on what happened to the same accounts on the same dates.

Pure: the figures come from :mod:`healthscore.tracking`, which raises the
:class:`~healthscore.errors.GateError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class GateCheck:
    """One gate's verdict and the figures behind it, in words."""

    gate: str
    passed: bool
    message: str


def check_gates(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    gates: Any,
    *,
    candidate_name: str = "candidate",
    champion_name: str = "champion",
) -> list[GateCheck]:
    """Check every gate; each :class:`GateCheck` says which figures decided it.

    Parameters
    ----------
    candidate, champion : mapping with ``roc_auc`` and ``ece`` (test window)
        ``champion`` is None when no version holds the alias yet.
    gates : healthscore.config.GateParams
    """
    checks = []
    ece = float(candidate.get("ece", math.nan))
    ok = math.isfinite(ece) and ece <= gates.max_ece
    checks.append(
        GateCheck(
            "max_ece",
            ok,
            f"test ECE of {candidate_name} is {ece:.4f}; "
            f"{'within' if ok else 'above'} the limit {gates.max_ece:.4f}",
        )
    )
    auc = float(candidate.get("roc_auc", math.nan))
    if champion is None:
        ok = math.isfinite(auc)
        message = f"test ROC-AUC of {candidate_name} is {auc:.4f}; no champion to compare with"
    else:
        best = float(champion.get("roc_auc", math.nan))
        ok = math.isfinite(auc) and (not math.isfinite(best) or auc >= best - gates.max_auc_drop)
        message = (
            f"test ROC-AUC of {candidate_name} is {auc:.4f} against {best:.4f} for the "
            f"{champion_name}: a drop of {best - auc:+.4f}, "
            f"{'within' if ok else 'beyond'} the allowed {gates.max_auc_drop:.4f}"
        )
    checks.append(GateCheck("max_auc_drop", ok, message))
    return checks


def check_matured(comparison: Mapping[str, Any], challenger: Any) -> list[GateCheck]:
    """The gates on matured outcomes of champion and challenger over the same dates
    (``comparison``: :func:`healthscore.monitor.challenger.compare_on_matured`).

    ``matured_auc``: the challenger's ROC-AUC is not below the champion's by more than
    ``challenger.max_auc_drop``; ``matured_ece``: its ECE not above the champion's by
    more than ``challenger.max_ece_rise``. Not measured (no matured outcomes yet): no
    check (the comparison's own line says why), the test-window gates decide; fewer
    than ``challenger.min_accounts`` pairs: one passing ``matured_outcomes`` check that
    says so.
    """
    if comparison.get("status") != "measured":
        return []
    n = int(comparison["accounts"])
    if n < challenger.min_accounts:
        return [GateCheck("matured_outcomes", True,
                          f"only {n} matured outcomes, fewer than {challenger.min_accounts}; "
                          "the test-window gates decide")]
    a, b = comparison["champion"], comparison["challenger"]
    on = f"on {n} matured outcomes"
    auc, best = float(b["roc_auc"]), float(a["roc_auc"])
    ok = math.isfinite(auc) and (not math.isfinite(best) or auc >= best - challenger.max_auc_drop)
    checks = [GateCheck("matured_auc", ok,
                        f"ROC-AUC {on}: challenger {auc:.4f} against {best:.4f} for the champion, "
                        f"a drop of {best - auc:+.4f}, {'within' if ok else 'beyond'} the allowed "
                        f"{challenger.max_auc_drop:.4f}")]
    ece, base = float(b["ece"]), float(a["ece"])
    ok = math.isfinite(ece) and (not math.isfinite(base) or ece <= base + challenger.max_ece_rise)
    checks.append(GateCheck("matured_ece", ok,
                            f"ECE {on}: challenger {ece:.4f} against {base:.4f} for the champion, "
                            f"a rise of {ece - base:+.4f}, {'within' if ok else 'beyond'} the allowed "
                            f"{challenger.max_ece_rise:.4f}"))
    return checks
