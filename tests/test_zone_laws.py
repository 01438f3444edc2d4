"""Drawn histories around the clock changes of zones with unusual rules, in both engines.

Lord Howe (30-minute summer time), Chatham (+12:45/+13:45), Kathmandu (+5:45), St. John's
(-3:30), Apia (which skipped 30 December 2011), Kiritimati (+14), Sao Paulo (whose days
began at 01:00 when summer time started at midnight) and London. Events, profiles and
``as_of`` are drawn within hours of a change (or of a local New Year or month start), and
written with other offsets or in the zone itself (``ZoneInfo``, either ``fold``). The laws:
the engines agree (``same_results``), the same instants written otherwise give the same
results, and a history split anywhere and resumed from saved states (through JSON) gives
the whole history's balances and tiers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import profiles
from rewardrules.engine.state import CustomerState
from rewardrules.evaluation.fold import Cutoff, evaluate
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer, MonthDay
from rewardrules.program.model import Program
from strategies import lifecycle_histories
from test_batch_engine import programs_keeping_tiers, same_results
from test_batch_gifts import gift_programs

CHANGES = (
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 02:00 -> 02:30
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),  # 02:00 -> 01:30
    ("Pacific/Chatham", datetime(2026, 9, 26, 14, 0, tzinfo=UTC)),  # 02:45 -> 03:45
    ("Asia/Kathmandu", datetime(2026, 12, 31, 18, 15, tzinfo=UTC)),  # New Year, +05:45
    ("America/St_Johns", datetime(2026, 11, 1, 4, 30, tzinfo=UTC)),  # 02:00 -> 01:00
    ("America/St_Johns", datetime(2009, 11, 1, 2, 31, tzinfo=UTC)),  # 00:01 -> 23:01
    ("Pacific/Apia", datetime(2011, 12, 30, 10, 0, tzinfo=UTC)),  # 29 December -> 31
    ("Pacific/Kiritimati", datetime(2026, 12, 31, 10, 0, tzinfo=UTC)),  # New Year, +14:00
    ("America/Sao_Paulo", datetime(2018, 11, 4, 3, 0, tzinfo=UTC)),  # 00:00 -> 01:00
    ("America/Sao_Paulo", datetime(2019, 2, 17, 2, 0, tzinfo=UTC)),  # 00:00 -> 23:00
    ("Europe/London", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),  # 02:00 -> 01:00
)
OFFSETS = tuple(timezone(timedelta(minutes=minutes)) for minutes in (-720, -210, 0, 345, 765, 840))


def _written(draw: st.DrawFn, instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` with a drawn offset, or in the zone itself at either ``fold``."""
    how: tzinfo = draw(st.sampled_from((*OFFSETS, zone, zone)))
    moment = instant.astimezone(how)
    if how is zone and moment.replace(fold=1).astimezone(UTC) == instant:
        moment = moment.replace(fold=1)  # the second occurrence of a repeated hour
    return moment


@st.composite
def _near(draw: st.DrawFn, change: datetime) -> datetime:
    minutes = draw(st.integers(-36 * 60, 36 * 60) | st.sampled_from((-1, 0, 1, 29, 30, 60)))
    return change + timedelta(minutes=minutes)


@st.composite
def near_a_change(
    draw: st.DrawFn, programs: st.SearchStrategy[Program]
) -> tuple[Program, list[Any], list[Customer], date | datetime | None]:
    """A drawn program in a zone with unusual rules, its history moved near a change."""
    name, change = draw(st.sampled_from(CHANGES))
    zone = ZoneInfo(name)
    drawn = draw(programs)
    program = Program.model_validate({**drawn.model_dump(exclude_none=True), "timezone": name})
    events: list[Any] = draw(lifecycle_histories(catalogue=True))
    # In their order, from a day or two before the change, a few hours apart (now and then
    # a month): purchases, refunds and redemptions straddle it.
    at = change - draw(
        st.sampled_from((timedelta(0), timedelta(minutes=30), timedelta(hours=1)))
        | st.integers(0, 40 * 60).map(lambda minutes: timedelta(minutes=minutes))
    )
    moved = []
    for event in sorted(events, key=lambda event: (event.at, event.id)):
        at += draw(
            st.sampled_from((0, 0, 15, 30, 60, 31 * 24 * 60)) | st.integers(0, 6 * 60)
        ) * timedelta(minutes=1)
        moved.append(event.model_validate({**event.model_dump(), "at": _written(draw, at, zone)}))
    local = change.astimezone(zone).date()
    customers = [
        Customer.model_validate(
            {
                **customer.model_dump(),
                "joined_at": None
                if customer.joined_at is None
                else _written(draw, draw(_near(change)), zone),
                "birthday": MonthDay(month=local.month, day=local.day)
                if draw(st.booleans())
                else customer.birthday,
            }
        )
        for customer in draw(profiles())
    ]
    as_of: date | datetime | None = draw(
        st.none()
        | _near(change).map(lambda instant: instant.astimezone(zone))
        | st.sampled_from((local - timedelta(days=1), local, local + timedelta(days=31)))
    )
    return program, moved, customers, as_of


def _results(evaluation: Any) -> list[Any]:
    return [
        (
            result.customer_id,
            result.points,
            result.available_points,
            result.tier,
            [
                (entry.event_id, entry.rule, entry.kind, entry.points, entry.reason)
                for entry in result.ledger
            ],
        )
        for result in evaluation.customers
    ]


def _laws(
    drawn: tuple[Program, list[Any], list[Customer], date | datetime | None], data: st.DataObject
) -> None:
    program, events, customers, as_of = drawn
    zone = ZoneInfo(program.timezone)
    same_results(program, events, customers, as_of)
    whole = evaluate(program, events, customers, as_of)

    rewritten = [
        event.model_validate({**event.model_dump(), "at": data.draw(_instants(event.at, zone))})
        for event in events
    ]
    assert _results(evaluate(program, rewritten, customers, as_of)) == _results(whole)

    cutoff = None if as_of is None else Cutoff(as_of, ProgramPlan.compile(program))
    ordered = sorted(
        (event for event in events if cutoff is None or cutoff.admits(event)),
        key=lambda event: (event.at.astimezone(UTC), event.id),
    )
    if len(ordered) < 2:
        return
    split = data.draw(st.integers(1, len(ordered) - 1), label="split")
    first = evaluate(program, ordered[:split], customers)
    states = {
        result.customer_id: CustomerState.model_validate_json(result.state.model_dump_json())
        for result in first.customers
    }
    resumed = evaluate(program, ordered[split:], customers, as_of, states=states)
    expected = {result.customer_id: result for result in whole.customers}
    for result in resumed.customers:
        again = expected[result.customer_id]
        assert (result.points, result.available_points, result.tier) == (
            again.points,
            again.available_points,
            again.tier,
        )


@st.composite
def _instants(draw: st.DrawFn, instant: datetime, zone: ZoneInfo) -> datetime:
    return _written(draw, instant.astimezone(UTC), zone)


@settings(max_examples=60)
@given(near_a_change(gift_programs()), st.data())
def test_gifts_limits_and_expiry_near_clock_changes_hold_the_laws(
    drawn: tuple[Program, list[Any], list[Customer], date | datetime | None], data: st.DataObject
) -> None:
    _laws(drawn, data)


@settings(max_examples=40)
@given(near_a_change(programs_keeping_tiers()), st.data())
def test_kept_tiers_near_clock_changes_hold_the_laws(
    drawn: tuple[Program, list[Any], list[Customer], date | datetime | None], data: st.DataObject
) -> None:
    _laws(drawn, data)
