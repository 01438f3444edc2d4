"""Programs where ``final: true`` meets exclusive groups, with gifts at purchases among
the members, and profiles whose birthdays fall near the purchases.

A drawn program has one exclusive group of two or three members (punch cards of every
reward, tiered discounts, order offers and gift items, bonuses, and a birthday gift given
at a purchase, a sign-up bonus at the first purchase, points and gift cards; or only
rules that earn; a gift sometimes limited), rules outside it before, between and after
its members (perhaps a second group), and any rule now and then ``final: true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from rewardrules.events import Customer, MonthDay, Purchase
from rewardrules.program.model import Program
from strategies.programs import (
    COSTLY_POINT_VALUES,
    LIMIT_PERIODS,
    every_nth_free_rules,
    filters,
    make_program,
    order_discount_rules,
    partner_gift_card_rules,
    points_per_spend_rules,
    tiered_discount_rules,
    tiers,
)
from strategies.values import CUSTOMERS, ZONES, instants

GROUP = {"exclusive_group": "offers"}
SECOND_GROUP = {"exclusive_group": "more"}
PRICE_KEYS = ("percent", "amount")
GIFT_VALUES = (Decimal("0.50"), Decimal("3.00"), Decimal("12.00"))
FINAL = st.integers(0, 2).map(lambda drawn: drawn == 0)
"""A rule is final about one time in three."""


@st.composite
def _gift(draw: st.DrawFn) -> dict[str, Any]:
    """Points, or a voucher (sometimes worth nothing)."""
    if draw(st.booleans()):
        return {"points": draw(st.integers(1, 400))}
    value = draw(st.sampled_from((Decimal("0.00"), Decimal("1.50"), Decimal("6.00"))))
    return {"voucher": {"sku": "treat", "value": value}}


@cache
def birthday_at_purchase_rules(
    rule_id: str = "birthday", tier_names: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """A birthday gift given at the first purchase in its window that its filter admits,
    sometimes only for members of some standing (``member_for``, ``purchase_within``)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "id": rule_id,
            "kind": "birthday",
            "requires_purchase": True,
            "window": draw(st.sampled_from(("day", "month"))),
            "when": draw(filters(tier_names)),
            "priority": draw(st.integers(0, 2)),
        } | draw(_gift())
        if rule["window"] == "day":
            rule["days_around"] = draw(st.sampled_from((0, 3, 20)))
        member_for = draw(st.sampled_from((None, None, None, "20 days", "3 months")))
        if member_for is not None:
            rule["member_for"] = member_for
        within = draw(st.sampled_from((None, None, None, "30 days", "6 months")))
        if within is not None:
            rule["purchase_within"] = within
        return rule

    return build()


@cache
def signup_at_purchase_rules(
    rule_id: str = "signup", tier_names: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """A sign-up bonus given at the first purchase after joining that pays enough."""
    return st.fixed_dictionaries(
        {
            "id": st.just(rule_id),
            "kind": st.just("signup_bonus"),
            "points": st.integers(1, 400),
            "min_first_purchase": st.sampled_from((Decimal(0), Decimal("5.00"), Decimal(20))),
            "when": filters(tier_names),
            "priority": st.integers(0, 2),
        }
    )


def _bonus(draw: st.DrawFn, rule_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "kind": "bonus_points",
        "points": draw(st.integers(1, 300)),
        "once_per_customer": draw(st.booleans()),
        "when": draw(filters(names)),
        "priority": draw(st.integers(0, 2)),
    }


def _member(draw: st.DrawFn, rule_id: str, names: tuple[str, ...], earning: bool) -> dict[str, Any]:
    """One member: of a group that may hold price rules (the points, gift card and sign-up
    members then read the group's basket), or (``earning``) of one that earns."""
    # The gifts at purchases, which this strategy is for, twice as often as the others.
    choices = ["card", "bonus", "gift", "birthday", "birthday", "signup", "points", "gift_card"]
    choices += ["discount"] if names else []
    if earning:
        choices = ["points", "bonus", "voucher", "gift", "gift_card", "birthday", "signup"] * 2
        choices += ["birthday", "signup"]
    kind = draw(st.sampled_from(choices))
    if kind == "card":
        rule = draw(every_nth_free_rules(rule_id, names))
    elif kind == "voucher":
        rule = draw(every_nth_free_rules(rule_id, names, rewards=("voucher",)))
    elif kind == "discount":
        rule = draw(tiered_discount_rules(rule_id, names))
    elif kind == "points":
        rule = draw(points_per_spend_rules(rule_id, names, caps=True))
    elif kind == "gift_card":
        rule = draw(partner_gift_card_rules(rule_id, names))
    elif kind == "birthday":
        rule = draw(birthday_at_purchase_rules(rule_id, names))
    elif kind == "signup":
        rule = draw(signup_at_purchase_rules(rule_id, names))
    elif kind == "gift":
        rule = draw(order_discount_rules(rule_id, names, gifts=True))
        if earning and "gift_item" not in rule:  # no price rule beside the points
            rule = {key: value for key, value in rule.items() if key not in PRICE_KEYS}
            rule["gift_item"] = {"sku": "mug", "value": draw(st.sampled_from(GIFT_VALUES))}
    else:
        rule = _bonus(draw, rule_id, names)
    if kind in ("birthday", "signup") and not draw(st.integers(0, 2)):
        rule["limit"] = draw(_gift_limits("points" in rule))
    return rule | GROUP | {"priority": draw(st.integers(0, 2))}


@st.composite
def _gift_limits(draw: st.DrawFn, points: bool) -> list[dict[str, Any]]:
    """One or two limits a gift can be limited by, small enough to bind now and then."""
    found = []
    for _ in range(draw(st.integers(1, 2))):
        per = draw(st.sampled_from(LIMIT_PERIODS))
        measure = draw(st.sampled_from(("points", "rewards") if points else ("rewards", "value")))
        if measure == "points":
            amount: Any = draw(st.integers(0, 300))
        elif measure == "rewards":
            amount = draw(st.integers(0, 2))
        else:
            amount = draw(st.sampled_from((Decimal(0), Decimal("1.50"), Decimal(9))))
        found.append({"per": per, measure: amount})
    return found


def _outside(draw: st.DrawFn, rule_id: str, kind: str, names: tuple[str, ...]) -> dict[str, Any]:
    if kind == "points":
        return draw(points_per_spend_rules(rule_id, names))
    if kind == "card":
        return draw(every_nth_free_rules(rule_id, names))
    if kind == "voucher":
        return draw(every_nth_free_rules(rule_id, names, rewards=("voucher",)))
    if kind == "discount" and names:
        return draw(tiered_discount_rules(rule_id, names))
    if kind == "birthday":
        return draw(birthday_at_purchase_rules(rule_id, names))
    return _bonus(draw, rule_id, names)


@cache
def final_group_programs() -> st.SearchStrategy[Program]:
    """One exclusive group of two or three members (a birthday at a purchase among the
    kinds, a sign-up at the first purchase in a group that earns), up to three rules
    outside it anywhere in the file (two of them sometimes a second group), perhaps tiers
    (by points too: their fixed point and the final stops settle together), and each rule
    ``final: true`` about one time in three."""

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        settings: dict[str, Any] = {
            "timezone": draw(st.sampled_from(ZONES)),
            "points": {"name": "stars", "value": draw(COSTLY_POINT_VALUES)},
        }
        names: tuple[str, ...] = ()
        if draw(st.booleans()):
            settings["tiers"] = draw(tiers(by_points=True))
            names = tuple(level["name"] for level in settings["tiers"]["levels"])
        earning = draw(st.booleans())
        rules = [
            _member(draw, f"member-{index}", names, earning)
            for index in range(draw(st.integers(2, 3)))
        ]
        kinds = ("points", "card", "voucher", "discount", "bonus", "birthday")
        outside = draw(st.lists(st.sampled_from(kinds), max_size=3))
        second = len(outside) >= 2 and "points" not in outside[:2] and draw(st.booleans())
        for index, kind in enumerate(outside):
            rule = _outside(draw, f"outside-{index}", kind, names)
            if second and index < 2:
                rule |= SECOND_GROUP
            rules.insert(draw(st.integers(0, len(rules))), rule)
        rules = [rule | {"final": True} if draw(FINAL) else rule for rule in rules]
        return make_program(rules, **settings)

    return build()


@st.composite
def profiles_near(draw: st.DrawFn, events: Sequence[Any], zone: str = "UTC") -> list[Customer]:
    """A profile for most customers: a birthday on or near the local date (in ``zone``) of
    one of their purchases (or none), joined before their first purchase, at one of them
    or at a drawn instant (or never said)."""
    found = []
    local = ZoneInfo(zone)
    for customer in CUSTOMERS:
        if not draw(st.integers(0, 4)):
            continue
        bought = [
            event.at
            for event in events
            if isinstance(event, Purchase) and event.customer_id == customer
        ]
        birthday = None
        if bought and draw(st.integers(0, 5)):
            near = draw(st.sampled_from(bought)).astimezone(local).date()
            shift = draw(st.sampled_from((0, 0, 0, -1, 2, -4)))
            day = min(28, max(1, near.day + shift))
            birthday = MonthDay(month=near.month, day=day)
        elif draw(st.booleans()):
            birthday = MonthDay(month=2, day=29)
        joined: datetime | None = None
        if bought and draw(st.booleans()):
            joined = draw(st.sampled_from(bought)) - timedelta(days=draw(st.sampled_from((0, 400))))
        elif draw(st.booleans()):
            joined = draw(instants())
        found.append(Customer(customer_id=customer, joined_at=joined, birthday=birthday))
    return found
