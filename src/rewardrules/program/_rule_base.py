"""What every rule has, whatever its kind: the keys of ``_Rule``, its filter and its limits.

``_Model`` is the base of every model of a program (frozen, unknown keys refused); ``_Rule``
keeps its name because the reference keys its examples on it. The kinds themselves are in
:mod:`rewardrules.program._rule_kinds`; :mod:`rewardrules.program.model` re-exports both.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rewardrules._types import ExactDecimal, LocalDate, Slug, Text, WholeNumber
from rewardrules.errors import PathItem
from rewardrules.program._facts import Checked, Schema

if TYPE_CHECKING:  # the kinds' models are built on this module
    from rewardrules.program._rule_kinds import VoucherSpec

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


def _weekdays_in_any_case(field: Schema) -> None:
    any_case = "|".join("".join(f"[{c.upper()}{c}]" for c in day) for day in WEEKDAYS)
    for branch in field["anyOf"]:
        if branch.get("type") == "array":
            branch["items"] = {
                "anyOf": [
                    {"type": "string", "enum": list(WEEKDAYS)},
                    {"type": "string", "pattern": f"^(?:{any_case})$"},
                ]
            }


def _one_limit_or_a_list(field: Schema) -> None:
    # The JSON Schema publishes both forms as a union, which rewardrules.rulefiles.schema
    # then publishes by JSON type.
    one = field.pop("items")
    del field["type"]
    field["anyOf"] = [one, {"type": "array", "items": one}]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reference_title: ClassVar[str | None] = None
    """The heading of the model's section in the rule reference (None: its kind or class)."""


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

    reference_title: ClassVar[str] = "`when`: the filter"

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
        description=(
            "Only purchases whose gross total (before rewards) is at least this; "
            "`min_total_of` says of which lines."
        ),
        examples=["20.00"],
    )
    min_total_of: Literal["all", "eligible"] | None = Field(
        default=None,
        description=(
            "Which lines `min_total` adds up: `all` (the default) every line of the purchase, "
            "`eligible` only the lines this filter's categories, skus and exclusions let "
            "through (a minimum order without delivery, say)."
        ),
        examples=["eligible"],
    )
    stores: tuple[Text, ...] | None = Field(
        default=None, description="Only purchases made in one of these stores.", examples=[["s1"]]
    )
    weekdays: Annotated[tuple[Weekday, ...] | None, BeforeValidator(_lowercase_weekdays)] = Field(
        default=None,
        description="Only purchases made on these days of the week (local time).",
        examples=[["saturday", "sunday"]],
        json_schema_extra=Checked(schema=_weekdays_in_any_case),
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
    payment_methods: tuple[Text, ...] | None = Field(
        default=None,
        description=(
            "Only the share of each line paid by one of these payment methods (a purchase's "
            "`payments`); a purchase that records no payments gives nothing. On a "
            "points_per_spend rule's own `when` only."
        ),
        examples=[["stored_value"]],
    )

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every purchase and every line through."""
        return all(getattr(self, name) is None for name in type(self).model_fields)


LimitPeriod = Literal["purchase", "day", "week", "month", "year", "lifetime"]


class Limit(_Model):
    """At most so many points, rewards or so much value from one rule per period.

    Give ``per`` and exactly one of ``points``, ``rewards`` or ``value``. A limit of points is for a
    rule that gives points; a limit of value, for a rule that gives money (discounts, free
    units, vouchers, gift cards).
    """

    reference_title: ClassVar[str] = "`limit`: one limit"

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


Below = tuple[PathItem, ...]
"""A path below a rule, e.g. ``("multipliers", 0, "when")``."""


@dataclass(frozen=True, slots=True)
class NestedFilter:
    """A filter inside a rule besides its ``when`` (a multiplier's), and what to call its owner."""

    path: Below
    """The path of the filter itself, ending in ``when``."""
    when: Filter
    owner: str
    """What holds the filter, in words: "multiplier"."""


@dataclass(frozen=True, slots=True)
class RuleParts:
    """What a rule of one kind holds besides the keys every rule has.

    The checks of a whole program (money finer than the currency, tier names, lint
    warnings about filters and vouchers) read a rule's kind-specific parts only here. No
    field has a default: a new kind says each, or its model does not type-check.
    """

    filters: tuple[NestedFilter, ...]
    """Filters besides ``when``."""
    vouchers: tuple[tuple[Below, VoucherSpec], ...]
    """Every voucher it gives, at the path of its ``voucher``."""
    amounts: tuple[tuple[Below, Decimal], ...]
    """Amounts of money it writes, besides its filters' ``min_total``, its vouchers'
    values and its limits (which every rule's checks read)."""
    tiers: tuple[tuple[Below, str], ...]
    """Tier names it names besides its filters' ``tiers``."""
    given_at_a_date: tuple[str, str] | None
    """For a rule that gives at a date, not at a purchase: when it gives (in words), and
    the key that ties it to a purchase instead. None for a rule that gives at a purchase."""
    rewards_instead: str | None
    """For a rule that rewards neither the purchase in hand nor at a date: whom it rewards
    and for what, in words ("the referrer for a friend's purchase"). None otherwise."""
    problems: tuple[tuple[Below, str], ...]
    """Mistakes of its own keys that only make sense together, with the path and words."""


def _one_or_more(value: object) -> object:
    if isinstance(value, dict):
        return [value]
    return value


class _Rule(_Model):
    id: Slug = Field(
        description="A unique name for the rule, e.g. 'coffee-stars'.", examples=["coffee-stars"]
    )
    description: str | None = Field(
        default=None,
        description="What the rule is for, in words.",
        examples=["Stars for every dollar spent", "Double stars on coffee"],
    )
    starts: LocalDate | None = Field(
        default=None,
        description="First local date on which the rule applies (inclusive).",
        examples=["2026-03-01"],
    )
    ends: LocalDate | None = Field(
        default=None,
        description="Last local date on which the rule applies (inclusive).",
        examples=["2026-03-31", "2026-12-31"],
    )
    when: Filter = Field(
        default_factory=Filter,
        description="Which purchases and lines the rule looks at.",
        examples=[{"categories": ["coffee"]}, {"exclude_categories": ["merch"], "min_total": 20}],
    )
    priority: WholeNumber = Field(
        default=0,
        description="Lower runs first; ties keep the order of the file.",
        examples=[10, 0],
    )
    exclusive_group: Slug | None = Field(
        default=None,
        description=(
            "Of the rules of one group that would reward a purchase (or of its gifts due "
            "at one moment), only the one worth most to the customer does (ties: the "
            "lower priority)."
        ),
        examples=["weekend-promotions"],
    )
    final: bool = Field(
        default=False,
        description=(
            "When this rule gives something for a purchase, the rules that run after it "
            "(price rules, then earning rules, each by priority, then file order) do not "
            "run for that purchase."
        ),
        examples=[True],
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
        json_schema_extra=Checked(reads="a {item}, or a list of them", schema=_one_limit_or_a_list),
    )

    # Facts of the rule's data that validation needs (exclusive groups, points settings),
    # so they live on the model rather than in the kind's spec: abstract, so a kind that
    # does not say cannot even be built.
    @abstractmethod
    def gives_points(self) -> bool:
        """Whether the rule gives points (rather than money rewards)."""

    @abstractmethod
    def rewards_a_purchase(self) -> bool:
        """Whether the rule rewards the purchase it looks at (so it can compete in a group)."""

    @abstractmethod
    def parts(self) -> RuleParts:
        """Its kind-specific parts, for the checks of the whole program."""
