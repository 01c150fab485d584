"""The renewal calendar as exposure: intervals, their labels, the window's risk and its
explanation (healthscore.model.exposure, explain.explain_horizon)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from healthscore.scoring.drivers import split_profile
from healthscore.scoring.explain import explain_model
from healthscore.model.calibration import Calibrator
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel, load_bundle, save_bundle
from healthscore.model.predictor import HazardPredictor
from healthscore.model.exposure import (
    RENEWALS, Horizon, account_exposure, combine_hazards, count_renewals, expand_intervals,
    fit_hazard_calibration, make_interval_rows, window_risk,
)
from healthscore.model.scale import HealthScale

T = pd.Timestamp
YEAR = Horizon(horizon_days=365, lead_days=0, grace_days=30)


def frame(rows):
    """(account, cutoff, renewal_date, term_days, lost_at) tuples."""
    out = pd.DataFrame(rows, columns=["account_id", "cutoff_time", "renewal_date", "term_days", "lost_at"])
    for c in ("cutoff_time", "renewal_date", "lost_at"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    out["label"] = pd.array([pd.NA] * len(out), dtype="Int8")
    return out


def test_renewals_in_the_window_by_contract_length():
    t = np.array([T("2024-01-01")] * 4, dtype="datetime64[us]")
    renewal = np.array([T("2024-01-20"), T("2024-09-01"), T("2025-06-01"), T("2024-12-30")],
                       dtype="datetime64[us]")
    term = np.array([30.0, 365.0, 730.0, np.nan])
    count = count_renewals(t, renewal, term, start_days=0, window_days=365)
    # monthly: Jan 20 + 30 * k up to Dec 30 (12 of them); annual: one; two-year: none
    assert count.tolist() == [12.0, 1.0, 0.0, 1.0]


def test_intervals_partition_the_window_and_labels_follow_the_loss():
    data = frame([
        (1, "2024-01-01", "2024-01-20", 30.0, "2024-03-20"),   # monthly, lost at its 3rd renewal
        (2, "2024-01-01", "2024-09-01", 365.0, None),          # annual, stays
        (3, "2024-01-01", "2024-09-01", 365.0, "2024-09-01"),  # annual, lost at its renewal
        (4, "2024-01-01", "2025-06-01", 730.0, None),          # two-year: one interval, to the end
    ])
    rows = make_interval_rows(data, horizon=YEAR, known_until=T("2026-01-01"))
    by = rows.groupby("account_id")
    # account 1 is at risk for 3 intervals, lost in the third; later ones do not exist
    assert by.size().to_dict() == {1: 3, 2: 1, 3: 1, 4: 1}
    assert rows.loc[rows["account_id"] == 1, "label"].tolist() == [0, 0, 1]
    assert rows.loc[rows["account_id"] == 1, "exposure__lead_days"].tolist() == [19.0, 49.0, 79.0]
    assert rows.loc[rows["account_id"] == 1, "exposure__renewal_index"].tolist() == [0.0, 1.0, 2.0]
    assert rows.set_index("account_id")["label"].loc[[2, 3, 4]].tolist() == [0, 1, 0]
    assert rows.set_index("account_id")["exposure__lead_days"].loc[4] == 517.0


def test_intervals_are_cut_where_the_outcome_is_not_known_yet():
    data = frame([(1, "2024-01-01", "2024-01-20", 30.0, None),
                  (2, "2024-01-01", "2024-09-01", 365.0, None)])
    # known until 2024-04-01: intervals ending (renewal + 1 day) 30 days before it
    rows = make_interval_rows(data, horizon=YEAR, known_until=T("2024-04-01"))
    assert rows["account_id"].tolist() == [1, 1]          # Jan 20 and Feb 19; Mar 20 is too late
    assert (rows["label"] == 0).all()


def test_window_risk_is_one_minus_the_product_of_survivals():
    X = pd.DataFrame({"exposure__lead_days": [10.0, 100.0], "exposure__renewal_index": [0.0, 0.0],
                      "exposure__term_days": [30.0, 365.0], RENEWALS: [3.0, 1.0]})
    rows, owner = expand_intervals(X)
    assert owner.tolist() == [0, 0, 0, 1]
    assert rows["exposure__lead_days"].tolist() == [10.0, 40.0, 70.0, 100.0]
    hazard = np.array([0.1, 0.2, 0.3, 0.25])
    risk = window_risk(lambda r: hazard, X)
    assert risk == pytest.approx([1 - 0.9 * 0.8 * 0.7, 0.25])
    logit = combine_hazards(np.log(hazard / (1 - hazard)), owner, 2)
    assert expit(logit) == pytest.approx(risk)


@pytest.fixture(scope="module")
def hazard_model():
    """A LightGBM hazard model on synthetic intervals with a lead-aware calibration."""
    rng = np.random.default_rng(3)
    n = 600
    accounts = pd.DataFrame({
        "cutoff_time": np.array([T("2024-01-01")] * n, dtype="datetime64[us]"),
        "renewal_date": (T("2024-01-01") + pd.to_timedelta(rng.integers(5, 360, n), unit="D")).astype("datetime64[us]"),
        "term_days": np.where(rng.random(n) < 0.4, 30.0, 365.0),
        "usage__x": rng.normal(size=n),
        "accounts__segment": pd.Categorical(rng.choice(["SMB", "Enterprise"], n)),
    })
    X = account_exposure(accounts, YEAR)
    rows, owner = expand_intervals(X)
    truth = expit(-3.5 + 1.2 * rows["usage__x"] * np.exp(-rows["exposure__lead_days"] / 200))
    y = (rng.random(len(rows)) < truth).astype(int)
    names = ["usage__x", "accounts__segment", "exposure__lead_days", "exposure__renewal_index",
             "exposure__term_days"]
    model = HealthScoreModel(n_estimators=60, min_child_samples=20, holdout_share=0.0).fit(rows[names], y)
    a, b, a_lead, b_lead = fit_hazard_calibration(
        model.predict_margin(rows[names]), rows["exposure__lead_days"].to_numpy() / 365, y)
    model.calibrator_ = Calibrator("platt", a, b, a_lead=a_lead, b_lead=b_lead)
    exported = ExportedModel(HazardPredictor(model, YEAR), HealthScale())
    return exported, X[exported.feature_names]


def test_interval_contributions_equal_every_rows_treeshap_and_split_the_trees(hazard_model):
    from healthscore.model.exposure import INTERVAL_COLUMNS
    from healthscore.model.tree_split import split_trees

    exported, X = hazard_model
    model = exported.model  # the HealthScoreModel under the hazard predictor
    rows, owner = expand_intervals(X)
    assert len(rows) > len(X)  # monthly contracts: several intervals each
    whole = model.contributions(rows)
    np.testing.assert_allclose(model.interval_contributions(rows, owner, varying=INTERVAL_COLUMNS),
                               whole, rtol=0, atol=1e-10)
    fixed, moving = split_trees(model.booster_, INTERVAL_COLUMNS)
    assert fixed.num_trees() + moving.num_trees() == model.booster_.num_trees()
    assert fixed.num_trees() > 0 and moving.num_trees() > 0
    at = [model.booster_.feature_name().index(c) for c in INTERVAL_COLUMNS]
    matrix = model._matrix(rows)
    assert np.all(fixed.predict(matrix, pred_contrib=True)[:, at] == 0)  # never splits on them
    np.testing.assert_allclose(fixed.predict(matrix, raw_score=True) + moving.predict(matrix, raw_score=True),
                               model.predict_margin(rows), rtol=0, atol=1e-10)
    # no tree on the varying columns: every tree is fixed, the whole model explained once per account
    only, none = split_trees(model.booster_, ["not_a_column"])
    assert none is None and only.num_trees() == model.booster_.num_trees()


def test_horizon_points_add_up_to_the_score_exactly(hazard_model):
    exported, X = hazard_model
    explanation = explain_model(exported, X)
    total = explanation.base + explanation.points.sum(axis=1) + explanation.residual
    assert np.allclose(total, explanation.unclipped, atol=1e-9)
    assert np.allclose(explanation.residual, 0.0, atol=1e-9)
    assert np.allclose(explanation.risk_proba, exported.predict_risk(X), atol=1e-12)
    assert (explanation.health_score == exported.health_score(X)).all()
    # the calendar alone: more renewals in the window, lower start
    renewals = explanation.feature_names.index(RENEWALS)
    monthly = X["exposure__term_days"].to_numpy() == 30.0
    assert explanation.points[monthly, renewals].mean() < explanation.points[~monthly, renewals].mean()


def test_profile_plus_drivers_is_the_score_and_profile_facts_are_never_drivers(hazard_model):
    exported, X = hazard_model
    explanation = explain_model(exported, X)
    profile = ["exposure__", "accounts__segment"]
    start, drivers = split_profile(explanation, profile)
    assert np.allclose(start + drivers.sum(axis=1) + explanation.residual, explanation.unclipped, atol=1e-9)
    names = explanation.feature_names
    behaviour = [i for i, n in enumerate(names) if n == "usage__x"]
    others = [i for i in range(len(names)) if i not in behaviour]
    assert np.all(drivers[:, others] == 0.0)
    assert np.any(drivers[:, behaviour] != 0.0)


def test_a_better_signal_never_lowers_the_window_score_when_the_trees_agree(hazard_model):
    """Integrated gradients keep the sign: a feature whose TreeSHAP raises every
    interval's hazard costs points in the window."""
    exported, X = hazard_model
    explanation = explain_model(exported, X)
    rows, owner = expand_intervals(X)
    phi = exported.model.contributions(rows)[:, exported.model.feature_names_.index("usage__x")]
    sign = np.sign(np.bincount(owner, weights=phi))
    same = np.bincount(owner, weights=(phi > 0).astype(float)) * np.bincount(owner, weights=(phi < 0).astype(float)) == 0
    points = explanation.points[:, explanation.feature_names.index("usage__x")]
    assert np.all(np.sign(points[same & (sign != 0)]) == -sign[same & (sign != 0)])


def test_the_next_renewal_risk_is_the_first_interval_and_never_above_the_window(hazard_model):
    exported, X = hazard_model
    renewal = exported.predict_renewal_risk(X)
    window = exported.predict_risk(X)
    assert np.all(renewal <= window + 1e-12)
    single = X[RENEWALS].to_numpy() == 1
    assert np.allclose(renewal[single], window[single])


def test_a_hazard_bundle_round_trips(hazard_model, tmp_path):
    exported, X = hazard_model
    save_bundle(exported, tmp_path / "bundle")
    loaded = load_bundle(tmp_path / "bundle")
    assert loaded.horizon == YEAR
    assert loaded.model.calibrator_ == exported.model.calibrator_
    assert np.array_equal(loaded.predict_risk(X), exported.predict_risk(X))
    assert np.array_equal(explain_model(loaded, X).points, explain_model(exported, X).points)


def test_hazard_calibration_recovers_a_known_slope_and_level():
    rng = np.random.default_rng(0)
    n = 200_000
    margin = rng.normal(-3, 1, n)
    lead = rng.random(n)
    hazard = expit((0.8 - 0.4 * lead) * margin - 0.5 + 0.3 * lead)
    label = rng.random(n) < hazard
    a, b, a_lead, b_lead = fit_hazard_calibration(margin, lead, label)
    assert a == pytest.approx(0.8, abs=0.06) and a_lead == pytest.approx(-0.4, abs=0.1)
    assert b == pytest.approx(-0.5, abs=0.2) and b_lead == pytest.approx(0.3, abs=0.3)


