"""MLflow "models from code" entry point; MLflow executes this file to load the model.

Not imported by the package itself: setting the model is this file's only purpose.
"""

import mlflow.models

from healthscore.model.pyfunc import HealthScorePyfunc

mlflow.models.set_model(HealthScorePyfunc())
