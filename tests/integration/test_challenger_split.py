"""Why it changed, split between the account's data and the model: two real LightGBM
models trained on different windows of simulated renewals score two dates in turn;
the score change of every account is the previous model's change on its data plus
the model update, exactly."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.model import ExportedModel, HealthScale, load_exported
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.scoring import OutputLayout
from healthscore.scoring.changes import MODEL_CHANGED, MODEL_UPDATED, describe_change
from healthscore.scoring.explain import explain_model
from healthscore.scoring.points import feature_names_of, points_matrix, unclipped_of

D1, D2 = "2024-05-01", "2024-06-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """Simulated tables; model A trained on the earlier cutoffs, model B on all."""
    root = tmp_path_factory.mktemp("challenger-split")
    data, tables, labelled, names = simulated_renewals(root, accounts=300, months=18, seed=11)
    early = labelled[labelled["cutoff_time"] < labelled["cutoff_time"].quantile(0.6)]
    folders = {}
    fewer = [n for n in names if not n.startswith("events__")]  # model c reads no usage
    for key, rows, trees, used in (("a", early, 30, names), ("b", labelled, 45, names),
                                   ("c", labelled, 45, fewer)):
        model = simulated_renewals.fit(rows, used, trees)
        folders[key] = root / f"model_{key}"
        save_bundle(ExportedModel(model, HealthScale(), catalogue=catalogue_dict(used)), folders[key])
    return {"data": data, "tables": tables, **folders}


def score(world, out, as_of, model, *extra):
    return main(["--set", f"score.out_dir={out}", "score", "--as-of", as_of, "--no-report",
                 "--data", str(world["data"]), "--model", str(model), *extra])


@pytest.fixture()
def split(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, D1, world["a"]) == 0
    assert score(world, out, D2, world["b"]) == 0
    return OutputLayout(out)


def test_the_change_is_the_data_part_plus_the_model_part_exactly(world, split):
    layout = split
    run = layout.read_run(D2)
    assert run["change_split"]["split"] is True
    changes = layout.read_table("changes", D2)
    p1, p2 = layout.read_partition("points", D1), layout.read_partition("points", D2)
    h1, h2 = (layout.read_partition("history", d).set_index("account_id") for d in (D1, D2))
    old = load_exported(world["a"])
    # the previous model on today's rows, recomputed here from the stored values
    old_now = explain_model(old, p2[list(old.feature_names)])
    old_total = pd.Series(old_now.unclipped, index=p2["account_id"])
    new_total = pd.Series(unclipped_of(p2), index=p2["account_id"])
    model_lines = changes.loc[changes["feature"] == MODEL_CHANGED].set_index("account_id")
    assert (model_lines["label"] == MODEL_UPDATED).all()
    both = h1.index.intersection(h2.index)
    assert len(both) > 100 and set(model_lines.index) == set(both)
    for account, lines in changes.groupby("account_id"):
        total = h2.at[account, "unclipped_score"] - h1.at[account, "unclipped_score"]
        # every line of an account adds up to its change, to the point
        assert lines["points_change"].sum() == pytest.approx(total, abs=1e-9)
        assert lines["unclipped_change"].iloc[0] == pytest.approx(total, abs=1e-9)
        # the model part: both models on the new date's rows
        model_part = model_lines.at[account, "points_change"]
        assert model_part == pytest.approx(new_total[account] - old_total[account], abs=1e-9)
        # the data part: the previous model on both dates
        data = lines.loc[lines["feature"] != MODEL_CHANGED, "points_change"].sum()
        before = h1.at[account, "unclipped_score"]
        assert data == pytest.approx(old_total[account] - before, abs=1e-9)
    # the per-feature lines are the previous model's points on both dates
    named = changes.loc[~changes["feature"].isin([MODEL_CHANGED, "other changes"])]
    assert len(named) > 0
    names = feature_names_of(p1)
    at1 = pd.Index(p1["account_id"]).get_indexer(named["account_id"])
    at2 = pd.Index(p2["account_id"]).get_indexer(named["account_id"])
    cols = [names.index(f) for f in named["feature"]]
    before = points_matrix(p1, names)[at1, cols]
    after = old_now.points[at2, [list(old.feature_names).index(f) for f in named["feature"]]]
    np.testing.assert_allclose(named["points_before"], before, atol=1e-12)
    np.testing.assert_allclose(named["points_after"], after, atol=1e-12)
    line = model_lines.iloc[0].to_dict()
    assert describe_change({**line, "feature": MODEL_CHANGED}).startswith("Model updated: ")
    assert line["value_before"] == f"version {layout.read_run(D1)['model_version']}"
    assert line["value_after"] == f"version {run['model_version']}"


def test_without_the_previous_model_one_line_stays_and_the_run_says_why(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    gone = tmp_path / "model_a_copy"
    shutil.copytree(world["a"], gone)
    assert score(world, out, D1, gone) == 0
    shutil.rmtree(gone)
    assert score(world, out, D2, world["b"]) == 0
    layout = OutputLayout(out)
    run = layout.read_run(D2)
    assert run["change_split"]["split"] is False
    assert "could not be loaded" in run["change_split"]["reason"] and str(gone) in run["change_split"]["reason"]
    lines = layout.read_table("changes", D2)
    model_lines = lines.loc[lines["feature"] == MODEL_CHANGED]
    assert len(model_lines) and (model_lines["label"] == MODEL_CHANGED).all()


def test_a_folder_rewritten_with_another_model_is_not_taken_for_the_previous_one(world, tmp_path, monkeypatch):
    """``models/healthscore`` after a promote holds the new champion: its fingerprint
    is not the previous run's, so it is not used to split."""
    monkeypatch.chdir(tmp_path)
    out, folder = tmp_path / "outputs", tmp_path / "export"
    shutil.copytree(world["a"], folder)
    assert score(world, out, D1, folder) == 0
    shutil.rmtree(folder)
    shutil.copytree(world["b"], folder)
    assert score(world, out, D2, folder) == 0
    run = OutputLayout(out).read_run(D2)
    assert run["change_split"]["split"] is False
    assert "now holds another model" in run["change_split"]["reason"]


def test_explain_and_the_account_page_say_which_part_is_which(world, split, capsys):
    layout = split
    changes = layout.read_table("changes", D2)
    model_lines = changes.loc[changes["feature"] == MODEL_CHANGED]
    # an account whose data lines are shown too
    account = next(a for a, lines in changes.groupby("account_id")
                   if (~lines["feature"].isin([MODEL_CHANGED, "other changes"])).any())
    line = model_lines.loc[model_lines["account_id"] == account].iloc[0]
    v1, v2 = layout.read_run(D1)["model_version"], layout.read_run(D2)["model_version"]
    capsys.readouterr()
    assert main(["--set", f"score.out_dir={layout.root}", "explain", str(account)]) == 0
    said = capsys.readouterr().out.split(f"Since {D1}")[1]
    data_at = said.index(f"From the account's data, read by the previous model (version {v1}) on both dates:")
    model_at = said.index(f"From the model: the new model (version {v2}) against the previous model "
                          f"(version {v1}), both on today's data:")
    assert data_at < model_at
    assert f"Model updated: {describe_change(line.to_dict()).split(': ', 1)[1]}" in said[model_at:]
    assert main(["--set", f"score.out_dir={layout.root}", "report", "--as-of", D2]) == 0
    pages = [p for p in (layout.root / "report").rglob("*.html")
             if "Model updated" in p.read_text() and "change-note" in p.read_text()]
    assert pages, "no account page shows the model's part"
    page = pages[0].read_text()
    assert "This line comes from the model: the new model" in page
    assert "the other lines come from the account&#39;s data, read by the previous model" in page \
        or "the other lines come from the account's data, read by the previous model" in page


def test_a_previous_model_reading_features_todays_does_not_is_scored_again(world, tmp_path, monkeypatch, capsys):
    """Model c reads no usage feature, so today's points keep no usage values: the
    previous model scores today's data again (features built again) for its part."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, D1, world["a"]) == 0
    capsys.readouterr()
    assert score(world, out, D2, world["c"]) == 0
    assert "why it changed: split into the accounts' data (model sha-" in capsys.readouterr().out
    layout = OutputLayout(out)
    assert layout.read_run(D2)["change_split"]["split"] is True
    changes = layout.read_table("changes", D2)
    h1, h2 = (layout.read_partition("history", d).set_index("account_id") for d in (D1, D2))
    p2 = layout.read_partition("points", D2)
    assert not any(c.startswith("events__") for c in p2.columns)
    # usage lines (the previous model's) are there: the data part reads them
    assert changes["feature"].str.startswith("events__").any()
    for account, lines in changes.groupby("account_id"):
        total = h2.at[account, "unclipped_score"] - h1.at[account, "unclipped_score"]
        assert lines["points_change"].sum() == pytest.approx(total, abs=1e-9)


def test_a_bucketed_source_gives_the_same_split_and_challenger_as_the_whole_source(world, split, tmp_path):
    from healthscore.io.buckets import write_buckets

    buckets = write_buckets(world["tables"], tmp_path / "buckets", 5)
    out = tmp_path / "bucketed"
    for as_of, model in ((D1, world["a"]), (D2, world["b"])):
        assert main(["--set", f"score.out_dir={out}", "score", "--as-of", as_of, "--data", str(buckets),
                     "--model", str(model), "--no-report", "--challenger", str(world["c"])]) == 0
    whole, parts = split, OutputLayout(out)
    assert parts.read_run(D2)["change_split"]["split"] is True
    pd.testing.assert_frame_equal(parts.read_table("changes", D2), whole.read_table("changes", D2))
    version = parts.read_run(D2)["challenger"]["model_version"]
    aside = pd.read_parquet(parts.challenger_risk_list(version, D2))
    assert set(aside["account_id"]) == set(whole.read_table("risk_list", D2)["account_id"])
    assert (aside["model_version"] == version).all() and version != parts.read_run(D2)["model_version"]
