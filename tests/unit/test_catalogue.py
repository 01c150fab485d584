"""The feature catalogue covers every name the builder produces and renders phrases."""

from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd
import pytest

from healthscore.features import (
    FAMILIES, FeatureInfo, build_catalogue, build_features, catalogue_from_json,
    catalogue_to_frame, render_phrase, to_json,
)
from test_features_reference import PARAMS, random_cutoffs, random_tables


@pytest.fixture(scope="module")
def built():
    tables = random_tables(1, scale=2)
    return build_features(tables, random_cutoffs(tables, 1), PARAMS)


def _names(frame):
    return [c for c in frame.columns if "__" in c]


def test_every_built_feature_has_a_valid_entry(built):
    names = _names(built)
    categorical = [n for n in names if isinstance(built[n].dtype, pd.CategoricalDtype)]
    catalogue = build_catalogue(names, categorical=categorical)
    assert list(catalogue) == names
    for name, info in catalogue.items():
        assert info.name == name
        assert info.family in FAMILIES, name
        assert info.kind == ("categorical" if name in categorical else "numeric"), name
        assert info.healthy_direction in (-1, 0, 1), name
        assert info.label and info.unit and "{value" in info.phrase, name


def test_families_follow_the_source(built):
    catalogue = build_catalogue(_names(built))
    assert catalogue["events__count__7d"].family == "usage"
    assert catalogue["tickets__open__now"].family == "support"
    assert catalogue["invoices__days_overdue__now"].family == "billing"
    assert catalogue["surveys__nps_last"].family == "sentiment"
    assert catalogue["emails__open_rate__7d"].family == "engagement"
    assert catalogue["subscriptions__mrr__now"].family == "contract"
    assert catalogue["accounts__tenure_days"].family == "account"
    assert catalogue["signals__downgrade__count__7d"].family == "contract"  # by its name
    assert catalogue["signals__downgrade__count__7d"].healthy_direction == -1


def test_signal_families_come_from_params_then_from_the_name():
    names = ["signals__downgrade_request__count__30d", "signals__contact_change__days_since_last",
             "signals__referral__value__7d", "signals__weekly_sync__count__7d",
             "signals__downgrade_request__days_since_last"]
    default = build_catalogue(names)
    assert default["signals__downgrade_request__count__30d"].family == "contract"
    assert default["signals__contact_change__days_since_last"].family == "usage"  # a champion leaving shows in usage
    assert default["signals__referral__value__7d"].family == "sentiment"
    assert default["signals__weekly_sync__count__7d"].family == "engagement"  # no hint
    # more days since a bad signal is healthier; the count itself is not
    assert default["signals__downgrade_request__days_since_last"].healthy_direction == 1
    assert default["signals__downgrade_request__count__30d"].healthy_direction == -1
    mapped = build_catalogue(names, signal_families={"Weekly Sync": "usage", "referral": "engagement"})
    assert mapped["signals__weekly_sync__count__7d"].family == "usage"  # matched by slug
    assert mapped["signals__referral__value__7d"].family == "engagement"
    assert mapped["signals__downgrade_request__count__30d"].family == "contract"  # by its name
    with pytest.raises(ValueError, match="weekly_sync"):
        build_catalogue(names, signal_families={"weekly_sync": "vibes"})


def test_new_measures_have_words_and_directions():
    catalogue = build_catalogue(["events__lapsed_users__30d", "tickets__opened__30d_vs_prev_30d",
                                 "tickets__high_priority__90d", "invoices__days_since_last_late",
                                 "surveys__days_since_last_detractor"])
    row = {"events__lapsed_users__30d": 2.0, "tickets__opened__30d_vs_prev_30d": 2.5,
           "tickets__high_priority__90d": 3.0, "invoices__days_since_last_late": 12.2,
           "surveys__days_since_last_detractor": 40.0}
    render = {name: render_phrase(info, row) for name, info in catalogue.items()}
    assert render["events__lapsed_users__30d"] == \
        "Users active in the 30 days before the last 30 days but not since: 2"
    assert render["tickets__opened__30d_vs_prev_30d"] == \
        "Tickets opened in the last 30 days vs the 30 days before: 2.50x"
    assert render["invoices__days_since_last_late"] == \
        "Last invoice paid late (or not paid) was due 12 days ago"
    assert catalogue["tickets__opened__30d_vs_prev_30d"].healthy_direction == -1
    assert catalogue["events__lapsed_users__30d"].healthy_direction == -1
    assert catalogue["tickets__high_priority__90d"].family == "support"
    assert catalogue["surveys__days_since_last_detractor"].healthy_direction == 1


def test_every_phrase_renders_for_every_row(built):
    catalogue = build_catalogue(_names(built), categorical=["accounts__tier"])
    for _, row in built.iterrows():
        for info in catalogue.values():
            text = render_phrase(info, row)
            assert text and "{" not in text and "nan" not in text.lower(), (info.name, text)


def test_phrases_read_like_sentences():
    catalogue = build_catalogue(["events__active_users__30d", "events__seat_utilisation__30d",
                                 "accounts__seats", "accounts__segment", "invoices__days_overdue__now",
                                 "events__count__30d_vs_prev_30d"])
    row = {"events__active_users__30d": 4.0, "accounts__seats": 25.0,
           "events__seat_utilisation__30d": 0.16, "accounts__segment": "SMB",
           "invoices__days_overdue__now": 12.4, "events__count__30d_vs_prev_30d": 0.5}
    render = {name: render_phrase(info, row) for name, info in catalogue.items()}
    assert render["events__active_users__30d"] == "Active users in the last 30 days: 4 of 25 seats"
    assert render["events__seat_utilisation__30d"] == \
        "Seat utilisation in the last 30 days: 16% (4 of 25 seats)"
    assert render["accounts__segment"] == "Segment: SMB"
    assert render["invoices__days_overdue__now"] == "Oldest unpaid invoice is 12 days past due"
    assert render["events__count__30d_vs_prev_30d"] == \
        "Product events in the last 30 days vs the 30 days before: 0.50x"


def test_phrases_degrade_when_values_are_missing():
    catalogue = build_catalogue(["events__active_users__30d", "accounts__seats"])
    info = catalogue["events__active_users__30d"]
    assert render_phrase(info, {"events__active_users__30d": 4.0, "accounts__seats": math.nan}) == \
        "Active users in the last 30 days: 4"
    assert render_phrase(info, {"events__active_users__30d": 4.0}) == "Active users in the last 30 days: 4"
    assert render_phrase(info, {"events__active_users__30d": None}) == \
        "Active users, last 30 days: not available"
    assert render_phrase(info, pd.Series({"events__active_users__30d": -0.2, "accounts__seats": 5})) == \
        "Active users in the last 30 days: 0 of 5 seats"


def test_per_type_and_window_names_follow_the_pattern():
    catalogue = build_catalogue(["events__report_export__count__90d", "signals__referral__value__7d",
                                 "events__active_days__1d"])
    assert catalogue["events__report_export__count__90d"].label == "'report export' events, last 90 days"
    assert catalogue["signals__referral__value__7d"].healthy_direction == 1
    assert "last day" in catalogue["events__active_days__1d"].label


def test_unknown_sources_are_refused():
    with pytest.raises(ValueError, match="weather__rain"):
        build_catalogue(["weather__rain__7d"])


def test_json_and_frame_round_trip(built):
    catalogue = build_catalogue(_names(built))
    assert catalogue_from_json(to_json(catalogue)) == catalogue
    frame = catalogue_to_frame(catalogue)
    assert list(frame.columns) == [f.name for f in dataclasses.fields(FeatureInfo)]
    assert frame["name"].tolist() == list(catalogue)
    assert json.loads(to_json(catalogue))[0]["name"] == _names(built)[0]


def test_the_exported_catalogue_follows_the_params_and_the_training_set():
    from healthscore.config import FeatureParams
    from healthscore.model.export import catalogue_dict

    names = ["accounts__tier", "signals__weekly_sync__count__7d"]
    frame = pd.DataFrame({"accounts__tier": pd.Categorical(["gold"]),
                          "signals__weekly_sync__count__7d": [1.0]})
    plain = catalogue_dict(names)
    assert plain["accounts__tier"]["kind"] == "numeric"
    assert plain["signals__weekly_sync__count__7d"]["family"] == "engagement"
    told = catalogue_dict(names, features=FeatureParams(signal_families={"weekly_sync": "usage"}),
                          frame=frame)
    assert told["accounts__tier"]["kind"] == "categorical"  # a category column of the dataset
    assert told["signals__weekly_sync__count__7d"]["family"] == "usage"  # params.features
