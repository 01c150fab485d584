"""The MLflow pyfunc of an exported model: a loader module, no code in the model folder.

The model is logged with ``loader_module="healthscore.model.pyfunc"`` and the bundle as
its data (``data/bundle/``), so ``mlflow.pyfunc.load_model`` imports this module of
the installed package and calls :func:`_load_pyfunc`; nothing in the folder is executed
or unpickled. The folder is verified before any file is parsed: the exported folder's
``model_manifest.json`` when it has one, and always the bundle's ``manifest.json``,
whose format and package version must be ones this package reads
(:mod:`healthscore.model.export`). Imports no MLflow.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from healthscore.model.export import ExportedModel, load_bundle, verify_export

#: The value of the MLmodel ``loader_module`` key.
LOADER_MODULE = __name__


class HealthScorePyfunc:
    """Scores a frame of features: ``risk_proba``, ``health_score``, ``band``.

    An ``account_id`` column in the input is passed through as the first column.
    """

    def __init__(self, exported: ExportedModel) -> None:
        self.exported = exported

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """``model_input``: a frame of feature columns, as in the training set."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        horizon = self.exported.horizon
        if horizon is not None and "exposure__renewals" not in frame.columns:
            from healthscore.model.exposure import account_exposure

            frame = account_exposure(frame, horizon)  # from cutoff_time, renewal_date, term_days
        out = self.exported.predict_frame(frame)
        if "account_id" in frame.columns:
            out.insert(0, "account_id", frame["account_id"].to_numpy())
        return out.reset_index(drop=True)


def _load_pyfunc(data_path: str) -> HealthScorePyfunc:
    """MLflow's entry point: ``data_path`` is the model folder's ``data/bundle``."""
    bundle = Path(data_path)
    root = bundle.parent.parent
    if (root / "MLmodel").is_file():
        verify_export(root)
    return HealthScorePyfunc(load_bundle(bundle))
