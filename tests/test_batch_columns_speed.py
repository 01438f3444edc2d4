"""The batch engine's column shortcuts of the seventh session against the long way round.

Punch cards: the completed cards of every purchase free their cheapest units over columns
(``_cards._cheapest``); on any lines that must change the amounts and units exactly as
``_cards._give`` (the reference kind's loop) does purchase by purchase, or decline.

A card's counts with refunds taken off visit only the refunds (``_cards._floor_at_refunds``):
they must be the counts of a walk through every event.

Also: one sort key for the history's (customer, instant) order, and group worths in
int64 when they fit, each against what it replaces.

Points accounts: the customers who only buy have their lots' expiries, balances and
upcoming expiries worked out over columns (``_plain_lots``); the results must be the
reference engine's, entry for entry, beside customers who refund and redeem.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import line, purchase, redemption, refund
from rewardrules.evaluation.batch import _lots, _plain_lots
from rewardrules.evaluation.batch._cards import _cheapest, _floor_at_refunds, _give
from rewardrules.evaluation.batch._frame import _by_customer_and_instant
from rewardrules.evaluation.batch._groups import Trial, _worth_type
from rewardrules.evaluation.batch._plain_lots import plain_customers
from rewardrules.events import AnyEvent
from strategies import make_program
from test_batch_engine import same_results

_LINE = st.tuples(
    st.one_of(st.integers(-500, 5_000), st.sampled_from([0, 150, 300, 450, 1_000])),
    st.integers(0, 6),
    st.integers(0, 6),
)
"""A line: its amount not yet free, its units not yet free, its units that qualify."""


def _by_hand(plan: Any, purchases: list[list[tuple[int, int, int]]], cards: list[int]) -> Any:
    amounts, left, gave = [], [], []
    for event, (lines, count) in enumerate(zip(purchases, cards, strict=True)):
        line_amounts = [amount for amount, _, _ in lines]
        line_left = [units for _, units, _ in lines]
        if count > 0:
            given, value = _give(plan, count, [q for _, _, q in lines], line_amounts, line_left)
            if given:
                gave.append((event, given, value))
        amounts += line_amounts
        left += line_left
    return amounts, left, gave


@given(
    st.lists(st.tuples(st.lists(_LINE, max_size=4), st.integers(0, 5)), min_size=1, max_size=8),
    st.sampled_from(["free", "percent_off"]),
    st.tuples(st.integers(1, 100), st.integers(1, 7)),
)
def test_cards_over_columns_free_what_give_frees(
    drawn: list[tuple[list[tuple[int, int, int]], int]], reward: str, percent: tuple[int, int]
) -> None:
    plan = SimpleNamespace(reward=reward, percent=percent)
    purchases = [lines for lines, _ in drawn]
    cards = [count for _, count in drawn]
    sizes = [len(lines) for lines in purchases]
    frame = SimpleNamespace(line_start=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))
    flat = [line for lines in purchases for line in lines]
    amounts = np.asarray([amount for amount, _, _ in flat], dtype=np.int64)
    left = np.asarray([units for _, units, _ in flat], dtype=np.int64)
    qualifying = np.asarray([units for _, _, units in flat], dtype=np.int64)
    events = np.flatnonzero(np.asarray(cards) > 0)
    found = _cheapest(
        plan,  # type: ignore[arg-type]
        frame,  # type: ignore[arg-type]
        events,
        np.asarray(cards, dtype=np.int64)[events],
        qualifying,
        amounts,
        left,
    )
    expected_amounts, expected_left, expected = _by_hand(plan, purchases, cards)
    assert found == expected
    assert amounts.tolist() == expected_amounts
    assert left.tolist() == expected_left


def test_cards_over_columns_decline_amounts_whose_products_may_not_fit() -> None:
    plan = SimpleNamespace(reward="free", percent=(0, 1))
    frame = SimpleNamespace(line_start=np.asarray([0, 2], dtype=np.int64))
    amounts = np.asarray([2**60, 3], dtype=np.int64)
    left = np.asarray([4, 1], dtype=np.int64)
    events = np.asarray([0], dtype=np.int64)
    cards = np.asarray([1], dtype=np.int64)
    assert _cheapest(plan, frame, events, cards, left.copy(), amounts, left) is None  # type: ignore[arg-type]
    assert amounts.tolist() == [2**60, 3]


def _walked(customers: list[list[tuple[int, int]]], every: int) -> tuple[list[int], list[int]]:
    """The counts before and after each event, walking every event (docs/semantics.md): a
    purchase adds its units (``added``); a refund takes its units (``taken``) off, never
    below the last completed card."""
    before, after = [], []
    for events in customers:
        count = 0
        for added, taken in events:
            before.append(count)
            count = max(count - taken, count // every * every) if taken else count + added
            after.append(count)
    return before, after


_CUSTOMER_EVENTS = st.lists(
    st.one_of(st.tuples(st.integers(0, 7), st.just(0)), st.tuples(st.just(0), st.integers(1, 9))),
    min_size=1,
    max_size=25,
)


@given(st.lists(_CUSTOMER_EVENTS, min_size=1, max_size=4), st.integers(1, 10))
def test_card_counts_visiting_only_the_refunds_are_those_of_a_walk_through_every_event(
    customers: list[list[tuple[int, int]]], every: int
) -> None:
    sizes = [len(events) for events in customers]
    frame = SimpleNamespace(
        events=sum(sizes),
        customer=np.repeat(np.arange(len(sizes)), sizes),
        customer_start=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
    )
    added = np.asarray([a for events in customers for a, _ in events], dtype=np.int64)
    gone = {
        index: taken
        for index, taken in enumerate(t for events in customers for _, t in events)
        if taken
    }
    starts = frame.customer_start
    total = np.concatenate(([0], np.cumsum(added)))
    after = total[1:] - total[starts[frame.customer]]  # the running sums, as ``counts``
    before = after - added
    _floor_at_refunds(frame, every, gone, before, after)  # type: ignore[arg-type]
    assert (before.tolist(), after.tolist()) == _walked(customers, every)


def test_a_refund_floors_the_count_at_the_last_card_and_later_purchases_count_on() -> None:
    # Every 10: 7 + 6 = 13 (a card at 10); a refund of 6 would leave 7, floored at 10;
    # +2 = 12; a refund of 1 leaves 11; +9 = 20. A second customer: 4, a refund of 9: 0.
    frame = SimpleNamespace(
        events=8,
        customer=np.asarray([0, 0, 0, 0, 0, 0, 1, 1]),
        customer_start=np.asarray([0, 6, 8]),
    )
    added = np.asarray([7, 6, 0, 2, 0, 9, 4, 0], dtype=np.int64)
    after = np.asarray([7, 13, 13, 15, 15, 24, 4, 4], dtype=np.int64)
    before = after - added
    _floor_at_refunds(frame, 10, {2: 6, 4: 1, 7: 9}, before, after)  # type: ignore[arg-type]
    assert after.tolist() == [7, 13, 10, 12, 11, 20, 4, 0]
    assert before.tolist() == [0, 7, 13, 10, 12, 11, 0, 4]


NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 1, 15, 9, tzinfo=NEW_YORK).astimezone(UTC)


def _lifecycle(**points: Any) -> Any:
    return make_program(
        [{"id": "points", "kind": "points_per_spend", "points": 10, "per": "1.00"}],
        timezone="America/New_York",
        points={"name": "points", "value": "0.01", **points},
        rewards=[{"id": "drink", "name": "A drink", "cost": 100, "value": "4.00"}],
    )


@pytest.fixture
def plain_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many customers each evaluation gave to the columns (``plain_customers``)."""
    runs: list[int] = []

    def counted(*arguments: Any) -> Any:
        left, lots = plain_customers(*arguments)
        runs.append(0 if lots is None else len(lots.plain))
        return left, lots

    monkeypatch.setattr(_lots, "plain_customers", counted)
    return runs


@pytest.mark.parametrize("one_sort", [False, True])
@pytest.mark.parametrize(
    "as_of",
    [None, date(2026, 7, 31), date(2026, 8, 1), datetime(2026, 8, 1, tzinfo=NEW_YORK)],
)
def test_plain_customers_expire_at_the_first_event_at_or_after_the_expiry(
    plain_runs: list[int],
    monkeypatch: pytest.MonkeyPatch,
    as_of: date | datetime | None,
    one_sort: bool,
) -> None:
    if one_sort:  # the search used when the customers' spans do not fit one int64 key
        monkeypatch.setattr(_plain_lots, "due_events", _plain_lots._due_sorted)
        monkeypatch.setattr(_lots, "due_events", _plain_lots._due_sorted)
    # Earned 15 January: six months on is 15 July, rounded up to 1 August, local midnight.
    program = _lifecycle(pending_for="14 days", expire_after="6 months", expire_round_up_to="month")
    expiry = datetime(2026, 8, 1, tzinfo=NEW_YORK).astimezone(UTC)
    events: list[AnyEvent] = [
        purchase("p1", START, line("mug", "12.00")),
        purchase("p2", START + timedelta(days=16), line("tea", "3.00")),
        purchase("p3", expiry, line("tea", "1.00")),  # p1 and p2 expire before this one
        purchase("q1", START, line("mug", "12.00"), customer="c2"),
        purchase("q2", expiry - timedelta(microseconds=1), line("tea", "1.00"), customer="c2"),
        purchase("s1", START, line("mug", "5.00"), customer="c3"),
        redemption("s2", START + timedelta(days=20), "drink", customer="c3"),
    ]
    assert same_results(program, events, None, as_of)
    assert plain_runs[-1:] == [2]  # c1 and c2; c3 redeems


_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "pending_for": st.sampled_from(["14 days", "1 month"]),
        "expire_after": st.sampled_from(["30 days", "2 months", "6 months"]),
        "expire_round_up_to": st.sampled_from(["month", "quarter", "year"]),
    },
).filter(lambda points: "expire_round_up_to" not in points or "expire_after" in points)


@st.composite
def _histories(draw: st.DrawFn) -> list[AnyEvent]:
    events: list[AnyEvent] = []
    for customer in range(draw(st.integers(1, 4))):
        whose = f"c{customer}"
        bought: list[str] = []
        when = START
        for number in range(draw(st.integers(1, 6))):
            when += timedelta(hours=draw(st.integers(1, 24 * 90)))
            kind = draw(st.sampled_from(["purchase"] * 4 + ["refund", "redemption"]))
            event_id = f"{whose}-{number}"
            if kind == "refund" and bought:  # in full, once
                target = bought.pop(draw(st.integers(0, len(bought) - 1)))
                events.append(refund(event_id, when, target, customer=whose))
            elif kind == "redemption":
                events.append(redemption(event_id, when, "drink", customer=whose))
            else:
                price = draw(st.sampled_from(["0.00", "1.00", "4.50", "12.00"]))
                events.append(purchase(event_id, when, line("mug", price), customer=whose))
                bought.append(event_id)
    return events


@given(
    _SETTINGS,
    _histories(),
    st.one_of(st.none(), st.integers(0, 400).map(lambda days: (START + timedelta(days)).date())),
)
def test_plain_customers_over_columns_are_the_references(
    points: dict[str, str], events: list[AnyEvent], as_of: date | None
) -> None:
    assert same_results(_lifecycle(**points), events, None, as_of)


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(-(2**40), 2**40)), min_size=2, max_size=40),
    st.booleans(),
)
def test_one_key_sorts_customers_and_instants_as_lexsort_does(
    rows: list[tuple[int, int]], wide: bool
) -> None:
    customer = np.asarray([whose for whose, _ in rows], dtype=np.int64)
    at = np.asarray([when for _, when in rows], dtype=np.int64)
    if wide:  # a span too wide for one key: lexsort itself
        at[0] = 2**61
    expected = np.lexsort((at, customer))
    assert _by_customer_and_instant(customer, at).tolist() == expected.tolist()


@pytest.mark.parametrize(("money", "expected"), [(2**40, np.int64), (2**61, object)])
def test_group_worths_are_int64_only_when_every_worth_fits(money: int, expected: type) -> None:
    trial = Trial(
        np.ones(2, dtype=np.bool_),
        np.asarray([money, -3], dtype=np.int64),
        np.asarray([7, 0], dtype=np.int64),
    )
    assert _worth_type([trial, trial], 2, 100) is expected
