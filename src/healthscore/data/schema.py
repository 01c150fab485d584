"""The data contract (DESIGN.md section 1) as code.

Each table has required columns (ids and the dates a feature or label needs) and
optional descriptive ones. After reading, every table is in canonical form:

* timestamps are ``datetime64[us]``, timezone-naive, in UTC;
* ``account_id`` has the dtype of ``accounts.account_id`` in every table;
* amounts and counts are ``float64``; descriptive text is ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class TableSpec:
    """What the contract says about one table.

    Parameters
    ----------
    name : str
        Our table name.
    required : tuple of str
        Columns without which the table is unusable.
    optional : tuple of str
        Descriptive columns; absent ones are simply missing (or derived, for ids).
    key : tuple of str
        Columns whose combination must be unique (checked when all are present).
    timestamps : tuple of str
        Columns parsed as instants.
    numeric : tuple of str
        Columns parsed as numbers.
    non_negative : tuple of str
        Numeric columns that must not be negative.
    bounds : dict of str to (float, float)
        Numeric columns read on a known scale (inclusive); a value outside it is
        blanked (:mod:`healthscore.data.validate`). Every numeric column is also bounded by
        ``validate.MAX_MAGNITUDE``.
    intervals : tuple of (str, str)
        (start, end) pairs where end must not precede start.
    event_time : str or None
        The column that places a row in time (the time rule applies to it).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    intervals: tuple[tuple[str, str], ...] = ()
    event_time: str | None = None
    derived: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "accounts",
            required=("account_id",),
            optional=("name", "segment", "plan", "industry", "region", "owner",
                      "created_at", "seats", "parent_account_id"),
            key=("account_id",),
            timestamps=("created_at",),
            numeric=("seats",),
            non_negative=("seats",),
        ),
        TableSpec(
            "subscriptions",
            required=("account_id", "start_date", "end_date"),
            optional=("subscription_id", "mrr", "plan", "outcome"),
            key=("subscription_id",),
            timestamps=("start_date", "end_date"),
            numeric=("mrr",),
            non_negative=("mrr",),
            intervals=(("start_date", "end_date"),),
            event_time="start_date",
            derived={"subscription_id": "account_id + row number by start_date"},
        ),
        TableSpec(
            "events",
            required=("account_id", "timestamp", "event"),
            optional=("user_id", "quantity"),
            timestamps=("timestamp",),
            numeric=("quantity",),
            non_negative=("quantity",),
            event_time="timestamp",
        ),
        TableSpec(
            "tickets",
            required=("account_id", "opened_at"),
            optional=("ticket_id", "closed_at", "priority", "csat"),
            key=("ticket_id",),
            timestamps=("opened_at", "closed_at"),
            numeric=("csat",),
            non_negative=("csat",),
            bounds={"csat": (0.0, 100.0)},  # 1-5, 1-10 or a percentage
            intervals=(("opened_at", "closed_at"),),
            event_time="opened_at",
            derived={"ticket_id": "row number"},
        ),
        TableSpec(
            "invoices",
            required=("account_id", "issued_at", "due_at", "amount"),
            optional=("invoice_id", "paid_at"),
            key=("invoice_id",),
            timestamps=("issued_at", "due_at", "paid_at"),
            numeric=("amount",),
            non_negative=("amount",),
            intervals=(("issued_at", "due_at"), ("issued_at", "paid_at")),
            event_time="issued_at",
            derived={"invoice_id": "row number"},
        ),
        TableSpec(
            "surveys",
            required=("account_id", "responded_at", "score"),
            optional=("user_id", "kind"),
            timestamps=("responded_at",),
            numeric=("score",),
            non_negative=("score",),
            bounds={"score": (0.0, 100.0)},  # NPS 0-10, CSAT 1-5 or a percentage
            event_time="responded_at",
        ),
        TableSpec(
            "emails",
            required=("account_id", "sent_at"),
            optional=("opened_at", "clicked_at"),
            timestamps=("sent_at", "opened_at", "clicked_at"),
            intervals=(("sent_at", "opened_at"), ("sent_at", "clicked_at")),
            event_time="sent_at",
        ),
        TableSpec(
            "signals",
            required=("account_id", "timestamp", "signal"),
            optional=("value",),
            timestamps=("timestamp",),
            numeric=("value",),
            event_time="timestamp",
        ),
        # The people of an account (optional): one row per contact, e.g. from the CRM.
        # No ``event_time``: a contact row is not a signal, so the data's start and end
        # ignore it; point in time, a row counts from ``started_at`` (always, when
        # unknown) and a contact has left once ``left_at`` is before the cutoff
        # (:mod:`healthscore.features.contacts`). ``role`` is read in lower case with
        # ``_`` for spaces (``Executive Sponsor`` -> ``executive_sponsor``).
        TableSpec(
            "contacts",
            required=("account_id", "user_id", "role"),
            optional=("email", "name", "started_at", "left_at"),
            key=("account_id", "user_id"),
            timestamps=("started_at", "left_at"),
            intervals=(("started_at", "left_at"),),
        ),
        # What customer success did: one row per touch of a play (``plays[].name``).
        # Never a feature; with the tasks tables it is the record of who was treated
        # when (:mod:`healthscore.plays.uplift`). No ``event_time``: a touch is not a
        # signal, so the time rule and the data's start ignore it; rows dated at or after
        # the end of the data are ignored all the same (:mod:`healthscore.data.validate`).
        TableSpec(
            "interventions",
            required=("account_id", "play", "date"),
            optional=("outcome",),
            key=("account_id", "play", "date"),
            timestamps=("date",),
        ),
    ]
}

REQUIRED_TABLES = ("accounts", "subscriptions")

#: The roles of ``contacts.role`` the features and the account page know by name; any
#: other role is kept as written (in the canonical form).
CONTACT_ROLES = ("champion", "executive_sponsor", "admin", "user")

#: Tables the simulator writes besides the contract; never read as features.
SIMULATOR_ONLY = ("ground_truth", "oracle")

#: The outcome values of ``subscriptions.outcome`` that mean the account left.
CHURN_OUTCOMES = frozenset({"churned", "churn", "cancelled", "canceled", "lost", "1", "true"})


# ------------------------------------------------------------- scoring outputs
# The column names `healthscore score` writes (architecture.md, "Scoring outputs").
# Scoring writes them and the report reads them from here: one name per column.

#: Columns of the risk list, in order.
RISK_LIST_COLUMNS = (
    "account_id", "name", "owner", "segment", "arr", "health_score", "band", "risk_proba",
    "arr_at_risk", "renewal_date", "days_to_renewal", "renewal_risk", "profile_score",
    "score_change", "previous_band", "top_drivers", "model_version", "as_of",
)

#: The parent of a child account (``accounts.parent_account_id``): the risk list's last
#: column when the accounts table has one (:mod:`healthscore.data.parents`).
PARENT_ID = "parent_account_id"

#: Columns of the parent accounts' roll-up (``parents/<as_of>.parquet``), in order
#: (:mod:`healthscore.scoring.parents`).
PARENT_COLUMNS = (
    "parent_account_id", "name", "owner", "segment", "accounts", "arr", "arr_weighted_risk",
    "health_score", "band", "arr_at_risk", "arr_lost_low", "arr_lost_high", "any_lost_proba",
    "expected_accounts_lost", "accounts_lost_low", "accounts_lost_high", "red_accounts",
    "riskiest_account", "top_drivers", "score_change", "model_version", "as_of",
)

#: Columns of the parents' drivers (``parent_drivers/<as_of>.parquet``), in order.
PARENT_DRIVER_COLUMNS = (
    "parent_account_id", "kind", "rank", "feature", "label", "family", "points", "accounts",
)

#: Wide points: the points of feature ``f`` are in column ``POINTS_PREFIX + f`` and its
#: value in column ``f``; ``base`` and ``residual`` complete the arithmetic.
POINTS_PREFIX = "points:"
POINTS_BASE = "base"
POINTS_RESIDUAL = "residual"

#: Columns of the why-it-changed lines, in order.
CHANGE_COLUMNS = (
    "account_id", "previous_as_of", "rank", "feature", "label", "family", "value_before",
    "value_after", "points_before", "points_after", "points_change", "unclipped_change",
    "score_change", "against_direction",
)

#: Columns of the alerts, in order.
ALERT_COLUMNS = (
    "account_id", "kind", "new_red", "band_drop", "score_drop", "previous_band", "band",
    "previous_score", "health_score", "score_change", "reason",
)

#: The history's columns before its one ``points_<family>`` column per family.
HISTORY_HEAD_COLUMNS = (
    "account_id", "health_score", "unclipped_score", "band", "risk_proba", "arr",
    "model_version", POINTS_BASE, POINTS_RESIDUAL,
)

#: The column of the as-of date when a history or points partition is read back.
AS_OF = "as_of"

#: Columns of the tasks plays make from the alerts (:mod:`healthscore.plays`), in order.
#: ``arm`` is the assignment of the account to the play: ``task`` (a task is due);
#: a hold-out arm gets a row too, without a task to do, so uplift can be measured.
TASK_COLUMNS = (
    "task_id", "as_of", "play", "account_id", "name", "owner", "owner_role", "action",
    "due_date", "arm", "alert_kind", "band", "health_score", "score_change",
    "renewal_date", "days_to_renewal", "reason",
)
