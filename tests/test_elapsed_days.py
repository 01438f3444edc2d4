"""`N days` and `N weeks` are elapsed time, whatever tzinfo an instant carries (issue 18).

Python adds a timedelta to the wall clock of a datetime whose tzinfo is a zone, so the same
instant written with a zone (a gift at local midnight, a zone-aware datetime from Python)
and with a fixed offset (a history file) used to give expiries and tier windows an hour
apart across a daylight-saving change. docs/lifecycle.md says why days are elapsed time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import line, program, purchase
from rewardrules.engine.lots import Duration, elapsed
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer

SYDNEY = ZoneInfo("Australia/Sydney")
PARIS = ZoneInfo("Europe/Paris")
EARN = {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"}


@pytest.mark.parametrize(
    "earned",
    [
        datetime(2025, 3, 28, 7, 42, 13, tzinfo=SYDNEY),
        datetime(2025, 3, 28, 7, 42, 13, tzinfo=timezone(timedelta(hours=11))),
    ],
    ids=["zone", "fixed-offset"],
)
def test_ten_weeks_across_the_end_of_daylight_saving_is_seventy_times_24_hours(
    earned: datetime,
) -> None:
    rules = program(timezone="Australia/Sydney", points={"expire_after": "10 weeks"}, rules=[EARN])

    evaluation = evaluate(rules, [purchase("p1", earned, line("flat-white", "10.00"))])

    [lot] = evaluation.customer("c1").state.lots
    # 07:42:13+11:00 is 20:42:13Z on the 27th; 70 x 24 hours later the clocks say +10:00.
    assert lot.expires_at == datetime(2025, 6, 5, 20, 42, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "points", "kinds"),
    [
        (datetime(2025, 6, 5, 22, 59, 59, tzinfo=SYDNEY), 5, ["points"]),
        (datetime(2025, 6, 5, 23, 0, 0, tzinfo=SYDNEY), 0, ["points", "expiry"]),
    ],
    ids=["a-second-before", "at-70-times-24-hours"],
)
def test_a_gift_at_local_midnight_expires_seventy_times_24_hours_later(
    as_of: datetime, points: int, kinds: list[str]
) -> None:
    # The birthday gift is given at local midnight on 28 March (+11:00, 13:00Z on the 27th);
    # 70 x 24 hours later is 13:00Z on 5 June, 23:00 local after the clocks went back.
    rules = program(
        timezone="Australia/Sydney",
        points={"expire_after": "10 weeks"},
        rules=[{"id": "bday", "kind": "birthday", "points": 5}],
    )
    joined = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    profile = Customer(customer_id="c1", joined_at=joined, birthday="03-28")

    result = evaluate(rules, [], customers=[profile], as_of=as_of).customer("c1")

    assert result.points == points
    assert [entry.kind for entry in result.ledger] == kinds


def test_a_rolling_tier_window_reported_at_a_date_reaches_back_720_hours() -> None:
    # --as-of 2026-04-10 in Paris ends at 2026-04-11T00:00+02:00 (22:00Z on the 10th); 720
    # hours earlier is 22:00Z on 11 March, 23:00 local before the clocks went forward. The
    # purchase at 23:30 local on 11 March is inside; 30 local calendar days would start at
    # midnight on the 12th and leave it out.
    rules = program(
        timezone="Europe/Paris",
        tiers={
            "qualify_by": "purchases",
            "window": "30 days",
            "levels": [{"name": "regular", "at_least": 1}],
        },
        rules=[EARN],
    )
    bought = datetime(2026, 3, 11, 23, 30, tzinfo=PARIS)

    evaluation = evaluate(
        rules, [purchase("p1", bought, line("smoothie", "10.00"))], as_of=date(2026, 4, 10)
    )

    assert evaluation.customer("c1").tier == "regular"


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from([SYDNEY, PARIS, ZoneInfo("America/New_York"), UTC]),
    ),
    days=st.integers(min_value=-800, max_value=800),
)
def test_elapsed_days_are_the_same_instant_whatever_the_tzinfo(moment: datetime, days: int) -> None:
    fixed = moment.astimezone(timezone(moment.utcoffset() or timedelta(0)))

    later = elapsed(moment, timedelta(days=days))

    assert later == elapsed(fixed, timedelta(days=days))
    assert later.astimezone(UTC) - moment.astimezone(UTC) == timedelta(days=days)
    assert later.tzinfo is moment.tzinfo
    assert Duration.parse(f"{abs(days)} days").after(moment, PARIS).astimezone(UTC) == (
        moment.astimezone(UTC) + timedelta(days=abs(days))
    )
