"""Which purchases and lines a rule looks at: filters and date bounds, compiled once.

A :class:`PurchaseContext` holds what every rule needs to know about one purchase (its
local date, its gross total in minor units, the tier it was made at); a :class:`Scope` is a
rule's ``when`` filter and ``starts``/``ends`` dates turned into sets and integers, so that
checking a line is a few set look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal

from rewardrules.events import Line, Purchase
from rewardrules.money import Currency, divide_half_up
from rewardrules.program.model import WEEKDAYS, Filter


class PriceTooFine(ValueError):  # noqa: N818 -- reads as the condition it reports
    """A unit price finer than the currency's minor unit; ``line`` is the line's index."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(slots=True)
class PurchaseContext:
    """One purchase as the rules see it.

    Attributes:
        purchase: the event.
        local_date: its date in the program's time zone.
        weekday: 0 for Monday ... 6 for Sunday, local.
        unit_prices: each line's unit price in minor units.
        gross: each line's quantity x unit price in minor units.
        gross_total: the purchase's gross total in minor units.
        tier: the tier the purchase was made at, or None.
        tier_index: that tier's position among the levels, or None.

    The engine sets the tier once it is known, before any rule sees the context; rules
    only read it.
    """

    purchase: Purchase
    local_date: date
    weekday: int
    unit_prices: tuple[int, ...]
    gross: tuple[int, ...]
    gross_total: int
    tier: str | None
    tier_index: int | None
    payments: tuple[tuple[str, int], ...] | None = None
    """Each payment's method and amount in minor units; None when none are recorded (and
    for a purchase reopened from a saved state, whose refunds need only what was earned on)."""


class PaymentTooFine(ValueError):  # noqa: N818 -- reads as the condition it reports
    """A payment finer than the currency's minor unit; ``payment`` is its index."""

    def __init__(self, message: str, payment: int) -> None:
        super().__init__(message)
        self.payment = payment


def _set(values: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True, slots=True)
class Scope:
    """A compiled ``when`` filter, with the rule's date bounds."""

    categories: frozenset[str] | None
    skus: frozenset[str] | None
    exclude_categories: frozenset[str]
    exclude_skus: frozenset[str]
    min_total: int | None
    min_total_eligible: bool
    """Whether ``min_total`` adds up only the lines the scope matches (``min_total_of``)."""
    stores: frozenset[str] | None
    weekdays: frozenset[int] | None
    dates: frozenset[date] | None
    tiers: frozenset[str] | None
    payment_methods: frozenset[str] | None
    """Earn only on the share of each line paid by these methods (:meth:`paid_by`); not a
    condition of :meth:`admits`, so a refund recomputes on what was earned on."""
    starts: date | None
    ends: date | None
    every_line: bool
    every_purchase: bool

    @classmethod
    def compile(
        cls,
        when: Filter,
        money: Currency,
        starts: date | None = None,
        ends: date | None = None,
    ) -> Scope:
        """Turn a filter (and optional date bounds) into sets and minor units."""
        categories, skus = _set(when.categories), _set(when.skus)
        exclude_categories = frozenset(when.exclude_categories or ())
        exclude_skus = frozenset(when.exclude_skus or ())
        weekdays = (
            None
            if when.weekdays is None
            else frozenset(WEEKDAYS.index(day) for day in when.weekdays)
        )
        min_total = None if when.min_total is None else money.to_minor(when.min_total)
        every_line = categories is None and skus is None and not exclude_categories
        every_line = every_line and not exclude_skus
        every_purchase = (
            min_total is None
            and when.stores is None
            and weekdays is None
            and when.dates is None
            and when.tiers is None
            and starts is None
            and ends is None
        )
        return cls(
            categories=categories,
            skus=skus,
            exclude_categories=exclude_categories,
            exclude_skus=exclude_skus,
            min_total=min_total,
            min_total_eligible=when.min_total_of == "eligible",
            stores=_set(when.stores),
            weekdays=weekdays,
            dates=None if when.dates is None else frozenset(when.dates),
            tiers=_set(when.tiers),
            payment_methods=_set(when.payment_methods),
            starts=starts,
            ends=ends,
            every_line=every_line,
            every_purchase=every_purchase,
        )

    def admits(self, context: PurchaseContext) -> bool:
        """Whether the purchase passes every purchase-level condition."""
        if self.every_purchase:
            return True
        local_date = context.local_date
        return not (
            (self.starts is not None and local_date < self.starts)
            or (self.ends is not None and local_date > self.ends)
            or (self.min_total is not None and self.total_of(context) < self.min_total)
            or (self.stores is not None and context.purchase.store not in self.stores)
            or (self.weekdays is not None and context.weekday not in self.weekdays)
            or (self.dates is not None and local_date not in self.dates)
            or (self.tiers is not None and context.tier not in self.tiers)
        )

    def paid_by(self, context: PurchaseContext, amounts: list[int]) -> list[int] | None:
        """Each line's share of ``amounts`` paid by the scope's payment methods.

        Every payment pays the same fraction of every line: its amount over the purchase's
        gross total. A line's share is its amount times the methods' fraction, rounded half
        up to a minor unit. None when the purchase records no payment by those methods.
        """
        methods = self.payment_methods
        if methods is None:
            return amounts
        payments = context.payments
        if payments is None or not any(method in methods for method, _ in payments):
            return None
        share = sum(amount for method, amount in payments if method in methods)
        total = context.gross_total
        if total == 0:
            return [0] * len(amounts)
        return [divide_half_up(amount * share, total) for amount in amounts]

    def total_of(self, context: PurchaseContext) -> int:
        """What ``min_total`` is compared with: the gross total, or with ``min_total_of:
        eligible`` the gross of the lines the scope matches (in minor units)."""
        if not self.min_total_eligible or self.every_line:
            return context.gross_total
        return sum(
            gross
            for line, gross in zip(context.purchase.lines, context.gross)
            if self.matches_line(line)
        )

    def matches_line(self, line: Line) -> bool:
        """Whether a line is one the filter looks at (purchase-level conditions aside).

        A line matches when it is of one of ``categories`` or ``skus`` (if either is set)
        and of none of the exclusions.
        """
        if self.every_line:
            return True
        category, sku = line.category, line.sku
        if self.categories is not None or self.skus is not None:
            included = (self.categories is not None and category in self.categories) or (
                self.skus is not None and sku in self.skus
            )
            if not included:
                return False
        return sku not in self.exclude_skus and (
            category is None or category not in self.exclude_categories
        )

    def eligible_lines(self, context: PurchaseContext) -> tuple[bool, ...]:
        """For each line of the purchase, whether this scope covers it."""
        lines = context.purchase.lines
        if not self.admits(context):
            return (False,) * len(lines)
        if self.every_line:
            return (True,) * len(lines)
        return tuple(self.matches_line(line) for line in lines)

    def noun(self) -> str:
        """How reasons name what the scope covers: 'coffee', or 'qualifying item'."""
        if self.categories is not None and self.skus is None and len(self.categories) == 1:
            return next(iter(self.categories))
        if self.skus is not None and self.categories is None and len(self.skus) == 1:
            return next(iter(self.skus))
        return "qualifying item"


def build_context(
    purchase: Purchase,
    money: Currency,
    zone: tzinfo,
    tier: str | None,
    tier_index: int | None,
    prices: dict[Decimal, int] | None = None,
    payments: bool = True,
) -> PurchaseContext:
    """Read a purchase in the program's currency and time zone.

    ``prices`` memoises unit prices already converted to minor units. ``payments`` False
    leaves the purchase's payments unread (a program that earns by no payment method).

    Raises:
        ValueError: a unit price (PriceTooFine) or a payment (PaymentTooFine) is finer than
            the currency's minor unit.
    """
    local = purchase.at.astimezone(zone)
    if prices is None:
        prices = {}
    unit_prices = []
    gross = []
    for index, line in enumerate(purchase.lines):
        price = line.unit_price
        minor = prices.get(price)
        if minor is None:
            scaled = price * money.minor_per_major
            minor = int(scaled)
            if minor != scaled:
                raise PriceTooFine(
                    f"the unit price {price} of sku {line.sku} is finer than "
                    f"{money.code} allows ({money.exponent} decimal places)",
                    index,
                )
            prices[price] = minor
        unit_prices.append(minor)
        gross.append(minor * line.quantity)
    read = None
    if payments and purchase.payments is not None:
        paid = []
        for index, payment in enumerate(purchase.payments):
            scaled = payment.amount * money.minor_per_major
            if int(scaled) != scaled:
                raise PaymentTooFine(
                    f"the payment {payment.amount} by {payment.method} is finer than "
                    f"{money.code} allows ({money.exponent} decimal places)",
                    index,
                )
            paid.append((payment.method, int(scaled)))
        read = tuple(paid)
    return PurchaseContext(
        purchase=purchase,
        local_date=local.date(),
        weekday=local.weekday(),
        unit_prices=tuple(unit_prices),
        gross=tuple(gross),
        gross_total=sum(gross),
        tier=tier,
        tier_index=tier_index,
        payments=read,
    )
