"""The split of a score change between the account's data and the model, on tiny
hand-written points frames whose answer can be read here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.scoring.changes import (
    MODEL_CHANGED, MODEL_UPDATED, OTHER_CHANGES, attribute_changes, change_reasons, describe_change,
    is_model_update, split_words,
)

A, B = "events__active_users__30d", "invoices__days_overdue__now"
CATALOGUE = {A: {"label": "Active users", "family": "usage", "unit": "users"},
             B: {"label": "Days overdue", "family": "billing", "unit": "days"}}


def frame(ids, values, points, base, residual=0.0):
    """A wide points frame: values and points of A and B per account."""
    out = pd.DataFrame({"account_id": np.asarray(ids, dtype=np.int64), "base": float(base),
                        "residual": float(residual)})
    for j, name in enumerate((A, B)):
        out[name] = [float(v[j]) for v in values]
        out[f"points:{name}"] = [float(p[j]) for p in points]
    return out


def scores(points):
    total = points["base"] + points["residual"] + points.filter(like="points:").sum(axis=1)
    return pd.DataFrame({"account_id": points["account_id"], "health_score": total.round().astype(int)})


# previous date, old model (base 60): account 1 has 10 users and 0 days overdue
PREVIOUS = frame([1, 2], [(10, 0), (5, 30)], [(4, 1), (-2, -6)], base=60)
# today, old model on today's rows: account 1 lost 6 users (-5 points), 45 days overdue (-8)
OLD_NOW = frame([1, 2], [(4, 45), (5, 30)], [(-1, -7), (-2, -6)], base=60)
# today, new model (base 58) on the same rows
NEW_NOW = frame([1, 2], [(4, 45), (5, 30)], [(-3, -9), (-1, -4)], base=58)


def split_lines(**extra):
    return attribute_changes(NEW_NOW, PREVIOUS, current_scores=scores(NEW_NOW), previous_scores=scores(PREVIOUS),
                             model_changed=True, previous_as_of=pd.Timestamp("2024-05-01"),
                             catalogue=CATALOGUE, previous_model_points=OLD_NOW, versions=("3", "4"), **extra)


def test_the_data_part_is_the_old_model_on_both_dates_and_the_model_part_the_rest():
    lines = split_lines().set_index(["account_id", "feature"])
    # account 1: 65 -> 52 with the old model (data: -5 users, -8 overdue); new model 46 on
    # the same rows: model part 46 - 52 = -6; in all 46 - 65 = -19
    assert lines.loc[(1, A), "points_change"] == -5 and lines.loc[(1, B), "points_change"] == -8
    assert (lines.loc[(1, A), "points_before"], lines.loc[(1, A), "points_after"]) == (4, -1)
    model = lines.loc[(1, MODEL_CHANGED)]
    assert model["label"] == MODEL_UPDATED and model["points_change"] == -6
    assert (model["points_before"], model["points_after"]) == (52, 46)
    assert (model["value_before"], model["value_after"]) == ("version 3", "version 4")
    assert model["unclipped_change"] == -19
    # account 2: its data did not change; only the model moved it, 60 - 8 = 52 -> 58 - 5 = 53
    two = lines.loc[2]
    assert list(two.index) == [MODEL_CHANGED] and two.loc[MODEL_CHANGED, "points_change"] == 1
    for account, group in split_lines().groupby("account_id"):
        assert group["points_change"].sum() == pytest.approx(group["unclipped_change"].iloc[0], abs=1e-12)


def test_without_the_previous_model_one_model_changed_line_holds_the_base_change():
    lines = attribute_changes(NEW_NOW, PREVIOUS, current_scores=scores(NEW_NOW), previous_scores=scores(PREVIOUS),
                              model_changed=True, previous_as_of=pd.Timestamp("2024-05-01"), catalogue=CATALOGUE)
    model = lines.loc[lines["feature"] == MODEL_CHANGED]
    assert (model["label"] == MODEL_CHANGED).all() and (model["points_change"] == -2).all()
    assert not any(is_model_update(r) for r in lines.to_dict("records"))
    assert describe_change(model.iloc[0].to_dict()) == "Model changed (-2 pts)"


def test_the_words_say_which_part_is_which_and_reasons_leave_the_model_out():
    lines = split_lines()
    model = lines.loc[(lines["account_id"] == 1) & (lines["feature"] == MODEL_CHANGED)].iloc[0].to_dict()
    assert describe_change(model) == "Model updated: -6 pts"
    data, part = split_words(model)
    assert data == "from the account's data, read by the previous model (version 3) on both dates"
    assert part == "from the model: the new model (version 4) against the previous model (version 3), both on today's data"
    # a view that relabels the line (the report) still knows it by its values
    assert is_model_update({**model, "label": "The model was updated"})
    reasons = change_reasons(lines)
    assert reasons[1] == "Days overdue: 0 days -> 45 days (-8 pts); Active users: 10 -> 4 (-5 pts)"
    assert 2 not in reasons.index


def test_the_previous_models_points_must_be_todays_accounts_in_order():
    with pytest.raises(ValueError, match="previous_model_points"):
        attribute_changes(
            NEW_NOW, PREVIOUS, current_scores=scores(NEW_NOW), previous_scores=scores(PREVIOUS),
            model_changed=True, previous_as_of=pd.Timestamp("2024-05-01"), catalogue=CATALOGUE,
            previous_model_points=OLD_NOW.iloc[::-1])
    assert OTHER_CHANGES not in set(split_lines()["feature"])  # every point is on a named line here
