"""Point-in-time features and their catalogue (DESIGN.md section 3).

:func:`build_features` turns the tables and (account, cutoff) rows into one feature
row per cutoff row, using only data strictly before each cutoff;
:func:`build_catalogue` describes every feature it can produce (label, family, unit,
phrase).
"""

from healthscore.features.build import build_features, feature_names, plan_features
from healthscore.features.catalogue import (
    FAMILIES,
    FeatureInfo,
    build_catalogue,
    catalogue_from_json,
    catalogue_to_frame,
    to_json,
)
from healthscore.features.phrases import render_phrase
from healthscore.features.plan import FeaturePlan

__all__ = [
    "FAMILIES",
    "FeatureInfo",
    "FeaturePlan",
    "build_catalogue",
    "build_features",
    "catalogue_from_json",
    "catalogue_to_frame",
    "feature_names",
    "plan_features",
    "render_phrase",
    "to_json",
]
