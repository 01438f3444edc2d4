"""Histories: purchases, and refunds of them, in time order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from rewardrules.events import Line, Payment, Purchase, Refund, RefundLine, event_sort_key
from strategies.values import (
    CUSTOMERS,
    OFFSETS,
    REFUND_GAP_MINUTES,
    Event,
    instants,
    lines,
)

PAYMENT_METHODS = ("stored_value", "card", "cash")
"""The payment methods drawn purchases are paid by (and rules earn by)."""

Split = tuple[str, str, int] | None
"""How a purchase is paid: a first method paying a percentage of it, the second the rest;
None when no payments are recorded."""

_SPLITS: st.SearchStrategy[Split] = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(PAYMENT_METHODS),
        st.sampled_from(PAYMENT_METHODS),
        st.sampled_from((100, 100, 0, 50, 37, 61)),
    ),
)


def _payments(bought: list[Line], split: Split) -> tuple[Payment, ...] | None:
    if split is None:
        return None
    first, second, percent = split
    total = sum((line.gross for line in bought), Decimal(0))
    part = (total * percent / 100).quantize(Decimal("0.01"), ROUND_DOWN)
    paid = [Payment(method=first, amount=part)]
    if part != total:
        paid.append(Payment(method=second, amount=total - part))
    return tuple(paid)


def _number(drawn: list[tuple[str, datetime, list[Line], Split]]) -> list[Purchase]:
    return [
        Purchase(
            id=f"p{index:02d}",
            customer_id=customer,
            at=at,
            lines=tuple(bought),
            payments=_payments(bought, split),
        )
        for index, (customer, at, bought, split) in enumerate(drawn)
    ]


@cache
def purchases(
    customers: tuple[str, ...] = CUSTOMERS,
    min_size: int = 1,
    max_size: int = 12,
    payments: bool = False,
) -> st.SearchStrategy[list[Purchase]]:
    """Purchases of a few customers with unique ids, in no particular order; with
    ``payments``, most of them record how they were paid (one method, or two)."""
    splits: st.SearchStrategy[Any] = _SPLITS if payments else st.none()
    return st.lists(
        st.tuples(
            st.sampled_from(customers),
            instants(),
            st.lists(lines(), min_size=1, max_size=4),
            splits,
        ),
        min_size=min_size,
        max_size=max_size,
    ).map(_number)


def _skus_left(purchase: Purchase, left: Sequence[int]) -> dict[str, int]:
    remaining: dict[str, int] = {}
    for line, units in zip(purchase.lines, left, strict=True):
        if units:
            remaining[line.sku] = remaining.get(line.sku, 0) + units
    return remaining


def _fill(purchase: Purchase, left: list[int], sku: str, quantity: int) -> None:
    """Take ``quantity`` units of ``sku`` off the lines of that sku, in line order."""
    for index, line in enumerate(purchase.lines):
        if line.sku == sku:
            take = min(quantity, left[index])
            left[index] -= take
            quantity -= take
    assert quantity == 0


def _partial_lines(draw: st.DrawFn, purchase: Purchase, left: list[int]) -> tuple[RefundLine, ...]:
    """Some units of some skus not yet refunded; takes them off ``left``."""
    remaining = _skus_left(purchase, left)
    chosen = [sku for sku in remaining if draw(st.booleans())] or [next(iter(remaining))]
    result = []
    for sku in chosen:
        quantity = draw(st.integers(1, remaining[sku]))
        _fill(purchase, left, sku, quantity)
        result.append(RefundLine(sku=sku, quantity=quantity))
    return tuple(result)


def _refunds_of(draw: st.DrawFn, purchase: Purchase, first_id: int, in_full: bool) -> list[Refund]:
    """Refunds of one purchase, each after the last, never more than what is left.

    With ``in_full``, a last refund gives back whatever the others left.
    """
    left = [line.quantity for line in purchase.lines]
    made: list[tuple[datetime, tuple[RefundLine, ...] | None]] = []
    at = purchase.at
    for _ in range(draw(st.integers(0, 2))):
        if not any(left):
            break
        at += timedelta(minutes=draw(REFUND_GAP_MINUTES))
        if draw(st.booleans()):
            made.append((at, _partial_lines(draw, purchase, left)))
        else:
            made.append((at, None))
            left = [0] * len(left)
    if in_full and any(left):
        at += timedelta(minutes=draw(REFUND_GAP_MINUTES))
        rest = tuple(
            RefundLine(sku=sku, quantity=units) for sku, units in _skus_left(purchase, left).items()
        )
        # The rest named sku by sku, or as "everything left".
        made.append((at, rest if draw(st.booleans()) else None))
    return [
        Refund(
            id=f"r{first_id + number:02d}",
            customer_id=purchase.customer_id,
            at=when.astimezone(draw(st.sampled_from(OFFSETS))),
            purchase_id=purchase.id,
            lines=returned,
        )
        for number, (when, returned) in enumerate(made)
    ]


@cache
def histories(
    customers: tuple[str, ...] = CUSTOMERS,
    min_purchases: int = 1,
    max_purchases: int = 12,
    refunds: bool = True,
    in_full: bool = False,
    payments: bool = False,
) -> st.SearchStrategy[list[Event]]:
    """Purchases and refunds of earlier purchases, sorted as the engine orders them.

    A refund names a purchase of the same customer, comes after it (and after that
    purchase's earlier refunds), and returns part of its lines or all that is left. With
    ``in_full`` every purchase ends refunded in full; without ``refunds`` there are none.
    With ``payments`` most purchases record their payments.
    """
    bought_strategy = purchases(customers, min_purchases, max_purchases, payments)

    @st.composite
    def build(draw: st.DrawFn) -> list[Event]:
        bought = draw(bought_strategy)
        events: list[Event] = list(bought)
        if refunds or in_full:
            for purchase in bought:
                if in_full or draw(st.booleans()):
                    events += _refunds_of(draw, purchase, len(events), in_full)
        events.sort(key=event_sort_key)
        return events

    return build()
