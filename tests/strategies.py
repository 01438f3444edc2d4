"""Reusable Hypothesis strategies: money, lines, histories with refunds, and programs.

Everything is drawn from small alphabets (a handful of skus, three categories, three
customers) so that filters match some lines and miss others, and over about two years with
several UTC offsets so that calendar windows, quarters and rolling tier windows matter.
Programs are built through ``Program.model_validate`` with Decimal values, never floats.

Each factory is cached: Hypothesis validates a strategy object the first time it draws
from it, and building fresh strategy objects inside every example made generation the
slowest part of the laws. Arguments are therefore tuples, not lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from rewardrules.events import Line, Purchase, Redemption, Refund, RefundLine, event_sort_key
from rewardrules.program.model import WEEKDAYS, Program, gives_points

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


def _number(drawn: list[tuple[str, datetime, list[Line]]]) -> list[Purchase]:
    return [
        Purchase(id=f"p{index:02d}", customer_id=customer, at=at, lines=tuple(bought))
        for index, (customer, at, bought) in enumerate(drawn)
    ]


@cache
def purchases(
    customers: tuple[str, ...] = CUSTOMERS, min_size: int = 1, max_size: int = 12
) -> st.SearchStrategy[list[Purchase]]:
    """Purchases of a few customers with unique ids, in no particular order."""
    return st.lists(
        st.tuples(
            st.sampled_from(customers), instants(), st.lists(lines(), min_size=1, max_size=4)
        ),
        min_size=min_size,
        max_size=max_size,
    ).map(_number)


def _skus_left(purchase: Purchase, left: Sequence[int]) -> dict[str, int]:
    remaining: dict[str, int] = {}
    for line, units in zip(purchase.lines, left, strict=True):
        if units:
            remaining[line.sku] = remaining.get(line.sku, 0) + units
    return remaining


def _fill(purchase: Purchase, left: list[int], sku: str, quantity: int) -> None:
    """Take ``quantity`` units of ``sku`` off the lines of that sku, in line order."""
    for index, line in enumerate(purchase.lines):
        if line.sku == sku:
            take = min(quantity, left[index])
            left[index] -= take
            quantity -= take
    assert quantity == 0


def _partial_lines(draw: st.DrawFn, purchase: Purchase, left: list[int]) -> tuple[RefundLine, ...]:
    """Some units of some skus not yet refunded; takes them off ``left``."""
    remaining = _skus_left(purchase, left)
    chosen = [sku for sku in remaining if draw(st.booleans())] or [next(iter(remaining))]
    result = []
    for sku in chosen:
        quantity = draw(st.integers(1, remaining[sku]))
        _fill(purchase, left, sku, quantity)
        result.append(RefundLine(sku=sku, quantity=quantity))
    return tuple(result)


def _refunds_of(draw: st.DrawFn, purchase: Purchase, first_id: int, in_full: bool) -> list[Refund]:
    """Refunds of one purchase, each after the last, never more than what is left.

    With ``in_full``, a last refund gives back whatever the others left.
    """
    left = [line.quantity for line in purchase.lines]
    made: list[tuple[datetime, tuple[RefundLine, ...] | None]] = []
    at = purchase.at
    for _ in range(draw(st.integers(0, 2))):
        if not any(left):
            break
        at += timedelta(minutes=draw(REFUND_GAP_MINUTES))
        if draw(st.booleans()):
            made.append((at, _partial_lines(draw, purchase, left)))
        else:
            made.append((at, None))
            left = [0] * len(left)
    if in_full and any(left):
        at += timedelta(minutes=draw(REFUND_GAP_MINUTES))
        rest = tuple(
            RefundLine(sku=sku, quantity=units) for sku, units in _skus_left(purchase, left).items()
        )
        # The rest named sku by sku, or as "everything left".
        made.append((at, rest if draw(st.booleans()) else None))
    return [
        Refund(
            id=f"r{first_id + number:02d}",
            customer_id=purchase.customer_id,
            at=when.astimezone(draw(st.sampled_from(OFFSETS))),
            purchase_id=purchase.id,
            lines=returned,
        )
        for number, (when, returned) in enumerate(made)
    ]


@cache
def histories(
    customers: tuple[str, ...] = CUSTOMERS,
    min_purchases: int = 1,
    max_purchases: int = 12,
    refunds: bool = True,
    in_full: bool = False,
) -> st.SearchStrategy[list[Event]]:
    """Purchases and refunds of earlier purchases, sorted as the engine orders them.

    A refund names a purchase of the same customer, comes after it (and after that
    purchase's earlier refunds), and returns part of its lines or all that is left. With
    ``in_full`` every purchase ends refunded in full; without ``refunds`` there are none.
    """
    bought_strategy = purchases(customers, min_purchases, max_purchases)

    @st.composite
    def build(draw: st.DrawFn) -> list[Event]:
        bought = draw(bought_strategy)
        events: list[Event] = list(bought)
        if refunds or in_full:
            for purchase in bought:
                if in_full or draw(st.booleans()):
                    events += _refunds_of(draw, purchase, len(events), in_full)
        events.sort(key=event_sort_key)
        return events

    return build()


# --- programs --------------------------------------------------------------------------


@cache
def _choices(values: tuple[str, ...], max_size: int = 2) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=max_size, unique=True)


@cache
def filters(tier_names: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """A ``when`` filter: half of them empty, else one or two conditions.

    The conditions: categories, skus, exclusions, a minimum total, weekdays or tiers; more
    than two at once would rarely let anything through.
    """
    conditions: dict[str, st.SearchStrategy[Any]] = {
        "categories": _choices(CATEGORIES),
        "skus": _choices(SKUS, 3),
        "exclude_categories": _choices(CATEGORIES, 1),
        "exclude_skus": _choices(SKUS, 1),
        "min_total": money(0, 1500),
        "weekdays": st.lists(st.sampled_from(WEEKDAYS), min_size=3, max_size=6, unique=True),
    }
    if tier_names:
        conditions["tiers"] = _choices(tier_names)
    one = st.one_of([st.fixed_dictionaries({name: value}) for name, value in conditions.items()])
    two = st.tuples(one, one).map(lambda pair: pair[0] | pair[1])
    return st.one_of(st.just({}), st.just({}), one, two)


def _rule_base(draw: st.DrawFn, rule_id: str, tier_names: tuple[str, ...]) -> dict[str, Any]:
    """What every rule has: an id, a filter, a priority and perhaps a date range."""
    rule: dict[str, Any] = {
        "id": rule_id,
        "priority": draw(st.integers(0, 2)),
        "when": draw(filters(tier_names)),
    }
    bounds = draw(DATE_BOUNDS)
    if bounds:
        first = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
        if "starts" in bounds:
            rule["starts"] = first
        if "ends" in bounds:
            rule["ends"] = first + timedelta(days=draw(st.integers(0, 400)))
    return rule


def _decimals(*values: str) -> st.SearchStrategy[Decimal]:
    return st.sampled_from(tuple(Decimal(value) for value in values))


# Most rules apply every day; a quarter start, end, or both.
DATE_BOUNDS = st.sampled_from(((),) * 9 + (("starts",), ("ends",), ("starts", "ends")))
POINTS = _decimals("1", "2", "0.5", "1.5", "10")
PER = _decimals("1.00", "0.50", "2.00", "1.10", "0.01")
FACTORS = _decimals("1", "1.5", "2", "3")
PERCENTS_OFF = _decimals("50", "100", "12.5", "33")
# Round thresholds mostly, odd amounts sometimes; not below 2.00, since a threshold of a
# few cents issues hundreds of cards per purchase and only slows the laws down.
EVERY_SPEND = st.one_of(_decimals("5.00", "10.00", "12.50", "25.00"), money(200, 6000))
TIER_PERCENTS = _decimals("5", "10", "12.5", "100")
TIER_MULTIPLIERS = _decimals("1", "1.25", "1.5", "2", "0.5")
POINT_VALUES = _decimals("0", "0.01", "0.005", "0.013", "0.1")
# A group that weighs points against money needs points with a value.
COSTLY_POINT_VALUES = _decimals("0.01", "0.005", "0.013", "0.1")


@cache
def multipliers(tier_names: tuple[str, ...] = ()) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Up to two multipliers of a points rule."""
    return st.lists(
        st.fixed_dictionaries({"factor": FACTORS, "when": filters(tier_names)}), max_size=2
    )


@cache
def points_per_spend_rules(
    rule_id: str = "points", tier_names: tuple[str, ...] = (), caps: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """A points rule: a rate, maybe multipliers, a rounding and (with ``caps``) a cap."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        rule = _rule_base(draw, rule_id, tier_names) | {
            "kind": "points_per_spend",
            "points": draw(POINTS),
            "per": draw(PER),
            "rounding": draw(st.sampled_from(("floor", "half_up", "ceil"))),
            "multipliers": draw(multipliers(tier_names)),
        }
        if caps and draw(st.booleans()):
            rule["max_per_purchase"] = draw(st.integers(0, 60))
        return rule

    return build()


@cache
def punch_card_rewards(
    rewards: tuple[str, ...] = ("free", "percent_off", "voucher"),
) -> st.SearchStrategy[Any]:
    """A punch card's reward: ``free``, a percentage off, or a voucher."""
    options: list[st.SearchStrategy[Any]] = []
    if "free" in rewards:
        options.append(st.just("free"))
    if "percent_off" in rewards:
        options.append(st.fixed_dictionaries({"percent_off": PERCENTS_OFF}))
    if "voucher" in rewards:
        voucher = st.fixed_dictionaries(
            {"sku": st.sampled_from(SKUS), "value": money(0, 600)},
            optional={"name": st.just("a free drink")},
        )
        options.append(st.fixed_dictionaries({"voucher": voucher}))
    return st.one_of(options)


@cache
def every_nth_free_rules(
    rule_id: str = "card",
    tier_names: tuple[str, ...] = (),
    rewards: tuple[str, ...] = ("free", "percent_off", "voucher"),
    counts: tuple[str, ...] = ("items", "visits"),
) -> st.SearchStrategy[dict[str, Any]]:
    """A punch card counting items or visits, rewarding free units, a percentage or vouchers."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        return _rule_base(draw, rule_id, tier_names) | {
            "kind": "every_nth_free",
            "every": draw(st.integers(2, 5)),
            "counts": draw(st.sampled_from(counts)),
            "reward": draw(punch_card_rewards(rewards)),
        }

    return build()


@cache
def partner_gift_card_rules(
    rule_id: str = "gift",
    tier_names: tuple[str, ...] = (),
    windows: tuple[str, ...] = GIFT_CARD_WINDOWS,
) -> st.SearchStrategy[dict[str, Any]]:
    """A gift card rule with each kind of window and perhaps a maximum per window."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        rule = _rule_base(draw, rule_id, tier_names) | {
            "kind": "partner_gift_card",
            "partner": "cinema",
            "value": draw(money(1, 2500)),
            "every_spend": draw(EVERY_SPEND),
            "window": draw(st.sampled_from(windows)),
        }
        if draw(st.booleans()):
            rule["max_per_window"] = draw(st.integers(1, 3))
        return rule

    return build()


@cache
def tiered_discount_rules(
    rule_id: str = "discount", tier_names: tuple[str, ...] = TIER_NAMES
) -> st.SearchStrategy[dict[str, Any]]:
    """A discount for some of the program's tiers."""
    named = st.lists(st.sampled_from(tier_names), min_size=1, unique=True)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        return _rule_base(draw, rule_id, tier_names) | {
            "kind": "tiered_discount",
            "discounts": {name: draw(TIER_PERCENTS) for name in draw(named)},
        }

    return build()


@cache
def tiers() -> st.SearchStrategy[dict[str, Any]]:
    """Tiers by spend or purchases, in one of several windows, levels rising."""
    return _tiers()


@st.composite
def _tiers(draw: st.DrawFn) -> dict[str, Any]:
    qualify_by = draw(st.sampled_from(("spend", "purchases")))
    count = draw(st.integers(1, len(TIER_NAMES)))
    # Each level needs more than the one below: add a step (and one unit) per level.
    reached = 0
    levels = []
    for index, name in enumerate(TIER_NAMES[:count]):
        if qualify_by == "spend":
            reached += draw(st.integers(0, 6000)) + min(index, 1)
            at_least = cents(reached)
        else:
            reached += draw(st.integers(0, 4)) + min(index, 1)
            at_least = Decimal(reached)
        levels.append(
            {"name": name, "at_least": at_least, "points_multiplier": draw(TIER_MULTIPLIERS)}
        )
    return {
        "qualify_by": qualify_by,
        "window": draw(st.sampled_from(TIER_WINDOWS)),
        "levels": levels,
    }


RULE_STRATEGIES: dict[str, Callable[..., st.SearchStrategy[dict[str, Any]]]] = {
    "points_per_spend": points_per_spend_rules,
    "every_nth_free": every_nth_free_rules,
    "partner_gift_card": partner_gift_card_rules,
    "tiered_discount": tiered_discount_rules,
}
ALL_KINDS = tuple(RULE_STRATEGIES)


def make_program(rules: Sequence[dict[str, Any]], **settings: Any) -> Program:
    """A USD program around these rules; ``settings`` override the defaults."""
    return Program.model_validate(
        {
            "program": "laws",
            "name": "The laws",
            "currency": "USD",
            "timezone": "UTC",
            "rules": list(rules),
            **settings,
        }
    )


Options = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
"""Per kind, keyword arguments for its strategy, as nested tuples so they can be cached."""


def options(**by_kind: Mapping[str, Any]) -> Options:
    """Per-kind strategy options: ``options(points_per_spend={"caps": False})``."""
    return tuple((kind, tuple(sorted(values.items()))) for kind, values in by_kind.items())


@cache
def rule_lists(
    kinds: tuple[str, ...] = ALL_KINDS,
    tier_names: tuple[str, ...] = (),
    rule_options: Options = (),
    min_rules: int = 1,
    max_rules: int = 4,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A few rules of ``kinds``, each with its own id; ``rule_options`` go to their strategy.

    A tiered discount is drawn only when there are tiers.
    """
    available = tuple(kind for kind in kinds if kind != "tiered_discount" or tier_names)
    if not available:
        return st.just([])
    extra = dict(rule_options)
    per_kind = {
        kind: [
            RULE_STRATEGIES[kind](
                f"{kind.replace('_', '-')}-{index}", tier_names, **dict(extra.get(kind, ()))
            )
            for index in range(max_rules)
        ]
        for kind in available
    }

    kinds_drawn = st.lists(st.sampled_from(available), min_size=min_rules, max_size=max_rules)

    @st.composite
    def build(draw: st.DrawFn) -> list[dict[str, Any]]:
        chosen = draw(kinds_drawn)
        return [draw(per_kind[kind][index]) for index, kind in enumerate(chosen)]

    return build()


@cache
def programs(
    kinds: tuple[str, ...] = ALL_KINDS,
    with_tiers: bool | None = None,
    min_rules: int = 1,
    max_rules: int = 4,
    rule_options: Options = (),
) -> st.SearchStrategy[Program]:
    """A program of a few rules of ``kinds``, with tiers when ``with_tiers`` (None: maybe).

    Its time zone and point value vary; a tiered discount is drawn only with tiers.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        has_tiers = draw(st.booleans()) if with_tiers is None else with_tiers
        settings: dict[str, Any] = {
            "timezone": draw(st.sampled_from(ZONES)),
            "points": {"name": "stars", "value": draw(POINT_VALUES)},
        }
        tier_names: tuple[str, ...] = ()
        if has_tiers:
            settings["tiers"] = draw(tiers())
            tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
        rules = draw(rule_lists(kinds, tier_names, rule_options, min_rules, max_rules))
        return make_program(rules, **settings)

    return build()


@cache
def grouped_programs() -> st.SearchStrategy[Program]:
    """A punch card and a points rule in one exclusive group, a tier discount after the
    group (or, sometimes, before it) and perhaps a points rule outside the group.

    The group runs where its punch card runs, among the price rules: its points rule
    earns on amounts a later discount lowers again, which a refund must remember.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        levels = draw(tiers())
        names = tuple(level["name"] for level in levels["levels"])
        group = {"priority": 1, "exclusive_group": "promo"}
        rewards = ("free", "percent_off")
        rules = [
            draw(every_nth_free_rules("card", names, rewards=rewards)) | group,
            draw(points_per_spend_rules("earn", names, caps=False)) | group,
            draw(tiered_discount_rules("discount", names))
            | {"priority": draw(st.sampled_from((2, 2, 0)))},
        ]
        if draw(st.booleans()):
            rules.append(draw(points_per_spend_rules("outside", names, caps=False)))
        points = {
            "name": "stars",
            "value": draw(COSTLY_POINT_VALUES),
            "earn_on": draw(st.sampled_from(("paid", "paid", "gross"))),
        }
        return make_program(rules, tiers=levels, points=points)

    return build()


# --- the points lifecycle: settings, a catalogue, redemptions ----------------------------

CATALOGUE: tuple[dict[str, Any], ...] = (
    {"id": "snack", "name": "Snack", "cost": 3, "value": Decimal("0.50")},
    {"id": "cake", "name": "Cake", "cost": 25, "value": Decimal("6.00")},
    {
        "id": "tote-bag",
        "name": "Tote bag",
        "cost": 120,
        "value": Decimal("9.00"),
        "available": {"starts": date(2024, 6, 1), "ends": date(2025, 6, 30)},
    },
)
UNKNOWN_REWARDS = ("pie",)
# The cheapest reward twice as often: most histories earn only a few dozen points.
REWARD_IDS = ("snack", *(reward["id"] for reward in CATALOGUE), *UNKNOWN_REWARDS)
PENDING_FOR = (None, "3 days", "14 days", "1 month")
EXPIRE_AFTER = (None, "30 days", "2 months", "1 year")
ROUND_UP_TO = (None, "month", "quarter", "year")
INACTIVITY = (None, "60 days", "6 months")
# Days from a purchase to a redemption drawn after it: at once, inside and just after the
# pending periods, around the expiry periods; plus up to a day.
REDEMPTION_GAP_DAYS = st.sampled_from((0, 2, 15, 32, 45, 70, 200, 400))

LifecycleEvent = Purchase | Refund | Redemption


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
    expiry: bool = True, rule_options: Options = (), max_rules: int = 2
) -> st.SearchStrategy[Program]:
    """A program that always earns points, with the catalogue and drawn points settings.

    Beside its points rule it may have other rules (price rules change what is paid, so
    ``earn_on`` matters); with ``expiry`` False its points never expire.
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
            settings["tiers"] = draw(tiers())
            tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
        caps = dict(dict(rule_options).get("points_per_spend", ())).get("caps", True)
        earning = draw(points_per_spend_rules("earn", tier_names, caps))
        others = draw(rule_lists(ALL_KINDS, tier_names, rule_options, 0, max_rules))
        return make_program([*others, earning], **settings)

    return build()


@cache
def lifecycle_histories(
    customers: tuple[str, ...] = CUSTOMERS,
    max_purchases: int = 10,
    refunds: bool = True,
    in_full: bool = False,
    max_redemptions: int = 6,
) -> st.SearchStrategy[list[LifecycleEvent]]:
    """Purchases, refunds and redemptions of known and unknown rewards, in engine order.

    Most redemptions come a little after one of the customer's purchases, so that some
    find points pending, some find them available and some after they expired; the others
    fall anywhere in the two years.
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
            events.append(
                Redemption(
                    id=f"x{number:02d}",
                    customer_id=customer,
                    at=when,
                    reward=draw(st.sampled_from(REWARD_IDS)),
                )
            )
        events.sort(key=event_sort_key)
        return events

    return build()


@cache
def cutoffs() -> st.SearchStrategy[date | datetime | None]:
    """An ``as_of``: none, an instant or a date, over the same two years."""
    return st.one_of(st.none(), instants(), instants().map(lambda instant: instant.date()))


# --- the edges of every documented bound (docs/rule-files.md, docs/histories.md) ---------

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


# --- per-rule limits -------------------------------------------------------------------

LIMIT_PERIODS = ("purchase", "day", "week", "month", "year", "lifetime")


@st.composite
def rule_limits(draw: st.DrawFn, gives_points: bool) -> list[dict[str, Any]]:
    """One or two limits that fit a rule: points or rewards on a rule that gives points,
    value or rewards on one that gives money. Small enough to bind now and then."""
    limits = []
    for _ in range(draw(st.integers(1, 2))):
        per = draw(st.sampled_from(LIMIT_PERIODS))
        measure = draw(
            st.sampled_from(("points", "rewards") if gives_points else ("value", "rewards"))
        )
        if measure == "points":
            amount: Any = draw(st.integers(0, 120))
        elif measure == "rewards":
            amount = draw(st.integers(0, 3))
        else:
            amount = draw(money(0, 1500))
        limits.append({"per": per, measure: amount})
    return limits


@cache
def with_limits(drawn: st.SearchStrategy[Program]) -> st.SearchStrategy[Program]:
    """Programs of ``drawn`` with limits on some of their rules (most often on all)."""

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        program = draw(drawn)
        document = program.model_dump(exclude_none=True)
        for rule, model in zip(document["rules"], program.rules, strict=True):
            if draw(st.integers(0, 3)):
                rule["limit"] = draw(rule_limits(gives_points(model)))
        # Validated afresh (a model copy would keep durations as unchecked text).
        return Program.model_validate(document)

    return build()
