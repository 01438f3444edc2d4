"""Each rule kind's model, and the tagged union of them that a program's ``rules`` hold.

A kind's model is data: the keys every rule has come from
:class:`~rewardrules.program._rule_base._Rule`, and its evaluation lives in ``rewardrules.kinds``.
Checks within one model (a gift gives points or a voucher) are its validators; checks that
involve the rest of the program are in :mod:`rewardrules.program._consistency`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self, get_args

from pydantic import Field, StrictBool, Tag, ValidationInfo, field_validator, model_validator

from rewardrules._types import ExactDecimal, Text, WholeNumber
from rewardrules.program._durations import Duration
from rewardrules.program._facts import Checked, Schema
from rewardrules.program._rule_base import (
    Below,
    CalendarWindow,
    Filter,
    NestedFilter,
    RuleParts,
    _Model,
    _Rule,
)
from rewardrules.program._unions import WORDS, one_of


def _parts(
    *,
    filters: tuple[NestedFilter, ...] = (),
    vouchers: tuple[tuple[Below, VoucherSpec], ...] = (),
    amounts: tuple[tuple[Below, Decimal], ...] = (),
    tiers: tuple[tuple[Below, str], ...] = (),
    given_at_a_date: tuple[str, str] | None = None,
    rewards_instead: str | None = None,
    problems: tuple[tuple[Below, str], ...] = (),
) -> RuleParts:
    """A kind's parts, the ones it does not name being empty (each model still calls it)."""
    return RuleParts(filters, vouchers, amounts, tiers, given_at_a_date, rewards_instead, problems)


class Multiplier(_Model):
    """A factor on the points of the lines a filter matches ("double stars on coffee")."""

    reference_title: ClassVar[str] = "`multipliers`: one multiplier"

    factor: ExactDecimal = Field(
        ge=0,
        allow_inf_nan=False,
        description=(
            "Points of the lines it matches are multiplied by this: 2 doubles them, 0.5 "
            "halves them, 0 gives none (any factor of at least 0)."
        ),
        examples=["2", "0.5"],
    )
    when: Filter = Field(
        description="Which purchases and lines get the factor.",
        examples=[{"categories": ["coffee"]}],
    )
    description: str | None = Field(
        default=None, description="What the multiplier is for.", examples=["Double stars on coffee"]
    )


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
        examples=[[{"factor": 2, "when": {"categories": ["coffee"]}}]],
    )
    rounding: Literal["floor", "half_up", "ceil"] = Field(
        default="floor",
        description="How a purchase's points are rounded to a whole number.",
        examples=["half_up", "floor", "ceil"],
    )
    max_per_purchase: WholeNumber | None = Field(
        default=None,
        ge=0,
        description="At most this many points from one purchase.",
        examples=[500],
    )

    def gives_points(self) -> bool:
        return True

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        return _parts(
            filters=tuple(
                NestedFilter(("multipliers", position, "when"), multiplier.when, "multiplier")
                for position, multiplier in enumerate(self.multipliers)
            ),
            amounts=((("per",), self.per),),
        )


class PercentOff(_Model):
    """The units a punch card rewards get this percentage off."""

    reference_title: ClassVar[str] = "`reward: {percent_off: …}`"

    percent_off: ExactDecimal = Field(
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Percent off, more than 0, at most 100.",
        examples=[30],
    )


class VoucherSpec(_Model):
    """A voucher for one product, to use on a later visit."""

    reference_title: ClassVar[str] = "`voucher`: the voucher issued"

    sku: Text = Field(description="The product the voucher is for.", examples=["wash-basic"])
    value: ExactDecimal = Field(
        ge=0,
        allow_inf_nan=False,
        description="What the voucher costs the business.",
        examples=["12.00"],
    )
    name: str | None = Field(
        default=None,
        description="How the voucher is called.",
        examples=["Basic wash", "Free Basic Wash"],
    )


class VoucherReward(_Model):
    """Each completed card issues a voucher."""

    reference_title: ClassVar[str] = "`reward: {voucher: …}`"

    voucher: VoucherSpec = Field(
        description="The voucher issued per completed card.",
        examples=[{"sku": "wash-basic", "value": "12.00"}],
    )


class EveryNthFree(_Rule):
    """A punch card: every ``every`` qualifying units (or visits) earn a reward."""

    kind: Literal["every_nth_free"] = Field(description="A punch card.")
    every: WholeNumber = Field(
        ge=2, description="Units or visits per completed card.", examples=[10]
    )
    counts: Literal["items", "visits"] = Field(
        default="items",
        description="Count units of matching lines, or visits with one.",
        examples=["visits", "items"],
    )
    reward: Annotated[
        Annotated[Literal["free"], Tag(WORDS)]
        | Annotated[PercentOff, Tag("PercentOff")]
        | Annotated[VoucherReward, Tag("VoucherReward")],
        one_of(
            ("free",),
            (PercentOff, VoucherReward),
            ("a mapping with percent_off", "a mapping with voucher"),
        ),
    ] = Field(
        default="free",
        description="`free`, `{percent_off: P}` or `{voucher: {sku, value}}`.",
        examples=[
            "free",
            {"percent_off": 30},
            {"voucher": {"sku": "wash-basic", "value": 12, "name": "Free Basic Wash"}},
        ],
    )

    def gives_points(self) -> bool:
        return False

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        if isinstance(self.reward, VoucherReward):
            return _parts(vouchers=((("reward", "voucher"), self.reward.voucher),))
        return _parts()


class PartnerGiftCard(_Rule):
    """A partner's gift card for every ``every_spend`` paid within a window."""

    kind: Literal["partner_gift_card"] = Field(description="Gift cards from a partner business.")
    partner: Text = Field(
        description="The business that honours the gift card.", examples=["Green Basket Grocery"]
    )
    value: ExactDecimal = Field(
        gt=0, allow_inf_nan=False, description="The value of one gift card.", examples=[10]
    )
    every_spend: ExactDecimal = Field(
        gt=0,
        allow_inf_nan=False,
        description="Qualifying paid spend per gift card.",
        examples=[200],
    )
    window: Literal["lifetime", CalendarWindow] = Field(
        default="lifetime",
        description="The period over which spend adds up.",
        examples=["calendar_year", "calendar_quarter", "lifetime"],
    )
    max_per_window: WholeNumber | None = Field(
        default=None, ge=1, description="At most this many gift cards per window.", examples=[3]
    )

    def gives_points(self) -> bool:
        return False

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        return _parts(amounts=((("value",), self.value), (("every_spend",), self.every_spend)))


def _percent_per_tier(field: Schema) -> None:
    field["additionalProperties"] = {
        **field["additionalProperties"],
        "exclusiveMinimum": 0,
        "maximum": 100,
    }


class TieredDiscount(_Rule):
    """A percentage off eligible lines, depending on the customer's tier."""

    kind: Literal["tiered_discount"] = Field(description="A discount by tier.")
    discounts: dict[Text, ExactDecimal] = Field(
        min_length=1,
        description="Percent off per tier name, e.g. {silver: 5, gold: 10}.",
        json_schema_extra=Checked(
            limit="each percentage more than 0 and at most 100", schema=_percent_per_tier
        ),
        examples=[{"silver": 5, "gold": 10}],
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

    def gives_points(self) -> bool:
        return False

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        return _parts(tiers=tuple((("discounts", name), name) for name in self.discounts))


class GiftItem(_Model):
    """A product handed over free at the till with the purchase (not a voucher for later)."""

    reference_title: ClassVar[str] = "`gift_item`: the product given"

    sku: Text = Field(description="The product given.", examples=["tote-bag"])
    value: ExactDecimal = Field(
        gt=0,
        allow_inf_nan=False,
        description=(
            "What the gift is worth to the customer (its shelf price): what it counts in an "
            "exclusive group and in a limit on value."
        ),
        examples=["8.00"],
    )
    name: str | None = Field(
        default=None, description="How the gift is called.", examples=["a canvas tote bag"]
    )


class OrderDiscount(_Rule):
    """A percent or an amount off a purchase, or a gift item with it, for every customer.

    The minimum spend is the rule's ``when.min_total``; its lines are the lines ``when``
    makes eligible (all of them when it names no categories or skus).
    """

    kind: Literal["order_discount"] = Field(
        description="An order offer: off a purchase of at least when.min_total, or a gift."
    )
    percent: ExactDecimal | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Percent off each eligible line (or give amount or gift_item).",
        examples=["10"],
    )
    amount: ExactDecimal | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "An amount off the eligible lines together, shared across them in proportion "
            "to what each has left, at most what they have left (or give percent or gift_item)."
        ),
        examples=["5.00"],
    )
    gift_item: GiftItem | None = Field(
        default=None,
        description="A free product with the purchase (or give percent or amount).",
        examples=[{"sku": "tote-bag", "value": "8.00", "name": "a canvas tote bag"}],
    )

    @model_validator(mode="after")
    def _one_reward(self) -> Self:
        given = [
            name for name in ("percent", "amount", "gift_item") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "an order_discount gives exactly one of percent, amount or gift_item "
                f"(got {' and '.join(given) if given else 'none'}); keep one of them"
            )
        return self

    def gives_points(self) -> bool:
        return False

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        amounts: tuple[tuple[Below, Decimal], ...] = ()
        if self.amount is not None:
            amounts = ((("amount",), self.amount),)
        if self.gift_item is not None:
            amounts = ((("gift_item", "value"), self.gift_item.value),)
        return _parts(amounts=amounts)


class BonusPoints(_Rule):
    """Fixed points for a purchase that matches the filter."""

    kind: Literal["bonus_points"] = Field(description="Fixed bonus points.")
    points: WholeNumber = Field(ge=1, description="Points the purchase earns.", examples=[50])
    once_per_customer: StrictBool = Field(
        default=False,
        description="Only the customer's first matching purchase earns them.",
        examples=[True],
    )

    def gives_points(self) -> bool:
        return True

    def rewards_a_purchase(self) -> bool:
        return True

    def parts(self) -> RuleParts:
        return _parts()


class _PointsOrVoucher(_Model):
    """Points or a voucher, exactly one of the two: what a gift or a birthday gives."""

    points: WholeNumber | None = Field(
        default=None, ge=1, description="Points given (or give a voucher).", examples=[100]
    )
    voucher: VoucherSpec | None = Field(
        default=None,
        description="A voucher given instead of points.",
        examples=[{"sku": "cake-slice", "value": "3.50", "name": "a slice of cake"}],
    )

    @field_validator("voucher")
    @classmethod
    def _not_with_points(
        cls, voucher: VoucherSpec | None, info: ValidationInfo
    ) -> VoucherSpec | None:
        # ``points`` is declared, so validated, before ``voucher``: ``info.data`` holds it
        # unless it is itself invalid (then that error is enough). Said at the voucher.
        if voucher is not None and info.data.get("points") is not None:
            raise ValueError("give either points or a voucher, not both; remove one of the two")
        return voucher

    @model_validator(mode="after")
    def _points_or_voucher(self) -> Self:
        if self.points is None and self.voucher is None:
            raise ValueError("give either points or a voucher (exactly one of the two)")
        return self


class Gift(_PointsOrVoucher):
    """Points or a voucher: exactly one of the two."""

    reference_title: ClassVar[str] = "`referrer`, `referred`: a gift"


class Birthday(_Rule, _PointsOrVoucher):
    """Points or a voucher once a year, in a window around the customer's birthday.

    Give exactly one of ``points`` or ``voucher``. Without ``requires_purchase`` the gift is given
    when the window starts, not at a purchase, so the rule takes no ``when``. ``member_for``
    and ``purchase_within`` make it Starbucks-like: only for members of some standing who
    bought lately (docs/semantics.md, "Birthday eligibility").
    """

    kind: Literal["birthday"] = Field(description="A birthday gift.")
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
    member_for: Duration | None = Field(
        default=None,
        description=(
            "Give it only to a customer who has been a member at least this long when it "
            "would be given: joined_at (else the customer's first event) plus this is at or "
            "before that moment. Absent: members of any age."
        ),
        examples=["30 days"],
    )
    purchase_within: Duration | None = Field(
        default=None,
        description=(
            "Give it only to a customer with a purchase, not refunded in full, in this long "
            "before the moment it would be given (with requires_purchase, an earlier "
            "purchase than the one it would be given at). Absent: no purchase needed."
        ),
        examples=["365 days", "12 months"],
    )

    def gives_points(self) -> bool:
        return self.points is not None

    def rewards_a_purchase(self) -> bool:
        return self.requires_purchase

    def parts(self) -> RuleParts:
        return _parts(
            vouchers=() if self.voucher is None else ((("voucher",), self.voucher),),
            given_at_a_date=(
                None
                if self.requires_purchase
                else (
                    "this birthday gift is given when its window opens",
                    "requires_purchase: true",
                )
            ),
            problems=(
                (
                    (
                        ("days_around",),
                        "days_around widens a 'day' window; the 'month' window is the whole "
                        "birthday month",
                    ),
                )
                if self.window == "month" and self.days_around
                else ()
            ),
        )


class SignupBonus(_Rule):
    """Points when the customer joins, or at their first purchase of at least a minimum.

    Without ``min_first_purchase`` the points are given when the customer joins, not at a
    purchase, so the rule takes no ``when``.
    """

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

    def gives_points(self) -> bool:
        return True

    def rewards_a_purchase(self) -> bool:
        return self.min_first_purchase is not None

    def parts(self) -> RuleParts:
        if self.min_first_purchase is not None:
            return _parts(amounts=((("min_first_purchase",), self.min_first_purchase),))
        return _parts(
            given_at_a_date=(
                "this sign-up bonus is given at joining",
                "min_first_purchase (0 for any purchase)",
            )
        )


class Referral(_Rule):
    """A reward for bringing a friend, when the friend first buys.

    A friend is a customer whose profile names the referrer in ``referred_by``. The referrer's
    gift is given at the friend's first purchase that ``when`` admits and that pays at least
    ``min_paid`` on the rule's lines; with ``hold_for``, that long after it, unless a refund
    within the hold takes the purchase below ``min_paid`` (docs/semantics.md, "Referral
    holds"). The rule rewards no purchase of the referrer's, so it cannot be in an
    ``exclusive_group``.
    """

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
    hold_for: Duration | None = Field(
        default=None,
        description=(
            "Hold the referrer's gift this long after the friend's qualifying purchase (its "
            "return window): it is given then, and not at all if refunds before then leave "
            "the purchase paying less than min_paid on the rule's lines (or nothing "
            "eligible); the friend's next qualifying purchase may then earn it. Absent: "
            "given at the purchase and never taken back."
        ),
        examples=["30 days", "2 weeks"],
    )

    def gives_points(self) -> bool:
        return self.referrer.points is not None

    def rewards_a_purchase(self) -> bool:
        return False

    def parts(self) -> RuleParts:
        sides = (("referrer", self.referrer), ("referred", self.referred))
        return _parts(
            vouchers=tuple(
                ((side, "voucher"), gift.voucher)
                for side, gift in sides
                if gift is not None and gift.voucher is not None
            ),
            amounts=((("min_paid",), self.min_paid),),
            rewards_instead="the referrer for a friend's purchase",
        )


AnyRule = (
    PointsPerSpend
    | EveryNthFree
    | PartnerGiftCard
    | TieredDiscount
    | OrderDiscount
    | BonusPoints
    | Birthday
    | SignupBonus
    | Referral
)
"""The type of a validated rule: the one list of the kinds' models (``kinds.table.KINDS``
maps each to its spec)."""

Rule = Annotated[AnyRule, Field(discriminator="kind")]
"""Any rule, told apart by its ``kind``."""

RULE_KINDS: tuple[type[_Rule], ...] = get_args(AnyRule)
"""The kinds' models, in the order of :data:`AnyRule`."""


def gives_points(rule: _Rule) -> bool:
    """Whether the rule gives points (rather than money rewards)."""
    return rule.gives_points()


def rewards_a_purchase(rule: _Rule) -> bool:
    """Whether the rule rewards the purchase it looks at (so it can compete in a group)."""
    return rule.rewards_a_purchase()
