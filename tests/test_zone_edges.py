"""Calendar and time-zone edges, worked out by hand from the docs (semantics.md, lifecycle.md).

Instants built in Python with a named zone (``ZoneInfo``) in an hour the clocks repeat or
skip, a local midnight that does not exist, and the instants that such midnights become.
Each case runs on both engines, and resumes from a saved state where a split matters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpers import line, program, purchase, rows
from rewardrules.engine.state import CustomerState
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer
from rewardrules.tools.report import report

LONDON = ZoneInfo("Europe/London")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
ENGINES = ("reference", "batch")


def _ledger(evaluation: Any, customer: str = "c1") -> list[tuple[str, str, str, int | None]]:
    return [row[:4] for row in rows(evaluation.customer(customer).ledger)]


@pytest.mark.parametrize("engine", ENGINES)
def test_events_in_a_named_zone_in_the_repeated_hour_are_ordered_by_instant(engine: str) -> None:
    # 25 October 2026 in London: 01:00-02:00 happens twice. p1 at 01:45 BST is 00:45 UTC,
    # p2 at 01:15 GMT (fold=1) is 01:15 UTC: p1 is first, though its clock shows later.
    # The first-purchase bonus goes to p1. Before, the reference compared the two by their
    # wall clocks (one tzinfo) and gave it to p2.
    rules = program(
        timezone="Europe/London",
        rules=[
            {"id": "first", "kind": "bonus_points", "points": 100, "once_per_customer": True},
            {"id": "base", "kind": "points_per_spend", "points": 1},
        ],
    )
    p1 = purchase("p1", datetime(2026, 10, 25, 1, 45, tzinfo=LONDON), line("a", "20.00"))
    p2 = purchase("p2", datetime(2026, 10, 25, 1, 15, tzinfo=LONDON, fold=1), line("a", "10.00"))

    evaluation = evaluate(rules, [p2, p1], engine=engine)

    assert _ledger(evaluation) == [
        ("p1", "first", "points", 100),
        ("p1", "base", "points", 20),
        ("p2", "base", "points", 10),
    ]
    # An event keeps its wall clock and offset as written.
    assert p2.at.isoformat() == "2026-10-25T01:15:00+00:00"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fold", [0, 1])
def test_as_of_an_instant_in_the_repeated_hour_includes_that_instant(
    engine: str, fold: int
) -> None:
    # as_of 01:30 on 25 October 2026 in London, either occurrence (00:30 or 01:30 UTC). p0,
    # bought 30 x 24 hours before it, expires at it; p1 is at it. An as_of instant counts
    # that instant (semantics.md): p1 is evaluated and p0's 10 points are expired, leaving
    # p1's 10. Before, the reference found neither (a named zone's instant in an hour the
    # clocks repeat is never == to one in another tzinfo): 10 points, p0's.
    as_of = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON, fold=fold)
    rules = program(
        timezone="Europe/London",
        points={"expire_after": "30 days"},
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    instant = as_of.astimezone(UTC)
    events = [
        purchase("p0", instant - timedelta(days=30), line("a", "10.00")),
        purchase("p1", instant, line("a", "10.00")),
    ]

    result = evaluate(rules, events, as_of=as_of, engine=engine).customer("c1")

    assert [row[:4] for row in rows(result.ledger)] == [
        ("p0", "base", "points", 10),
        ("p0", "points.expire_after", "expiry", -10),
        ("p1", "base", "points", 10),
    ]
    assert result.points == 10


def test_a_resumed_state_meets_an_event_in_a_named_zone_at_an_expiry() -> None:
    # p0's lot expires at 00:30 UTC on 25 October 2026, 01:30 BST, where p1 is, written in
    # London time. Resumed from p0's saved state (instants at fixed offsets), p1 found the
    # lot still there (20 points, not 10).
    rules = program(
        timezone="Europe/London",
        points={"expire_after": "30 days"},
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    at = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON)
    p0 = purchase("p0", at.astimezone(UTC) - timedelta(days=30), line("a", "10.00"))
    p1 = purchase("p1", at, line("a", "10.00"))
    saved = evaluate(rules, [p0]).customer("c1").state
    loaded = CustomerState.model_validate_json(saved.model_dump_json())

    for engine in ENGINES:
        resumed = evaluate(rules, [p1], states={"c1": loaded}, engine=engine).customer("c1")
        assert resumed.points == 10
        assert _ledger(evaluate(rules, [p1], states={"c1": loaded}, engine=engine)) == [
            ("p0", "points.expire_after", "expiry", -10),
            ("p1", "base", "points", 10),
        ]


SKIPPED_MIDNIGHT = datetime(2018, 11, 4, 3, 0, tzinfo=UTC)
"""Sao Paulo's clocks went from 00:00 to 01:00 on 4 November 2018: that day began at 01:00
-02:00, 03:00 UTC, the instant the clocks jumped."""


def _birthday_program() -> Any:
    return program(
        timezone="America/Sao_Paulo",
        rules=[
            {"id": "bd", "kind": "birthday", "points": 100},
            {"id": "first", "kind": "bonus_points", "points": 5, "once_per_customer": True},
        ],
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_birthday_whose_midnight_is_skipped_is_given_when_the_day_begins(engine: str) -> None:
    # The gift is due at the window's first local midnight, which the clocks skip: the day
    # begins at 03:00 UTC. A gift due at the very instant of a purchase comes before it
    # (lifecycle.md). Before, the reference gave it after the purchase at 03:00 UTC (the
    # batch engine before it).
    customers = [
        Customer(customer_id="c1", birthday="11-04", joined_at=datetime(2018, 1, 1, tzinfo=UTC))
    ]
    events = [purchase("p1", SKIPPED_MIDNIGHT, line("a", "10.00"))]

    evaluation = evaluate(_birthday_program(), events, customers, engine=engine)

    assert _ledger(evaluation) == [
        ("bd@2018-11-04", "bd", "points", 100),
        ("p1", "first", "points", 5),
    ]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("as_of", "given"),
    [
        # The whole of 3 November: up to 4 November's first instant, 03:00 UTC, excluded.
        (date(2018, 11, 3), False),
        (SKIPPED_MIDNIGHT - timedelta(microseconds=1), False),
        (SKIPPED_MIDNIGHT, True),
        # 00:00 -03:00, the skipped midnight written with the offset before the change.
        (datetime(2018, 11, 4, tzinfo=SAO_PAULO), True),
        (date(2018, 11, 4), True),
    ],
)
def test_a_birthday_at_a_skipped_midnight_is_due_from_the_days_first_instant(
    engine: str, as_of: date | datetime, given: bool
) -> None:
    customers = [
        Customer(customer_id="c1", birthday="11-04", joined_at=datetime(2018, 1, 1, tzinfo=UTC))
    ]
    events = [purchase("p0", datetime(2018, 10, 1, tzinfo=UTC), line("a", "1.00"))]

    result = evaluate(_birthday_program(), events, customers, as_of, engine=engine).customer("c1")

    assert result.points == 5 + (100 if given else 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_report_counts_an_event_at_an_as_of_instant_in_the_repeated_hour(engine: str) -> None:
    # p1 is at as_of itself, 01:30 BST on 25 October 2026 (00:30 UTC), so it is evaluated
    # and counts in October. Before, the reference report did not find its month and
    # stopped with a TypeError.
    rules = program(
        timezone="Europe/London",
        points={"value": "0.01"},
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    as_of = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON)
    events = [
        purchase("p0", datetime(2026, 9, 30, tzinfo=UTC), line("a", "10.00")),
        purchase("p1", as_of.astimezone(UTC), line("a", "5.00")),
    ]

    months = report(rules, events, as_of=as_of, engine=engine).to_dict()["by_month"]

    assert [(month["month"], month["points_issued"]) for month in months] == [
        ("2026-09", 10),
        ("2026-10", 5),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_week_limit_counts_iso_week_53_into_january(engine: str) -> None:
    # 2026 has 53 ISO weeks: 2026-W53 is Monday 28 December 2026 to Sunday 3 January 2027.
    # One bonus a week in Kiritimati (+14:00), instants written in UTC and at -10:00: a on
    # 28 December gets it; b (31 December), c (1 January) and d (3 January) are in the same
    # week and are capped; e, on Monday 4 January 2027 at 00:00, starts 2027-W01.
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    rules = program(
        timezone="Pacific/Kiritimati",
        rules=[
            {
                "id": "weekly",
                "kind": "bonus_points",
                "points": 5,
                "limit": {"per": "week", "rewards": 1},
            }
        ],
    )
    minus_ten = timezone(-timedelta(hours=10))
    events = [
        purchase("a", datetime(2026, 12, 28, 0, 5, tzinfo=kiritimati), line("x", "1.00")),
        purchase(
            "b",
            datetime(2026, 12, 31, 23, 59, tzinfo=kiritimati).astimezone(UTC),
            line("x", "1.00"),
        ),
        purchase(
            "c", datetime(2027, 1, 1, tzinfo=kiritimati).astimezone(minus_ten), line("x", "1.00")
        ),
        purchase("d", datetime(2027, 1, 3, 23, 59, tzinfo=kiritimati), line("x", "1.00")),
        purchase("e", datetime(2027, 1, 4, tzinfo=kiritimati).astimezone(UTC), line("x", "1.00")),
    ]

    evaluation = evaluate(rules, events, engine=engine)

    assert [(row[0], row[2]) for row in _ledger(evaluation)] == [
        ("a", "points"),
        ("b", "capped"),
        ("c", "capped"),
        ("d", "capped"),
        ("e", "points"),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_day_limit_where_the_clocks_went_back_across_midnight(engine: str) -> None:
    # St. John's on 1 November 2009: at 00:01 NDT (02:31 UTC) the clocks went back to
    # 23:01 NST on 31 October. a (00:00:30 on 1 November), b (23:15 on 31 October, again)
    # and c (00:15 on 1 November, again): the period changes at each, so a one-a-day limit
    # gives all three (lifecycle.md, "Periods").
    rules = program(
        timezone="America/St_Johns",
        rules=[
            {
                "id": "daily",
                "kind": "bonus_points",
                "points": 5,
                "limit": {"per": "day", "rewards": 1},
            }
        ],
    )
    events = [
        purchase("a", datetime(2009, 11, 1, 2, 30, 30, tzinfo=UTC), line("x", "1.00")),
        purchase("b", datetime(2009, 11, 1, 2, 45, tzinfo=UTC), line("x", "1.00")),
        purchase("c", datetime(2009, 11, 1, 3, 45, tzinfo=UTC), line("x", "1.00")),
    ]

    evaluation = evaluate(rules, events, engine=engine)

    assert _ledger(evaluation) == [(event, "daily", "points", 5) for event in "abc"]


@pytest.mark.parametrize("engine", ENGINES)
def test_as_of_a_date_ends_at_the_first_occurrence_of_the_next_midnight(engine: str) -> None:
    # St. John's, 1 November 2009: midnight came at 02:30 UTC, and again at 03:30 UTC after
    # the clocks went back at 00:01. as_of 31 October ends at 02:30 UTC: a (02:29 UTC) is
    # in, b (02:45 UTC, 23:15 on 31 October the second time) is not (lifecycle.md).
    rules = program(
        timezone="America/St_Johns",
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1}],
    )
    events = [
        purchase("a", datetime(2009, 11, 1, 2, 29, tzinfo=UTC), line("x", "10.00")),
        purchase("b", datetime(2009, 11, 1, 2, 45, tzinfo=UTC), line("x", "5.00")),
    ]

    evaluation = evaluate(rules, events, as_of=date(2009, 10, 31), engine=engine)

    assert _ledger(evaluation) == [("a", "base", "points", 10)]
