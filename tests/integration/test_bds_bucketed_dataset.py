"""`build-dataset --data ROOT` on a bucketed source: bucket by bucket, written in parts,
the same rows and features as one build of the same data read whole; and the parts read
back whole, checked, or as a stable share of the accounts."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from healthscore import cli
from healthscore.config import DataParams, make_params
from healthscore.dataset.buckets import survey_buckets
from healthscore.dataset.pipeline import build_dataset
from healthscore.dataset.timeline import data_start
from healthscore.errors import ProvenanceError, UsageError
from healthscore.features import plan_features
from healthscore.io.buckets import read_bucket, write_buckets
from healthscore.io.datasets import read_dataset, sidecar_path, stable_share
from healthscore.io.sources import read_source
from healthscore.sim.simulate import SimulationSpec, write_simulation

BUCKETS = 4
#: Labelled rows (26 months: a 12-month horizon is inside the data for the first ones).
LABELLED = {"features": {"partition_accounts": 40}}
#: Daily cutoffs from the book's first instant: a bucket's own start would differ.
DAILY = {"features": {"partition_accounts": 40}, "timeline": {"cadence": "D", "end": "2023-02-10"}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bds")
    write_simulation(SimulationSpec(n_accounts=160, months=26, seed=11), root / "src")
    tables, _ = read_source(DataParams(), source=root / "src")
    write_buckets(tables, root / "buckets", BUCKETS)
    return {"root": root, "tables": tables, "buckets": root / "buckets"}


@pytest.fixture(scope="module")
def built(world):
    """The LABELLED set built once from the buckets; tests that change it take a copy."""
    out = world["root"] / "set.parquet"
    _build(world, LABELLED, out)
    return out


def _copy(built, tmp_path):
    out = tmp_path / built.name
    shutil.copytree(built, out)
    shutil.copy(sidecar_path(built), sidecar_path(out))
    return out


def _overrides(sections: dict) -> list[str]:
    return [f"{s}.{k}={json.dumps(v)}" for s, values in sections.items() for k, v in values.items()]


def _build(world, sections: dict, out) -> pd.DataFrame:
    argv = [a for o in _overrides(sections) for a in ("--set", o)]
    assert cli.main([*argv, "build-dataset", "--data", str(world["buckets"]), "--out", str(out)]) == 0
    frame, _ = read_dataset(out)
    return frame


@pytest.mark.parametrize("sections", [LABELLED, DAILY], ids=["monthly", "daily"])
def test_bucketed_build_equals_the_whole_build(world, sections, tmp_path):
    params = make_params(sections)
    whole = build_dataset(world["tables"], params)
    got = _build(world, sections, tmp_path / "set.parquet")
    # read back in the whole build's order (cutoff, account): the same frame exactly
    pd.testing.assert_frame_equal(got, whole)
    key = ["account_id", "cutoff_time"]
    assert not got.duplicated(key).any()
    meta = json.loads(sidecar_path(tmp_path / "set.parquet").read_text())
    assert meta["layout"] == "parts" and meta["buckets"] == BUCKETS
    assert meta["rows"] == len(whole) and sum(p["rows"] for p in meta["parts"]) == len(whole)
    assert meta["observed_until"] == world["tables"].observed_until.isoformat()
    assert meta["labelled"] == int(whole["label"].notna().sum())
    assert meta["positives"] == int((whole["label"] == 1).sum())
    assert meta["accounts"] == whole["account_id"].nunique()
    if sections is LABELLED:
        assert meta["positives"] > 0 and meta["labelled"] > meta["positives"]


def test_the_book_choices_differ_from_a_buckets_own(world):
    """What the test above guards: built on its own, some bucket would choose other
    signal types and start its cutoffs later than the book does."""
    params = make_params(DAILY)
    survey = survey_buckets(world["buckets"], params)
    book = plan_features(world["tables"], params.features)
    assert survey.plan == book
    assert survey.book_start == data_start(world["tables"])
    own = [read_bucket(world["buckets"], k) for k in range(BUCKETS)]
    assert any(plan_features(t, params.features).signal_types != book.signal_types for t in own)
    assert any(data_start(t).normalize() > survey.book_start.normalize() for t in own)


def test_a_share_of_accounts_keeps_every_row_of_the_accounts_it_keeps(built):
    out = built
    whole, _ = read_dataset(out)
    key = "sample-000000007"
    half, _ = read_dataset(out, share=0.5, key=key)
    want = whole.loc[stable_share(whole["account_id"], share=0.5, key=key)].reset_index(drop=True)
    pd.testing.assert_frame_equal(half, want)
    assert 0.3 < half["account_id"].nunique() / whole["account_id"].nunique() < 0.7


def test_a_changed_or_missing_part_is_refused(built, tmp_path):
    out = _copy(built, tmp_path)
    first = sorted(out.glob("part-*.parquet"))[0]
    frame = pd.read_parquet(first)
    frame.loc[0, "label"] = pd.NA if frame.loc[0, "label"] == 1 else 1
    frame.to_parquet(first, index=False)
    with pytest.raises(ProvenanceError, match="part-00000.parquet was changed"):
        read_dataset(out)
    first.unlink()
    with pytest.raises(ProvenanceError, match="part 'part-00000.parquet' is missing"):
        read_dataset(out)


def test_out_may_replace_an_earlier_set_but_never_a_foreign_folder(world, built, tmp_path, capsys):
    from healthscore.commands.build_dataset import check_out

    out = _copy(built, tmp_path)
    assert check_out(out, parts=True) == out  # an earlier set in parts: may be replaced
    single = tmp_path / "single.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(single)  # an earlier single-file set: replaced
    pd.testing.assert_frame_equal(_build(world, LABELLED, single), read_dataset(built)[0])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert cli.main(["build-dataset", "--data", str(world["buckets"]), "--out", str(foreign)]) != 0
    assert "holds no training set in parts" in capsys.readouterr().err
    with pytest.raises(UsageError, match="holds no training set in parts"):
        check_out(foreign, parts=True)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_train_reads_a_share_of_accounts_only_past_max_rows_in_memory(built):
    from healthscore.commands.train import read_training_set

    whole, meta = read_dataset(built)
    same, same_meta = read_training_set(built, make_params({}).large)  # default: off
    pd.testing.assert_frame_equal(same, whole)
    assert "sample" not in same_meta
    fits = make_params({"large": {"max_rows_in_memory": len(whole)}}).large
    assert "sample" not in read_training_set(built, fits)[1]
    large = make_params({"large": {"max_rows_in_memory": len(whole) // 4, "random_state": 3}}).large
    part, part_meta = read_training_set(built, large)
    want = whole.loc[stable_share(whole["account_id"], share=(len(whole) // 4) / len(whole),
                                  key="sample-000000003")].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, want)
    assert part_meta["sample"]["rows"] == len(part) < len(whole) / 2
    assert part_meta["rows"] == len(whole)  # the sidecar still describes the whole set
    # calibration needs no weights: the sample's churn rate is the book's, within noise
    rate = lambda f: float(f["label"].dropna().astype(int).mean())  # noqa: E731
    assert abs(rate(part) - rate(whole)) < 0.05
