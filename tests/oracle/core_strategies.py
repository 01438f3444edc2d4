"""Programs and histories within the core family (tests/oracle/core.py's scope).

Small alphabets, so that filters, multipliers, tiers and cards meet often: five skus in
three categories (one without a category), two stores, prices that include zero and odd
cents, purchases bunched around calendar edges, partial and whole refunds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from rewardrules.events import Line, Purchase, Refund, RefundLine
from rewardrules.program.model import Program

SKUS = {"latte": "coffee", "beans": "coffee", "bagel": "food", "mug": "merch", "bag": None}
STORES = ("s1", "s2")
ZONES = ("UTC", "America/New_York", "Pacific/Auckland")
TIERS = ("silver", "gold", "platinum")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
START = datetime(2025, 12, 20, tzinfo=UTC)
# An event's instant is written with one of these: the same instant whatever the offset.
OFFSETS = (
    UTC,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=13)),
    ZoneInfo("Europe/Paris"),
)
DAYS = 120


def _dec(*values: str) -> st.SearchStrategy[Decimal]:
    return st.sampled_from([Decimal(v) for v in values])


# Money in each currency's minor unit: written for USD, scaled for JPY (0) and KWD (3).
CURRENCIES = ("USD", "USD", "JPY", "KWD")
EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}


def _money(currency: str, *values: str) -> st.SearchStrategy[Decimal]:
    """USD amounts, turned into the same count of minor units of ``currency``."""
    exponent = EXPONENTS[currency]
    return st.sampled_from([Decimal(int(Decimal(v) * 100)).scaleb(-exponent) for v in values])


def _some(values: Any, max_size: int = 2) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(tuple(values)), min_size=1, max_size=max_size, unique=True)


@st.composite
def when(draw: st.DrawFn, tiers: tuple[str, ...], currency: str = "USD") -> dict[str, Any]:
    conditions: dict[str, st.SearchStrategy[Any]] = {
        "categories": _some(("coffee", "food", "merch")),
        "skus": _some(SKUS, 3),
        "exclude_categories": _some(("coffee", "food", "merch"), 1),
        "exclude_skus": _some(SKUS, 1),
        "min_total": _money(currency, "0", "5.00", "12.50", "30.00"),
        "stores": _some(STORES, 1),
        "weekdays": _some(WEEKDAYS, 4),
        "dates": st.lists(
            st.integers(0, DAYS).map(lambda d: (START + timedelta(days=d)).date()),
            min_size=1,
            max_size=3,
            unique=True,
        ),
    }
    if tiers:
        conditions["tiers"] = _some(tiers)
    names = draw(st.lists(st.sampled_from(sorted(conditions)), max_size=2, unique=True))
    filt = {name: draw(conditions[name]) for name in names}
    if "min_total" in filt and draw(st.booleans()):
        filt["min_total_of"] = draw(st.sampled_from(("all", "eligible")))
    return filt


@st.composite
def rule(draw: st.DrawFn, index: int, tiers: tuple[str, ...], currency: str) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ("points_per_spend", "every_nth_free", "partner_gift_card")
            + (("tiered_discount",) if tiers else ())
        )
    )
    body: dict[str, Any] = {"id": f"r{index}", "kind": kind, "when": draw(when(tiers, currency))}
    if draw(st.integers(0, 3)) == 0:
        body["priority"] = draw(st.integers(-1, 2))
    if draw(st.integers(0, 4)) == 0:
        first = START.date() + timedelta(days=draw(st.integers(0, DAYS)))
        if draw(st.booleans()):
            body["starts"] = first
        if draw(st.booleans()):
            body["ends"] = first + timedelta(days=draw(st.integers(0, 60)))
    if kind == "points_per_spend":
        body["points"] = draw(_dec("1", "2", "3", "0.5", "10"))
        body["per"] = draw(_money(currency, "1.00", "1.00", "5.00", "0.50", "1.10"))
        body["multipliers"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "factor": _dec("2", "3", "1.5", "0.5", "0", "1"),
                        "when": when(tiers, currency),
                    }
                ),
                max_size=2,
            )
        )
        body["rounding"] = draw(st.sampled_from(("floor", "half_up", "ceil")))
        if draw(st.integers(0, 3)) == 0:
            body["max_per_purchase"] = draw(st.integers(0, 60))
    elif kind == "every_nth_free":
        body["every"] = draw(st.integers(2, 5))
        body["counts"] = draw(st.sampled_from(("items", "visits")))
        body["reward"] = draw(
            st.one_of(
                st.just("free"),
                _dec("10", "25", "50", "33", "100", "12.5").map(lambda p: {"percent_off": p}),
                _money(currency, "3.00", "4.50").map(
                    lambda v: {"voucher": {"sku": "latte", "value": v}}
                ),
            )
        )
    elif kind == "partner_gift_card":
        body["partner"] = "grocer"
        body["value"] = draw(_money(currency, "5.00", "10.00"))
        body["every_spend"] = draw(_money(currency, "10.00", "25.00", "7.33"))
        body["window"] = draw(
            st.sampled_from(("lifetime", "calendar_year", "calendar_quarter", "calendar_month"))
        )
        if draw(st.integers(0, 3)) == 0:
            body["max_per_window"] = draw(st.integers(1, 3))
    else:
        chosen = draw(_some(tiers, len(tiers)))
        body["discounts"] = {t: draw(_dec("5", "10", "33", "50", "100", "12.5")) for t in chosen}
    return body


@st.composite
def programs(draw: st.DrawFn, most_rules: int = 4) -> Program:
    currency = draw(st.sampled_from(CURRENCIES))
    document: dict[str, Any] = {
        "program": "core-oracle",
        "name": "Core oracle",
        "currency": currency,
        "timezone": draw(st.sampled_from(ZONES)),
        "points": {"name": "points", "value": "0.01"},
    }
    tiers: tuple[str, ...] = ()
    if draw(st.booleans()):
        qualify_by = draw(st.sampled_from(("spend", "purchases")))
        count = draw(st.integers(1, 3))
        tiers = TIERS[:count]
        steps = draw(
            st.lists(
                st.integers(0, 40) if qualify_by == "spend" else st.integers(0, 3),
                min_size=count,
                max_size=count,
            )
        )
        levels, total = [], -1
        for name, step in zip(tiers, steps, strict=True):
            total += step + 1  # levels rise strictly; the lowest may be 0
            level: dict[str, Any] = {"name": name, "at_least": Decimal(total)}
            if draw(st.booleans()):
                level["points_multiplier"] = draw(_dec("1.5", "2", "0.5", "1.25"))
            levels.append(level)
        document["tiers"] = {
            "qualify_by": qualify_by,
            "window": draw(
                st.sampled_from(
                    (
                        "lifetime",
                        "calendar_year",
                        "calendar_quarter",
                        "calendar_month",
                        "30 days",
                        "7 days",
                        "2 weeks",
                    )
                )
            ),
            "levels": levels,
        }
    count = draw(st.integers(1, most_rules))
    document["rules"] = [draw(rule(i, tiers, currency)) for i in range(count)]
    return Program.model_validate(document)


# Mostly small; now and then a quantity large enough that a loop over units would show.
QUANTITIES = (1, 1, 2, 3, 4, 12, 1, 2, 3, 123_456_789)
PRICES = ("0", "0.01", "0.15", "0.99", "1.00", "2.49", "4.50", "9.99", "12.35", "25.00")


@st.composite
def cases(
    draw: st.DrawFn,
    customers: tuple[str, ...] = ("ann", "ann", "bob"),
    most: int = 12,
    most_rules: int = 4,
) -> tuple[Program, list[Purchase | Refund], date | datetime | None]:
    """A program, a history in its currency, and an ``as_of`` (mostly none)."""
    drawn = draw(programs(most_rules))
    events = draw(histories(drawn.currency, customers, most))
    as_of: date | datetime | None = None
    choice = draw(st.integers(0, 3))
    if choice and events:
        instant = draw(st.sampled_from(events)).at
        shift = timedelta(minutes=draw(st.sampled_from((-1, 0, 1, 24 * 60))))
        if choice == 1:
            as_of = (instant + shift).astimezone(ZoneInfo(drawn.timezone)).date()
        elif choice == 2:
            as_of = (instant + shift).astimezone(draw(st.sampled_from(OFFSETS)))
    return drawn, events, as_of


@st.composite
def histories(
    draw: st.DrawFn,
    currency: str = "USD",
    customers: tuple[str, ...] = ("ann", "ann", "bob"),
    most: int = 12,
) -> list[Purchase | Refund]:
    events: list[Purchase | Refund] = []
    # Per purchase: its customer, the instant of its last event, units left per sku.
    left: dict[str, tuple[str, datetime, list[list[Any]]]] = {}
    refunded: set[str] = set()
    count = draw(st.integers(1, most))
    minute = 0
    for n in range(count):
        # Bunched: often the same instant or a few minutes on, sometimes days or weeks.
        minute += draw(
            st.sampled_from((0, 1, 60, 24 * 60, 7 * 24 * 60, 14 * 24 * 60, 30 * 24 * 60))
        )
        when = (START + timedelta(minutes=minute)).astimezone(draw(st.sampled_from(OFFSETS)))
        customer = draw(st.sampled_from(customers))
        # A refund may share its purchase's instant when it sorts after it by id: "r.."
        # does, "o.." does not. It comes strictly after the purchase's earlier refunds
        # ("r10" sorts before "r9").
        prefix = draw(st.sampled_from("or"))
        owned = [
            pid
            for pid, (c, t, _) in left.items()
            if c == customer and (t < when or (t == when and prefix == "r" and pid not in refunded))
        ]
        if owned and draw(st.integers(0, 2)) == 0:
            pid = draw(st.sampled_from(owned))
            lines = left[pid][2]
            left[pid] = (customer, when, lines)
            refunded.add(pid)
            remaining = [ln for ln in lines if ln[1] > 0]
            if not remaining:
                continue
            if draw(st.booleans()):
                back = None
                for ln in remaining:
                    ln[1] = 0
            else:
                back = []
                for ln in draw(_some(range(len(remaining)), 2)):
                    sku_left = remaining[ln]
                    q = draw(st.integers(1, sku_left[1]))
                    sku_left[1] -= q
                    back.append(RefundLine(sku=sku_left[0], quantity=q))
            events.append(
                Refund(
                    id=f"{prefix}{n}",
                    customer_id=customer,
                    at=when,
                    purchase_id=pid,
                    lines=tuple(back) if back else None,
                )
            )
            continue
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            sku = draw(st.sampled_from(sorted(SKUS)))
            lines.append(
                Line(
                    sku=sku,
                    category=SKUS[sku],
                    quantity=draw(st.sampled_from(QUANTITIES)),
                    unit_price=draw(_money(currency, *PRICES)),
                )
            )
        pid = f"p{n}"  # "p10" sorts before "p9": ids compare as text
        # A refund line fills the purchase's lines of that sku in order: count per sku.
        per_sku: dict[str, int] = {}
        for ln in lines:
            per_sku[ln.sku] = per_sku.get(ln.sku, 0) + ln.quantity
        left[pid] = (customer, when, [[s, q] for s, q in per_sku.items()])
        events.append(
            Purchase(
                id=pid,
                customer_id=customer,
                at=when,
                lines=tuple(lines),
                store=draw(st.sampled_from((None, "s1", "s2"))),
            )
        )
    return events


def start_date() -> date:
    return START.date()
