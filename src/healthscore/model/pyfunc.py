"""The MLflow pyfunc of an exported model (logged as "models from code").

MLflow loads the model by running :mod:`healthscore.model._mlflow_code`, which calls
``mlflow.models.set_model(HealthScorePyfunc())``; the weights come from the bundle
artifact (plain files, see :mod:`healthscore.model.export`). Nothing is unpickled.
Imported only by that file and by :mod:`healthscore.tracking` (it imports MLflow).
"""

from __future__ import annotations

from pathlib import Path
import mlflow.pyfunc
import pandas as pd

from healthscore.model.export import ExportedModel, load_bundle

#: The models-from-code file given to ``mlflow.pyfunc.log_model(python_model=...)``.
CODE_PATH = Path(__file__).with_name("_mlflow_code.py")


class HealthScorePyfunc(mlflow.pyfunc.PythonModel):
    """Scores a frame of features: ``risk_proba``, ``health_score``, ``band``.

    An ``account_id`` column in the input is passed through as the first column.
    """

    def load_context(self, context) -> None:
        self.exported: ExportedModel = load_bundle(context.artifacts["bundle"])

    # ``pd.DataFrame`` is a hint MLflow accepts without deriving a schema from it.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
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
