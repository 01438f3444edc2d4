"""Programs: filters, one strategy per rule kind, tiers, exclusive groups and limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from rewardrules.program.model import WEEKDAYS, Program, gives_points
from strategies.histories import PAYMENT_METHODS
from strategies.values import (
    CATEGORIES,
    GIFT_CARD_WINDOWS,
    SKUS,
    TIER_NAMES,
    TIER_WINDOWS,
    ZONES,
    cents,
    money,
)


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
    # A minimum of the eligible lines only (min_total_of), or of all of them said outright.
    of_lines = st.fixed_dictionaries(
        {"min_total": money(0, 1500), "min_total_of": st.sampled_from(("eligible", "all"))}
    )
    one = st.one_of(
        [st.fixed_dictionaries({name: value}) for name, value in conditions.items()] + [of_lines]
    )
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
FACTORS = _decimals("1", "1.5", "2", "3", "0.5", "0")
PERCENTS_OFF = _decimals("50", "100", "12.5", "33")
# Round thresholds mostly, odd amounts sometimes; not below 2.00, since a threshold of a
# few cents issues hundreds of cards per purchase and only slows the laws down.
EVERY_SPEND = st.one_of(_decimals("5.00", "10.00", "12.50", "25.00"), money(200, 6000))
TIER_PERCENTS = _decimals("5", "10", "12.5", "100")
TIER_MULTIPLIERS = _decimals("1", "1.25", "1.5", "2", "0.5", "0")
POINT_VALUES = _decimals("0", "0.01", "0.005", "0.013", "0.1")
# A rule stops the later rules of a purchase now and then.
FINAL = st.sampled_from((False, False, False, True))
_PAID_BY = _choices(PAYMENT_METHODS)
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


ORDER_PERCENTS = _decimals("10", "5", "12.5", "33", "100")
ORDER_AMOUNTS = _decimals("5.00", "0.01", "2.50", "20.00")


@cache
def order_discount_rules(
    rule_id: str = "offer", tier_names: tuple[str, ...] = (), gifts: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """An order offer: a percent or an amount off (or, with ``gifts``, a gift item), its
    minimum spend in its filter (most of the time)."""
    rewards = ["percent", "amount", *(["gift_item"] if gifts else [])]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        rule = _rule_base(draw, rule_id, tier_names) | {"kind": "order_discount"}
        if draw(st.integers(0, 3)):
            rule["when"] = rule["when"] | {"min_total": draw(money(0, 3000))}
        reward = draw(st.sampled_from(rewards))
        if reward == "percent":
            rule["percent"] = draw(ORDER_PERCENTS)
        elif reward == "amount":
            rule["amount"] = draw(ORDER_AMOUNTS)
        else:
            rule["gift_item"] = {"sku": "tote", "value": draw(ORDER_AMOUNTS)}
        return rule

    return build()


@cache
def tiers(by_points: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Tiers by spend or purchases (or, with ``by_points``, by points too), in one of
    several windows, levels rising."""
    return _tiers(by_points)


@st.composite
def _tiers(draw: st.DrawFn, by_points: bool = False) -> dict[str, Any]:
    ways = ("spend", "purchases", "points") if by_points else ("spend", "purchases")
    qualify_by = draw(st.sampled_from(ways))
    count = draw(st.integers(1, len(TIER_NAMES)))
    # Each level needs more than the one below: add a step (and one unit) per level.
    reached = 0
    levels = []
    for index, name in enumerate(TIER_NAMES[:count]):
        if qualify_by == "spend":
            reached += draw(st.integers(0, 6000)) + min(index, 1)
            at_least = cents(reached)
        elif qualify_by == "points":
            reached += draw(st.integers(0, 60)) + min(index, 1)
            at_least = Decimal(reached)
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
    "order_discount": order_discount_rules,
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
    finals: bool = True,
    payment_methods: bool | None = None,
    points_tiers: bool = False,
) -> st.SearchStrategy[Program]:
    """A program of a few rules of ``kinds``, with tiers when ``with_tiers`` (None: maybe).

    Its time zone and point value vary; a tiered discount is drawn only with tiers. With
    ``finals`` a rule is now and then ``final: true``; with ``payment_methods`` (as
    ``finals`` when None) a points rule now and then earns by payment method; with
    ``points_tiers`` the tiers may qualify by points.
    """
    by_method = finals if payment_methods is None else payment_methods

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        has_tiers = draw(st.booleans()) if with_tiers is None else with_tiers
        settings: dict[str, Any] = {
            "timezone": draw(st.sampled_from(ZONES)),
            "points": {"name": "stars", "value": draw(POINT_VALUES)},
        }
        tier_names: tuple[str, ...] = ()
        if has_tiers:
            settings["tiers"] = draw(tiers(points_tiers))
            tier_names = tuple(level["name"] for level in settings["tiers"]["levels"])
        rules = draw(rule_lists(kinds, tier_names, rule_options, min_rules, max_rules))
        if finals:
            rules = [rule | {"final": True} if draw(FINAL) else rule for rule in rules]
        if by_method:
            rules = [
                rule | {"when": rule["when"] | {"payment_methods": draw(_PAID_BY)}}
                if rule["kind"] == "points_per_spend" and draw(FINAL)
                else rule
                for rule in rules
            ]
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


# --- exclusive groups with limited members and members beside price rules ---------------

GROUPED_MEMBER_KINDS = ("points", "card", "offer", "discount", "gift_card", "bonus", "voucher")


@cache
def limited_group_programs() -> st.SearchStrategy[Program]:
    """Two or three members of one exclusive group drawn from points rules, punch cards
    (free or percent off, or vouchers), tiered and order discounts, gift cards and
    bonuses, so that points and gift card members sit beside price members (they earn on
    the group's basket); limits on most members, small enough to bind; tiers, perhaps
    by points; perhaps a price rule after the group (lowering the amounts again, now and
    then final) and a points rule outside it.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Program:
        levels = draw(tiers(draw(st.booleans())))
        names = tuple(level["name"] for level in levels["levels"])
        group = {"exclusive_group": "deal"}
        rules = []
        for index in range(draw(st.integers(2, 3))):
            rule_id = f"member-{index}"
            kind = draw(st.sampled_from(GROUPED_MEMBER_KINDS))
            if kind == "points":
                rule = draw(points_per_spend_rules(rule_id, names))
                if draw(st.integers(0, 4)) == 0:
                    methods = draw(_PAID_BY)
                    rule["when"] = rule["when"] | {"payment_methods": methods}
            elif kind in ("card", "voucher"):
                rewards = ("voucher",) if kind == "voucher" else ("free", "percent_off")
                rule = draw(every_nth_free_rules(rule_id, names, rewards=rewards))
            elif kind == "offer":
                rule = draw(order_discount_rules(rule_id, names, gifts=True))
            elif kind == "discount":
                rule = draw(tiered_discount_rules(rule_id, names))
            elif kind == "gift_card":
                rule = draw(partner_gift_card_rules(rule_id, names))
            else:
                rule = {
                    "id": rule_id,
                    "kind": "bonus_points",
                    "points": draw(st.integers(1, 300)),
                    "when": draw(filters(names)),
                }
            rule |= group | {"priority": draw(st.integers(0, 2))}
            if draw(st.integers(0, 3)):
                rule["limit"] = draw(rule_limits(kind in ("points", "bonus")))
            rules.append(rule)
        if draw(st.booleans()):  # a price rule after the group lowers the amounts again
            after = draw(tiered_discount_rules("after", names)) | {"priority": 3}
            if draw(FINAL):
                after["final"] = True
            rules.insert(draw(st.integers(0, len(rules))), after)
        if draw(st.booleans()):
            rules.append(draw(points_per_spend_rules("outside", names)))
        points = {
            "name": "stars",
            "value": draw(COSTLY_POINT_VALUES),
            "earn_on": draw(st.sampled_from(("paid", "paid", "gross"))),
        }
        return make_program(rules, tiers=levels, points=points)

    return build()
