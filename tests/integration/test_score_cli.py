"""`healthscore score` and `healthscore explain` end to end: simulated tables, a tiny
model trained here and exported in the bundle layout, two as-of dates, a rerun, a
crash, and one account explained."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.model import ExportedModel, HealthScale, load_exported
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.scoring import OutputLayout, make_scoring_cutoffs
from healthscore.scoring.points import unclipped_of
from healthscore.scoring.risk_list import RISK_LIST_COLUMNS

D1, D2 = "2024-05-01", "2024-06-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """Simulated tables and a small LightGBM model trained on their renewals."""
    root = tmp_path_factory.mktemp("score-cli")
    data, tables, labelled, names = simulated_renewals(root, accounts=160, months=18, seed=3)
    params = make_params({})
    model = simulated_renewals.fit(labelled, names, 40)
    exported = ExportedModel(model, HealthScale(),
                             catalogue=catalogue_dict(names))
    save_bundle(exported, root / "model")
    return {"data": data, "model": root / "model", "tables": tables, "params": params,
            "labelled": labelled, "names": names}


def score(world, out, as_of, *extra):
    return main(["--set", f"score.out_dir={out}", *extra, "score", "--as-of", as_of,
                 "--data", str(world["data"]), "--model", str(world["model"])])


@pytest.fixture()
def scored(world, tmp_path, monkeypatch):
    """Outputs of two as-of dates, scored in order."""
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    out = tmp_path / "outputs"
    assert score(world, out, D1) == 0
    assert score(world, out, D2) == 0
    return OutputLayout(out)


def test_score_writes_every_output_and_the_numbers_agree(world, scored):
    layout = scored
    risk = pd.read_parquet(layout.risk_list(D2))
    assert tuple(risk.columns) == RISK_LIST_COLUMNS
    active = make_scoring_cutoffs(world["tables"], pd.Timestamp(D2))
    assert sorted(risk["account_id"]) == sorted(active["account_id"])
    assert risk["arr_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(risk["arr"], 12 * risk["account_id"].map(
        active.set_index("account_id")["mrr"]))
    csv = pd.read_csv(layout.risk_list(D2, suffix="csv"))
    assert len(csv) == len(risk) and list(csv.columns) == list(RISK_LIST_COLUMNS)
    pd.testing.assert_frame_equal(pd.read_parquet(layout.latest_risk_list), risk)

    # scores equal the exported model's own prediction on the same feature rows
    from healthscore.features import build_features

    exported = load_exported(world["model"])
    rows = build_features(world["tables"], active[["account_id", "cutoff_time"]],
                          world["params"].features)
    expected = exported.predict_frame(rows[exported.feature_names])
    expected.index = rows["account_id"].to_numpy()
    history = layout.read_history()
    now = history[history["as_of"] == D2].set_index("account_id")
    np.testing.assert_array_equal(now["health_score"], expected.loc[now.index, "health_score"])
    np.testing.assert_allclose(now["risk_proba"], expected.loc[now.index, "risk_proba"], atol=1e-12)

    # base + points = unclipped score, for every account, from the stored files
    points = layout.read_partition("points", D2).set_index("account_id")
    np.testing.assert_allclose(unclipped_of(points.reset_index()),
                               now.loc[points.index, "unclipped_score"], atol=1e-9)
    families = now.filter(like="points_").sum(axis=1) + now["base"] + now["residual"]
    np.testing.assert_allclose(families, now["unclipped_score"], atol=1e-9)

    # why it changed: the lines of each account sum to its change of unclipped score
    before = history[history["as_of"] == D1].set_index("account_id")
    changes = layout.read_table("changes", D2)
    assert len(changes) and (changes["previous_as_of"] == pd.Timestamp(D1)).all()
    sums = changes.groupby("account_id")["points_change"].sum()
    moved = now.loc[sums.index, "unclipped_score"] - before.loc[sums.index, "unclipped_score"]
    np.testing.assert_allclose(sums, moved, atol=1e-9)
    by_id = risk.set_index("account_id")
    both = by_id.index.intersection(before.index)
    np.testing.assert_array_equal(by_id.loc[both, "score_change"],
                                  now.loc[both, "health_score"] - before.loc[both, "health_score"])

    run = json.loads(layout.run(D2).read_text())
    assert run["counts"]["scored"] == len(risk) and run["previous_as_of"] == D1
    alerts = layout.read_table("alerts", D2)
    assert set(alerts["account_id"]) <= set(risk["account_id"])


def test_rerunning_a_date_replaces_only_that_date(world, scored):
    layout = scored
    d1_files = {p: p.read_bytes() for p in layout.root.rglob("*") if p.is_file() and D1 in str(p)}
    history = layout.read_history()
    assert score(world, layout.root, D2) == 0
    pd.testing.assert_frame_equal(layout.read_history(), history)
    assert {p: p.read_bytes() for p in d1_files} == d1_files
    assert not [p for p in layout.root.rglob(".*") if p.name not in (".healthscore-report", ".lock")]  # no temp files left


def test_a_failed_run_leaves_the_previous_outputs(world, scored, monkeypatch):
    layout = scored
    before = {p: p.read_bytes() for p in layout.root.rglob("*") if p.is_file()}

    def broken(frame, path):
        raise OSError("disk full")

    monkeypatch.setattr("healthscore.scoring.write_risk_csv", broken)
    with pytest.raises(OSError):  # --debug: main lets it through (else one line, exit 2)
        score(world, layout.root, "2024-06-15", "--debug")
    assert {p: p.read_bytes() for p in layout.root.rglob("*") if p.is_file()} == before


def test_explain_prints_one_account_from_the_stored_outputs(world, scored, capsys):
    layout = scored
    risk = pd.read_parquet(layout.risk_list(D2))
    account = risk.iloc[0]
    points = layout.read_partition("points", D2).set_index("account_id").loc[account["account_id"]]
    from healthscore.config import PROFILE_FEATURES
    from healthscore.scoring.drivers import profile_mask

    columns = points.filter(like="points:")
    behaviour = ~profile_mask([c.split(":", 1)[1] for c in columns.index], PROFILE_FEATURES)
    worst = columns[behaviour].astype(float).idxmin()  # profile facts are never drivers
    capsys.readouterr()
    assert main(["--set", f"score.out_dir={layout.root}", "explain",
                 str(account["account_id"])]) == 0
    text = capsys.readouterr().out
    assert f"health score {account['health_score']} / 100, {account['band']}" in text
    assert "accounts like this are lost" in text
    assert f"Trend: {D1}" in text and f"Since {D1}" in text
    assert "Points lost by family" in text
    if points[worst] < 0:  # the most hurting feature is named with its points
        from healthscore.scoring.risk_words import format_points

        assert format_points(points[worst]) in text.split("What raises")[0]
    assert main(["--set", f"score.out_dir={layout.root}", "explain",
                 str(account["account_id"]), "--as-of", D1]) == 0
    assert f"As of {D1}" in capsys.readouterr().out


def test_explain_says_clearly_when_the_account_or_date_is_unknown(scored, capsys):
    layout = scored
    assert main(["--set", f"score.out_dir={layout.root}", "explain", "999999"]) == 2
    assert "account 999999 was not scored on" in capsys.readouterr().err
    assert main(["--set", f"score.out_dir={layout.root}", "explain", "1",
                 "--as-of", "2020-01-01"]) == 2
    assert "2020-01-01 was not scored" in capsys.readouterr().err
    shutil.rmtree(layout.root)
    assert main(["--set", f"score.out_dir={layout.root}", "explain", "1"]) == 2
    assert "no scoring runs" in capsys.readouterr().err


def test_scoring_survives_a_new_most_common_event_type(world, tmp_path, monkeypatch):
    """The model's per-type columns are built even when other types now lead."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    shutil.copytree(world["data"], data)
    events = pd.read_parquet(data / "events.parquet")
    first = events.iloc[[0] * 20000].copy()
    first["event"] = "brand new feature"
    first["timestamp"] = pd.Timestamp("2024-04-20")
    pd.concat([events, first], ignore_index=True).to_parquet(data / "events.parquet", index=False)
    out = tmp_path / "outputs"
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", D1, "--data", str(data),
                 "--model", str(world["model"])]) == 0
    points = OutputLayout(out).read_partition("points", D1)
    model_names = load_exported(world["model"]).feature_names
    assert all(f"points:{n}" in points.columns for n in model_names)


def test_scoring_a_bucketed_source_gives_what_the_whole_source_gives(world, scored, tmp_path):
    from healthscore.io.buckets import write_buckets

    # 12 buckets of about 13 accounts: some bucket has no row of a signal type the model reads
    buckets = write_buckets(world["tables"], tmp_path / "buckets", 12)
    out = tmp_path / "bucketed"
    for as_of in (D1, D2):  # the second date has changes and alerts against the first
        assert main(["--set", f"score.out_dir={out}", "score", "--as-of", as_of, "--data", str(buckets),
                     "--model", str(world["model"]), "--no-report"]) == 0
    whole, parts = scored, OutputLayout(out)
    for name, path in (("risk_list", lambda layout: layout.risk_list(D2)),
                       ("changes", lambda layout: layout.root / "changes" / f"{D2}.parquet"),
                       ("alerts", lambda layout: layout.root / "alerts" / f"{D2}.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(path(parts)), pd.read_parquet(path(whole)),
                                      obj=name)
    for kind in ("history", "points"):
        pd.testing.assert_frame_equal(parts.read_partition(kind, D2), whole.read_partition(kind, D2),
                                      obj=kind)
    assert len(pd.read_parquet(whole.root / "changes" / f"{D2}.parquet")) > 0
    run = json.loads((out / "run" / f"{D2}.json").read_text())
    assert run["buckets"] == 12 and run["counts"]["scored"] == len(pd.read_parquet(whole.risk_list(D2)))


def _served_through_score(exported: ExportedModel, world, folder) -> pd.DataFrame:
    """Save ``exported``, score the world's first date with it, and check that the
    history holds its own prediction and the stored points rebuild every score; the
    points."""
    from healthscore.features import build_features

    save_bundle(exported, folder)
    out = folder.parent / "outputs"
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", D1, "--data",
                 str(world["data"]), "--model", str(folder), "--no-report"]) == 0
    layout = OutputLayout(out)
    again = load_exported(folder)
    assert again.kind == exported.kind
    active = make_scoring_cutoffs(world["tables"], pd.Timestamp(D1))
    rows = build_features(world["tables"], active[["account_id", "cutoff_time"]],
                          world["params"].features)
    expected = again.predict_frame(rows[again.feature_names])
    expected.index = rows["account_id"].to_numpy()
    now = layout.read_history().set_index("account_id")
    np.testing.assert_array_equal(now["health_score"], expected.loc[now.index, "health_score"])
    np.testing.assert_allclose(now["risk_proba"], expected.loc[now.index, "risk_proba"], atol=1e-12)
    points = layout.read_partition("points", D1)
    np.testing.assert_allclose(unclipped_of(points), now.loc[points["account_id"], "unclipped_score"],
                               atol=1e-9)
    return points


def test_a_blend_model_scores_and_explains_in_points_that_add_up(world, tmp_path, monkeypatch):
    """A blend of the trees and the rule scorecard (issue 15) through the whole score
    path: its scores are its own prediction, its stored points rebuild them."""
    from healthscore.model.baselines import RuleScorecard
    from healthscore.model.predictor import BlendPredictor

    monkeypatch.chdir(tmp_path)
    scale = HealthScale()
    trees = load_exported(world["model"]).model
    labelled, names = world["labelled"], world["names"]
    card = RuleScorecard.from_params(world["params"].scorecard, scale).fit(
        labelled[names], labelled["label"].to_numpy())
    blend = BlendPredictor(trees, card, intercept=-1.0, margin_coef=0.6, card_coef=-0.03, share=0.5)
    points = _served_through_score(ExportedModel(blend, scale, catalogue=catalogue_dict(names)),
                                   world, tmp_path / "blend")
    rule = f"points:{card.feature_names[0]}"
    assert points[rule].abs().max() > 0


def test_a_logistic_model_scores_and_explains_in_points_that_add_up(world, tmp_path, monkeypatch):
    """The prepared logistic regression served (issue 15) through the whole score path:
    read back from its skops pipeline, its scores are its own prediction and its stored
    points rebuild them."""
    from healthscore.model.logistic import LogisticBaseline
    from healthscore.model.selection import served_logistic

    monkeypatch.chdir(tmp_path)
    scale = HealthScale()
    labelled, names = world["labelled"], world["names"]
    y = labelled["label"].to_numpy(dtype=np.int64)
    regression = LogisticBaseline(C=0.3, penalty="l1", transform="log1p").fit(labelled[names], y)
    served = served_logistic(regression, regression.predict_logit(labelled[names]), y)
    points = _served_through_score(ExportedModel(served, scale, catalogue=catalogue_dict(names)),
                                   world, tmp_path / "logistic")
    weights = regression.pipeline_.named_steps["logistic"].coef_[0]
    assert (weights != 0).any()
    assert points[[c for c in points.columns if c.startswith("points:")]].abs().to_numpy().max() > 0
