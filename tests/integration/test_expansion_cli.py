"""`train --target expansion`, `promote` to the expansion folder, `score` and the report
end to end on a small simulation: the expansion model is registered under its own
name, the risk list gains `expansion_proba` equal to the exported model's prediction on
the same feature rows, and the report gains the growth view."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.errors import ModelError

AS_OF = "2025-12-01"
FAST = ["--set", "model.n_estimators=40", "--set", "model.min_churned_rows=20"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A simulated source, its training set, both models trained and promoted, one date scored."""
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    root = tmp_path_factory.mktemp("expansion-cli")
    write_simulation(SimulationSpec(n_accounts=700, months=36, seed=5), root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlruns.db'}")
        src = ["--set", f"data.source={root / 'data'}", "--set", f"score.out_dir={root / 'outputs'}"]
        assert main([*src, "build-dataset", "--out", str(root / "ds.parquet")]) == 0
        # the source comes from the set's sidecar: the one it was built from
        assert main([*FAST, "train", "--data", str(root / "ds.parquet"), "--target", "expansion"]) == 0
        gates = ["--set", "tracking.gates.max_ece=1.0"]  # a tiny world: the gate is not under test
        assert main(["promote", *gates, "--set", "tracking.registered_model=healthscore-expansion",
                     "--set", "tracking.export_dir=models/expansion"]) == 0
        assert main([*src, *FAST, "train", "--data", str(root / "ds.parquet")]) == 0
        assert main(["promote", *gates]) == 0
        assert main([*src, "score", "--as-of", AS_OF]) == 0
    return root


def test_the_expansion_model_is_its_own_registered_model(project):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns.db'}")
    names = {m.name for m in client.search_registered_models()}
    assert names == {"healthscore", "healthscore-expansion"}
    from healthscore.model.export import load_exported

    exported = load_exported(project / "models" / "expansion")
    assert exported.metrics["expansion_min_increase"] == 0.10
    assert "test_green_growing_roc_auc" in exported.metrics and exported.horizon is None


def test_score_adds_the_exported_models_expansion_proba(project):
    from healthscore.config import make_params
    from healthscore.features import build_features
    from healthscore.io.sources import read_source
    from healthscore.model.export import load_exported
    from healthscore.scoring import make_scoring_cutoffs

    risk = pd.read_parquet(project / "outputs" / "risk_list" / f"{AS_OF}.parquet")
    assert list(risk.columns[-3:]) == ["expansion_proba", "expansion_arr_gain", "expansion_signals"]
    assert risk["expansion_proba"].between(0, 1).all() and risk["expansion_proba"].notna().all()
    params = make_params({})
    tables, _ = read_source(params.data, source=project / "data")
    active = make_scoring_cutoffs(tables, pd.Timestamp(AS_OF))
    exported = load_exported(project / "models" / "expansion")
    rows = build_features(tables, active[["account_id", "cutoff_time"]], params.features)
    expected = pd.Series(exported.predict_risk(rows[exported.feature_names]), index=rows["account_id"])
    np.testing.assert_allclose(risk["expansion_proba"], expected.loc[risk["account_id"]].to_numpy(), atol=1e-12)
    rise = exported.metrics["expansion_mean_increase"]
    np.testing.assert_allclose(risk["expansion_arr_gain"], risk["expansion_proba"] * risk["arr"] * rise, atol=0.01)
    assert (risk["expansion_signals"].str.len() > 0).mean() > 0.9
    run = json.loads((project / "outputs" / "run" / f"{AS_OF}.json").read_text())
    assert run["expansion"]["scored"] == len(risk) and run["expansion"]["healthy_bands"] == ["green"]
    csv = pd.read_csv(project / "outputs" / "risk_list" / f"{AS_OF}.csv")
    assert "expansion_proba" in csv.columns


def test_the_report_has_the_growth_view(project):
    page = (project / "outputs" / "report" / "growth.html").read_text()
    risk = pd.read_parquet(project / "outputs" / "risk_list" / f"{AS_OF}.parquet")
    floor = json.loads((project / "outputs" / "run" / f"{AS_OF}.json").read_text())["expansion"]["min_proba"]
    likely = risk.loc[(risk["band"] == "green") & (risk["expansion_proba"] >= floor)]
    assert 0 < len(likely) < (risk["band"] == "green").sum()
    assert f'data-testid="growth-count">{len(likely):,}<' in page
    top = likely.sort_values("expansion_arr_gain", ascending=False).iloc[0]
    assert f'data-account="{top["account_id"]}"' in page
    assert 'href="growth.html"' in (project / "outputs" / "report" / "index.html").read_text()


def test_another_source_or_a_churn_model_in_the_expansion_folder_is_an_error(project, tmp_path, monkeypatch,
                                                                            capsys):
    from healthscore.config import make_params
    from healthscore.scoring.expansion import load_expansion_model
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    write_simulation(SimulationSpec(n_accounts=50, months=12, seed=6), tmp_path / "other")
    monkeypatch.chdir(project)
    assert main([*FAST, "train", "--data", str(project / "ds.parquet"), "--target", "expansion",
                 "--source", str(tmp_path / "other")]) != 0
    assert "is not the source the training set" in capsys.readouterr().err
    params = make_params({"expansion": {"export_dir": str(project / "models" / "healthscore")}})
    with pytest.raises(ModelError, match="train --target expansion"):
        load_expansion_model(params)
    assert load_expansion_model(make_params({"expansion": {"export_dir": str(tmp_path / "none")}})) is None


def test_expansion_scores_use_only_what_was_known_at_the_as_of_date(project):
    """The same date scored from the data as known then: the same probabilities and
    signals (the signals push towards an expansion: every point is positive)."""
    from healthscore.config import make_params
    from healthscore.data.known import as_known_at
    from healthscore.io.sources import read_source
    from healthscore.features import build_features
    from healthscore.model.export import load_exported
    from healthscore.scoring import make_scoring_cutoffs
    from healthscore.scoring.drivers import find_drivers, profile_mask
    from healthscore.scoring.engine import resolve_catalogue
    from healthscore.scoring.expansion import score_expansion
    from healthscore.scoring.risk_list import feature_columns, render_drivers

    params = make_params({})
    tables, _ = read_source(params.data, source=project / "data")
    risk = pd.read_parquet(project / "outputs" / "risk_list" / f"{AS_OF}.parquet")
    exported = load_exported(project / "models" / "expansion")
    known = as_known_at(tables, pd.Timestamp(AS_OF))
    then = score_expansion(known, exported, as_of=pd.Timestamp(AS_OF), features=params.features,
                           score=params.score, expansion=params.expansion, arr=risk[["account_id", "arr"]])
    then = then.set_index("account_id").loc[risk["account_id"]]
    np.testing.assert_allclose(then["expansion_proba"], risk["expansion_proba"], atol=1e-12)
    assert then["expansion_signals"].tolist() == risk["expansion_signals"].tolist()
    # the signals are the features raising the expansion margin most (TreeSHAP), profile set apart
    active = make_scoring_cutoffs(tables, pd.Timestamp(AS_OF))
    rows = build_features(tables, active[["account_id", "cutoff_time"]], params.features)
    names = exported.feature_names
    model = exported.model
    raise_by = exported.scale.factor * model.calibrator_.a * model.contributions(rows[names])[:, :-1]
    raise_by[:, profile_mask(names, params.score.profile_features)] = 0.0
    texts = render_drivers(find_drivers(raise_by, k=params.expansion.top_signals), feature_names=names,
                           columns=feature_columns(rows, [c for c in rows.columns if "__" in c]),
                           catalogue=resolve_catalogue(exported, names, features=params.features, frame=rows),
                           which="helping")
    expected = pd.Series(texts, index=rows["account_id"]).loc[risk["account_id"]]
    assert expected.tolist() == risk["expansion_signals"].tolist()
    assert (expected.str.len() > 0).mean() > 0.9
