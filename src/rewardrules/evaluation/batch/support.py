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

    Each item names the feature and where it is, e.g. ``rule 'coffee-card': kind
    every_nth_free``. The history may still hold what the engine refuses (refunds,
    redemptions): :func:`rewardrules.evaluation.batch.evaluate_table` says so when it meets them.
    """
    found: list[str] = []
    groups: dict[str, list[AnyRule]] = {}
    for rule in program.rules:
        where = f"rule '{rule.id}'"
        if not isinstance(rule, SUPPORTED_KINDS):
            found.append(f"{where}: kind {rule.kind}")
            continue
        if rule.when.payment_methods is not None:
            # Histories as tables carry no payments yet, so no share can be computed.
            found.append(f"{where}: when.payment_methods")
        if rule.final:
            # Stopping the later rules of a purchase is not built in the batch engine yet.
            found.append(f"{where}: final")
        if rule.exclusive_group is not None:
            groups.setdefault(rule.exclusive_group, []).append(rule)
    for reward in program.rewards:
        if reward.tiers is not None:
            # The customer's tier at a redemption is not given to the batch accounts yet.
            found.append(f"reward '{reward.id}': tiers")
    for members in groups.values():
        found += _refused_in_group(members)
    return found + _refused_in_tiers(program)


def _refused_in_tiers(program: Program) -> list[str]:
    """The tier options the batch engine does not evaluate yet: ``qualify_by: points`` (a
    purchase's level would depend on the points earlier purchases earned at their levels,
    which the columns compute after the levels)."""
    tiers = program.tiers
    if tiers is None or tiers.qualify_by != "points":
        return []
    return ["tiers: qualify_by points"]


def _refused_in_group(members: list[AnyRule]) -> list[str]:
    """The combinations in an exclusive group the batch engine does not evaluate yet:
    limited points and price rules, birthday and sign-up gifts given at a purchase, and a
    points or gift card rule grouped with a price rule (it earns on amounts a later price
    rule lowers again, which its refunds must remember). Gifts given at dates compete
    among themselves (``_timeline``)."""
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
        elif isinstance(rule, Birthday | SignupBonus):
            # Its columns give it at the first qualifying purchase, whatever a group chose.
            found.append(f"{where} of a {rule.kind} rule given at a purchase")
        elif isinstance(rule, PointsPerSpend | PartnerGiftCard) and prices:
            found.append(f"{where} of a {rule.kind} rule with price rule '{prices[0].id}'")
    return found


def _limited_in_group(rule: AnyRule) -> bool:
    """Whether a member's limits are evaluated in its group: a bonus, a gift item, a
    voucher card or a gift card (counted whole). A points rule's limits, which refunds
    release, and a price rule's, which re-run it on the group's basket, are not yet."""
    if isinstance(rule, OrderDiscount):
        return rule.gift_item is not None
    if isinstance(rule, EveryNthFree):
        return isinstance(rule.reward, VoucherReward)
    return isinstance(rule, BonusPoints | PartnerGiftCard)


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
