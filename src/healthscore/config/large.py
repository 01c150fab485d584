"""The ``large:`` section of ``params.yaml``: training from a set larger than memory.

``train`` reads a training set part by part (:func:`healthscore.io.datasets.read_dataset`).
With ``max_rows_in_memory`` set and the set (its sidecar's ``rows``) larger, it keeps
only a stable share of the *accounts*, ``max_rows_in_memory / rows``, each with all its
rows, picked by a hash of the account id keyed by ``random_state`` (independent of the
model's held-out accounts). A share of accounts picked without looking at their labels
is a sample of the book, not of the outcomes: the churn rate, the renewal calendar and
the censoring stay as they are (measured: the label rate of half or a quarter of the
accounts within 0.01 of the whole's), so no weights are needed. What is lost is what
fewer accounts teach: on a small set that costs discrimination, and the calibration
varies more from one sample to another (``benchmarks/results/
bds_train_sample_3000*.md``: 3,000 simulated accounts, test ROC-AUC 0.726 whole, 0.69-0.70
on half, ECE 0.031 whole, 0.05-0.08 on half by sample). Set it so that the share keeps
tens of thousands of accounts. 0 (default): the whole set, as before.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from healthscore.config.fields import Count, Int, section


@section
class LargeParams:
    """How much of a training set ``train`` holds in memory (module docstring)."""

    max_rows_in_memory: Count = 0
    random_state: Annotated[Int, Field(ge=0, le=999_999_999)] = 0

    def share(self, rows: int) -> float:
        """The share of accounts to keep of a set of ``rows`` rows (1.0: all)."""
        if not self.max_rows_in_memory or rows <= self.max_rows_in_memory:
            return 1.0
        return self.max_rows_in_memory / rows

    @property
    def key(self) -> str:
        """The 16-character hash key of the account sample."""
        return f"sample-{self.random_state:09d}"[:16]
