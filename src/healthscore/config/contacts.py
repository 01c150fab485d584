"""The ``features.contacts:`` section of ``params.yaml``: per-user health rolled up to
the account (:mod:`healthscore.features.contacts`).

Off by default, so the default feature set, the training sets and every output stay as
they were; ``enabled: true`` adds the ``contacts__*`` features (the champion's
activity and latest survey, the power users still active, a contact who left). The
section sits under ``features`` because the feature build is the stage that reads it.
"""

from __future__ import annotations

from healthscore.config.fields import Bool, Positive, Share, section


@section
class ContactParams:
    """Which per-user features to build, point in time (strictly before each cutoff).

    ``window_days``: the activity window ``[q - w, q)`` of the champion's events and of
    the power users. ``power_user_share``: the power users of an account at cutoff
    ``q`` are the top ``ceil(power_user_share x n)`` of the ``n`` users with an event in
    the previous window ``[q - 2w, q - w)``, by their events there (ties by user id);
    the feature is the share of them with an event in ``[q - w, q)``. ``left_days``: a
    contact left in ``[q - left_days, q)``: from ``contacts.left_at``, or, without that
    column, inferred: the most active user of ``[q - 2 x left_days, q - left_days)``
    has no event since.
    """

    enabled: Bool = False
    window_days: Positive = 30
    power_user_share: Share = 0.2
    left_days: Positive = 90
