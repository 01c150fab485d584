"""Write tiny bundles with the BASE code (PYTHONPATH=/tmp/pred_base/src) for test_pred."""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
from scipy.special import expit
from healthscore.config import ScorecardRule
from healthscore.model.baselines import RuleScorecard
from healthscore.model.calibration import Calibrator
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel, save_bundle
from healthscore.model.exposure import Horizon, account_exposure, expand_intervals, fit_hazard_calibration
from healthscore.model.scale import HealthScale
from healthscore.scoring.engine import model_identity

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)
n = 200
T = pd.Timestamp
X = pd.DataFrame({
    "usage__x": rng.normal(size=n),
    "tickets__open__now": rng.integers(0, 5, n).astype(float),
    "accounts__segment": pd.Categorical(rng.choice(["smb", "enterprise"], n)),
})
y = (rng.random(n) < expit(-1.0 + 1.5 * X["usage__x"])).astype(int)
small = dict(n_estimators=6, num_leaves=4, min_child_samples=10, holdout_share=0.0, n_jobs=1)
scale = HealthScale()
renewal = HealthScoreModel(**small).fit(X, y)
card = RuleScorecard([ScorecardRule("usage__x", good=-1.0, bad=1.5, weight=2.0),
                      ScorecardRule("tickets__open__now", good=0, bad=4, weight=1.0)],
                     scale=scale).fit(X, y)
horizon = Horizon(horizon_days=365, lead_days=0, grace_days=30)
accounts = X.assign(cutoff_time=np.array([T("2024-01-01")] * n, dtype="datetime64[us]"),
                    renewal_date=(T("2024-01-01") + pd.to_timedelta(rng.integers(5, 360, n), unit="D")).astype("datetime64[us]"),
                    term_days=np.where(rng.random(n) < 0.4, 30.0, 365.0))
H = account_exposure(accounts, horizon)
rows, owner = expand_intervals(H)
hy = (rng.random(len(rows)) < expit(-3 + rows["usage__x"])).astype(int)
names = ["usage__x", "accounts__segment", "exposure__lead_days", "exposure__renewal_index", "exposure__term_days"]
hazard = HealthScoreModel(**small).fit(rows[names], hy)
a, b, a_lead, b_lead = fit_hazard_calibration(hazard.predict_margin(rows[names]),
                                              rows["exposure__lead_days"].to_numpy() / 365, hy)
hazard.calibrator_ = Calibrator("platt", a, b, a_lead=a_lead, b_lead=b_lead)
cases = {
    "renewal": (ExportedModel(kind="lightgbm", scale=scale, model=renewal, metrics={"m": 0.5},
                              catalogue={"usage__x": {"label": "Usage"}}, info={"run_id": "r1"},
                              reliability=[{"predicted": 0.1, "observed": 0.2, "count": 3}]), X.head(12)),
    "hazard": (ExportedModel(kind="lightgbm", scale=scale, model=hazard, horizon=horizon), None),
    "scorecard": (ExportedModel(kind="scorecard", scale=scale, scorecard=card), X.head(12)),
}
cases["hazard"] = (cases["hazard"][0], H.head(12)[cases["hazard"][0].feature_names])
identity = {}
for name, (exported, inputs) in cases.items():
    save_bundle(exported, out / name / "bundle")
    inputs.reset_index(drop=True).to_parquet(out / name / "inputs.parquet")
    exported.predict_frame(inputs.reset_index(drop=True)).to_parquet(out / name / "expected.parquet")
    identity[name] = model_identity(exported)[1]
(out / "fingerprints.json").write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n")
