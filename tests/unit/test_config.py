"""params.yaml loading: typed, frozen, unknown keys and wrong types rejected."""

import dataclasses

import pytest

from healthscore.config import Params, make_params, read_params
from healthscore.errors import ConfigError


def test_defaults_load_and_are_frozen():
    params = make_params({})
    assert isinstance(params, Params)
    assert params.timeline.mode == "horizon" and params.timeline.horizon_days == 365
    assert params.timeline.lead_time_days == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.timeline.lead_time_days = 5  # type: ignore[misc]


def test_repo_params_yaml_loads():
    params = read_params("params.yaml")
    assert params.labels.grace_days == 30
    assert params.tracking.gates.max_ece > 0


def test_misspelt_key_is_rejected_with_its_name():
    with pytest.raises(ConfigError, match=r"unknown key timeline\.lead_tme_days"):
        make_params({"timeline": {"lead_tme_days": 30}})


def test_unknown_section_is_rejected():
    with pytest.raises(ConfigError, match="unknown key modle"):
        make_params({"modle": {}})


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"timeline": {"lead_time_days": "90"}}, "timeline.lead_time_days: expected an integer"),
        ({"timeline": {"mode": "weekly"}}, "timeline.mode: expected one of 'renewal', 'horizon'"),
        ({"features": {"windows": [7, "x"]}}, r"features.windows\[1\]: expected an integer"),
        ({"alerts": {"new_red": "yes"}}, "alerts.new_red: expected true/false"),
        ({"labels": {"contraction_share": "half"}}, "labels.contraction_share: expected a number or null"),
    ],
)
def test_wrong_type_names_key_and_expectation(raw, needle):
    with pytest.raises(ConfigError, match=needle):
        make_params(raw)


def test_int_is_accepted_where_a_float_is_expected():
    assert make_params({"score": {"pdo": 20}}).score.pdo == 20.0


def test_overrides_apply_with_yaml_values():
    params = make_params({}, ["timeline.lead_time_days=30", "features.windows=[7, 14]",
                              "tracking.gates.max_ece=0.1", "labels.contraction_share=null"])
    assert params.timeline.lead_time_days == 30
    assert params.features.windows == [7, 14]
    assert params.tracking.gates.max_ece == 0.1
    assert params.labels.contraction_share is None


@pytest.mark.parametrize("bad", ["timeline", "lead_time_days=3", "timeline.nope=3"])
def test_bad_overrides_are_rejected(bad):
    with pytest.raises(ConfigError):
        make_params({}, [bad])


def test_nested_entries_are_typed():
    params = make_params({"scorecard": {"rules": [
        {"feature": "events__count__30d", "good": 50, "bad": 0, "weight": 2}]}})
    assert params.scorecard.rules[0].weight == 2.0
    with pytest.raises(ConfigError, match=r"scorecard.rules\[0\]"):
        make_params({"scorecard": {"rules": [{"feature": "x", "good": 1}]}})


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_params(tmp_path / "nope.yaml")


def test_params_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_params(path)


def test_unquoted_yaml_dates_are_accepted_as_iso_strings(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("timeline:\n  start: 2024-01-31\n")
    assert read_params(path, ["timeline.end=2025-06-30"]).timeline.start == "2024-01-31"
    assert read_params(path, ["timeline.end=2025-06-30"]).timeline.end == "2025-06-30"
