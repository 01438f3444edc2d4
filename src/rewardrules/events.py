"""The history a program is evaluated over: purchases, refunds, and customer profiles.

Events are immutable pydantic models. Timestamps must carry a UTC offset (a naive time is
ambiguous across time zones and is rejected); money is ``Decimal`` and is never parsed
through float. Ids and names are kept in one spelling (NFC) and may not hold a character
that cannot be seen. A model that refuses its input raises
:class:`~rewardrules.errors.HistoryError`, naming the field in plain words.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rewardrules._ids import check_text
from rewardrules._model_errors import PlainErrors
from rewardrules._types import EventTime, ExactDecimal, WholeNumber

_MONTH_DAY = re.compile(r"^(?:--)?(\d{2})-(\d{2})$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

MAX_TEXT = 256
"""The most characters an id, sku, category or store may have."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain_text(value: str) -> str:
    """Refuse text a person cannot see or check: control characters, and very long text."""
    if len(value) > MAX_TEXT:
        raise PydanticCustomError(
            "text_too_long",
            "must be at most {most} characters (got {length})",
            {"most": MAX_TEXT, "length": len(value)},
        )
    found = _CONTROL.search(value)
    if found is not None:
        shown = repr(value) if len(value) <= 40 else repr(value[:36]) + "..."
        raise PydanticCustomError(
            "control_character",
            "must not hold the control character {character} (got {shown})",
            {"character": f"U+{ord(found.group()):04X}", "shown": shown},
        )
    return value


def _name(value: str) -> str:
    """An id or name: plain text, nothing invisible, no space at either end; then NFC."""
    plain = value.isprintable() and value.isascii() and len(value) <= MAX_TEXT
    if plain and value[0] != " " != value[-1]:
        return value  # the common case, decided without a regex: nothing to refuse
    return _plain_text(check_text(_plain_text(value)))


NonEmptyText = Annotated[str, Field(min_length=1), AfterValidator(_name)]
"""An id, sku, category or store: see :func:`rewardrules._ids.check_text`."""


class _Event(PlainErrors):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Line(_Event):
    """One line of a purchase: a quantity of one sku at one unit price."""

    sku: NonEmptyText = Field(description="The product's stock-keeping unit.")
    category: NonEmptyText | None = Field(default=None, description="The product's category.")
    quantity: WholeNumber = Field(ge=1, description="How many units were bought (at least 1).")
    unit_price: ExactDecimal = Field(
        ge=0, allow_inf_nan=False, description="The price of one unit before any reward."
    )

    @property
    def gross(self) -> Decimal:
        """quantity x unit price."""
        return self.quantity * self.unit_price


_METHOD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _method(value: str) -> str:
    """A payment method's name: letters, digits, ``_``, ``-`` and ``.``, no space or colon
    (so that a CSV cell can hold ``method:amount`` pairs)."""
    if _METHOD.fullmatch(value) is None or len(value) > MAX_TEXT:
        raise PydanticCustomError(
            "payment_method",
            "must be a name of letters, digits, '_', '-' or '.', starting with a letter or "
            "digit, without spaces or colons, like stored_value (got {shown})",
            {"shown": repr(value)},
        )
    return value


class Payment(_Event):
    """What one payment method paid of a purchase."""

    method: Annotated[str, AfterValidator(_method)] = Field(
        description="How it was paid, e.g. card, cash or stored_value (the program's words)."
    )
    amount: ExactDecimal = Field(
        ge=0, allow_inf_nan=False, description="How much, in the purchase's currency."
    )


class Purchase(_Event):
    """A customer's purchase of one or more lines at one moment."""

    type: Literal["purchase"] = "purchase"
    id: NonEmptyText = Field(description="Unique id of the event.")
    customer_id: NonEmptyText = Field(description="Who bought.")
    at: EventTime = Field(description="When, with a UTC offset.")
    lines: tuple[Line, ...] = Field(min_length=1, description="What was bought.")
    store: NonEmptyText | None = Field(default=None, description="Where it was bought.")
    payments: tuple[Payment, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "How it was paid: the amounts add up to the purchase's gross total (the lines' "
            "quantity x unit price, before any reward). Absent: not recorded."
        ),
    )

    @property
    def gross_total(self) -> Decimal:
        """The sum of quantity x unit price over the lines, before any reward."""
        return sum((line.gross for line in self.lines), Decimal(0))

    @field_validator("payments", mode="after")
    @classmethod
    def _payments_add_up(
        cls, payments: tuple[Payment, ...] | None, info: ValidationInfo
    ) -> tuple[Payment, ...] | None:
        lines = info.data.get("lines")
        if payments is None or lines is None:  # without valid lines, their error is enough
            return payments
        paid = sum((payment.amount for payment in payments), Decimal(0))
        total = sum((line.gross for line in lines), Decimal(0))
        if paid != total:
            raise PydanticCustomError(
                "payments_total",
                "add up to {paid}, but the lines' gross total (quantity x unit price, before "
                "any reward) is {total}; the payments must add up to it",
                {"paid": str(paid), "total": str(total)},
            )
        return payments


class RefundLine(_Event):
    """Units of one sku given back."""

    sku: NonEmptyText = Field(description="The sku returned.")
    quantity: WholeNumber = Field(ge=1, description="How many units were returned.")


class Refund(_Event):
    """A return of some or all of an earlier purchase of the same customer."""

    type: Literal["refund"] = "refund"
    id: NonEmptyText = Field(description="Unique id of the event.")
    customer_id: NonEmptyText = Field(description="Whose purchase is returned.")
    at: EventTime = Field(description="When, with a UTC offset.")
    purchase_id: NonEmptyText = Field(description="The id of the purchase returned.")
    lines: tuple[RefundLine, ...] | None = Field(
        default=None,
        min_length=1,
        description="What is returned; absent means everything that is left of the purchase.",
    )


class Redemption(_Event):
    """A customer spending points on a reward of the program's catalogue."""

    type: Literal["redemption"] = "redemption"
    id: NonEmptyText = Field(description="Unique id of the event.")
    customer_id: NonEmptyText = Field(description="Who redeems.")
    at: EventTime = Field(description="When, with a UTC offset.")
    reward: NonEmptyText = Field(description="The id of the catalogue reward.")
    quantity: WholeNumber = Field(
        default=1,
        ge=1,
        description=(
            "How many of the reward are redeemed at once: it costs cost x quantity points "
            "(and cash x quantity), and counts as that many against the reward's per_customer."
        ),
    )


class CancelRedemption(_Event):
    """The undoing of an earlier redemption of the same customer.

    Its points go back to the lots they were spent from, with those lots' own expiry; the
    points of a lot that has expired since are not given back (docs/lifecycle.md).
    """

    type: Literal["cancel_redemption"] = "cancel_redemption"
    id: NonEmptyText = Field(description="Unique id of the event.")
    customer_id: NonEmptyText = Field(description="Whose redemption is cancelled.")
    at: EventTime = Field(description="When, with a UTC offset.")
    redemption_id: NonEmptyText = Field(description="The id of the redemption cancelled.")


class ReferralQualified(_Event):
    """A referred friend's first qualifying purchase, seen from the referrer's side.

    ``evaluate`` derives these itself when the friend's history and profile are part of the
    evaluation. Supply one only to evaluate a referrer without the friend's history (for
    example with ``step`` on the referrer's saved state): it then gives exactly what the
    derived fact would. Under a rule with ``hold_for`` the reward is held, and a second fact
    with ``reversed_by`` (the friend's refund within the hold) takes it back before it is
    given.
    """

    type: Literal["referral"] = "referral"
    id: NonEmptyText = Field(description="The id of the friend's qualifying purchase.")
    customer_id: NonEmptyText = Field(description="The referrer, who is rewarded.")
    at: EventTime = Field(description="When the friend's purchase happened, with a UTC offset.")
    referred: NonEmptyText = Field(description="The friend's customer id.")
    rule: NonEmptyText = Field(description="The id of the referral rule.")
    reversed_by: NonEmptyText | None = Field(
        default=None,
        description=(
            "Set when the fact takes back a held reward (a rule with hold_for): the id of the "
            "friend's refund that took the purchase below the rule's minimum within the "
            "hold; ``at`` is then the refund's instant."
        ),
    )


AnyEvent = Purchase | Refund | Redemption | CancelRedemption | ReferralQualified
"""The type of any event of a history."""

Event = Annotated[AnyEvent, Field(discriminator="type")]
"""Any event of a history, told apart by its ``type``."""


class MonthDay(PlainErrors):
    """A day of the year without a year, such as a birthday (``--07-14`` or ``07-14``)."""

    model_config = ConfigDict(frozen=True)

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    def __str__(self) -> str:
        return f"--{self.month:02d}-{self.day:02d}"


_FULL_DATE = re.compile(r"[0-9]{4}-([0-9]{2}-[0-9]{2})")


def parse_month_day(text: str) -> MonthDay:
    """Read ``--MM-DD`` or ``MM-DD`` into a :class:`MonthDay`.

    Raises:
        ValueError: the text is not a real day of the year.
    """
    match = _MONTH_DAY.match(text.strip())
    if match is None:
        dated = _FULL_DATE.fullmatch(text.strip())
        if dated is not None:  # a date of birth: the year is not needed, nor kept
            raise ValueError(
                f"a birthday is a month and day without a year: write {dated.group(1)} "
                f"(got {text!r})"
            )
        raise ValueError(f"a month and day is written MM-DD, e.g. 07-14 (got {text!r})")
    month, day = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        if 1 <= day <= 12 and 1 <= month <= _DAYS_IN_MONTH[day - 1]:  # written day first
            raise ValueError(
                f"{text!r} is not a day of the year; the month comes first: "
                f"write {day:02d}-{month:02d}"
            )
        raise ValueError(f"{text!r} is not a day of the year")
    return MonthDay(month=month, day=day)


class OpeningLot(_Event):
    """Points a customer brings from another system: one lot, with when it was earned.

    It behaves as a lot the program's own purchases earn: it is spent oldest first with
    the others and expires at ``expires_at``, or, when that is absent, when the program's
    ``points.expire_after`` says points earned at ``earned_at`` expire (docs/lifecycle.md,
    "Opening balances").
    """

    points: WholeNumber = Field(ge=1, description="How many points the lot holds (at least 1).")
    earned_at: EventTime = Field(description="When the points were earned, with a UTC offset.")
    expires_at: EventTime | None = Field(
        default=None,
        description=(
            "When the points expire, with a UTC offset; absent: as the program's "
            "points.expire_after says for points earned at earned_at."
        ),
    )

    @model_validator(mode="after")
    def _expires_after_earned(self) -> OpeningLot:
        if self.expires_at is not None and self.expires_at <= self.earned_at:
            raise ValueError(
                f"expires_at ({self.expires_at.isoformat()}) must come after earned_at "
                f"({self.earned_at.isoformat()}); check the two dates, or leave expires_at "
                "out for the program's own expiry"
            )
        return self


class Customer(_Event):
    """What the program knows of a customer besides their events.

    A customer moved from another system may start with ``opening_points`` (lots with their
    own expiry) and a granted ``tier`` that holds until ``tier_until`` (docs/histories.md,
    "Customers").
    """

    customer_id: NonEmptyText = Field(description="The customer.")
    joined_at: EventTime | None = Field(default=None, description="When they joined.")
    birthday: MonthDay | None = Field(default=None, description="Their birthday, month and day.")
    referred_by: NonEmptyText | None = Field(
        default=None, description="The customer who referred them."
    )
    opening_points: tuple[OpeningLot, ...] = Field(
        default=(),
        description="Points brought from another system, one lot each, when the customer starts.",
    )
    tier: NonEmptyText | None = Field(
        default=None,
        description=(
            "A tier granted when the customer starts (a status match, a manual grant), held "
            "until tier_until whatever the tier window says."
        ),
    )
    tier_until: EventTime | None = Field(
        default=None, description="When the granted tier stops holding; required with tier."
    )

    @field_validator("birthday", mode="before")
    @classmethod
    def _read_birthday(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_month_day(value) if value.strip() else None
        return value

    @model_validator(mode="after")
    def _tier_with_until(self) -> Customer:
        if self.tier_until is not None and self.tier is None:
            raise ValueError(
                "tier_until is given without a tier; add the granted tier, or leave tier_until out"
            )
        if self.tier is not None and self.tier_until is None:
            raise ValueError(
                f"tier {self.tier!r} is given without tier_until; add when the granted tier "
                "stops holding"
            )
        return self

    @property
    def opens(self) -> bool:
        """Whether the customer starts with opening points or a granted tier."""
        return bool(self.opening_points) or self.tier is not None


def event_sort_key(event: AnyEvent) -> tuple[datetime, str]:
    """Events are evaluated by instant, then by id as text."""
    return (event.at, event.id)
