"""Referral holds (``hold_for``) with refunds at the hold's edges.

A drawn case is a program with a held referral rule, profiles in which ``alice`` referred
``bob`` and ``carol`` (and ``carol`` is sometimes ``bob``'s friend instead), and a history
in which the friends buy and return: each refund lands a microsecond before the hold's end,
at it, a microsecond after, somewhere inside it or well after it, partly or in full. The
referrer buys too, at or around the holds' ends, so that the held rewards are given between
her own events. Gift rules at dates, limits and points that expire sometimes join in, so
that a reward given at the hold's end meets them in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from rewardrules.engine.lots import Duration
from rewardrules.events import (
    AnyEvent,
    Customer,
    Line,
    MonthDay,
    Purchase,
    Refund,
    RefundLine,
    event_sort_key,
)
from rewardrules.program.model import Program, Referral
from strategies.lifecycle import points_settings
from strategies.programs import make_program
from strategies.values import CATEGORIES, CUSTOMERS, OFFSETS, SKUS, ZONES

HOLDS = ("3 days", "2 weeks", "1 month", "0 days")
HOLD_START = datetime(2026, 3, 2, 12, tzinfo=UTC)
"""The friends buy within 20 days of this; every hold ends before 30 April 2026."""
_MICROSECOND = timedelta(microseconds=1)
# Where a refund (or the referrer's purchase) lands, against the hold of its purchase.
_PLACES = ("just before the end", "at the end", "just after the end", "inside", "after")


@st.composite
def _gift(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 3)):
        return {"points": draw(st.sampled_from((1, 40, 500)))}
    return {"voucher": {"sku": "treat", "value": Decimal("3.00")}}


@st.composite
def _program(draw: st.DrawFn) -> Program:
    referral: dict[str, Any] = {
        "id": "friends",
        "kind": "referral",
        "referrer": draw(_gift()),
        "min_paid": draw(st.sampled_from((Decimal("0"), Decimal("8.00"), Decimal("20.00")))),
        "hold_for": draw(st.sampled_from(HOLDS)),
    }
    if draw(st.booleans()):
        referral["referred"] = draw(_gift())
    if not draw(st.integers(0, 3)):
        referral["when"] = {"categories": [draw(st.sampled_from(CATEGORIES))]}
    if not draw(st.integers(0, 3)):  # a limit counts the referrer's rewards
        limit: dict[str, Any] = {"per": draw(st.sampled_from(("day", "month", "year")))}
        if "points" in referral["referrer"]:
            limit["points"] = draw(st.sampled_from((0, 45, 1000)))
        else:
            limit["rewards"] = draw(st.integers(0, 2))
        referral["limit"] = limit
    rules: list[dict[str, Any]] = [
        {"id": "earn", "kind": "points_per_spend", "points": Decimal(1), "per": Decimal(1)},
        referral,
    ]
    if draw(st.booleans()):
        rules.append({"id": "bday", "kind": "birthday", "points": 25, "window": "day"})
    if draw(st.booleans()):  # a second held rule: one purchase may qualify under both
        rules.append({**referral, "id": "pals", "hold_for": draw(st.sampled_from(HOLDS))})
    return make_program(
        rules,
        timezone=draw(st.sampled_from(ZONES)),
        points=draw(points_settings(True)) | {"value": Decimal("0.01")},
    )


def _end(program: Program, at: datetime) -> datetime:
    """Where the hold of a purchase at ``at`` ends (the first referral rule's)."""
    holds = [rule.hold_for for rule in program.rules if isinstance(rule, Referral)]
    assert holds[0] is not None
    return Duration.parse(holds[0]).after(at, ZoneInfo(program.timezone))


def _placed(draw: st.DrawFn, at: datetime, end: datetime) -> datetime:
    """An instant after ``at``, placed against the hold's ``end``."""
    place = draw(st.sampled_from(_PLACES))
    if place == "just before the end":
        moment = end - _MICROSECOND
    elif place == "at the end":
        moment = end
    elif place == "just after the end":
        moment = end + _MICROSECOND
    elif place == "inside":
        moment = at + (end - at) * draw(st.integers(1, 9)) / 10
    else:
        moment = end + timedelta(hours=draw(st.integers(1, 240)))
    return max(moment, at + timedelta(minutes=1)).astimezone(draw(st.sampled_from(OFFSETS)))


@st.composite
def _lines(draw: st.DrawFn) -> tuple[Line, ...]:
    found = []
    for _ in range(draw(st.integers(1, 2))):
        found.append(
            Line(
                sku=draw(st.sampled_from(SKUS)),
                category=draw(st.sampled_from(CATEGORIES)),
                quantity=draw(st.integers(1, 3)),
                unit_price=draw(
                    st.sampled_from((Decimal("0.00"), Decimal("4.00"), Decimal("9.99")))
                ),
            )
        )
    return tuple(found)


def _refunds(draw: st.DrawFn, program: Program, bought: Purchase, first: int) -> list[Refund]:
    """Up to two refunds of a purchase, each after the last: some units, or all left."""
    end = _end(program, bought.at)
    left = {line.sku: 0 for line in bought.lines}
    for line in bought.lines:
        left[line.sku] += line.quantity
    made: list[Refund] = []
    moment = bought.at
    for _ in range(draw(st.integers(0, 2))):
        if not any(left.values()):
            break
        moment = max(_placed(draw, bought.at, end), moment + timedelta(minutes=1))
        returned: tuple[RefundLine, ...] | None = None
        if draw(st.booleans()):
            sku = draw(st.sampled_from(sorted(sku for sku, units in left.items() if units)))
            units = draw(st.integers(1, left[sku]))
            left[sku] -= units
            returned = (RefundLine(sku=sku, quantity=units),)
        else:
            left = dict.fromkeys(left, 0)
        made.append(
            Refund(
                id=f"r{first + len(made)}",
                customer_id=bought.customer_id,
                at=moment,
                purchase_id=bought.id,
                lines=returned,
            )
        )
    return made


@cache
def held_referral_cases() -> st.SearchStrategy[tuple[Program, list[AnyEvent], list[Customer]]]:
    """A program with a held referral, profiles, and friends' refunds at the hold's edges."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Program, list[AnyEvent], list[Customer]]:
        program = draw(_program())
        referrer, friend, other = CUSTOMERS
        birthday = MonthDay(month=3, day=draw(st.integers(1, 31)))
        customers = [
            Customer(customer_id=referrer, birthday=birthday),
            Customer(customer_id=friend, referred_by=referrer),
            Customer(customer_id=other, referred_by=draw(st.sampled_from((referrer, friend)))),
        ]
        events: list[AnyEvent] = []
        ends: list[tuple[datetime, datetime]] = []
        for customer in (friend, other):
            for _ in range(draw(st.integers(1, 3))):
                at = HOLD_START + timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
                bought = Purchase(
                    id=f"p{len(events)}",
                    customer_id=customer,
                    at=at.astimezone(draw(st.sampled_from(OFFSETS))),
                    lines=draw(_lines()),
                )
                events.append(bought)
                ends.append((bought.at, _end(program, bought.at)))
                events += _refunds(draw, program, bought, len(events))
        for _ in range(draw(st.integers(0, 3))):
            at, end = draw(st.sampled_from(ends))
            events.append(
                Purchase(
                    id=f"p{len(events)}",
                    customer_id=referrer,
                    at=_placed(draw, at, end),
                    lines=draw(_lines()),
                )
            )
        events.sort(key=event_sort_key)
        return program, events, customers

    return build()
