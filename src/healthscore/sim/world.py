"""The simulated world's constants: segments, plans, causes, event types, word lists.

Everything here is data, not code: the engine (:mod:`healthscore.sim.engine`) reads
these tables. Rates are per account-month unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")

#: Seats at signing: median and clip range per segment (lognormal, sigma 0.45).
SEAT_MEDIAN = np.array([6.7, 30.0, 122.0])
SEAT_MIN = np.array([2.0, 10.0, 40.0])
SEAT_MAX = np.array([25.0, 90.0, 400.0])

#: Share of accounts on monthly contracts (the rest sign annual contracts).
MONTHLY_TERM_SHARE = np.array([0.40, 0.12, 0.0])
#: How annual contracts are invoiced, by segment (rows): shares billed every 12, 3 and
#: 1 months (columns, in :data:`BILLING_MONTHS`). Upfront annual invoices are common,
#: but many annual contracts are billed monthly (SMB, by card) or quarterly
#: (Enterprise procurement). Monthly contracts are billed monthly.
BILLING_MONTHS = np.array([12, 3, 1])
BILLING_MIX = np.array([
    [0.35, 0.10, 0.55],
    [0.40, 0.30, 0.30],
    [0.40, 0.45, 0.15],
])
#: Share of accounts paying by card, by segment: charged on the invoice date and due
#: the next day, so a failed charge shows at once; the others pay invoices net 30.
CARD_SHARE = np.array([0.85, 0.35, 0.0])
NET_DAYS = (1, 30)  # card, invoice

PLANS = ("Starter", "Growth", "Business", "Enterprise")
#: List price per seat per month, by plan (currency units).
PLAN_PRICE = np.array([20.0, 40.0, 65.0, 95.0])
#: Probability of each plan at signing, by segment (rows) and plan (columns).
PLAN_MIX = np.array([
    [0.60, 0.40, 0.00, 0.00],
    [0.00, 0.50, 0.50, 0.00],
    [0.00, 0.00, 0.40, 0.60],
])
#: Discount range (low, high) off list price, by segment.
DISCOUNT = np.array([[0.0, 0.10], [0.0, 0.20], [0.05, 0.30]])

INDUSTRIES = ("Software", "Financial Services", "Healthcare", "Retail", "Manufacturing",
              "Education", "Media", "Logistics", "Professional Services", "Public Sector")
INDUSTRY_MIX = np.array([0.22, 0.12, 0.11, 0.10, 0.10, 0.08, 0.07, 0.07, 0.09, 0.04])
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_MIX = np.array([0.45, 0.30, 0.17, 0.08])

#: Product features in order of popularity (a truncated geometric over this order).
EVENT_TYPES = ("login", "dashboard_view", "search", "record_edit", "comment",
               "report_view", "file_upload", "report_export", "task_assign", "api_call",
               "integration_sync", "automation_run", "invite_user", "admin_settings")
#: Mean extra actions per row, by event type (quantity = 1 + Poisson(mean)).
EVENT_ACTIONS = np.array([0.2, 1.5, 2.0, 3.0, 1.0, 1.2, 0.8, 0.5, 1.0, 12.0,
                          4.0, 6.0, 0.3, 0.5])
#: Ratio between the popularity of consecutive event types.
EVENT_POPULARITY_RATIO = 0.72

PRIORITIES = ("low", "normal", "high", "urgent")
SURVEY_KINDS = ("nps",)

SIGNALS = ("exec_sponsor_meeting", "feature_request", "community_post", "referral",
           "new_team_onboarded", "downgrade_request", "competitor_mention",
           "contact_change")
SIG = {name: i for i, name in enumerate(SIGNALS)}

FAMILIES = ("usage", "support", "billing", "sentiment", "engagement", "contract", "account")


@dataclass(frozen=True)
class Cause:
    """A churn cause a customer-success manager would recognise.

    Parameters
    ----------
    name, family : str
        Ground-truth names; ``family`` is the observable signal family it shows in.
    hazard : tuple of 3 float
        Chance per account-month by segment (SMB, Mid-Market, Enterprise).
    health_link : float
        Hazard multiplier ``exp(-health_link * z)``: unhappy accounts suffer more.
    gamma : float
        Churn log-odds added per unit of intensity at the decision.
    delta : float
        Drop of hidden health per unit of intensity (0: churn without unhappiness).
    decay : float
        Monthly persistence of the intensity (1 on occurrence).
    """

    name: str
    family: str
    hazard: tuple[float, float, float]
    health_link: float
    gamma: float
    delta: float
    decay: float


CAUSES = (
    Cause("champion_left", "usage", (0.008, 0.008, 0.007), 0.0, 3.6, 0.7, 0.88),
    Cause("bad_release", "support", (0.0, 0.0, 0.0), 0.0, 2.4, 0.5, 0.75),
    Cause("budget_cut", "contract", (0.007, 0.005, 0.003), 0.0, 3.8, 0.0, 0.90),
    Cause("payment_trouble", "billing", (0.008, 0.004, 0.002), 0.3, 3.4, 0.2, 0.85),
    Cause("support_escalation", "support", (0.005, 0.007, 0.009), 0.6, 3.0, 0.6, 0.80),
    Cause("competitor_evaluation", "sentiment", (0.006, 0.006, 0.005), 0.6, 3.6, 0.6, 0.85),
)
CAUSE_NAMES = tuple(c.name for c in CAUSES)
C = {c.name: i for i, c in enumerate(CAUSES)}
#: A cause is the decision's primary cause when it adds at least this many log-odds.
PRIMARY_CAUSE_MIN_LOGIT = 1.0

#: Good news: (hazard per account-month, health gain per unit intensity, decay).
GOOD_NEWS = {"new_team_onboarded": (0.010, 0.5, 0.90), "referral": (0.005, 0.3, 0.85)}
#: Product-wide bad releases: months between them (uniform range) and share hit.
BAD_RELEASE_GAP = (6, 14)
BAD_RELEASE_HIT_SHARE = 0.35

#: Hidden health: z_t = mu + RHO (z_{t-1} - mu) + SIGMA eps; mu ~ N(MU_MEAN[seg], MU_SD).
RHO = 0.85
SIGMA = 0.35
MU_MEAN = np.array([0.0, 0.1, 0.2])
MU_SD = 0.5

#: Renewal decision log-odds: intercept per segment (annual contracts), offset for a
#: monthly contract's decision, slope on hidden health, first-year offset.
CHURN_INTERCEPT = np.array([-3.75, -4.0, -4.35])
MONTHLY_OFFSET = -2.5
CHURN_HEALTH_SLOPE = 0.9
FIRST_YEAR_OFFSET = 0.4
#: Usage multiplier between a churn decision and the contract's end.
WIND_DOWN = 0.65

CSM_FIRST = ("Maya", "Liam", "Sofia", "Noah", "Aisha", "Lucas", "Elena", "Omar", "Priya",
             "Jonas", "Chloe", "Mateo", "Hannah", "Kenji", "Zara", "Felix")
CSM_LAST = ("Patel", "Nguyen", "Garcia", "Kowalski", "Okafor", "Schmidt", "Rossi",
            "Tanaka", "Silva", "Johansson", "Murphy", "Haddad", "Kim", "Dubois")
#: Size of the CSM roster per segment (SMB, Mid-Market, Enterprise).
CSM_PER_SEGMENT = (5, 4, 3)

NAME_HEADS = (
    "Blue", "Red", "Green", "Silver", "Golden", "North", "South", "East", "West", "Bright",
    "Clear", "Swift", "Iron", "Stone", "River", "Lake", "Sun", "Moon", "Star", "Cloud",
    "Pine", "Oak", "Maple", "Cedar", "Summit", "Harbor", "Bay", "Coast", "Prairie", "Delta",
    "Apex", "Nova", "Vertex", "Quantum", "Atlas", "Orbit", "Pixel", "Signal", "Beacon",
    "Falcon", "Eagle", "Fox", "Wolf", "Bear", "Lion", "Tiger", "Hawk", "Raven", "Crystal",
    "Amber", "Copper", "Cobalt", "Indigo", "Violet", "Crimson", "Ember", "Frost", "Storm",
    "Thunder", "Granite",
)
NAME_TAILS = (
    "field", "stone", "wave", "point", "bridge", "gate", "light", "path", "forge", "works",
    "line", "spring", "wood", "ridge", "view", "crest", "port", "mark", "shore", "peak",
    "star", "leaf", "brook", "haven", "vale", "side", "rock", "well", "way", "mill",
    "tower", "core", "scale", "sync", "grid", "loop", "stack", "flow", "spark", "craft",
)
NAME_KINDS = (
    "Analytics", "Logistics", "Health", "Labs", "Systems", "Software", "Capital",
    "Partners", "Group", "Industries", "Solutions", "Media", "Retail", "Foods", "Energy",
    "Consulting", "Robotics", "Networks", "Studios", "Dynamics", "Holdings", "Security",
    "Learning", "Motors", "Biotech", "Financial", "Design", "Data", "Cloud", "Marine",
    "Pharma", "Logic", "Ventures", "Markets", "Supply", "Brands", "Travel", "Foundry",
    "Telecom", "Insurance", "Realty", "Freight", "Outdoor", "Textiles", "Interactive",
    "Medical", "Energy Co", "Technologies",
)


#: Parent accounts (``SimulationSpec.parents_share``): the largest family (a parent and
#: its children), and the sd of the shift of long-run hidden health its members share.
PARENT_FAMILY_MAX = 5
PARENT_SHOCK_SD = 0.6
