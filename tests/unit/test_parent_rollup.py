"""Parent accounts: the ARR-weighted roll-up (weights, range, drivers) on hand-written
accounts whose answers can be read here, the contract checks of
``accounts.parent_account_id``, and the simulator's option."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.data.schema import PARENT_COLUMNS, PARENT_ID, RISK_LIST_COLUMNS
from healthscore.errors import ValidationError
from healthscore.model.scale import HealthScale
from healthscore.scoring.parents import parent_groups, roll_up_parents

USAGE, SUPPORT, PROFILE = "events__active_users__30d", "tickets__open__now", "subscriptions__days_to_renewal"
CATALOGUE = {USAGE: {"label": "Active users, 30 days", "family": "usage"},
             SUPPORT: {"label": "Open tickets", "family": "support"},
             PROFILE: {"label": "Days to renewal", "family": "contract"}}
SCALE = HealthScale()


def risk_list() -> pd.DataFrame:
    """Parent 100 is only a group (accounts 1 and 2); parent 3 is an account with its own
    contract (accounts 3 and 4); 5 and 6 have no parent."""
    return pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5, 6],
        "name": ["Big Sub", "Small Sub", "HQ", "HQ Europe", "Solo", "Other"],
        "owner": ["Dana", "Sam", "Priya", "Priya", "Dana", "Sam"],
        "segment": ["Enterprise", "SMB", "Mid-market", "Mid-market", "SMB", "SMB"],
        "arr": [90_000.0, 10_000.0, 20_000.0, 30_000.0, 5_000.0, 7_000.0],
        "risk_proba": [0.5, 0.1, 0.2, 0.6, 0.9, 0.05],
        "band": ["red", "green", "yellow", "red", "red", "green"],
        "health_score": [35, 70, 55, 30, 20, 80],
        "arr_at_risk": [45_000.0, 1_000.0, 4_000.0, 18_000.0, 4_500.0, 350.0],
        PARENT_ID: pd.array([100, 100, pd.NA, 3, pd.NA, pd.NA], dtype="Int64"),
    })


def points() -> pd.DataFrame:
    rows = {1: (-10.0, 2.0, -20.0), 2: (-2.0, -8.0, 5.0), 3: (1.0, -1.0, 0.0), 4: (-3.0, 0.5, 0.0),
            5: (-30.0, 0.0, 0.0), 6: (0.0, 0.0, 0.0)}
    return pd.DataFrame({"account_id": list(rows),
                         **{f"points:{f}": [v[j] for v in rows.values()]
                            for j, f in enumerate((USAGE, SUPPORT, PROFILE))}})


def roll(**options):
    return roll_up_parents(risk_list(), points(), scale=SCALE, catalogue=CATALOGUE, profile=(PROFILE,),
                           model_version="7", as_of="2024-06-01", **options)


def test_groups_are_the_parent_id_or_the_parents_own_account():
    groups = parent_groups(risk_list())
    assert groups.tolist()[:4] == [100, 100, 3, 3] and groups.iloc[4:].isna().all()


def test_the_risk_is_arr_weighted_and_the_score_is_that_risk_on_the_scale():
    parents, _ = roll()
    assert list(parents.columns[:len(PARENT_COLUMNS)]) == list(PARENT_COLUMNS)
    row = parents.set_index(PARENT_ID).loc[100]
    # (90k * 0.5 + 10k * 0.1) / 100k, not the plain mean 0.3
    assert row["arr_weighted_risk"] == pytest.approx(0.46)
    assert row["arr_at_risk"] == pytest.approx(46_000.0) and row["arr"] == 100_000.0
    assert row["health_score"] == SCALE.score(0.46) and row["band"] == SCALE.band(SCALE.score(0.46))
    assert row["any_lost_proba"] == pytest.approx(1 - 0.5 * 0.9)
    assert row["expected_accounts_lost"] == pytest.approx(0.6)
    assert row["accounts"] == 2 and row["red_accounts"] == 1 and row["riskiest_account"] == "Big Sub"
    assert pd.isna(row["name"]) and row["owner"] == "Dana"  # a group id: its largest account's owner
    hq = parents.set_index(PARENT_ID).loc[3]
    assert hq["accounts"] == 2 and hq["name"] == "HQ"  # the parent's own account is one of them
    assert hq["arr_weighted_risk"] == pytest.approx((4_000 + 18_000) / 50_000)
    assert parents[PARENT_ID].tolist() == [100, 3]  # most ARR at risk first
    assert parents["model_version"].eq("7").all() and parents["score_change"].isna().all()


def test_the_range_is_the_exact_count_and_the_arr_lost_distribution():
    parents, _ = roll()
    row = parents.set_index(PARENT_ID).loc[100]
    # accounts lost: 0 (0.45), 1 (0.5), 2 (0.05); ARR lost: 0 (.45), 10k (.05), 90k (.45), 100k (.05)
    assert (row["accounts_lost_low"], row["accounts_lost_high"]) == (0, 1)
    assert (row["arr_lost_low"], row["arr_lost_high"]) == (0.0, 90_000.0)
    wide, _ = roll(level=0.98)
    assert wide.set_index(PARENT_ID).loc[100, "arr_lost_high"] == 100_000.0


def test_a_parent_without_arr_weighs_its_accounts_equally():
    risk = risk_list().assign(arr=[0.0, np.nan, 20_000.0, 30_000.0, 5_000.0, 7_000.0])
    parents, _ = roll_up_parents(risk, points(), scale=SCALE, catalogue=CATALOGUE, profile=(PROFILE,))
    assert parents.set_index(PARENT_ID).loc[100, "arr_weighted_risk"] == pytest.approx(0.3)


def test_drivers_are_the_accounts_points_weighted_by_arr_share_naming_the_accounts():
    parents, drivers = roll(children_named=2)
    mine = drivers.loc[drivers[PARENT_ID] == 100].set_index(["kind", "rank"])
    usage = mine.loc[("hurting", 1)]
    assert usage["feature"] == USAGE and usage["points"] == pytest.approx(0.9 * -10 + 0.1 * -2)
    assert usage["accounts"] == "Big Sub (-10 pts, 90% of ARR), Small Sub (-2 pts, 10% of ARR)"
    support = mine.loc[("helping", 1)]  # 0.9 * 2 + 0.1 * -8: Small Sub pulls the other way, unnamed
    assert support["feature"] == SUPPORT and support["points"] == pytest.approx(1.0)
    assert support["accounts"] == "Big Sub (+2 pts, 90% of ARR)"
    assert PROFILE not in set(drivers["feature"])  # a profile fact is never a driver
    row = parents.set_index(PARENT_ID).loc[100]
    assert row["top_drivers"] == "Active users, 30 days (-9 pts: Big Sub, Small Sub)"
    assert row["points_usage"] == pytest.approx(-9.2)
    assert row["points_support"] == pytest.approx(0.1 * -8)  # hurting points only, weighted
    assert row["points_contract"] == 0.0


def test_score_change_against_the_previous_parents():
    first, _ = roll()
    second, _ = roll(previous=first.assign(health_score=first["health_score"] - 4))
    assert second["score_change"].tolist() == [4, 4]


def test_no_parent_column_leaves_the_risk_list_as_before():
    from healthscore.scoring.risk_list import build_risk_list

    scores = pd.DataFrame({"account_id": [1, 2], "mrr": [100.0, 50.0], "health_score": [60, 40],
                           "band": ["yellow", "red"], "risk_proba": [0.2, 0.4]})
    accounts = pd.DataFrame({"account_id": [1, 2], "name": ["a", "b"]})
    before = build_risk_list(scores, accounts, None, top_drivers=["", ""], model_version="1",
                             as_of=pd.Timestamp("2024-06-01"))
    assert list(before.columns) == list(RISK_LIST_COLUMNS)
    after = build_risk_list(scores, accounts.assign(**{PARENT_ID: pd.array([pd.NA, 1], dtype="Int64")}), None,
                            top_drivers=["", ""], model_version="1", as_of=pd.Timestamp("2024-06-01"))
    assert list(after.columns) == [*RISK_LIST_COLUMNS, PARENT_ID]
    pd.testing.assert_frame_equal(after.drop(columns=PARENT_ID), before)
    parent = after.set_index("account_id")[PARENT_ID]
    assert parent.loc[2] == 1 and pd.isna(parent.loc[1])


# ---------------------------------------------------------------- the contract


def validate(account_ids, parents):
    from healthscore.data.validate import validate_tables

    accounts = pd.DataFrame({"account_id": account_ids, PARENT_ID: parents})
    subscriptions = pd.DataFrame({"account_id": account_ids, "start_date": "2024-01-01",
                                  "end_date": "2025-01-01", "mrr": 100.0})
    tables, _ = validate_tables({"accounts": accounts, "subscriptions": subscriptions})
    return tables.accounts


def test_a_parent_is_an_account_or_a_group_id_in_the_account_id_dtype():
    accounts = validate([1, 2, 3], [np.nan, 1.0, 1.0])  # as Parquet gives a column with nulls
    assert accounts[PARENT_ID].dtype == "Int64" and accounts[PARENT_ID].tolist()[1:] == [1, 1]
    assert validate([1, 2, 3], [77, 77, None])[PARENT_ID].tolist()[:2] == [77, 77]
    text = validate(["a", "b"], [None, "a"])
    assert text[PARENT_ID].iloc[1] == "a" and pd.isna(text[PARENT_ID].iloc[0])
    from healthscore.data.validate import validate_tables

    plain, _ = validate_tables({"accounts": pd.DataFrame({"account_id": [1]}), "subscriptions": pd.DataFrame(
        {"account_id": [1], "start_date": "2024-01-01", "end_date": "2025-01-01"})})
    assert PARENT_ID not in plain.accounts.columns


@pytest.mark.parametrize("parents, rule, example", [
    ([1, None, None], "name the account itself as its parent", "account_id=1, parent_account_id=1"),
    ([None, 1, 2], "a chain or a cycle", "account_id=3, parent_account_id=2"),
    ([2, 1, None], "a chain or a cycle", "account_id=1, parent_account_id=2"),
    (["acme", None, None], "are not account ids like account_id", "parent_account_id='acme'"),
])
def test_bad_parents_stop_with_the_table_column_and_an_example_row(parents, rule, example):
    with pytest.raises(ValidationError) as error:
        validate([1, 2, 3], parents)
    message = str(error.value)
    assert "accounts.parent_account_id" in message and rule in message and example in message


# ----------------------------------------------------------------- simulator


def test_the_simulator_draws_parents_only_when_asked():
    from healthscore.sim.simulate import SimulationSpec, simulate
    from healthscore.sim.world import PARENT_FAMILY_MAX

    assert "parents_share" not in SimulationSpec().to_dict()
    plain = simulate(SimulationSpec(n_accounts=300, months=6, seed=11, burn_in_months=2))
    assert PARENT_ID not in plain["accounts"].columns
    drawn = simulate(SimulationSpec(n_accounts=300, months=6, seed=11, burn_in_months=2, parents_share=0.3))
    accounts = drawn["accounts"]
    pd.testing.assert_frame_equal(accounts.drop(columns=PARENT_ID)[["account_id", "name", "segment"]],
                                  plain["accounts"][["account_id", "name", "segment"]])
    children = accounts.loc[accounts[PARENT_ID].notna()]
    assert 0.1 < len(children) / len(accounts) < 0.3
    family = children.groupby(PARENT_ID).size()
    assert family.max() <= PARENT_FAMILY_MAX - 1
    tops = accounts.set_index("account_id").loc[family.index.astype("int64"), PARENT_ID]
    assert tops.isna().all()  # one level: a parent has no parent
    validate_ok = validate(accounts["account_id"].tolist(), accounts[PARENT_ID].tolist())
    assert validate_ok[PARENT_ID].notna().sum() == len(children)


def test_a_group_parent_is_explained_in_words_without_an_account():
    from healthscore.scoring.parent_view import ParentExplanation, render_parent

    parents, drivers = roll()
    row = parents.set_index(PARENT_ID).loc[100].to_dict()
    mine = drivers.loc[drivers[PARENT_ID] == 100]
    members = risk_list().iloc[:2].to_dict("records")
    text = render_parent(ParentExplanation(
        parent_id=100, as_of=pd.Timestamp("2024-06-01"), row=row,
        hurting=mine.loc[mine["kind"] == "hurting"].to_dict("records"),
        helping=mine.loc[mine["kind"] == "helping"].to_dict("records"), members=members, horizon_days=365))
    assert text.startswith("Parent 100 - owner: Dana")
    assert f"parent health score {SCALE.score(0.46)} / 100" in text
    assert "ARR-weighted risk within 12 months: 46% of its ARR is expected to be lost" in text
    assert "Chance that at least one of its accounts is lost within 12 months: 55%" in text
    assert "Big Sub (-10 pts, 90% of ARR), Small Sub (-2 pts, 10% of ARR)" in text
    assert "the parent's own account" not in text and "Small Sub (account 2)" in text
