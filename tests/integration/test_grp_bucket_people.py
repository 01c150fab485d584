"""A bucketed `score` writes the people behind the score (``people/<as_of>.parquet``):
each bucket's contacts (:func:`healthscore.scoring.buckets.score_bucket`) merged into the
file one run over the whole source writes, row for row."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.io.buckets import read_bucket, write_buckets
from healthscore.io.sources import read_source
from healthscore.model.export import load_bundle
from healthscore.scoring import OutputLayout
from healthscore.scoring.buckets import merge_outputs, score_bucket
from healthscore.scoring.people import PEOPLE_COLUMNS

AS_OF = "2024-05-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """A simulation with contacts (seed 11), the same source in 3 buckets, a small model
    that reads the contact features."""
    root = tmp_path_factory.mktemp("grp-bucket-people")
    overrides = {"features": {"contacts": {"enabled": True}}}
    data, tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=11,
                                                       params=overrides, contacts=True)
    exported = load_bundle(simulated_renewals.save(labelled, names, 20, root / "model"))
    return {"root": root, "data": data, "buckets": write_buckets(tables, root / "buckets", 3),
            "model": root / "model", "exported": exported, "params": make_params(overrides),
            "labelled": labelled}


def _score(world, source, out) -> OutputLayout:
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", AS_OF, "--no-report",
                 "--data", str(source), "--model", str(world["model"])]) == 0
    return OutputLayout(out)


def test_bucketed_score_writes_the_people_of_the_whole_run(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    whole = _score(world, world["data"], tmp_path / "whole")
    parts = _score(world, world["buckets"], tmp_path / "parts")
    expected = pd.read_parquet(whole.people(AS_OF))
    found = pd.read_parquet(parts.people(AS_OF))
    assert list(found.columns) == list(PEOPLE_COLUMNS)
    assert len(expected) > 300 and expected["account_id"].nunique() > 150
    assert (expected["status"] == "left").any()  # a champion who left is among them
    pd.testing.assert_frame_equal(found, expected)
    # the accounts of every bucket are there, each bucket's in the whole run's order
    assert found["account_id"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        pd.read_parquet(parts.risk_list(AS_OF)), pd.read_parquet(whole.risk_list(AS_OF)))


def test_score_bucket_gives_its_accounts_people_and_the_merge_orders_them(world):
    params = world["params"]
    options = dict(as_of=pd.Timestamp(AS_OF), features=params.features, score=params.score,
                   alerts=params.alerts)
    parts = [score_bucket(world["buckets"], k, world["exported"], **options) for k in (2, 0, 1)]
    for k, part in zip((2, 0, 1), parts):
        mine = set(read_bucket(world["buckets"], k).accounts["account_id"])
        assert len(part.people) and set(part.people["account_id"]) <= mine
    merged = merge_outputs(parts).people
    assert merged["account_id"].is_monotonic_increasing
    assert len(merged) == sum(len(p.people) for p in parts)


def test_without_contacts_a_bucket_has_no_people(world, tmp_path, simulated_renewals):
    import dataclasses

    params = make_params({})
    tables, _ = read_source(params.data, source=world["data"])
    tables = dataclasses.replace(tables, frames={k: v for k, v in tables.frames.items() if k != "contacts"})
    plain = write_buckets(tables, tmp_path / "plain", 2)
    exported = world["exported"]
    names = [n for n in exported.feature_names if not n.startswith("contacts__")]
    labelled = world["labelled"]
    model = load_bundle(simulated_renewals.save(labelled, names, 5, tmp_path / "model"))
    part = score_bucket(plain, 0, model,
                        as_of=pd.Timestamp(AS_OF), features=params.features, score=params.score,
                        alerts=params.alerts)
    assert part is not None and len(part.risk_list) and part.people is None
