"""Per-user health end to end: a simulated source with a ``contacts`` table, a small
LightGBM trained with ``features.contacts`` on, scored by ``healthscore score`` with the
feature off in params (the model decides what is built), the people behind the score
written beside the risk list and shown on the account page."""

from __future__ import annotations

import filecmp

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.dataset.pipeline import build_dataset
from healthscore.io.sources import read_source
from healthscore.scoring import OutputLayout
from healthscore.scoring.people import PEOPLE_COLUMNS
from healthscore.sim.simulate import SimulationSpec, write_simulation

AS_OF = "2024-05-01"
ON = {"features": {"contacts": {"enabled": True}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("contacts-score")
    spec = SimulationSpec(n_accounts=200, months=18, seed=11, contacts=True)
    write_simulation(spec, root / "data")
    write_simulation(SimulationSpec(n_accounts=200, months=18, seed=11), root / "plain")
    params = make_params(ON)
    tables, _ = read_source(params.data, source=root / "data")
    dataset = build_dataset(tables, params)
    names = [c for c in dataset.columns if "__" in c]
    labelled = dataset[dataset["label"].notna()]
    simulated_renewals.save(labelled, names, 40, root / "model")
    return {"root": root, "tables": tables, "names": names, "dataset": dataset}


def test_the_contacts_table_leaves_every_other_table_as_it_was(world):
    root = world["root"]
    for name in ("accounts", "subscriptions", "events", "surveys", "signals", "ground_truth"):
        assert filecmp.cmp(root / "data" / f"{name}.parquet", root / "plain" / f"{name}.parquet",
                           shallow=False), name
    assert not (root / "plain" / "contacts.parquet").exists()
    contacts = world["tables"]["contacts"]
    champions = contacts[contacts["role"] == "champion"]
    assert champions.groupby("account_id").size().min() == 1
    # every departed champion's heir starts the day it left
    left = champions.dropna(subset=["left_at"])
    heirs = champions.set_index(["account_id", "started_at"]).index
    assert len(left) and left.set_index(["account_id", "left_at"]).index.isin(heirs).all()


def test_the_dataset_carries_the_contact_features_and_off_leaves_it_unchanged(world):
    names = world["names"]
    assert {"contacts__champion_events__30d", "contacts__champion_survey_last",
            "contacts__power_users_active__30d", "contacts__left__90d"} <= set(names)
    # the features look at the champion: a departure in the last 90 days shows
    dataset = world["dataset"]
    assert dataset["contacts__left__90d"].max() >= 1
    plain = build_dataset(world["tables"], make_params({}))
    assert not [c for c in plain.columns if c.startswith("contacts__")]
    base = [c for c in dataset.columns if not c.startswith("contacts__")]
    pd.testing.assert_frame_equal(plain, dataset[base])


def test_score_builds_what_the_model_reads_and_writes_the_people(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults, features.contacts off
    out = tmp_path / "outputs"
    root = world["root"]
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", AS_OF,
                 "--data", str(root / "data"), "--model", str(root / "model")]) == 0
    layout = OutputLayout(out)
    points = layout.read_partition("points", AS_OF)
    assert "contacts__champion_events__30d" in points.columns
    assert points["contacts__champion_events__30d"].notna().any()
    people = pd.read_parquet(layout.people(AS_OF))
    assert tuple(people.columns) == PEOPLE_COLUMNS
    risk = pd.read_parquet(layout.risk_list(AS_OF))
    assert set(risk["account_id"]) <= set(people["account_id"])
    assert (people["started_at"] < pd.Timestamp(AS_OF)).all()
    assert (people.loc[people["status"] == "left", "left_at"] < pd.Timestamp(AS_OF)).all()
    assert (people["last_active"].dropna() < pd.Timestamp(AS_OF)).all()

    assert main(["--set", f"score.out_dir={out}", "report", "--model", str(root / "model")]) == 0
    page = next(p for p in (out / "report" / "accounts").glob("*.html")
                if "The people behind the score" in p.read_text())
    assert "Champion" in page.read_text() and "Executive sponsor" in page.read_text()


def test_a_source_without_contacts_writes_no_people(world, tmp_path, monkeypatch, simulated_renewals):
    monkeypatch.chdir(tmp_path)
    root, out = world["root"], tmp_path / "outputs"
    params = make_params({})
    tables, _ = read_source(params.data, source=root / "plain")
    dataset = build_dataset(tables, params)
    names = [c for c in dataset.columns if "__" in c]
    labelled = dataset[dataset["label"].notna()]
    simulated_renewals.save(labelled, names, 20, tmp_path / "model")
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", AS_OF,
                 "--data", str(root / "plain"), "--model", str(tmp_path / "model")]) == 0
    assert not OutputLayout(out).people(AS_OF).exists()
