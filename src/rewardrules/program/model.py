"""The program: its settings, tiers, catalogue and rules, as validated, immutable pydantic models.

A rule is a discriminated union on ``kind``; each kind is its own model
(:mod:`rewardrules.program._rule_kinds`, on the keys every rule has from
:mod:`rewardrules.program._rule_base`), and its evaluation lives in ``rewardrules.kinds``. Checks
that
involve several fields or several rules (tier names a rule mentions, money finer than the
currency, dates in the wrong order) live in :mod:`rewardrules.program._consistency`: the model runs
:func:`semantic_problems` after validation and the loader runs it itself so that each problem
can point at its own line. Every model and check is importable from here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from rewardrules._types import (
    ExactDecimal,
    LocalDate,
    OutOfRangeError,
    Slug,
    Text,
    WholeNumber,
)
from rewardrules._zones import check_zone_name, zone
from rewardrules.errors import format_path
from rewardrules.money import Currency, currency
from rewardrules.program._consistency import (
    IndexedRules,
    semantic_problems,
    semantic_problems_of_parts,
)
from rewardrules.program._facts import Checked, Schema
from rewardrules.program._rule_base import (
    WEEKDAYS,
    CalendarWindow,
    Filter,
    Limit,
    LimitPeriod,
    Weekday,
    _Model,
    _Rule,
)
from rewardrules.program._rule_kinds import (
    RULE_KINDS,
    AnyRule,
    Birthday,
    BonusPoints,
    EveryNthFree,
    Gift,
    GiftItem,
    Multiplier,
    OrderDiscount,
    PartnerGiftCard,
    PercentOff,
    PointsPerSpend,
    Referral,
    Rule,
    SignupBonus,
    TieredDiscount,
    VoucherReward,
    VoucherSpec,
    gives_points,
    rewards_a_purchase,
)
from rewardrules.program._unions import WORDS, one_of
from rewardrules.text import Noun

__all__ = [
    "ACTIVITY_KINDS",
    "DURATION_PATTERN",
    "RULE_KINDS",
    "SEMANTICS_DEFERRED",
    "WEEKDAYS",
    "AnyRule",
    "Availability",
    "Birthday",
    "BonusPoints",
    "CalendarWindow",
    "CatalogueReward",
    "Duration",
    "EveryNthFree",
    "Filter",
    "Gift",
    "GiftItem",
    "Inactivity",
    "IndexedRules",
    "Limit",
    "LimitPeriod",
    "Multiplier",
    "OrderDiscount",
    "PartnerGiftCard",
    "PercentOff",
    "PointsPerSpend",
    "PointsSettings",
    "Program",
    "Referral",
    "RefundSettings",
    "RollingWindow",
    "Rule",
    "SignupBonus",
    "TierLevel",
    "TieredDiscount",
    "Tiers",
    "VoucherReward",
    "VoucherSpec",
    "Weekday",
    "gives_points",
    "program_model",
    "rewards_a_purchase",
    "semantic_problems",
    "semantic_problems_of_parts",
]

SEMANTICS_DEFERRED = "rewardrules.defer_semantic_checks"
"""Validation context key: the loader runs :func:`semantic_problems` itself, with locations."""

_ROLLING = re.compile(r"^ *([0-9]+) *(day|days|week|weeks) *$")


MOST_OF_UNIT: Final = {"day": 36_500, "week": 5_218, "month": 1_200, "year": 100}
"""The longest duration of each unit: 100 years, so that an event of 2099 plus a duration
stays a date (docs/rule-files.md)."""
MOST_DAYS: Final = MOST_OF_UNIT["day"]


class RollingWindow(_Model):
    """A window of the last ``days`` x 24 hours.

    Written as text, ``365 days`` or ``52 weeks``, or as a mapping ``{days: 365}``.
    """

    reference_title: ClassVar[str] = "`tiers.window`: a rolling window"

    days: WholeNumber = Field(
        ge=1,
        le=MOST_DAYS,
        description="Length of the window in days (at most 100 years).",
        examples=[365],
    )


def _read_rolling(value: object) -> object:
    """Text such as '365 days' or '52 weeks' as the rolling window it names.

    Text that names no window of 1 to 100 years stays text, so that the window's union says
    what the value may be, rather than a bound of ``days`` the author never wrote.
    """
    if isinstance(value, str):
        match = _ROLLING.match(value)
        if match:
            count = int(match.group(1))
            days = count * 7 if match.group(2).startswith("week") else count
            if 1 <= days <= MOST_DAYS:
                return {"days": days}
    return value


_ROLLING_TEXT: Final = r"^\s*0*[1-9][0-9]*\s*(?:days?|weeks?)\s*$"
"""A rolling window written as text, for the JSON Schema: ``365 days``, ``52 weeks``."""


def _rolling_window_text(field: Schema) -> None:
    field["anyOf"] = [*field["anyOf"], {"type": "string", "pattern": _ROLLING_TEXT}]


def _currency_code(field: Schema) -> None:
    field["pattern"] = "^[A-Z]{3}$"


DURATION_PATTERN = r"^[0-9]{1,5} (day|days|week|weeks|month|months|year|years)$"


def _bounded_duration(text: str) -> str:
    count, unit = text.split(" ")
    unit = unit.removesuffix("s")
    most = MOST_OF_UNIT[unit]
    if int(count) > most:
        longest = "100 years" if unit == "year" else f"{most} {unit}s (100 years)"
        raise OutOfRangeError(f"must be at most {longest} (got '{text}')")
    return text


Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description=(
            "A length of time: 'N days', 'N weeks', 'N months' or 'N years', at most 100 "
            "years (36500 days, 5218 weeks, 1200 months)."
        ),
        examples=["6 months"],
    ),
    AfterValidator(_bounded_duration),
]
"""A duration as written, at most 100 years: months and years are calendar months in the
program's zone."""

# The rule kinds come before this module's types: a kind's field of one of them is
# resolved here, once it is defined.
Referral.model_rebuild(_types_namespace={"Duration": Duration})


ACTIVITY_KINDS: Final = ("purchase", "redemption", "referral")
"""What can count as activity for ``expire_on_inactivity``, in the order the docs list it."""

ActivityKind = Literal["purchase", "redemption", "referral"]


class Inactivity(_Model):
    """When all points expire for want of activity, and what counts as activity.

    Written as a duration alone, ``12 months`` (purchases count), or as a mapping
    ``{after: 12 months, activity: [purchase, redemption]}``. A purchase refunded in full
    stops counting (docs/lifecycle.md).
    """

    reference_title: ClassVar[str] = "`points.expire_on_inactivity`: the long form"

    after: Duration = Field(description="All points expire after this long without activity.")
    activity: tuple[ActivityKind, ...] = Field(
        default=("purchase",),
        min_length=1,
        description=(
            "What keeps points alive: 'purchase' (a purchase not refunded in full), "
            "'redemption' (an accepted redemption), 'referral' (a referrer's reward for a "
            "friend's purchase). Default: purchases only."
        ),
        examples=[["purchase", "redemption"]],
    )

    @field_validator("activity")
    @classmethod
    def _once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({kind for kind in value if value.count(kind) > 1})
        if repeated:
            raise ValueError(f"names '{repeated[0]}' more than once; list each kind once")
        return value


class TierLevel(_Model):
    """One level of the tiers, reached at ``at_least`` spend or purchases."""

    reference_title: ClassVar[str] = "`tiers.levels`: one level"

    name: Text = Field(description="The tier's name, e.g. 'gold'.", examples=["gold", "silver"])
    at_least: ExactDecimal = Field(
        ge=0,
        allow_inf_nan=False,
        description="Spend (currency) or number of purchases needed to reach the level.",
        examples=["500.00", 100],
    )
    points_multiplier: ExactDecimal = Field(
        default=Decimal(1),
        ge=0,
        allow_inf_nan=False,
        description=(
            "Everything points rules earn at this level is multiplied by this (at least 0; "
            "0 earns none at this level)."
        ),
        examples=["1.5"],
    )
    points_never_expire: bool = Field(
        default=False,
        description=(
            "Points earned at a purchase made at this level never expire: neither "
            "points.expire_after nor points.expire_on_inactivity takes them, even after the "
            "customer leaves the level. Points earned at other levels expire as usual."
        ),
        examples=[True],
    )


class Tiers(_Model):
    """The program's status levels and how a customer qualifies for them."""

    reference_title: ClassVar[str] = "`tiers`"

    qualify_by: Literal["spend", "purchases", "points"] = Field(
        description=(
            "Paid spend, number of purchases, or points earned at purchases (after the "
            "tier's multiplier, less what refunds take back; not gifts at dates, referrers' "
            "rewards or redemptions)."
        ),
        examples=["spend", "purchases", "points"],
    )
    window: Annotated[
        Annotated[Literal["lifetime", CalendarWindow], Tag(WORDS)]
        | Annotated[RollingWindow, Tag("RollingWindow")],
        one_of(
            ("lifetime", *get_args(CalendarWindow)),
            (RollingWindow,),
            (
                f"a rolling window of 1 to {MOST_DAYS} days (100 years) such as '365 days' "
                "or {days: 365}",
            ),
        ),
        BeforeValidator(_read_rolling),
    ] = Field(
        description="'lifetime', a calendar window, or a rolling one such as '365 days'.",
        json_schema_extra=Checked(schema=_rolling_window_text),
        examples=["365 days", "calendar_year", "lifetime"],
    )
    levels: tuple[TierLevel, ...] = Field(
        min_length=1,
        description="Levels, lowest first.",
        examples=[
            [
                {"name": "silver", "at_least": "100.00"},
                {"name": "gold", "at_least": "500.00", "points_multiplier": "1.5"},
            ]
        ],
    )
    keep_for: Duration | None = Field(
        default=None,
        description=(
            "Keep a level at least this long after it was reached (its first purchase at "
            "the level), even when the window would drop it; reaching it again restarts it."
        ),
        examples=["12 months", "90 days"],
    )
    keep_until: Literal["end_of_year", "end_of_next_year"] | None = Field(
        default=None,
        description=(
            "Keep a level until the end of the calendar year (in the program's time zone) "
            "in which it was reached (its first purchase at the level), or of the year after "
            "it, even when the window would drop it; reaching it again moves the date. Not "
            "with keep_for."
        ),
        examples=["end_of_next_year"],
    )

    def level_names(self) -> tuple[str, ...]:
        """The names of the levels, lowest first."""
        return tuple(level.name for level in self.levels)


class PointsSettings(_Model):
    """What points are called, what one is worth, and how they wait, expire and are owed."""

    reference_title: ClassVar[str] = "`points`"

    name: Text = Field(
        default="points",
        description="What points are called, e.g. 'stars'.",
        examples=["stars", "miles"],
    )
    singular: Text | None = Field(
        default=None,
        description=(
            "What one point is called, e.g. 'star', where 'name' less a final 's' is wrong "
            "('kudos', 'Punkt' for 'Punkte'); by default 'name' less a final 's'."
        ),
        examples=["star"],
    )
    value: ExactDecimal = Field(
        default=Decimal(0),
        ge=0,
        allow_inf_nan=False,
        description="What one point costs the business, in currency, for cost reports.",
        examples=["0.01"],
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
    expire_on_inactivity: Duration | Inactivity | None = Field(
        default=None,
        description=(
            "All points expire after this long without activity: a duration (purchases "
            "count), or {after, activity} naming what counts."
        ),
        examples=["18 months", {"after": "18 months", "activity": ["purchase", "redemption"]}],
    )
    negative_balance: Literal["allow", "clamp"] = Field(
        default="allow",
        description=(
            "When a refund takes back points already spent: allow a debt, or clamp the "
            "balance at 0 and write the rest off."
        ),
        examples=["clamp"],
    )

    def inactivity(self) -> Inactivity | None:
        """``expire_on_inactivity`` in its long form (a duration alone counts purchases)."""
        value = self.expire_on_inactivity
        if isinstance(value, str):
            return Inactivity(after=value)
        return value

    @model_validator(mode="after")
    def _name_knows_its_singular(self) -> PointsSettings:
        # Every reason and total writes counted(n, name): the name carries its singular
        # (a Noun is a str) so that no layer needs to be handed both.
        object.__setattr__(self, "name", Noun(self.name, self.singular))
        return self


class RefundSettings(_Model):
    """How long after a purchase it can still be refunded."""

    reference_title: ClassVar[str] = "`refunds`"

    within: Duration | None = Field(
        default=None,
        description=(
            "A refund more than this long after its purchase is refused; purchases older "
            "than this are then forgotten by the saved state. Absent: any earlier purchase "
            "can be refunded, and the state keeps every purchase."
        ),
        examples=["90 days"],
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
    cash: ExactDecimal | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Money the customer pays beside the points (a points-plus-cash reward), per unit "
            "redeemed. It is not points: the redemption's value in cost reports is the "
            "reward's value less this cash, never below 0. Absent: points only."
        ),
        examples=["2.00"],
    )
    tiers: tuple[Text, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Only customers at one of these tiers when they redeem may redeem it; anyone "
            "else's redemption is rejected. Absent: every customer."
        ),
        examples=[["gold"]],
    )
    per_customer: WholeNumber | None = Field(
        default=None,
        ge=1,
        description=(
            "The most units of it one customer may redeem, ever (a redemption's quantity "
            "counts; a cancelled redemption gives its units back). Absent: no limit."
        ),
        examples=[1],
    )


class Program(_Model):
    """A complete reward program as a marketer wrote it."""

    reference_title: ClassVar[str] = "Top level"

    program: Slug = Field(
        description="The program's id, e.g. 'coffee-club'.", examples=["coffee-club"]
    )
    name: Text = Field(
        description="The program's name as customers see it.", examples=["Coffee Club"]
    )
    currency: Text = Field(
        description="ISO 4217 code, e.g. USD.",
        json_schema_extra=Checked(
            limit="an active ISO 4217 code, in capitals", schema=_currency_code
        ),
        examples=["USD", "EUR", "JPY"],
    )
    timezone: Text = Field(
        description="IANA time zone, e.g. America/New_York.",
        json_schema_extra=Checked(
            limit="a canonical IANA zone, a zone.tab place or UTC; not localtime, posix/, "
            "right/ nor an old name such as US/Eastern (see rule-files.md)"
        ),
        examples=["America/New_York", "Europe/Berlin"],
    )
    points: PointsSettings = Field(
        default_factory=PointsSettings,
        description="What points are called and worth.",
        examples=[{"name": "stars", "value": "0.01"}],
    )
    tiers: Tiers | None = Field(
        default=None,
        description="Status levels, if any.",
        examples=[
            {
                "qualify_by": "spend",
                "window": "365 days",
                "levels": [
                    {"name": "silver", "at_least": "100.00"},
                    {"name": "gold", "at_least": "500.00", "points_multiplier": "1.5"},
                ],
            }
        ],
    )
    refunds: RefundSettings = Field(
        default_factory=RefundSettings,
        description="How late a purchase can be refunded.",
        examples=[{"within": "90 days"}],
    )
    rules: tuple[Rule, ...] = Field(
        default=(),
        description="The rules, in file order.",
        examples=[
            [
                {"id": "coffee-stars", "kind": "points_per_spend", "points": "2"},
                {"id": "member-discount", "kind": "tiered_discount", "discounts": {"gold": 10}},
            ]
        ],
    )
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
        check_zone_name(name)
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
        self._zone = zone(self.timezone)

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


def program_model(*kinds: type[_Rule]) -> type[Program]:
    """A :class:`Program` whose ``rules`` also take rules of ``kinds`` (each a model with a
    ``kind`` literal): for a kind of your own, run with a kind table that lists its spec
    (``compile_program(program, kinds={**KINDS, Model: SPEC})``).
    """
    union: Any = AnyRule
    for kind in kinds:
        union = union | kind
    rule: Any = Annotated[union, Field(discriminator="kind")]
    model: type[Program] = create_model(
        "Program",
        __base__=Program,
        __doc__=Program.__doc__,
        rules=(tuple[rule, ...], Field(default=(), description="The rules, in file order.")),
    )
    return model
