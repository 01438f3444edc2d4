"""Histories: purchases, and refunds of them, in time order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from rewardrules.events import Line, Purchase, Refund, RefundLine, event_sort_key
from strategies.values import (
    CUSTOMERS,
    OFFSETS,
    REFUND_GAP_MINUTES,
    Event,
    instants,
    lines,
)


def _number(drawn: list[tuple[str, datetime, list[Line]]]) -> list[Purchase]:
    return [
        Purchase(id=f"p{index:02d}", customer_id=customer, at=at, lines=tuple(bought))
        for index, (customer, at, bought) in enumerate(drawn)
    ]


@cache
def purchases(
    customers: tuple[str, ...] = CUSTOMERS, min_size: int = 1, max_size: int = 12
) -> st.SearchStrategy[list[Purchase]]:
    """Purchases of a few customers with unique ids, in no particular order."""
    return st.lists(
        st.tuples(
            st.sampled_from(customers), instants(), st.lists(lines(), min_size=1, max_size=4)
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
) -> st.SearchStrategy[list[Event]]:
    """Purchases and refunds of earlier purchases, sorted as the engine orders them.

    A refund names a purchase of the same customer, comes after it (and after that
    purchase's earlier refunds), and returns part of its lines or all that is left. With
    ``in_full`` every purchase ends refunded in full; without ``refunds`` there are none.
    """
    bought_strategy = purchases(customers, min_purchases, max_purchases)

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
