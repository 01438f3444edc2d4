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
    AnyRule,
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
    VoucherReward,
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

    Each item names the feature and where it is, e.g. ``rule 'signup': exclusive_group
    of a signup_bonus rule with price rule 'card'``. The history may still hold what the
    engine refuses (refunds, redemptions): :func:`rewardrules.evaluation.batch.evaluate_table`
    says so when it meets them.
    """
    found: list[str] = []
    groups: dict[str, list[AnyRule]] = {}
    for rule in program.rules:
        where = f"rule '{rule.id}'"
        if not isinstance(rule, SUPPORTED_KINDS):
            found.append(f"{where}: kind {rule.kind}")
            continue
        if rule.exclusive_group is not None:
            groups.setdefault(rule.exclusive_group, []).append(rule)
    for members in groups.values():
        found += _refused_in_group(members)
    return found


def _refused_in_group(members: list[AnyRule]) -> list[str]:
    """The combinations in an exclusive group the batch engine does not evaluate yet:
    limited points and price rules, and a points, gift card or sign-up rule grouped with a
    price rule (it reads amounts a later price rule lowers again, which its refunds must
    remember). Gifts given at dates compete among themselves (``_timeline``)."""
    found = []
    prices = [
        rule
        for rule in members
        if isinstance(rule, TieredDiscount)
        or (isinstance(rule, OrderDiscount) and rule.gift_item is None)
        or (isinstance(rule, EveryNthFree) and not isinstance(rule.reward, VoucherReward))
    ]
    for rule in members:
        where = f"rule '{rule.id}': exclusive_group"
        if rule.parts().given_at_a_date is not None:
            continue  # gifts at dates compete among themselves, in ``_timeline``
        if rule.limit and not _limited_in_group(rule):
            found.append(f"{where} with a limit")
        elif isinstance(rule, PointsPerSpend | PartnerGiftCard | SignupBonus) and prices:
            found.append(f"{where} of a {rule.kind} rule with price rule '{prices[0].id}'")
    return found


def _limited_in_group(rule: AnyRule) -> bool:
    """Whether a member's limits are evaluated in its group: a bonus, a gift item, a
    voucher card, a gift card (counted whole), a birthday or sign-up gift at a purchase.
    A points rule's limits, which refunds release, and a price rule's, which re-run it on
    the group's basket, are not yet."""
    if isinstance(rule, OrderDiscount):
        return rule.gift_item is not None
    if isinstance(rule, EveryNthFree):
        return isinstance(rule.reward, VoucherReward)
    return isinstance(rule, BonusPoints | PartnerGiftCard | Birthday | SignupBonus)


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
