"""What to do next: plain next steps suggested by the drivers that hurt an account.

A step is chosen by the first rule that matches a hurting driver: rules on a feature
name fragment first (the most specific), then one rule per family. Drivers of the
``account`` family (segment, industry, tenure) describe who the customer is, not
something a CSM can change, so they suggest nothing unless a rule names them.
``params.report.next_steps`` adds or overrides rules (``fragment or family: step``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

#: (feature-name fragment, step), most specific first.
FEATURE_STEPS: tuple[tuple[str, str], ...] = (
    ("overdue", "Check the overdue invoices with finance before your next call, "
                "and agree who contacts the customer's billing team."),
    ("late_pay", "Check the payment history with finance; agree a payment plan if "
                 "invoices keep arriving late."),
    ("seat_utilisation", "Few of the paid seats are in use: plan an onboarding session "
                         "for the users who have not started."),
    ("active_users", "Fewer people use the product: plan onboarding for new users and "
                     "ask the champion which teams have not started."),
    # CRM signals before the usage rules their names share ("days_since_last")
    ("competitor_mention", "The customer mentioned a competitor: call the sponsor to hear "
                           "what they are comparing, and show the value delivered so far."),
    ("downgrade_request", "The customer asked to downgrade: call the sponsor to understand "
                          "what is not worth its price, before the renewal conversation."),
    ("contact_change", "Your contact changed: introduce yourself to the new contact and "
                       "walk them through what the account uses."),
    ("exec_sponsor", "Book a meeting with the executive sponsor to review goals and value."),
    ("new_team_onboarded", "No new team started lately: ask the champion which teams could "
                           "use the product next and offer onboarding."),
    ("days_since_last", "Nobody has used the product recently: call the champion this "
                        "week to find out why."),
    ("_vs_prev", "Usage is falling compared with the period before: book a check-in to "
                 "find out what changed."),
    ("nps", "Call the detractor: ask what went wrong, listen, and follow up in writing "
            "with what you will do."),
    ("csat", "Support satisfaction is low: review the recent tickets with the support "
             "lead and call the customer about the worst one."),
    ("high_priority", "Many tickets are high priority: review them with the support lead "
                      "and give the customer a date for each open fix."),
    ("open_rate", "The customer stopped reading our emails: re-engage the champion with "
                  "a personal note, and confirm they are still the right contact."),
    ("click", "The customer stopped reading our emails: re-engage the champion with a "
              "personal note, and confirm they are still the right contact."),
    ("days_to_renewal", "The renewal timing counts against this account: prepare the "
                        "renewal conversation (value delivered, usage, pricing options) early."),
    ("mrr_change", "Spend is shrinking: ask what was cut and why before the renewal "
                   "conversation."),
    ("tenure", "A young account: check that onboarding is complete and the first goals "
               "were met."),
)

#: Family -> step, when no feature rule matched.
FAMILY_STEPS: dict[str, str] = {
    "billing": "Check the invoices and payments with finance before your next call.",
    "usage": "Plan onboarding for new users and a usage review with the champion.",
    "support": "Review open tickets with the support lead and agree dates for the fixes.",
    "sentiment": "Call the detractor: ask what went wrong and follow up in writing.",
    "engagement": "Re-engage the champion with a personal call or note.",
    "contract": "Prepare the renewal conversation: value delivered, usage, pricing options.",
}


@dataclass(frozen=True)
class NextStep:
    """One suggested step and the drivers that suggested it (their labels)."""

    step: str
    because: tuple[str, ...]
    points: float  # points lost by those drivers (negative)


def step_for(feature: str, family: str, *, overrides: Mapping[str, str] | None = None) -> str | None:
    """The step suggested by one hurting driver, or None.

    ``overrides`` maps a feature-name fragment or a family name to a step; it is
    consulted first, so a user can replace any built-in rule.
    """
    name = str(feature).lower()
    for fragment, step in (overrides or {}).items():
        if fragment.lower() in name or fragment == family:
            return step
    for fragment, step in FEATURE_STEPS:
        if fragment in name:
            return step
    return FAMILY_STEPS.get(str(family))


def suggest_next_steps(
    drivers: Iterable[tuple[str, str, str, float]],
    *,
    min_points: float,
    overrides: Mapping[str, str] | None = None,
    limit: int = 4,
) -> list[NextStep]:
    """Next steps from hurting drivers, the costliest first, one per distinct step.

    Parameters
    ----------
    drivers : iterable of (feature, family, label, points)
        Drivers of one account; only those with ``points <= -min_points`` count.
    min_points : float
        A driver must cost at least this many points to suggest a step.
    overrides : mapping, optional
        ``params.report.next_steps``.
    limit : int
        At most this many steps.
    """
    steps: dict[str, list] = {}
    for feature, family, label, points in sorted(drivers, key=lambda d: d[3]):
        if not points <= -abs(min_points):
            continue
        step = step_for(feature, family, overrides=overrides)
        if step is None:
            continue
        entry = steps.setdefault(step, [[], 0.0])
        entry[0].append(label)
        entry[1] += float(points)
    out = [NextStep(step, tuple(labels), total) for step, (labels, total) in steps.items()]
    out.sort(key=lambda s: s.points)
    return out[:limit]
