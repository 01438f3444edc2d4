"""The edges of every documented bound (docs/rule-files.md, docs/histories.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from rewardrules.events import Line, Purchase, Redemption, Refund
from strategies.lifecycle import (
    ROUND_UP_TO,
)
from strategies.values import (
    Event,
)

MOST_OF_UNIT = {"day": 36_500, "week": 5_218, "month": 1_200, "year": 100}
"""The longest duration of each unit, 100 years (a copy of the documented table)."""
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2099, 12, 31)
EDGE_DATES = (
    date(1969, 12, 31),
    FIRST_DAY,
    date(2000, 2, 29),
    LAST_DAY,
    date(2100, 1, 1),
    date(9999, 12, 31),
)
EDGE_OFFSETS = tuple(timezone(timedelta(hours=hours)) for hours in (-12, 0, 14))
EDGE_INSTANTS = (
    datetime(1970, 1, 1, tzinfo=EDGE_OFFSETS[2]),  # 1969-12-31 10:00 UTC
    datetime(1970, 1, 1, tzinfo=EDGE_OFFSETS[0]),
    datetime(2099, 12, 31, 23, 59, 59, tzinfo=EDGE_OFFSETS[0]),  # 2100-01-01 11:59:59 UTC
    datetime(2099, 12, 31, 23, 59, 59, tzinfo=EDGE_OFFSETS[2]),
    datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
)
"""Instants whose year, as written, is at an end of the years a history may hold."""
EDGE_AS_OF: tuple[date | datetime, ...] = (
    FIRST_DAY,
    LAST_DAY,
    date(1969, 12, 31),
    date(2100, 1, 1),
    date(9999, 12, 31),
    datetime(2099, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
    datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=23))),
)


def in_bounds(day: date) -> bool:
    """Whether a date (or an instant's year as written) is one a program may name."""
    return FIRST_DAY.year <= day.year <= LAST_DAY.year


@st.composite
def edge_durations(draw: st.DrawFn) -> tuple[str | None, bool]:
    """A duration of 1, the longest, or one more than the longest of its unit (or none),
    and whether it is within the bound."""
    if draw(st.integers(0, 3)) == 0:
        return None, True
    unit = draw(st.sampled_from(tuple(MOST_OF_UNIT)))
    count = draw(st.sampled_from((1, MOST_OF_UNIT[unit], MOST_OF_UNIT[unit] + 1)))
    return f"{count} {unit}{'s' if count != 1 else ''}", count <= MOST_OF_UNIT[unit]


@st.composite
def edge_programs(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A program document with every bounded value at an edge, and whether each is within
    its bound (so that the program must validate)."""
    valid = True

    def duration() -> str | None:
        nonlocal valid
        text, ok = draw(edge_durations())
        valid &= ok
        return text

    def day(*choices: date | None) -> date | None:
        nonlocal valid
        chosen = draw(st.sampled_from(choices or (None, *EDGE_DATES)))
        valid &= chosen is None or in_bounds(chosen)
        return chosen

    points: dict[str, Any] = {"name": "stars", "value": Decimal("0.01")}
    for name in ("pending_for", "expire_after", "expire_on_inactivity"):
        text = duration()
        if text is not None:
            points[name] = text
    if "expire_after" in points:
        points["expire_round_up_to"] = draw(st.sampled_from(ROUND_UP_TO))
    points = {name: value for name, value in points.items() if value is not None}
    days = draw(st.sampled_from((1, 36_500, 36_501, "5214 weeks", "5215 weeks", "lifetime")))
    valid &= days in (1, 36_500, "5214 weeks", "lifetime")
    tiers: dict[str, Any] = {
        "qualify_by": "spend",
        "window": days if isinstance(days, str) else {"days": days},
        "levels": [
            {"name": "silver", "at_least": Decimal(0)},
            {"name": "gold", "at_least": Decimal("5.00"), "points_multiplier": Decimal(2)},
        ],
    }
    keep_for = duration()
    if keep_for is not None:
        tiers["keep_for"] = keep_for
    starts, ends = day(), day()
    if starts is not None and ends is not None and ends < starts:
        valid = False  # a rule that ends before it starts
    earn: dict[str, Any] = {"id": "earn", "kind": "points_per_spend", "points": Decimal(1)}
    earn |= {key: value for key, value in (("starts", starts), ("ends", ends)) if value}
    on_a_date = day(*EDGE_DATES)
    around = draw(st.sampled_from((0, 180, 181)))
    valid &= around <= 180
    available = {"starts": day(), "ends": day(None, LAST_DAY, date(2100, 1, 1))}
    if available["starts"] and available["ends"] and available["ends"] < available["starts"]:
        valid = False
    rules = [
        earn,
        {"id": "on-a-day", "kind": "bonus_points", "points": 5, "when": {"dates": [on_a_date]}},
        {"id": "birthday", "kind": "birthday", "points": 7, "days_around": around},
        {"id": "welcome", "kind": "signup_bonus", "points": 3},
        {
            "id": "card",
            "kind": "every_nth_free",
            "every": 2,
            "limit": {"per": "week", "rewards": 1},
        },
        {
            "id": "cinema",
            "kind": "partner_gift_card",
            "partner": "Cinema",
            "value": Decimal("1.00"),
            "every_spend": Decimal("10.00"),
            "window": "calendar_year",
        },
    ]
    reward = {
        "id": "snack",
        "name": "Snack",
        "cost": 1,
        "value": Decimal("0.50"),
        "available": {key: value for key, value in available.items() if value},
    }
    document = {
        "program": "edges",
        "name": "Edges",
        "currency": "USD",
        "timezone": draw(st.sampled_from(("UTC", "Pacific/Kiritimati", "Etc/GMT+12"))),
        "points": points,
        "tiers": tiers,
        "rules": rules,
        "rewards": [reward],
    }
    return document, valid


def _written_in_bounds(moment: datetime) -> datetime | None:
    """The instant written with an offset that keeps its year in bounds, if one does."""
    for offset in EDGE_OFFSETS:
        written = moment.astimezone(offset)
        if in_bounds(written):
            return written
    return None


@st.composite
def edge_histories(draw: st.DrawFn) -> tuple[list[Event | Redemption], list[Any]]:
    """Purchases at the first and last instants a history may hold, each maybe refunded
    and followed by a redemption a second later (when that second is still in bounds),
    with a profile whose dates are at the edges too."""
    events: list[Event | Redemption] = []
    chosen = draw(st.lists(st.sampled_from(EDGE_INSTANTS), min_size=1, max_size=4, unique=True))
    for number, at in enumerate(chosen):
        quantity = draw(st.integers(1, 3))
        line = Line(sku="cone", quantity=quantity, unit_price=Decimal("4.00"))
        events.append(Purchase(id=f"p{number}", customer_id="c1", at=at, lines=(line,)))
        later = _written_in_bounds(at + timedelta(seconds=1))
        if later is not None and draw(st.booleans()):
            events.append(
                Refund(id=f"r{number}", customer_id="c1", at=later, purchase_id=f"p{number}")
            )
        if later is not None and draw(st.booleans()):
            events.append(Redemption(id=f"x{number}", customer_id="c1", at=later, reward="snack"))
    joined = draw(st.sampled_from((None, *EDGE_INSTANTS)))
    birthday = draw(st.sampled_from(("02-29", "12-31", "01-01")))
    return events, [{"customer_id": "c1", "joined_at": joined, "birthday": birthday}]
