"""Champion and challenger: ``healthscore score --challenger VERSION``.

The challenger (a registered version, a ``models:/`` URI or a model folder, loaded as
the champion is: :func:`healthscore.scoring.model_source.load_scoring_model`) scores the same
accounts on the same date. The champion's outputs are not touched; the challenger's
risk list is written aside, ``challenger/<version>/risk_list/<as_of>.parquet``, in the
same commit as the date (:class:`~healthscore.scoring.outputs.DateOutputs`
``challengers``). ``healthscore promote`` compares the two on matured outcomes
(:mod:`healthscore.monitor.challenger`).

:func:`finish_scoring` is the one call ``healthscore score`` makes after scoring: it
records where the model came from, splits a model change between the data and the
model (:mod:`healthscore.scoring.model_split`) and scores the challenger.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.errors import ModelError
from healthscore.scoring.model_source import load_scoring_model
from healthscore.scoring.model_split import model_source, split_line, split_model_change

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def challenger_reference(text: str, *, registered_model: str) -> str:
    """What ``--challenger`` names, as ``load_scoring_model`` takes it: a bare number
    that is not a folder is that version of the registered model."""
    text = str(text).strip()
    if text.isdigit() and not Path(text).exists():
        return f"models:/{registered_model}/{text}"
    return text


def challenger_name(exported: Any) -> str:
    """The folder name of a challenger's outputs: its registered version, else
    ``sha-`` and its fingerprint's start (:func:`~healthscore.scoring.engine.model_identity`)."""
    from healthscore.scoring.engine import model_identity

    name = model_identity(exported)[0]
    if not _SAFE.match(name):
        raise ModelError(f"--challenger: model version {name!r} cannot name a folder "
                         "(expected letters, digits, '.', '_' or '-')")
    return name


def load_challenger(text: str, *, params: Any) -> Any:
    return load_scoring_model(challenger_reference(text, registered_model=params.tracking.registered_model),
                              params)


def score_with(model: Any, *, as_of: pd.Timestamp, tables: Any, source: Any, params: Any) -> Any:
    """Every output frame of ``model`` on ``as_of`` over the same data as the
    champion's run (no previous date: its ``score_change`` is empty; the champion's
    outputs hold the history). Written nowhere."""
    from healthscore.scoring import score_date
    from healthscore.scoring.buckets import score_bucketed

    options = dict(as_of=as_of, features=params.features, score=params.score, alerts=params.alerts,
                   previous=None, reuse=None, currency=params.report.currency,
                   lifecycle=params.lifecycle)
    if tables is None:  # a bucketed source, one bucket at a time
        return score_bucketed(source, model, bounds=params.buckets, **options)
    return score_date(tables, model, **options)


def finish_scoring(outputs: Any, exported: Any, *, model: Any, challenger: str | None,
                   previous: Any, tables: Any, source: Any, layout: Any, params: Any) -> None:
    """After ``score_date``, before the date is written: ``model_source`` in the run, a
    model change split (``outputs.changes``), and the challenger's risk list
    (``outputs.challengers``, ``run.challenger``)."""
    outputs.run = {**outputs.run, "model_source": model_source(model)}

    def rescore(other: Any) -> pd.DataFrame:
        return score_with(other, as_of=outputs.as_of, tables=tables, source=source, params=params).points

    split_model_change(outputs, exported, previous=previous, layout=layout, params=params, rescore=rescore)
    if not challenger:
        return
    other = load_challenger(challenger, params=params)
    name = challenger_name(other)
    if name == outputs.run.get("model_version"):
        raise ModelError(f"--challenger {challenger}: that is the champion's version ({name}); "
                         "name another model")
    risk = score_with(other, as_of=outputs.as_of, tables=tables, source=source, params=params).risk_list
    outputs.challengers = {name: risk}
    champion = outputs.risk_list.set_index("account_id")["health_score"]
    both = risk["account_id"].isin(champion.index)
    moved = (risk.loc[both, "health_score"].to_numpy()
             - champion.loc[risk.loc[both, "account_id"]].to_numpy())
    outputs.run = {**outputs.run, "challenger": {
        "model_version": name, "source": model_source(challenger_reference(
            challenger, registered_model=params.tracking.registered_model)),
        "scored": int(len(risk)), "red": int((risk["band"] == "red").sum()),
        "mean_score_change": float(moved.mean()) if len(moved) else None,
        "risk_list": layout.challenger_risk_list(name, outputs.as_of).relative_to(layout.root).as_posix(),
    }}


def finish_lines(run: dict[str, Any]) -> list[str]:
    """The terminal lines of :func:`finish_scoring`: the split of why it changed and
    the challenger (none when neither happened)."""
    lines = [line for line in [split_line(run)] if line]
    c = run.get("challenger")
    if c:
        change = c.get("mean_score_change")
        said = "" if change is None else f", {change:+.1f} points on average against the champion"
        lines.append(f"  challenger {c['model_version']}: {c['scored']:,} accounts scored, {c['red']:,} red"
                     f"{said} ({c['risk_list']})")
    return lines

