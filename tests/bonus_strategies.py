"""Hypothesis strategies for bonuses, limits and exclusive groups, with customer profiles.

A drawn program always earns points (so the ledger laws have something to add up), may
add fixed bonuses, birthday, sign-up and referral rules, puts limits on some rules and
groups some rules that reward a purchase into one exclusive group. Points are always
worth something (``points.value`` > 0), so a group may mix points and money rules.
Profiles give the three customers joining dates, birthdays (29 February among them) and
referrers among each other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from rewardrules.events import Customer, MonthDay
from strategies import (
    ALL_KINDS,
    CATALOGUE,
    CUSTOMERS,
    ZONES,
    instants,
    make_program,
    points_per_spend_rules,
    points_settings,
    rule_lists,
    tiers,
)

POINTS_KINDS = frozenset({"points_per_spend", "bonus_points", "signup_bonus"})
PERIODS = ("purchase", "day", "week", "month", "year", "lifetime")
BIRTHDAYS = (MonthDay(month=2, day=29), MonthDay(month=1, day=1), MonthDay(month=12, day=31))


def _gives_points(rule: dict[str, Any]) -> bool:
    kind = rule["kind"]
    if kind in POINTS_KINDS:
        return True
    if kind == "birthday":
        return "points" in rule
    if kind == "referral":
        return "points" in rule["referrer"]
    return False


def _rewards_a_purchase(rule: dict[str, Any]) -> bool:
    kind = rule["kind"]
    if kind == "birthday":
        return bool(rule.get("requires_purchase"))
    if kind == "signup_bonus":
        return "min_first_purchase" in rule
    return kind != "referral"


@st.composite
def gifts(draw: st.DrawFn) -> dict[str, Any]:
    """Points, or a voucher."""
    if draw(st.booleans()):
        return {"points": draw(st.integers(1, 60))}
    value = draw(st.sampled_from((Decimal("0.00"), Decimal("1.50"), Decimal("4.00"))))
    return {"voucher": {"sku": "treat", "value": value}}


@st.composite
def bonus_rules(draw: st.DrawFn, rule_id: str, holds: bool = True) -> dict[str, Any]:
    """One birthday, sign-up, referral or fixed bonus rule; ``holds``: a referral may have
    a hold_for."""
    kind = draw(st.sampled_from(("birthday", "signup_bonus", "referral", "bonus_points")))
    rule: dict[str, Any] = {"id": rule_id, "kind": kind}
    if kind == "birthday":
        rule |= draw(gifts())
        rule["window"] = draw(st.sampled_from(("day", "month")))
        if rule["window"] == "day":
            rule["days_around"] = draw(st.sampled_from((0, 3, 20)))
        rule["requires_purchase"] = draw(st.booleans())
        # Eligibility (docs/semantics.md): some members too new, some lapsed, the edges.
        member_for = draw(st.sampled_from((None, "0 days", "20 days", "3 months", "1 year")))
        if member_for is not None:
            rule["member_for"] = member_for
        within = draw(st.sampled_from((None, "0 days", "30 days", "6 months", "365 days")))
        if within is not None:
            rule["purchase_within"] = within
    elif kind == "signup_bonus":
        rule["points"] = draw(st.integers(1, 80))
        if draw(st.booleans()):
            rule["min_first_purchase"] = draw(
                st.sampled_from((Decimal("0"), Decimal("5.00"), Decimal("20.00")))
            )
    elif kind == "referral":
        rule["referrer"] = draw(gifts())
        if draw(st.booleans()):
            rule["referred"] = draw(gifts())
        rule["min_paid"] = draw(st.sampled_from((Decimal("0"), Decimal("8.00"))))
        if holds:
            hold = draw(st.sampled_from((None, None, "0 days", "3 days", "2 weeks", "1 month")))
            if hold is not None:
                rule["hold_for"] = hold
    else:
        rule["points"] = draw(st.integers(1, 40))
        rule["once_per_customer"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        rule["starts"] = draw(instants()).date()
    return rule


@st.composite
def limits_for(draw: st.DrawFn, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """One or two limits with a measure the rule can be limited by."""
    found = []
    for _ in range(draw(st.integers(1, 2))):
        per = draw(st.sampled_from(PERIODS))
        if _gives_points(rule):
            measure = draw(st.sampled_from(("points", "rewards")))
        else:
            measure = draw(st.sampled_from(("rewards", "value")))
        if measure == "points":
            amount: Any = draw(st.integers(0, 40))
        elif measure == "rewards":
            amount = draw(st.integers(0, 3))
        else:
            amount = draw(st.sampled_from((Decimal("0"), Decimal("2.50"), Decimal("9.00"))))
        found.append({"per": per, measure: amount})
    return found


@cache
def bonus_programs(max_rules: int = 3) -> st.SearchStrategy[Any]:
    """A points program with bonuses, limits and maybe an exclusive group."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        has_tiers = draw(st.booleans())
        points = draw(points_settings(True)) | {
            "value": draw(st.sampled_from((Decimal("0.01"), Decimal("0.005"))))
        }
        settings: dict[str, Any] = {
            "timezone": draw(st.sampled_from(ZONES)),
            "points": points,
            "rewards": list(CATALOGUE),
        }
        tier_names: tuple[str, ...] = ()
        if has_tiers:
            settings["tiers"] = draw(tiers())
            tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
        rules = [draw(points_per_spend_rules("earn", tier_names, True))]
        rules += draw(rule_lists(ALL_KINDS, tier_names, (), 0, max_rules))
        rules += [
            draw(bonus_rules(f"bonus-{index}")) for index in range(draw(st.integers(1, max_rules)))
        ]
        for rule in rules:
            if draw(st.integers(0, 2)) == 0:
                rule["limit"] = draw(limits_for(rule))
        candidates = [index for index, rule in enumerate(rules) if _rewards_a_purchase(rule)]
        grouped = draw(st.lists(st.sampled_from(candidates), unique=True, max_size=3))
        for index in grouped:
            rules[index]["exclusive_group"] = "promo"
            rules[index]["priority"] = draw(st.integers(0, 2))
        return make_program(rules, **settings)

    return build()


@cache
def profiles() -> st.SearchStrategy[list[Customer]]:
    """A profile for some of the customers: joined, birthday, referred by another one."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Customer]:
        found = []
        for customer in CUSTOMERS:
            if not draw(st.integers(0, 4)):
                continue
            joined: datetime | None = draw(st.none() | instants())
            birthday = draw(
                st.none()
                | st.sampled_from(BIRTHDAYS)
                | st.builds(MonthDay, month=st.integers(1, 12), day=st.integers(1, 28))
            )
            others = [other for other in CUSTOMERS if other != customer]
            referred_by = draw(st.none() | st.sampled_from(others))
            found.append(
                Customer(
                    customer_id=customer,
                    joined_at=joined,
                    birthday=birthday,
                    referred_by=referred_by,
                )
            )
        return found

    return build()
