"""Small alphabets and the values drawn from them: money, instants, purchase lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache

from hypothesis import strategies as st

from rewardrules.events import Line, Purchase, Refund

SKUS = ("latte", "mocha", "bagel", "cone", "tea")
CATEGORIES = ("coffee", "food", "ice-cream")
CUSTOMERS = ("alice", "bob", "carol")
TIER_NAMES = ("silver", "gold", "platinum")
ZONES = ("UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "Pacific/Auckland")
OFFSETS = tuple(
    timezone(timedelta(minutes=minutes)) for minutes in (-480, -300, 0, 60, 330, 540, 780)
)
GIFT_CARD_WINDOWS = ("lifetime", "calendar_year", "calendar_quarter", "calendar_month")
TIER_WINDOWS = ("lifetime", "calendar_year", "calendar_quarter", "365 days", "90 days")

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_MINUTES = 730 * 24 * 60
# Quarter starts in UTC; purchases are drawn near them often, so that a window's edge in
# the program's time zone (up to 14 hours away) falls between two purchases.
BOUNDARIES = tuple(
    datetime(year, month, 1, tzinfo=UTC)
    for year in (2024, 2025, 2026)
    for month in (1, 4, 7, 10)
    if year < 2026 or month == 1
)
# Time from a purchase to its refund (or from one refund to the next): up to 200 days.
REFUND_GAP_MINUTES = st.integers(1, 200 * 24 * 60)

Event = Purchase | Refund


def cents(amount: int) -> Decimal:
    """An amount of minor units as a Decimal with exactly two places."""
    return Decimal(amount).scaleb(-2).quantize(Decimal("0.01"))


@cache
def money(min_cents: int = 0, max_cents: int = 2500) -> st.SearchStrategy[Decimal]:
    """Decimal amounts with two places; a quarter of them within 10 cents of the minimum."""
    anywhere = st.integers(min_cents, max_cents)
    small = st.integers(min_cents, min(max_cents, min_cents + 10))
    return st.one_of(anywhere, anywhere, anywhere, small).map(cents)


@cache
def instants() -> st.SearchStrategy[datetime]:
    """Aware datetimes over 2024-2025 in one of several UTC offsets, often near a quarter."""
    uniform = st.integers(0, SPAN_MINUTES).map(lambda minutes: START + timedelta(minutes=minutes))
    near_boundary = st.builds(
        lambda boundary, minutes: boundary + timedelta(minutes=minutes),
        st.sampled_from(BOUNDARIES),
        st.integers(-16 * 60, 16 * 60),
    )
    return st.builds(
        lambda instant, offset: instant.astimezone(offset),
        st.one_of(uniform, near_boundary),
        st.sampled_from(OFFSETS),
    )


@cache
def lines() -> st.SearchStrategy[Line]:
    """A purchase line: a sku and category from small sets, 1-5 units, a unit price."""
    # One draw for sku and category together: fewer draws make generation much faster.
    kinds = tuple((sku, category) for sku in SKUS for category in (None, *CATEGORIES))
    return st.tuples(st.sampled_from(kinds), st.integers(1, 5), money(0, 900)).map(
        lambda drawn: Line(
            sku=drawn[0][0], category=drawn[0][1], quantity=drawn[1], unit_price=drawn[2]
        )
    )
