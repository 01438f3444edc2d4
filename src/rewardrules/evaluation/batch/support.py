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
        if rule.exclusive_group is not None:
            groups.setdefault(rule.exclusive_group, []).append(rule)
    for members in groups.values():
        found += _refused_in_group(members)
    return found + _refused_finals(program)


def _is_price(rule: AnyRule) -> bool:
    """Whether a rule changes prices (it runs before every earning rule)."""
    if isinstance(rule, OrderDiscount):
        return rule.gift_item is None
    return isinstance(rule, TieredDiscount) or (
        isinstance(rule, EveryNthFree) and not isinstance(rule.reward, VoucherReward)
    )


def _refused_finals(program: Program) -> list[str]:
    """The uses of ``final: true`` the batch engine does not evaluate yet: on a member of
    an exclusive group, and on an earning rule that runs before an exclusive group's
    earning member (the group's trials are decided before the earning rules run)."""
    found = []
    # Running order: price rules, then earning rules, each by priority, then file order.
    place = {
        rule.id: (not _is_price(rule), rule.priority, index)
        for index, rule in enumerate(program.rules)
    }
    grouped = [rule for rule in program.rules if rule.exclusive_group is not None]
    for rule in program.rules:
        if not rule.final:
            continue
        if rule.exclusive_group is not None:
            found.append(f"rule '{rule.id}': final in an exclusive_group")
            continue
        if _is_price(rule):
            continue
        later = [
            member
            for member in grouped
            if not _is_price(member) and place[member.id] > place[rule.id]
        ]
        if later:
            found.append(
                f"rule '{rule.id}': final before the exclusive_group '{later[0].exclusive_group}'"
            )
    return found


def _refused_in_group(members: list[AnyRule]) -> list[str]:
    """The combinations in an exclusive group the batch engine does not evaluate yet:
    birthday and sign-up gifts given at a purchase. Gifts given at dates compete among
    themselves (``_timeline``); limited members and members beside price rules run
    (``_members``)."""
    found = []
    for rule in members:
        where = f"rule '{rule.id}': exclusive_group"
        if rule.parts().given_at_a_date is not None:
            continue  # gifts at dates compete among themselves, in ``_timeline``
        if isinstance(rule, Birthday | SignupBonus):
            # Its columns give it at the first qualifying purchase, whatever a group chose.
            found.append(f"{where} of a {rule.kind} rule given at a purchase")
    return found


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
