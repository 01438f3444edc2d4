"""What the batch engine evaluates today, and what it refuses.

The batch engine never computes a feature it does not implement, slowly or wrongly: a
program that uses one is refused before anything runs, with one line per feature naming
it and the rule. The list shrinks as features land; the differential tests cover exactly
what it admits.
"""

from __future__ import annotations

from typing import NoReturn

from rewardrules.errors import Problem
from rewardrules.evaluation.batch._frame import UnsupportedError
from rewardrules.program.model import (
    Birthday,
    BonusPoints,
    EveryNthFree,
    OrderDiscount,
    PartnerGiftCard,
    PointsPerSpend,
    Program,
    Referral,
    SignupBonus,
    TieredDiscount,
)

SUPPORTED_KINDS: tuple[type, ...] = (
    PointsPerSpend,
    TieredDiscount,
    OrderDiscount,
    EveryNthFree,
    PartnerGiftCard,
    BonusPoints,
    Birthday,
    SignupBonus,
    Referral,
)
"""Rule kinds the batch engine evaluates."""


def unsupported(program: Program) -> list[str]:
    """What in the program the batch engine does not evaluate yet; empty when it all runs.

    Each item names the feature and where it is (``rule 'X': kind K`` for a kind the batch
    engine has no columns for). Every option of the kinds it knows runs, ``final: true``
    and exclusive groups of every combination included. The history may still hold what
    the engine refuses (amounts beyond its integers' bounds, docs/batch-engine.md):
    :func:`rewardrules.evaluation.batch.evaluate_table` says so when it meets them.
    """
    return [
        f"rule '{rule.id}': kind {rule.kind}"
        for rule in program.rules
        if not isinstance(rule, SUPPORTED_KINDS)
    ]


def unsupported_message(features: list[str]) -> str:
    """One message for a refused program: what is not supported and what to do."""
    listed = "; ".join(features)
    return (
        f"the batch engine does not evaluate {listed} yet; "
        "evaluate this program with engine='reference'"
    )


def refuse(features: list[str]) -> NoReturn:
    """Raise the batch engine's refusal of unsupported features."""
    raise UnsupportedError([Problem(message=unsupported_message(features), code="unsupported")])


def resume_unsupported(program: Program) -> list[str]:
    """What in the program the batch engine does not resume from saved states yet
    (``states=``, ``_resume``): the slices of a state it does not seed. Empty when every
    saved state of the program resumes, as for every program today: limits, groups, gifts
    at dates and at purchases, referrals and their holds are all seeded."""
    del program  # every slice of every rule kind is seeded (``_resume``)
    return []
