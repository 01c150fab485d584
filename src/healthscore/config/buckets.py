"""The ``buckets:`` section of ``params.yaml``: how much of one bucket is in memory at a
time when ``score`` reads a bucketed source (:mod:`healthscore.scoring.buckets`), and how
many buckets are scored at once."""

from __future__ import annotations

from healthscore.config.fields import Positive, section


@section
class BucketParams:
    """Bounds on one bucket's peak memory while a bucketed source is scored.

    Scoring a bucket builds its features ``partition_accounts`` accounts at a time and
    explains ``chunk_rows`` rows at a time: at most these, or ``features.partition_accounts``
    and ``score.chunk_rows`` when those are smaller. Smaller parts lower the peak (a
    25,000-account bucket built whole peaks near 1.7 GiB) and change no output: features
    and explanations are per account. A source read whole (not bucketed) uses
    ``features`` and ``score`` alone.

    ``workers``: buckets scored at once, each in its own process on this machine
    (:mod:`healthscore.scoring.pool`); the same outputs, about ``workers`` times one
    bucket's peak on top of the run's own. 1 (default): one bucket at a time, in the run's
    process.
    """

    partition_accounts: Positive = 3_125
    chunk_rows: Positive = 6_250
    workers: Positive = 1
