"""The model a scoring command names: ``--model`` (a registry URI or a folder), else
``params.tracking.export_dir``. Used by ``score``, ``monitor``, the challenger and the
model-change split."""

from __future__ import annotations

from typing import Any


def load_scoring_model(model: Any, params: Any) -> Any:
    """The exported model ``model`` names (else ``tracking.export_dir``): a model URI
    from the registry (only then is MLflow imported) or a folder."""
    from healthscore.model.export import is_model_uri, load_exported

    model = model or params.tracking.export_dir
    if is_model_uri(str(model)):
        from healthscore.tracking import load_model

        return load_model(str(model), params=params.tracking)
    return load_exported(model)
