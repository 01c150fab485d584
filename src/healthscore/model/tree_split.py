"""A LightGBM ensemble cut in two by the features its trees split on.

TreeSHAP contributions add up tree by tree, and a tree that never splits on a column
gives the same contributions to two rows that differ only in that column. The hazard
model's intervals of one account (:func:`healthscore.model.exposure.expand_intervals`)
differ only in their calendar columns, and few trees split on those: the trees that do
not are explained once per account, the others once per interval
(:meth:`healthscore.model.estimator.HealthScoreModel.interval_contributions`).

The two parts are boosters loaded from the model's own text, the tree sections cut
into two lists (LightGBM's model format: a header, ``Tree=k`` sections, ``end of
trees``, then information LightGBM does not need to predict). Each part predicts its
trees' sum; the two sums, margins or contributions, add up to the whole model's, up
to the order of floating-point additions.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import lightgbm as lgb

_TREE = re.compile(r"^Tree=\d+\n", re.MULTILINE)
_END = "end of trees"


def split_trees(booster: lgb.Booster, columns: Collection[str]) -> tuple[lgb.Booster | None, lgb.Booster | None]:
    """``(fixed, varying)``: the trees that split on none of ``columns`` and those that
    split on at least one, each as a booster (None when it has no tree).

    Raises
    ------
    ValueError
        The model has more than one tree per iteration (multiclass), which this cut
        does not keep apart, or its text is not LightGBM's model format.
    """
    text = booster.model_to_string()
    if int(re.search(r"^num_tree_per_iteration=(\d+)$", text, re.MULTILINE).group(1)) != 1:
        raise ValueError("split_trees: one tree per iteration only")
    names = booster.feature_name()
    wanted = {i for i, name in enumerate(names) if name in set(columns)}
    starts = [m.start() for m in _TREE.finditer(text)]
    end = text.find(_END)
    if not starts or end < starts[-1]:
        raise ValueError("split_trees: not a LightGBM model text (no tree sections)")
    head = re.sub(r"^tree_sizes=.*\n", "", text[:starts[0]], flags=re.MULTILINE)
    tail = text[end:]
    sections = [text[a:b] for a, b in zip(starts, [*starts[1:], end])]
    fixed, varying = [], []
    for section in sections:
        split = re.search(r"^split_feature=(.*)$", section, re.MULTILINE)
        used = {int(v) for v in split.group(1).split()} if split else set()
        (varying if used & wanted else fixed).append(section)
    return _booster(head, fixed, tail), _booster(head, varying, tail)


def _booster(head: str, sections: list[str], tail: str) -> lgb.Booster | None:
    if not sections:
        return None
    body = "".join(_TREE.sub(f"Tree={k}\n", s, count=1) for k, s in enumerate(sections))
    return lgb.Booster(model_str=head + body + tail)
