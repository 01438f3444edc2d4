"""The migration law: starting a customer from an opening balance and a granted tier gives
the same results as replaying a history that built the same state.

A drawn history H0 (purchases and redemptions within ten days) builds lots and, with
``keep_for``, a tier held for a year. Its state at a cut C, once H0 has left the tier
window, becomes a profile: each lot left as an opening lot (with its expiry, or without it
for the program's own), the tier held then granted until its hold ends. A drawn later
history H1 then gives the same entries, balances, tier and upcoming expiries whether it
follows H0 or starts from that profile, in either engine (the batch engine's start is
also the reference's start, entry for entry).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import line, program, purchase, redemption
from rewardrules import evaluate
from rewardrules.engine.lots import Duration
from rewardrules.events import AnyEvent, Customer, OpeningLot
from rewardrules.program.model import Program

START = datetime(2026, 1, 5, tzinfo=UTC)
CUT = START + timedelta(days=44)
"""After H0 (ten days and a few hours) has left the 30-day tier window."""
END = date(2027, 6, 1)
KEEP = "1 year"

RULES: Program = program(
    points={"expire_after": "6 months"},
    rewards=[{"id": "coffee", "name": "Coffee", "cost": 30, "value": "1.00"}],
    tiers={
        "qualify_by": "spend",
        "window": {"days": 30},
        "keep_for": KEEP,
        "levels": [
            {"name": "silver", "at_least": "50.00"},
            {"name": "gold", "at_least": "150.00", "points_multiplier": 2},
        ],
    },
    rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)


def _events(
    prefix: str, first_day: int, last_day: int, most: int
) -> st.SearchStrategy[list[AnyEvent]]:
    moment = st.tuples(st.integers(first_day, last_day), st.integers(0, 23 * 60))
    item = st.tuples(st.booleans(), moment, st.integers(1, 120))

    def build(items: list[tuple[bool, tuple[int, int], int]]) -> list[AnyEvent]:
        events: list[AnyEvent] = []
        for number, (buys, (day, minute), amount) in enumerate(items):
            at = START + timedelta(days=day, minutes=minute)
            if buys:
                events.append(purchase(f"{prefix}p{number}", at, line("tea", f"{amount}.00")))
            else:
                events.append(redemption(f"{prefix}r{number}", at, "coffee"))
        return events

    return st.lists(item, min_size=1, max_size=most).map(build)


@pytest.mark.parametrize("engine", ["reference", "batch"])
@given(
    before=_events("a", 0, 10, 6),
    after=_events("b", 45, 480, 8),
    own_expiry=st.booleans(),
)
def test_an_opening_gives_what_the_history_that_built_it_gives(
    engine: Literal["reference", "batch"],
    before: list[AnyEvent],
    after: list[AnyEvent],
    own_expiry: bool,
) -> None:
    built = evaluate(RULES, before, as_of=CUT, engine=engine).customer("c1")
    state = built.state
    lots = [kept for kept in state.lots if kept.points]
    opening = [
        OpeningLot(
            points=kept.points,
            earned_at=kept.earned_at,
            expires_at=kept.expires_at if own_expiry else None,
        )
        for kept in lots
    ]
    profile = Customer(customer_id="c1", opening_points=tuple(opening))
    if built.tier is not None:
        reached = state.tier_reached[built.tier]
        until = Duration.parse(KEEP).after(reached, ZoneInfo("UTC"))
        profile = profile.model_copy(update={"tier": built.tier, "tier_until": until})
    replayed = evaluate(RULES, [*before, *after], as_of=END, engine=engine).customer("c1")
    started = evaluate(RULES, after, [profile], as_of=END, engine=engine).customer("c1")
    if engine == "batch":
        reference = evaluate(RULES, after, [profile], as_of=END).customer("c1")
        assert started.to_dict() == reference.to_dict()
        assert started.state.model_dump_json() == reference.state.model_dump_json()
    sources = {f"opening#{number}": kept.source for number, kept in enumerate(lots, start=1)}
    moved = [
        (sources.get(entry.event_id, entry.event_id), entry.rule, entry.kind, entry.points,
         entry.reason)
        for entry in started.ledger
        if entry.kind != "opening"
    ]  # fmt: skip
    assert [entry.kind for entry in started.ledger[: len(opening)]] == ["opening"] * len(opening)
    assert [entry.to_dict() for entry in replayed.ledger[: len(built.ledger)]] == [
        entry.to_dict() for entry in built.ledger
    ]
    assert moved == [
        (entry.event_id, entry.rule, entry.kind, entry.points, entry.reason)
        for entry in replayed.ledger[len(built.ledger) :]
    ]
    assert (started.points, started.available_points, started.pending_points) == (
        replayed.points,
        replayed.available_points,
        replayed.pending_points,
    )
    assert (started.tier, started.next_tier) == (replayed.tier, replayed.next_tier)
    assert started.upcoming_expiry == replayed.upcoming_expiry
    assert sum(lot.points for lot in opening) == built.points
