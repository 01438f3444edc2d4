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
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
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
    Multiplier,
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
from rewardrules.text import Noun

__all__ = [
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
    "IndexedRules",
    "Limit",
    "LimitPeriod",
    "Multiplier",
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
    """A window of the last ``days`` x 24 hours."""

    days: WholeNumber = Field(
        ge=1, le=MOST_DAYS, description="Length of the window in days (at most 100 years)."
    )


def _read_rolling(value: object) -> object:
    if isinstance(value, str):
        match = _ROLLING.match(value)
        if match:
            count = int(match.group(1))
            return {"days": count * 7 if match.group(2).startswith("week") else count}
    return value


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

    @model_validator(mode="after")
    def _name_knows_its_singular(self) -> PointsSettings:
        # Every reason and total writes counted(n, name): the name carries its singular
        # (a Noun is a str) so that no layer needs to be handed both.
        object.__setattr__(self, "name", Noun(self.name, self.singular))
        return self


class RefundSettings(_Model):
    """How long after a purchase it can still be refunded."""

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

    program: Slug = Field(description="The program's id, e.g. 'coffee-club'.")
    name: Text = Field(description="The program's name as customers see it.")
    currency: Text = Field(description="ISO 4217 code, e.g. USD.")
    timezone: Text = Field(description="IANA time zone, e.g. America/New_York.")
    points: PointsSettings = Field(
        default_factory=PointsSettings, description="What points are called and worth."
    )
    tiers: Tiers | None = Field(default=None, description="Status levels, if any.")
    refunds: RefundSettings = Field(
        default_factory=RefundSettings, description="How late a purchase can be refunded."
    )
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
