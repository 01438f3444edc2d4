"""Long histories of one customer through the batch engine's points accounts.

``_lots.run_integer_accounts`` visits only a customer's refunds, redemptions and
cancellations when its lots keep their time order, adding the purchases in between as
runs (``_purchase_runs``) and placing the expiries afterwards; otherwise it visits every
event. Each history here is long (lots that wait and expire by the dozen, redemptions
that spend many lots, refunds that leave a debt, cancellations after lots expired, a
monthly limit) and the batch engine's results must be the reference engine's, entry for
entry, by either path.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import line, purchase, redemption, refund
from rewardrules.evaluation.batch import _lots, _purchase_runs
from rewardrules.events import AnyEvent, CancelRedemption
from rewardrules.program.model import Program
from strategies import make_program
from test_batch_engine import same_results

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2025, 11, 3, 9, tzinfo=NEW_YORK).astimezone(UTC)
LIMITED = {
    "id": "points",
    "kind": "points_per_spend",
    "points": 10,
    "per": "1.00",
    "limit": {"per": "month", "points": 900},
}
REWARDS = [
    {"id": "drink", "name": "A drink", "cost": 100, "value": "4.00"},
    {"id": "hamper", "name": "A hamper", "cost": 1500, "value": "60.00"},
]


def program(**points: Any) -> Program:
    """Ten points per 1.00, at most 900 a month, two rewards, with these points settings."""
    return make_program(
        [LIMITED],
        timezone="America/New_York",
        points={"name": "points", "value": "0.01", **points},
        rewards=REWARDS,
    )


def cancellation(event_id: str, when: datetime, redemption_id: str, customer: str) -> AnyEvent:
    return CancelRedemption(id=event_id, customer_id=customer, at=when, redemption_id=redemption_id)


def long_history(seed: int, events: int, customers: int = 1) -> list[AnyEvent]:
    """``events`` events a customer, a purchase every day or two over many months, with a
    refund, a redemption (often of the hamper, which spends many lots) or a cancellation
    now and then."""
    chooser = random.Random(seed)  # noqa: S311 -- a history, not a secret
    history: list[AnyEvent] = []
    for number in range(customers):
        whose = f"c{number}"
        when = START + timedelta(hours=number)
        bought: dict[str, int] = {}  # the purchases not refunded in full: units left
        redeemed: list[str] = []
        for index in range(events):
            when += timedelta(hours=chooser.choice([0, 5, 20, 30, 44]))
            event_id = f"{whose}-{index}"
            roll = chooser.random()
            if roll < 0.06 and bought:
                target = chooser.choice(sorted(bought))
                returned = () if chooser.random() < 0.5 else (("mug", 1),)
                bought[target] = bought[target] - 1 if returned else 0
                if not bought[target]:
                    del bought[target]
                history.append(refund(event_id, when, target, *returned, customer=whose))
            elif roll < 0.16:
                reward = chooser.choice(["drink", "hamper", "hamper"])
                history.append(redemption(event_id, when, reward, customer=whose))
                redeemed.append(event_id)
            elif roll < 0.19 and redeemed:
                target = redeemed.pop(chooser.randrange(len(redeemed)))
                history.append(cancellation(event_id, when, target, whose))
            else:
                price = chooser.choice(["2.00", "4.50", "12.00", "30.00"])
                quantity = chooser.choice([1, 2, 3])
                history.append(
                    purchase(event_id, when, line("mug", price, quantity), customer=whose)
                )
                bought[event_id] = quantity
    return history


SETTINGS = [
    {"pending_for": "14 days", "expire_after": "6 months", "expire_round_up_to": "month"},
    {"pending_for": "1 month", "expire_after": "60 days", "negative_balance": "clamp"},
    {"expire_after": "30 days"},
    {"pending_for": "3 days", "expire_after": "2 months", "expire_round_up_to": "quarter"},
]


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many customers each evaluation replayed with their purchases added in runs."""
    counted: list[int] = []

    def in_time_order(*arguments: Any) -> Any:
        ordered = _purchase_runs.in_time_order(*arguments)
        counted.append(int(ordered.sum()))
        return ordered

    monkeypatch.setattr(_lots, "in_time_order", in_time_order)
    return counted


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("as_of", [None, date(2026, 5, 31)])
def test_long_histories_with_purchases_added_in_runs_are_the_references(
    runs: list[int], settings: dict[str, str], as_of: date | None
) -> None:
    history = long_history(7, 260, customers=2)
    assert same_results(program(**settings), history, None, as_of)
    assert runs[-1:] == [2]  # both customers redeem or refund: replayed in runs


@pytest.mark.parametrize("settings", SETTINGS)
def test_long_histories_visiting_every_event_are_the_references(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]
) -> None:
    # A customer whose lots could go back in time is replayed event by event: the same
    # histories, every customer taken as one, must give the same results.
    def out_of_order(frame: Any, *_: Any) -> Any:
        return np.zeros(len(frame.customer_ids), dtype=np.bool_)

    monkeypatch.setattr(_lots, "in_time_order", out_of_order)
    assert same_results(program(**settings), long_history(11, 260, customers=2))
    # and with the lots looked at one by one, as when their instants go back in time
    monkeypatch.setattr(_lots, "_never_back", lambda _instants: False)
    assert same_results(program(**settings), long_history(11, 260, customers=2))


@pytest.mark.parametrize("as_of", [None, date(2026, 12, 1), date(2026, 12, 2)])
def test_lots_whose_instants_go_back_at_the_end_of_summer_time_are_the_references(
    runs: list[int], as_of: date | None
) -> None:
    # New York leaves summer time at 2:00 on 1 November 2026: 1:30 EDT (5:30 UTC) comes
    # before 1:10 EST (6:10 UTC), but a month on, 1 December 1:10 comes before 1:30. The
    # second purchase's points become available, and expire, before the first's.
    settings = {"pending_for": "1 month", "expire_after": "1 month"}
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    history: list[AnyEvent] = [
        purchase("p1", first, line("mug", "12.00")),
        purchase("p2", second, line("mug", "30.00")),
        redemption("r1", datetime(2026, 12, 1, 6, 20, tzinfo=UTC), "drink"),  # 1:20 EST
        purchase("p3", datetime(2026, 12, 1, 6, 20, tzinfo=UTC), line("mug", "4.50")),
        refund("f1", datetime(2026, 12, 1, 6, 25, tzinfo=UTC), "p1"),
        redemption("r2", datetime(2026, 12, 1, 6, 40, tzinfo=UTC), "drink"),  # 1:40 EST
        purchase("p4", datetime(2026, 12, 1, 7, 0, tzinfo=UTC), line("mug", "2.00")),
    ]
    assert same_results(program(**settings), history, None, as_of)
    assert runs[-1:] == [0]  # replayed event by event


def test_a_redemption_spends_the_oldest_available_lots_across_many_of_them() -> None:
    # Forty purchases of 4.50, two days apart from 3 November (14 in November, 16 in
    # December, 10 in January: within 900 points a month), earn 45 points each: 1,800,
    # all available 14 days on (the last, day 78, by day 92). On day 95 the hamper (1,500
    # points) takes 33 whole lots (1,485) and 15 of the 34th, which keeps 30, before 6
    # whole lots (270): 300 left, so the second hamper is rejected. (The state keeps the
    # emptied lots, as the reference's does.)
    settings = {"pending_for": "14 days", "expire_after": "6 months"}
    history: list[AnyEvent] = [
        purchase(f"p{index}", START + timedelta(days=2 * index), line("mug", "4.50"))
        for index in range(40)
    ]
    history.append(redemption("r1", START + timedelta(days=95), "hamper"))
    history.append(redemption("r2", START + timedelta(days=95, hours=1), "hamper"))
    assert same_results(program(**settings), history)
    state = _evaluate(program(**settings), history).customer("c1").state
    assert state.points == 1_800 - 1_500
    assert [lot.points for lot in state.lots if lot.points] == [30] + [45] * 6


def test_purchases_after_a_debt_pay_it_before_opening_lots() -> None:
    # p1 earns 300 points; three drinks (100 each) spend them; refunding p1 in full takes
    # 300 back from no points: a debt of 300 (negative balances allowed). p2 earns 45, all
    # paying the debt (255 left); p3 earns 300: 255 pay the rest, a lot of 45 opens; p4's
    # 120 open a lot whole. Balance 45 + 120 = 165.
    settings = {"pending_for": "3 days", "expire_after": "1 year"}
    day = timedelta(days=1)
    history: list[AnyEvent] = [
        purchase("p1", START, line("mug", "30.00")),
        *(redemption(f"r{n}", START + 4 * day + n * timedelta(hours=1), "drink") for n in range(3)),
        refund("f1", START + 5 * day, "p1"),
        purchase("p2", START + 6 * day, line("mug", "4.50")),
        purchase("p3", START + 7 * day, line("mug", "30.00")),
        purchase("p4", START + 8 * day, line("mug", "12.00")),
        # on day 9.5 none of the 165 is available yet (p3's lot on day 10, p4's on day 11)
        redemption("r8", START + 9.5 * day, "drink"),
        redemption("r9", START + 20 * day, "drink"),  # 165 available: spends 45 then 55
    ]
    assert same_results(program(**settings), history)
    state = _evaluate(program(**settings), history).customer("c1").state
    assert state.points == 45 + 120 - 100
    rejected = [entry.reason for entry in _evaluate(program(**settings), history).entries]
    assert any("only 0 are available (165 more are still pending)" in why for why in rejected)
    assert [(lot.source, lot.points) for lot in state.lots if lot.points] == [("p4", 65)]


@pytest.mark.parametrize("last", ["purchase", "redemption"])
def test_lots_that_expire_as_they_are_earned_go_at_the_next_event(last: str) -> None:
    # With points that last 0 days a lot expires at its purchase's own instant, so before
    # the customer's next event (a later purchase at the same instant too), never before
    # its own purchase: the last purchase's lot is still there at the end, then expires at
    # the as_of cutoff.
    settings = {"expire_after": "0 days"}
    history: list[AnyEvent] = [
        purchase("p1", START, line("mug", "12.00")),
        redemption("r1", START + timedelta(hours=1), "drink"),
        purchase("p2", START + timedelta(hours=2), line("mug", "30.00")),
        purchase("p3", START + timedelta(hours=2), line("mug", "4.50")),
    ]
    if last == "redemption":
        history.append(redemption("r2", START + timedelta(hours=2), "drink"))
    for as_of in (None, (START + timedelta(days=1)).date()):
        assert same_results(program(**settings), history, None, as_of)
    state = _evaluate(program(**settings), history).customer("c1").state
    assert state.points == (0 if last == "redemption" else 45)


@given(
    st.sampled_from(SETTINGS),
    st.integers(0, 2**32),
    st.integers(20, 90),
    st.one_of(st.none(), st.integers(30, 500).map(lambda days: (START + timedelta(days)).date())),
)
def test_drawn_long_histories_are_the_references(
    settings: dict[str, str], seed: int, events: int, as_of: date | None
) -> None:
    assert same_results(program(**settings), long_history(seed, events), None, as_of)


def _evaluate(rules: Program, history: list[AnyEvent]) -> Any:
    from rewardrules.evaluation.fold import evaluate  # noqa: PLC0415

    return evaluate(rules, history, None, None, engine="batch")
