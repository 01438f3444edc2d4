"""An ``as_of`` date ends just before the next local midnight; an instant includes itself.

docs/lifecycle.md (expiry) pins this for points that expire, or become available, exactly
at the next local midnight (issue 18); the expiry half is also a conformance case.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from helpers import line, program, purchase
from rewardrules.evaluation.fold import evaluate

EDT = timezone(timedelta(hours=-4))
EARN = {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"}


@pytest.mark.parametrize(
    ("as_of", "available", "pending"),
    [
        (date(2026, 6, 30), 0, 10),
        (datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=EDT), 0, 10),
        (datetime(2026, 7, 1, 0, 0, tzinfo=EDT), 10, 0),
        (date(2026, 7, 1), 10, 0),
    ],
    ids=["the-date-before", "its-last-instant", "the-midnight-itself", "the-next-date"],
)
def test_points_that_become_available_at_midnight_are_pending_on_the_date_before(
    as_of: date | datetime, available: int, pending: int
) -> None:
    # Bought at midnight on 16 June in New York (no clock change until November): 15 x 24
    # hours later is 2026-07-01T00:00-04:00, the midnight that ends 30 June.
    rules = program(timezone="America/New_York", points={"pending_for": "15 days"}, rules=[EARN])
    bought = datetime(2026, 6, 16, 0, 0, tzinfo=EDT)

    result = evaluate(rules, [purchase("p1", bought, line("milk", "10.00"))], as_of=as_of).customer(
        "c1"
    )

    assert (result.points, result.available_points, result.pending_points) == (
        10,
        available,
        pending,
    )
