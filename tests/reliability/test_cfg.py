"""params.yaml on pydantic (issue 13, deliverable 5).

Every key of every section, given a value of the wrong type or an unknown neighbour,
is a ConfigError that starts with its dotted key and says what was expected and what
was given; no pydantic ValidationError escapes. The repository's params files load and
round-trip; sections stay frozen dataclasses that code may build and replace unchecked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path

import pytest

from healthscore.config import (ModelParams, Params, ScorecardRule, make_params, params_to_dict,
                                read_params)
from healthscore.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PARAMS_FILES = [ROOT / "params.yaml", *sorted((ROOT / "configs").glob("*.yaml"))]


def _keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of ``cls``, nested sections walked (``tracking.gates.max_ece``)."""
    keys = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            keys += _keys(tp, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def _sections(cls: type = Params, prefix: str = "") -> list[tuple[str, type]]:
    found = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            found += [(f"{prefix}{f.name}", tp), *_sections(tp, f"{prefix}{f.name}.")]
    return found


KEYS = _keys(Params)


def test_the_walk_sees_every_section():
    assert len(KEYS) > 70 and "model.num_leaves" in KEYS and "tracking.gates.max_ece" in KEYS


@pytest.mark.parametrize("key", KEYS)
def test_every_key_given_a_wrong_type_is_a_config_error_naming_it(key):
    # a mapping is the wrong type for every key: scalars, lists, and mappings of
    # strings or sections (its value 1 is then wrong, one level down)
    with pytest.raises(ConfigError) as caught:
        make_params({}, [f"{key}={{bogus: 1}}"])
    message = str(caught.value)
    assert message.startswith(key) and ": expected " in message and ", got " in message
    assert "\n" not in message and "pydantic" not in message.lower()


@pytest.mark.parametrize("name, cls", _sections())
def test_an_unknown_key_in_any_section_lists_the_known_ones(name, cls):
    with pytest.raises(ConfigError) as caught:
        make_params({}, [f"{name}.no_such_key=1"])
    known = ", ".join(sorted(f.name for f in dataclasses.fields(cls)))
    assert str(caught.value) == f"unknown key {name}.no_such_key; expected one of: {known}"


def test_an_unknown_key_is_named_before_other_problems():
    with pytest.raises(ConfigError, match=r"^unknown key model\.num_leafs;.*\(and 1 more problem\)$"):
        make_params({"model": {"n_estimators": 0, "num_leafs": 7}})


def test_a_range_is_stated_whole_with_the_value_given():
    with pytest.raises(ConfigError) as caught:
        make_params({}, ["model.random_state=3000000000"])
    assert str(caught.value) == ("model.random_state: expected at least 0 and at most 2147483647, "
                                 "got 3000000000")
    with pytest.raises(ConfigError, match=r"^labels\.contraction_share: expected above 0 and at most 1, got 1\.5$"):
        make_params({}, ["labels.contraction_share=1.5"])


def test_a_missing_required_key_is_named():
    with pytest.raises(ConfigError, match=r"^data\.lookups\.events\.type_id\.key: expected a string, got nothing"):
        make_params({"data": {"lookups": {"events": {"type_id": {"table": "t", "value": "v"}}}}})


@pytest.mark.parametrize("raw, needle", [
    ({"model": {"num_leaves": 7.0}}, "model.num_leaves: expected an integer, got 7.0"),
    ({"model": {"num_leaves": True}}, "model.num_leaves: expected an integer, got True"),
    ({"score": {"incremental": 1}}, "score.incremental: expected true/false, got 1"),
    ({"score": {"offset": float("nan")}}, "score.offset: expected a finite number, got nan"),
    ({"timeline": 5}, "timeline: expected a mapping with keys mode, lead_time_days"),
])
def test_no_value_is_coerced(raw, needle):
    with pytest.raises(ConfigError) as caught:
        make_params(raw)
    assert str(caught.value).startswith(needle)


def test_a_date_object_from_code_is_kept_as_its_iso_text():
    params = make_params({"data": {"observed_until": dt.date(2024, 1, 31)}})
    assert params.data.observed_until == "2024-01-31"


def test_a_numeric_mapping_key_is_a_name():
    assert make_params({"data": {"tables": {2024: "events_2024"}}}).data.tables == {"2024": "events_2024"}


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_repository_params_files_load_and_round_trip(path):
    params = read_params(path)
    assert make_params(params_to_dict(params)) == params


def test_defaults_loaded_equal_defaults_built():
    assert make_params({}) == Params()
    assert make_params(params_to_dict(Params())) == Params()


def test_sections_stay_frozen_dataclasses_built_unchecked_in_code():
    params = make_params({}, ["model.num_leaves=15"])
    assert type(params.model) is ModelParams and params.model.num_leaves == 15
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.model.num_leaves = 3  # type: ignore[misc]
    # code (tests, tuning) builds and replaces sections; the stage using one checks it
    assert dataclasses.replace(params.model, num_leaves=0).num_leaves == 0
    assert ScorecardRule("x", 1.0, 1.0, 0.0).weight == 0.0
