"""The program: its settings, tiers and rules, as validated, immutable pydantic models.

A rule is a discriminated union on ``kind``; each kind is its own model, and its evaluation
lives in ``rewardrules.kinds``. Checks that involve several fields or several rules (tier
names a rule mentions, money finer than the currency, dates in the wrong order) live in
:func:`semantic_problems`, which the model runs after validation and the loader runs itself
so that each problem can point at its own line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rewardrules._types import ExactDecimal, LocalDate, Slug, Text, WholeNumber
from rewardrules.errors import PathItem, format_path
from rewardrules.money import Currency, currency, decimal_places
from rewardrules.sourcemap import escaped

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CalendarWindow = Literal["calendar_year", "calendar_quarter", "calendar_month"]

SEMANTICS_DEFERRED = "rewardrules.defer_semantic_checks"
"""Validation context key: the loader runs :func:`semantic_problems` itself, with locations."""

_ROLLING = re.compile(r"^ *([0-9]+) *(day|days|week|weeks) *$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _lowercase_weekdays(value: object) -> object:
    if isinstance(value, list | tuple):
        return [item.lower() if isinstance(item, str) else item for item in value]
    return value


class Filter(_Model):
    """Which purchases and which of their lines a rule (or a multiplier) looks at.

    A purchase passes when every purchase-level condition that is set holds. A line is
    eligible when the purchase passes, when it matches one of ``categories`` or ``skus``
    (if either is set), and when it matches none of the exclusions.
    """

    categories: tuple[Text, ...] | None = Field(
        default=None, description="Lines whose category is one of these.", examples=[["coffee"]]
    )
    skus: tuple[Text, ...] | None = Field(
        default=None, description="Lines whose sku is one of these.", examples=[["latte-12oz"]]
    )
    exclude_categories: tuple[Text, ...] | None = Field(
        default=None, description="Never lines of these categories.", examples=[["gift-cards"]]
    )
    exclude_skus: tuple[Text, ...] | None = Field(
        default=None, description="Never lines of these skus.", examples=[["bag-fee"]]
    )
    min_total: ExactDecimal | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Only purchases whose gross total (before rewards) is at least this.",
        examples=["20.00"],
    )
    stores: tuple[Text, ...] | None = Field(
        default=None, description="Only purchases made in one of these stores.", examples=[["s1"]]
    )
    weekdays: Annotated[tuple[Weekday, ...] | None, BeforeValidator(_lowercase_weekdays)] = Field(
        default=None,
        description="Only purchases made on these days of the week (local time).",
        examples=[["saturday", "sunday"]],
    )
    dates: tuple[LocalDate, ...] | None = Field(
        default=None,
        description="Only purchases made on these local dates (YYYY-MM-DD).",
        examples=[["2026-03-14"]],
    )
    tiers: tuple[Text, ...] | None = Field(
        default=None,
        description="Only purchases made while the customer is at one of these tiers.",
        examples=[["gold"]],
    )

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every purchase and every line through."""
        return all(getattr(self, name) is None for name in type(self).model_fields)


LimitPeriod = Literal["purchase", "day", "week", "month", "year", "lifetime"]


class Limit(_Model):
    """At most so many points, rewards or so much value from one rule per period."""

    per: LimitPeriod = Field(
        description=(
            "The period: purchase, day, week (Monday to Sunday), month, year (calendar) "
            "or lifetime, in the program's time zone."
        ),
        examples=["month"],
    )
    points: WholeNumber | None = Field(
        default=None, ge=0, description="At most this many points.", examples=[500]
    )
    rewards: WholeNumber | None = Field(
        default=None,
        ge=0,
        description=(
            "At most this many rewards: free or discounted units, vouchers, gift cards, "
            "discounted purchases, or purchases given points."
        ),
        examples=[2],
    )
    value: ExactDecimal | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="At most this much value in currency (discounts, free units, vouchers).",
        examples=["10.00"],
    )

    @model_validator(mode="after")
    def _one_measure(self) -> Limit:
        measures = [
            name for name in ("points", "rewards", "value") if getattr(self, name) is not None
        ]
        if len(measures) != 1:
            raise ValueError(
                "a limit counts exactly one of points, rewards or value "
                f"(got {' and '.join(measures) if measures else 'none'})"
            )
        return self

    @property
    def measure(self) -> Literal["points", "rewards", "value"]:
        """What the limit counts."""
        if self.points is not None:
            return "points"
        return "rewards" if self.rewards is not None else "value"


def _one_or_more(value: object) -> object:
    if isinstance(value, dict):
        return [value]
    return value


class _Rule(_Model):
    id: Slug = Field(description="A unique name for the rule, e.g. 'coffee-stars'.")
    description: str | None = Field(default=None, description="What the rule is for, in words.")
    starts: LocalDate | None = Field(
        default=None, description="First local date on which the rule applies (inclusive)."
    )
    ends: LocalDate | None = Field(
        default=None, description="Last local date on which the rule applies (inclusive)."
    )
    when: Filter = Field(
        default_factory=Filter, description="Which purchases and lines the rule looks at."
    )
    priority: WholeNumber = Field(
        default=0, description="Lower runs first; ties keep the order of the file."
    )
    exclusive_group: Slug | None = Field(
        default=None,
        description=(
            "Of the rules of one group that would reward a purchase, only the one worth "
            "most to the customer does (ties: the lower priority)."
        ),
        examples=["weekend-promotions"],
    )
    limit: Annotated[tuple[Limit, ...], BeforeValidator(_one_or_more)] = Field(
        default=(),
        description=(
            "At most so much from this rule per customer and period: one limit, or a list "
            "of them (each must hold)."
        ),
        examples=[
            {"per": "day", "rewards": 1},
            [{"per": "week", "rewards": 2}, {"per": "year", "rewards": 20}],
        ],
    )


class Multiplier(_Model):
    """A factor on the points of the lines a filter matches ("double stars on coffee")."""

    factor: ExactDecimal = Field(
        ge=1, allow_inf_nan=False, description="Points are multiplied by this.", examples=["2"]
    )
    when: Filter = Field(description="Which purchases and lines get the factor.")
    description: str | None = Field(default=None, description="What the multiplier is for.")


class PointsPerSpend(_Rule):
    """``points`` for every ``per`` currency units paid on eligible lines."""

    kind: Literal["points_per_spend"] = Field(description="Points for money spent.")
    points: ExactDecimal = Field(
        gt=0, allow_inf_nan=False, description="Points earned per `per` spent.", examples=["1"]
    )
    per: ExactDecimal = Field(
        default=Decimal(1),
        gt=0,
        allow_inf_nan=False,
        description="The spend, in currency units, that earns `points`.",
        examples=["1.00"],
    )
    multipliers: tuple[Multiplier, ...] = Field(
        default=(),
        description="Factors for some lines; the largest matching factor applies to a line.",
    )
    rounding: Literal["floor", "half_up", "ceil"] = Field(
        default="floor", description="How a purchase's points are rounded to a whole number."
    )
    max_per_purchase: WholeNumber | None = Field(
        default=None, ge=0, description="At most this many points from one purchase."
    )


class PercentOff(_Model):
    """The units a punch card rewards get this percentage off."""

    percent_off: ExactDecimal = Field(
        gt=0, le=100, allow_inf_nan=False, description="Percent off, more than 0, at most 100."
    )


class VoucherSpec(_Model):
    """A voucher for one product, to use on a later visit."""

    sku: Text = Field(description="The product the voucher is for.")
    value: ExactDecimal = Field(
        ge=0, allow_inf_nan=False, description="What the voucher costs the business."
    )
    name: str | None = Field(default=None, description="How the voucher is called.")


class VoucherReward(_Model):
    """Each completed card issues a voucher."""

    voucher: VoucherSpec = Field(description="The voucher issued per completed card.")


class EveryNthFree(_Rule):
    """A punch card: every ``every`` qualifying units (or visits) earn a reward."""

    kind: Literal["every_nth_free"] = Field(description="A punch card.")
    every: WholeNumber = Field(ge=2, description="Units or visits per completed card.")
    counts: Literal["items", "visits"] = Field(
        default="items", description="Count units of matching lines, or visits with one."
    )
    reward: Literal["free"] | PercentOff | VoucherReward = Field(
        default="free",
        description="`free`, `{percent_off: P}` or `{voucher: {sku, value}}`.",
    )


class PartnerGiftCard(_Rule):
    """A partner's gift card for every ``every_spend`` paid within a window."""

    kind: Literal["partner_gift_card"] = Field(description="Gift cards from a partner business.")
    partner: Text = Field(description="The business that honours the gift card.")
    value: ExactDecimal = Field(
        gt=0, allow_inf_nan=False, description="The value of one gift card."
    )
    every_spend: ExactDecimal = Field(
        gt=0, allow_inf_nan=False, description="Qualifying paid spend per gift card."
    )
    window: Literal["lifetime"] | CalendarWindow = Field(
        default="lifetime", description="The period over which spend adds up."
    )
    max_per_window: WholeNumber | None = Field(
        default=None, ge=1, description="At most this many gift cards per window."
    )


class TieredDiscount(_Rule):
    """A percentage off eligible lines, depending on the customer's tier."""

    kind: Literal["tiered_discount"] = Field(description="A discount by tier.")
    discounts: dict[Text, ExactDecimal] = Field(
        min_length=1,
        description="Percent off per tier name, e.g. {silver: 5, gold: 10}.",
    )

    @field_validator("discounts")
    @classmethod
    def _percentages(cls, discounts: dict[str, Decimal]) -> dict[str, Decimal]:
        for tier, percent in discounts.items():
            if not percent.is_finite() or not Decimal(0) < percent <= 100:
                raise ValueError(
                    f"a discount must be more than 0 and at most 100 percent "
                    f"(got {percent} for {tier})"
                )
        return discounts


class BonusPoints(_Rule):
    """Fixed points for a purchase that matches the filter."""

    kind: Literal["bonus_points"] = Field(description="Fixed bonus points.")
    points: WholeNumber = Field(ge=1, description="Points the purchase earns.", examples=[50])
    once_per_customer: StrictBool = Field(
        default=False,
        description="Only the customer's first matching purchase earns them.",
        examples=[True],
    )


class Gift(_Model):
    """Points or a voucher: exactly one of the two."""

    points: WholeNumber | None = Field(
        default=None, ge=1, description="Points given.", examples=[100]
    )
    voucher: VoucherSpec | None = Field(
        default=None,
        description="A voucher given instead of points.",
        examples=[{"sku": "cake-slice", "value": "3.50", "name": "a slice of cake"}],
    )

    @model_validator(mode="after")
    def _points_or_voucher(self) -> Gift:
        if (self.points is None) == (self.voucher is None):
            raise ValueError("give either points or a voucher (exactly one of the two)")
        return self


class Birthday(_Rule):
    """Points or a voucher once a year, in a window around the customer's birthday."""

    kind: Literal["birthday"] = Field(description="A birthday gift.")
    points: WholeNumber | None = Field(
        default=None, ge=1, description="Points given (or give a voucher).", examples=[100]
    )
    voucher: VoucherSpec | None = Field(
        default=None,
        description="A voucher given instead of points.",
        examples=[{"sku": "cake-slice", "value": "3.50", "name": "a slice of cake"}],
    )
    window: Literal["day", "month"] = Field(
        default="day",
        description="The birthday itself (plus or minus days_around) or its whole month.",
        examples=["month"],
    )
    days_around: WholeNumber = Field(
        default=0,
        ge=0,
        le=180,
        description="With window 'day': the window runs this many days either side.",
        examples=[7],
    )
    requires_purchase: StrictBool = Field(
        default=False,
        description=(
            "Give it at the first matching purchase in the window, instead of at the "
            "window's start."
        ),
        examples=[True],
    )

    @model_validator(mode="after")
    def _points_or_voucher(self) -> Birthday:
        if (self.points is None) == (self.voucher is None):
            raise ValueError("give either points or a voucher (exactly one of the two)")
        return self


class SignupBonus(_Rule):
    """Points when the customer joins, or at their first purchase of at least a minimum."""

    kind: Literal["signup_bonus"] = Field(description="A bonus for joining.")
    points: WholeNumber = Field(ge=1, description="Points given.", examples=[250])
    min_first_purchase: ExactDecimal | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description=(
            "Give the points at the first purchase after joining that pays at least this "
            "on the rule's lines (0 for any purchase), instead of at joining."
        ),
        examples=["20.00"],
    )


class Referral(_Rule):
    """A reward for bringing a friend, when the friend first buys."""

    kind: Literal["referral"] = Field(description="A reward for referring a friend.")
    referrer: Gift = Field(
        description="What the customer who referred the friend gets.",
        examples=[{"points": 500}],
    )
    referred: Gift | None = Field(
        default=None,
        description="What the referred friend gets at that purchase, if anything.",
        examples=[{"points": 200}],
    )
    min_paid: ExactDecimal = Field(
        default=Decimal(0),
        ge=0,
        allow_inf_nan=False,
        description="The friend's purchase must pay at least this on the rule's lines.",
        examples=["15.00"],
    )


Rule = Annotated[
    PointsPerSpend
    | EveryNthFree
    | PartnerGiftCard
    | TieredDiscount
    | BonusPoints
    | Birthday
    | SignupBonus
    | Referral,
    Field(discriminator="kind"),
]
"""Any rule, told apart by its ``kind``."""

AnyRule = (
    PointsPerSpend
    | EveryNthFree
    | PartnerGiftCard
    | TieredDiscount
    | BonusPoints
    | Birthday
    | SignupBonus
    | Referral
)
"""The type of a validated rule."""

RULE_KINDS: tuple[type[_Rule], ...] = (
    PointsPerSpend,
    EveryNthFree,
    PartnerGiftCard,
    TieredDiscount,
    BonusPoints,
    Birthday,
    SignupBonus,
    Referral,
)


class RollingWindow(_Model):
    """A window of the last ``days`` x 24 hours."""

    days: WholeNumber = Field(ge=1, description="Length of the window in days.")


def _read_rolling(value: object) -> object:
    if isinstance(value, str):
        match = _ROLLING.match(value)
        if match:
            count = int(match.group(1))
            return {"days": count * 7 if match.group(2).startswith("week") else count}
    return value


DURATION_PATTERN = r"^[0-9]{1,4} (day|days|week|weeks|month|months|year|years)$"

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description="A length of time: 'N days', 'N weeks', 'N months' or 'N years'.",
        examples=["6 months"],
    ),
]
"""A duration as written: months and years are calendar months in the program's zone."""


class TierLevel(_Model):
    """One level of the tiers, reached at ``at_least`` spend or purchases."""

    name: Text = Field(description="The tier's name, e.g. 'gold'.")
    at_least: ExactDecimal = Field(
        ge=0,
        allow_inf_nan=False,
        description="Spend (currency) or number of purchases needed to reach the level.",
    )
    points_multiplier: ExactDecimal = Field(
        default=Decimal(1),
        gt=0,
        allow_inf_nan=False,
        description="Everything points rules earn at this level is multiplied by this.",
    )


class Tiers(_Model):
    """The program's status levels and how a customer qualifies for them."""

    qualify_by: Literal["spend", "purchases"] = Field(
        description="Paid spend or number of purchases."
    )
    window: Annotated[
        Literal["lifetime"] | CalendarWindow | RollingWindow, BeforeValidator(_read_rolling)
    ] = Field(
        description="'lifetime', a calendar window, or a rolling one such as '365 days'.",
    )
    levels: tuple[TierLevel, ...] = Field(min_length=1, description="Levels, lowest first.")
    keep_for: Duration | None = Field(
        default=None,
        description=(
            "Keep a level at least this long after it was reached (its first purchase at "
            "the level), even when the window would drop it; reaching it again restarts it."
        ),
        examples=["12 months", "90 days"],
    )

    def level_names(self) -> tuple[str, ...]:
        """The names of the levels, lowest first."""
        return tuple(level.name for level in self.levels)


class PointsSettings(_Model):
    """What points are called, what one is worth, and how they wait, expire and are owed."""

    name: Text = Field(default="points", description="What points are called, e.g. 'stars'.")
    value: ExactDecimal = Field(
        default=Decimal(0),
        ge=0,
        allow_inf_nan=False,
        description="What one point costs the business, in currency, for cost reports.",
    )
    earn_on: Literal["paid", "gross"] = Field(
        default="paid",
        description="Points on what was paid after discounts (paid), or before them (gross).",
        examples=["paid"],
    )
    pending_for: Duration | None = Field(
        default=None,
        description="Points become spendable this long after the purchase (a return period).",
        examples=["14 days"],
    )
    expire_after: Duration | None = Field(
        default=None,
        description="Points expire this long after they were earned.",
        examples=["12 months"],
    )
    expire_round_up_to: Literal["month", "quarter", "year"] | None = Field(
        default=None,
        description="Move each expiry to the end of its calendar month, quarter or year.",
        examples=["month"],
    )
    expire_on_inactivity: Duration | None = Field(
        default=None,
        description="All points expire after this long without a purchase.",
        examples=["18 months"],
    )
    negative_balance: Literal["allow", "clamp"] = Field(
        default="allow",
        description=(
            "When a refund takes back points already spent: allow a debt, or clamp the "
            "balance at 0 and write the rest off."
        ),
        examples=["clamp"],
    )


class Availability(_Model):
    """The local dates on which a catalogue reward can be redeemed (inclusive)."""

    starts: LocalDate | None = Field(
        default=None, description="First local date it can be redeemed.", examples=["2026-04-01"]
    )
    ends: LocalDate | None = Field(
        default=None, description="Last local date it can be redeemed.", examples=["2026-06-30"]
    )


class CatalogueReward(_Model):
    """Something customers can spend points on."""

    id: Slug = Field(description="A unique name for the reward.", examples=["free-drink"])
    name: Text = Field(description="What customers see.", examples=["Any drink"])
    cost: WholeNumber = Field(ge=1, description="Points it costs.", examples=[150])
    value: ExactDecimal = Field(
        ge=0,
        allow_inf_nan=False,
        description="What the reward costs the business, in currency, for cost reports.",
        examples=["4.50"],
    )
    available: Availability | None = Field(
        default=None,
        description="When it can be redeemed; always when absent.",
        examples=[{"starts": "2026-04-01", "ends": "2026-06-30"}],
    )


class Program(_Model):
    """A complete reward program as a marketer wrote it."""

    program: Slug = Field(description="The program's id, e.g. 'coffee-club'.")
    name: Text = Field(description="The program's name as customers see it.")
    currency: Text = Field(description="ISO 4217 code, e.g. USD.")
    timezone: Text = Field(description="IANA time zone, e.g. America/New_York.")
    points: PointsSettings = Field(
        default_factory=PointsSettings, description="What points are called and worth."
    )
    tiers: Tiers | None = Field(default=None, description="Status levels, if any.")
    rules: tuple[Rule, ...] = Field(default=(), description="The rules, in file order.")
    rewards: tuple[CatalogueReward, ...] = Field(
        default=(),
        description="The catalogue: what points can be spent on.",
        examples=[[{"id": "free-drink", "name": "Any drink", "cost": 150, "value": "4.50"}]],
    )

    _currency: Currency = PrivateAttr()
    _zone: ZoneInfo = PrivateAttr()

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        currency(code)
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # A directory of the zone database ("America") or an over-long name reaches
            # the file system as an OSError; both are just "not a zone".
            raise ValueError(
                f"'{name}' is not an IANA time zone (for example Europe/Paris, America/New_York)"
            ) from None
        return name

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Program:
        context = info.context if isinstance(info.context, dict) else {}
        if not context.get(SEMANTICS_DEFERRED):
            problems = list(semantic_problems(self))
            if problems:
                raise ValueError(
                    "; ".join(f"{format_path(path)}: {message}" for path, message in problems)
                )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._currency = currency(self.currency)
        self._zone = ZoneInfo(self.timezone)

    @property
    def money(self) -> Currency:
        """The program's currency with its minor unit."""
        return self._currency

    @property
    def zone(self) -> ZoneInfo:
        """The program's time zone."""
        return self._zone

    def rule(self, rule_id: str) -> AnyRule:
        """The rule with this id.

        Raises:
            KeyError: no rule has that id.
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


IndexedRules = Sequence[tuple[int, AnyRule]]
"""Rules with their position in the file (a partly valid file keeps only the valid ones)."""


def _money_fields(
    tiers: Tiers | None, rules: IndexedRules
) -> Iterator[tuple[tuple[PathItem, ...], Decimal]]:
    if tiers is not None and tiers.qualify_by == "spend":
        for index, level in enumerate(tiers.levels):
            yield ("tiers", "levels", index, "at_least"), level.at_least
    for index, rule in rules:
        base: tuple[PathItem, ...] = ("rules", index)
        if rule.when.min_total is not None:
            yield (*base, "when", "min_total"), rule.when.min_total
        if isinstance(rule, PointsPerSpend):
            yield (*base, "per"), rule.per
            for position, multiplier in enumerate(rule.multipliers):
                if multiplier.when.min_total is not None:
                    path = (*base, "multipliers", position, "when", "min_total")
                    yield path, multiplier.when.min_total
        elif isinstance(rule, PartnerGiftCard):
            yield (*base, "value"), rule.value
            yield (*base, "every_spend"), rule.every_spend
        elif isinstance(rule, EveryNthFree) and isinstance(rule.reward, VoucherReward):
            yield (*base, "reward", "voucher", "value"), rule.reward.voucher.value
        elif isinstance(rule, Birthday) and rule.voucher is not None:
            yield (*base, "voucher", "value"), rule.voucher.value
        elif isinstance(rule, SignupBonus) and rule.min_first_purchase is not None:
            yield (*base, "min_first_purchase"), rule.min_first_purchase
        elif isinstance(rule, Referral):
            yield (*base, "min_paid"), rule.min_paid
            for side in ("referrer", "referred"):
                gift = getattr(rule, side)
                if gift is not None and gift.voucher is not None:
                    yield (*base, side, "voucher", "value"), gift.voucher.value
        for position, limit in enumerate(rule.limit):
            if limit.value is not None:
                yield (*base, "limit", position, "value"), limit.value


def _filters(rules: IndexedRules) -> Iterator[tuple[tuple[PathItem, ...], Filter]]:
    for index, rule in rules:
        yield ("rules", index, "when"), rule.when
        if isinstance(rule, PointsPerSpend):
            for position, multiplier in enumerate(rule.multipliers):
                yield ("rules", index, "multipliers", position, "when"), multiplier.when


def semantic_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """Yield ``(path, message)`` for every cross-field mistake in a program."""
    yield from semantic_problems_of_parts(
        program.currency, program.tiers, list(enumerate(program.rules))
    )
    yield from _lifecycle_problems(program)
    yield from _group_problems(program)


def gives_points(rule: AnyRule) -> bool:
    """Whether the rule gives points (rather than money rewards)."""
    if isinstance(rule, PointsPerSpend | BonusPoints | SignupBonus):
        return True
    if isinstance(rule, Birthday):
        return rule.points is not None
    if isinstance(rule, Referral):
        return rule.referrer.points is not None
    return False


def rewards_a_purchase(rule: AnyRule) -> bool:
    """Whether the rule rewards the purchase it looks at (so it can compete in a group)."""
    if isinstance(rule, Birthday):
        return rule.requires_purchase
    if isinstance(rule, SignupBonus):
        return rule.min_first_purchase is not None
    return not isinstance(rule, Referral)


def _group_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    groups: dict[str, list[int]] = {}
    for index, rule in enumerate(program.rules):
        if rule.exclusive_group is not None:
            groups.setdefault(rule.exclusive_group, []).append(index)
    if program.points.value != 0:
        return
    for group, members in groups.items():
        kinds = {gives_points(program.rules[index]) for index in members}
        if kinds == {True, False}:
            yield (
                ("rules", members[-1], "exclusive_group"),
                f"the exclusive group '{group}' mixes rules that give points with rules that "
                "give money, but points.value is 0, so their worth cannot be compared; set "
                "points.value (what one point costs the business)",
            )


def _rule_shape_problems(index: int, rule: AnyRule) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    base: tuple[PathItem, ...] = ("rules", index)
    points_rule = gives_points(rule)
    for position, limit in enumerate(rule.limit):
        if limit.points is not None and not points_rule:
            yield (
                (*base, "limit", position, "points"),
                f"the rule '{rule.id}' gives no points; limit its rewards or value instead",
            )
        if limit.value is not None and points_rule:
            yield (
                (*base, "limit", position, "value"),
                f"the rule '{rule.id}' gives points; limit its points or rewards instead",
            )
    if rule.exclusive_group is not None and not rewards_a_purchase(rule):
        yield (
            (*base, "exclusive_group"),
            f"a {rule.kind} rule that does not reward the purchase itself cannot compete in "
            "an exclusive group; only rules that reward a purchase can",
        )
    dated = (isinstance(rule, Birthday) and not rule.requires_purchase) or (
        isinstance(rule, SignupBonus) and rule.min_first_purchase is None
    )
    if dated and not rule.when.is_empty:
        needs = "requires_purchase: true" if isinstance(rule, Birthday) else "min_first_purchase"
        yield (
            (*base, "when"),
            f"the rule gives at a date, not at a purchase, so it has no purchase to filter; "
            f"remove 'when' or set {needs}",
        )
    if isinstance(rule, Birthday) and rule.window == "month" and rule.days_around:
        yield (
            (*base, "days_around"),
            "days_around widens a 'day' window; the 'month' window is the whole birthday month",
        )


def _lifecycle_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    points = program.points
    if points.expire_round_up_to is not None and points.expire_after is None:
        yield (
            ("points", "expire_round_up_to"),
            "expire_round_up_to rounds the expiry that expire_after sets; set expire_after too",
        )
    money = currency(program.currency)
    seen: dict[str, int] = {}
    for index, reward in enumerate(program.rewards):
        if reward.id in seen:
            yield (
                ("rewards", index, "id"),
                f"the reward id '{reward.id}' is already used by rewards[{seen[reward.id]}]",
            )
        seen.setdefault(reward.id, index)
        if decimal_places(reward.value) > money.exponent:
            yield (
                ("rewards", index, "value"),
                f"{reward.value} has more decimal places than {money.code} has "
                f"({money.exponent}); write it in whole {money.code} minor units",
            )
        window = reward.available
        if window and window.starts and window.ends and window.ends < window.starts:
            yield (
                ("rewards", index, "available", "ends"),
                f"the reward stops being available ({window.ends}) before it starts "
                f"({window.starts})",
            )


def semantic_problems_of_parts(
    currency_code: str | None,
    tiers: Tiers | None,
    rules: IndexedRules,
    *,
    tiers_known: bool = True,
) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """The cross-field checks on the parts of a program that are valid on their own.

    The loader uses this when a file has other errors too, so that every problem is
    reported in one run. ``currency_code`` None (not a valid currency) skips the money
    checks; ``tiers_known`` False (the tiers themselves are invalid) skips the checks of
    tier names.
    """
    seen: dict[str, int] = {}
    for index, rule in rules:
        if rule.id in seen:
            yield (
                ("rules", index, "id"),
                f"the rule id '{rule.id}' is already used by rules[{seen[rule.id]}]; "
                "give every rule its own id",
            )
        else:
            seen[rule.id] = index
        if rule.starts is not None and rule.ends is not None and rule.ends < rule.starts:
            yield (
                ("rules", index, "ends"),
                f"the rule ends ({rule.ends}) before it starts ({rule.starts})",
            )
        yield from _rule_shape_problems(index, rule)
    if currency_code is not None:
        money = currency(currency_code)
        for path, amount in _money_fields(tiers, rules):
            if decimal_places(amount) > money.exponent:
                yield (
                    path,
                    f"{amount} has more decimal places than {money.code} has "
                    f"({money.exponent}); write it in whole {money.code} minor units",
                )
    tier_names: tuple[str, ...] = ()
    if tiers is not None:
        tier_names = tiers.level_names()
        yield from _tier_problems(tiers)
    if not tiers_known:
        return
    for path, rule_filter in _filters(rules):
        for position, name in enumerate(rule_filter.tiers or ()):
            if name not in tier_names:
                yield (*path, "tiers", position), _unknown_tier(name, tier_names)
    for index, rule in rules:
        if isinstance(rule, TieredDiscount):
            for name in rule.discounts:
                if name not in tier_names:
                    yield ("rules", index, "discounts", name), _unknown_tier(name, tier_names)


def _tier_problems(tiers: Tiers) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    names: set[str] = set()
    for index, level in enumerate(tiers.levels):
        if level.name in names:
            yield ("tiers", "levels", index, "name"), f"the tier '{level.name}' is defined twice"
        names.add(level.name)
        if tiers.qualify_by == "purchases" and level.at_least != level.at_least.to_integral_value():
            yield (
                ("tiers", "levels", index, "at_least"),
                f"a number of purchases must be a whole number (got {level.at_least})",
            )
        if index > 0 and level.at_least <= tiers.levels[index - 1].at_least:
            yield (
                ("tiers", "levels", index, "at_least"),
                f"levels must rise: '{level.name}' needs {level.at_least}, which is not more "
                f"than the {tiers.levels[index - 1].at_least} of "
                f"'{tiers.levels[index - 1].name}' below it",
            )


def _unknown_tier(name: str, known: tuple[str, ...]) -> str:
    # Escaped: a tier named with a look-alike letter (a Cyrillic o in 'gold') must not read as
    # the valid name it imitates.
    shown = escaped(name, ascii_only=not name.isascii())
    if not known:
        return f"the tier '{shown}' is named, but the program defines no tiers"
    return f"there is no tier '{shown}'; the tiers are: {', '.join(known)}"
