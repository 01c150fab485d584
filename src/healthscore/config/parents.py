"""The ``parents:`` section of ``params.yaml``: the roll-up of child accounts to their
parent (``accounts.parent_account_id``; :mod:`healthscore.scoring.parents`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from healthscore.config.fields import Float, Positive, section


@section
class ParentParams:
    """How ``score`` rolls child accounts up to their parent.

    Read only when the accounts table has a ``parent_account_id`` column; without it
    nothing is rolled up and every output is as before. ``top_drivers``: the parent's
    drivers shown (the children's points weighted by their share of the parent's ARR),
    each naming at most ``children_named`` children, those that drive it most.
    ``level``: the probability held by the range of the parent's ARR lost.
    """

    top_drivers: Positive = 3
    children_named: Positive = 3
    level: Annotated[Float, Field(gt=0, lt=1)] = 0.8
