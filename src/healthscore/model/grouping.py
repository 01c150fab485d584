"""Groups of correlated metrics averaged into one score ("Fighting Churn with Data", ch. 6).

Metrics of one behaviour (messages in 7, 14 and 28 days; likes and posts) move
together; a regression on all of them splits one effect over many noisy weights. The
book groups metrics whose correlation exceeds about 0.5 and uses the average of their
standardised values. Here: average-linkage hierarchical clustering (scipy) on the
distance ``1 - |corr|``, cut at ``1 - threshold``; each member is signed by its
correlation with the group's most central metric, so opposite metrics (days since last
use against counts) add up instead of cancelling.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import BaseEstimator, TransformerMixin


class CorrelatedGroups(TransformerMixin, BaseEstimator):
    """Average standardised columns whose absolute correlation exceeds ``threshold``.

    Input: a float array (n, p) without NaN, already standardised. Output: (n, groups).

    Attributes
    ----------
    groups_ : ndarray of int, shape (p,)
        Each input column's group (1-based, scipy's labels).
    signs_ : ndarray of float, shape (p,)
        +1 / -1: the member's sign within its group.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def fit(self, X, y=None) -> "CorrelatedGroups":
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1] == 1:
            self.groups_, self.signs_ = np.ones(1, dtype=int), np.ones(1)
            return self
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(X, rowvar=False))
        distance = np.clip(1.0 - np.abs(corr), 0.0, None)
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="average")
        self.groups_ = fcluster(tree, t=1.0 - float(self.threshold), criterion="distance")
        self.signs_ = np.ones(X.shape[1])
        for group in np.unique(self.groups_):
            members = np.flatnonzero(self.groups_ == group)
            centre = members[np.argmax(np.abs(corr[np.ix_(members, members)]).sum(axis=0))]
            self.signs_[members] = np.where(corr[centre, members] < 0, -1.0, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64) * self.signs_
        return np.column_stack([X[:, self.groups_ == g].mean(axis=1) for g in np.unique(self.groups_)])
