"""The points lifecycle: points settings, a catalogue, redemptions, and ``as_of`` cut-offs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from rewardrules.events import CancelRedemption, Purchase, Redemption, Refund, event_sort_key
from rewardrules.program.model import Program
from strategies.histories import (
    histories,
)
from strategies.programs import (
    ALL_KINDS,
    POINT_VALUES,
    Options,
    make_program,
    points_per_spend_rules,
    rule_lists,
    tiers,
)
from strategies.values import (
    CUSTOMERS,
    OFFSETS,
    ZONES,
    instants,
)

CATALOGUE: tuple[dict[str, Any], ...] = (
    {"id": "snack", "name": "Snack", "cost": 3, "value": Decimal("0.50"), "per_customer": 3},
    {"id": "cake", "name": "Cake", "cost": 25, "value": Decimal("6.00"), "cash": Decimal("1.50")},
    {
        "id": "tote-bag",
        "name": "Tote bag",
        "cost": 120,
        "value": Decimal("9.00"),
        "available": {"starts": date(2024, 6, 1), "ends": date(2025, 6, 30)},
    },
)
UNKNOWN_REWARDS = ("pie",)
LOUNGE: dict[str, Any] = {"id": "lounge", "name": "Lounge", "cost": 5, "value": Decimal("2.00")}
"""A reward drawn for the first tier or all tiers (with ``reward_tiers``), else for everyone."""
# The cheapest reward twice as often: most histories earn only a few dozen points.
REWARD_IDS = ("snack", *(reward["id"] for reward in CATALOGUE), *UNKNOWN_REWARDS)
CATALOGUE_REWARD_IDS = (*REWARD_IDS, "lounge")
PENDING_FOR = (None, "3 days", "14 days", "1 month")
EXPIRE_AFTER = (None, "30 days", "2 months", "1 year")
ROUND_UP_TO = (None, "month", "quarter", "year")
INACTIVITY: tuple[str | dict[str, Any] | None, ...] = (
    None,
    "60 days",
    "6 months",
    {"after": "60 days", "activity": ["purchase", "redemption"]},
    {"after": "45 days", "activity": ["redemption", "referral"]},
    {"after": "6 months", "activity": ["purchase", "redemption", "referral"]},
)
"""A duration alone (purchases count), or the long form naming other activity."""
KEEP_UNTIL = (None, None, "end_of_year", "end_of_next_year")
# Days from a purchase to a redemption drawn after it: at once, inside and just after the
# pending periods, around the expiry periods; plus up to a day.
REDEMPTION_GAP_DAYS = st.sampled_from((0, 2, 15, 32, 45, 70, 200, 400))

LifecycleEvent = Purchase | Refund | Redemption | CancelRedemption


@cache
def points_settings(expiry: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Points settings: pending, expiry (with ``expiry``) rounded up or not, debts, earn_on."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "name": "stars",
            "value": draw(POINT_VALUES),
            "earn_on": draw(st.sampled_from(("paid", "gross"))),
            "negative_balance": draw(st.sampled_from(("allow", "clamp"))),
        }
        chosen = {"pending_for": draw(st.sampled_from(PENDING_FOR))}
        if expiry:
            chosen["expire_after"] = draw(st.sampled_from(EXPIRE_AFTER))
            if chosen["expire_after"] is not None:
                chosen["expire_round_up_to"] = draw(st.sampled_from(ROUND_UP_TO))
            chosen["expire_on_inactivity"] = draw(st.sampled_from(INACTIVITY))
        return settings | {name: value for name, value in chosen.items() if value is not None}

    return build()


@cache
def lifecycle_programs(
    expiry: bool = True,
    rule_options: Options = (),
    max_rules: int = 2,
    reference_only: bool = False,
    reward_tiers: bool = False,
) -> st.SearchStrategy[Program]:
    """A program that always earns points, with the catalogue and drawn points settings.

    Beside its points rule it may have other rules (price rules change what is paid, so
    ``earn_on`` matters); with ``expiry`` False its points never expire. With
    ``reference_only`` its tiers may use what the batch engine refuses (``qualify_by:
    points``). With ``reward_tiers`` the catalogue also has a lounge, for the first tier
    or for every tier when the program has tiers.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        has_tiers = draw(st.booleans())
        settings: dict[str, Any] = {
            "timezone": draw(st.sampled_from(ZONES)),
            "points": draw(points_settings(expiry)),
            "rewards": list(CATALOGUE),
        }
        tier_names: tuple[str, ...] = ()
        if has_tiers:
            settings["tiers"] = draw(lifecycle_tiers(reference_only))
            tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
        if reward_tiers:
            lounge = dict(LOUNGE)
            if tier_names:
                lounge["tiers"] = list(draw(st.sampled_from((tier_names[:1], tier_names))))
            settings["rewards"] = [*CATALOGUE, lounge]
        caps = dict(dict(rule_options).get("points_per_spend", ())).get("caps", True)
        earning = draw(points_per_spend_rules("earn", tier_names, caps))
        others = draw(rule_lists(ALL_KINDS, tier_names, rule_options, 0, max_rules))
        return make_program([*others, earning], **settings)

    return build()


@st.composite
def lifecycle_tiers(draw: st.DrawFn, reference_only: bool = False) -> dict[str, Any]:
    """Tiers as ``tiers()`` draws them, sometimes kept to the end of a calendar year or
    with a level whose points never expire; with ``reference_only`` (an option the batch
    engine refuses) also qualifying by points."""
    drawn = draw(tiers())
    keep_until = draw(st.sampled_from(KEEP_UNTIL))
    if keep_until is not None:
        drawn["keep_until"] = keep_until
    if draw(st.integers(0, 2)) == 0:
        chosen = draw(st.integers(0, len(drawn["levels"]) - 1))
        drawn["levels"][chosen]["points_never_expire"] = True
    if reference_only and draw(st.integers(0, 3)) == 0:
        # Points thresholds: a few dozen points apart (most histories earn that many).
        reached = 0
        for index, level in enumerate(drawn["levels"]):
            reached += draw(st.integers(0, 60)) + min(index, 1)
            level["at_least"] = Decimal(reached)
        drawn["qualify_by"] = "points"
    return drawn


@cache
def lifecycle_histories(
    customers: tuple[str, ...] = CUSTOMERS,
    max_purchases: int = 10,
    refunds: bool = True,
    in_full: bool = False,
    max_redemptions: int = 6,
    catalogue: bool = False,
) -> st.SearchStrategy[list[LifecycleEvent]]:
    """Purchases, refunds and redemptions of known and unknown rewards, in engine order.

    Most redemptions come a little after one of the customer's purchases, so that some
    find points pending, some find them available and some after they expired; the others
    fall anywhere in the two years. With ``catalogue`` redemptions may be of 1 to 3 units,
    of the lounge too, and some are cancelled a moment to a few months later (after the
    points of some of their lots expired).
    """
    bought = histories(customers, 1, max_purchases, refunds, in_full)

    @st.composite
    def build(draw: st.DrawFn) -> list[LifecycleEvent]:
        events: list[LifecycleEvent] = list(draw(bought))
        purchased = [event for event in events if isinstance(event, Purchase)]
        for number in range(draw(st.integers(0, max_redemptions))):
            if draw(st.integers(0, 3)):
                after = draw(st.sampled_from(purchased))
                customer = after.customer_id
                gap = timedelta(
                    days=draw(REDEMPTION_GAP_DAYS), minutes=draw(st.integers(0, 24 * 60))
                )
                when = (after.at + gap).astimezone(draw(st.sampled_from(OFFSETS)))
            else:
                customer, when = draw(st.sampled_from(customers)), draw(instants())
            rewards = CATALOGUE_REWARD_IDS if catalogue else REWARD_IDS
            quantity = draw(st.sampled_from((1, 1, 2, 3))) if catalogue else 1
            events.append(
                Redemption(
                    id=f"x{number:02d}",
                    customer_id=customer,
                    at=when,
                    reward=draw(st.sampled_from(rewards)),
                    quantity=quantity,
                )
            )
            if catalogue and draw(st.booleans()):
                later = timedelta(
                    days=draw(st.sampled_from((0, 1, 20, 40, 100))),
                    seconds=draw(st.integers(1, 60)),
                )
                events.append(
                    CancelRedemption(
                        id=f"y{number:02d}",
                        customer_id=customer,
                        at=when + later,
                        redemption_id=f"x{number:02d}",
                    )
                )
        events.sort(key=event_sort_key)
        return events

    return build()


@cache
def cutoffs() -> st.SearchStrategy[date | datetime | None]:
    """An ``as_of``: none, an instant or a date, over the same two years."""
    return st.one_of(st.none(), instants(), instants().map(lambda instant: instant.date()))
