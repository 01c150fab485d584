"""Quality gates checked before a model version becomes the champion.

* ``max_ece``: the candidate's test expected calibration error is at most
  ``gates.max_ece``;
* ``max_auc_drop``: the candidate's test ROC-AUC is not below the current champion's
  by more than ``gates.max_auc_drop`` (passes when there is no champion yet).

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
