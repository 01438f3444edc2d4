"""Ledger entries, per-customer results and program totals: what an evaluation returns.

Amounts are kept as integer minor units and shown as Decimal; the readable reason of an
entry is formatted only when asked for, so that replaying a long history does not spend
its time writing sentences nobody reads.
"""

from __future__ import annotations

import functools
import itertools
import json
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from rewardrules.money import Currency, divide_half_up

if TYPE_CHECKING:
    from rewardrules.engine.state import CustomerState
    from rewardrules.engine.tiers import NextTier, TierChange

EntryKind = Literal[
    "points",
    "discount",
    "free",
    "voucher",
    "gift_card",
    "redemption",
    "rejected",
    "expiry",
    "written_off",
    "capped",
    "set_aside",
    "referral",
    "opening",
]
ENTRY_KINDS: tuple[EntryKind, ...] = get_args(EntryKind)
JSON_FORMAT = 2
"""The version of the JSON output contract (docs/json-output.md, "Versions")."""
POINTS_KINDS = frozenset({"points", "redemption", "expiry", "written_off", "opening"})
"""Entry kinds whose ``points`` add up to the balance."""
NOTE_KINDS = frozenset({"capped", "set_aside", "referral"})
"""Entry kinds that record a decision and give nothing: points, value and units are None.

``capped``: a limit left nothing of a reward; ``set_aside``: a rule lost its exclusive
group to another; ``referral``: a referred customer's qualifying purchase (the referrer is
rewarded in their own ledger), or with ``units`` -1 a refund within a referral's hold that
reversed it (the totals count it as minus one referral).

``opening`` is a lot a migrated customer starts with (``Customer.opening_points``): its
points count among the points issued, a liability the program takes on."""


ENTRY_SUMS: tuple[str, ...] = (
    "points_issued",
    "points_reversed",
    "discount_value",
    "discount_units",
    "free_value",
    "free_units",
    "vouchers",
    "voucher_value",
    "gift_cards",
    "gift_card_value",
    "redemptions",
    "points_redeemed",
    "redemption_value",
    "rejected_redemptions",
    "points_expired",
    "points_written_off",
    "rewards_capped",
    "rewards_set_aside",
    "referrals",
)
"""The figures :func:`total` adds up from ledger entries, in the order totals show them."""


class _ReasonFormatter(string.Formatter):
    """Formats ``{0:money}`` as an amount in the entry's currency."""

    def __init__(self, money: Currency) -> None:
        self.money = money

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "money":
            return self.money.format(int(value))
        return str(super().format_field(value, format_spec))


_Pieces = tuple[tuple[str, int, str], ...] | None


@functools.lru_cache(maxsize=1024)
def _template_pieces(template: str) -> _Pieces:
    """A reason template as (text before, argument, format spec) triples and the text
    after (argument -1), read once; None for what only ``string.Formatter`` reads (an
    automatic, named or nested field, a conversion, an attribute or an index)."""
    pieces = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            pieces.append((literal, -1, ""))
            continue
        if not name.isdigit() or conversion or "{" in (spec or ""):
            return None
        pieces.append((literal, int(name), spec or ""))
    return tuple(pieces)


def format_reason(money: Currency, template: str, arguments: Sequence[Any]) -> str:
    """A text template filled as ``_ReasonFormatter`` fills it (``{n:money}`` an amount in
    ``money``), without its per-field method calls: reasons are written by the million."""
    pieces = _template_pieces(template)
    if pieces is None:
        return _ReasonFormatter(money).format(template, *arguments)
    parts = []
    for literal, index, spec in pieces:
        parts.append(literal)
        if index < 0:
            continue
        value = arguments[index]
        parts.append(money.format(int(value)) if spec == "money" else str(format(value, spec)))
    return "".join(parts)


def format_reasons(money: Currency, template: str, rows: Sequence[Sequence[Any]]) -> list[str]:
    """:func:`format_reason` of many argument tuples at once, field by field (each field's
    texts made in one pass, then each row's joined): the same texts, or the same error."""
    pieces = _template_pieces(template)
    if pieces is None:
        formatter = _ReasonFormatter(money)
        return [formatter.format(template, *arguments) for arguments in rows]
    if not rows:
        return []
    if all(index < 0 for _literal, index, _spec in pieces):
        return ["".join(literal for literal, _index, _spec in pieces)] * len(rows)
    columns = list(zip(*rows, strict=False))
    fields: list[Iterable[str]] = []
    for literal, index, spec in pieces:
        if literal:
            fields.append(itertools.repeat(literal))
        if index < 0:
            continue
        if index >= len(columns):
            raise IndexError(f"Replacement index {index} out of range for positional args tuple")
        if spec == "money":
            fields.append([money.format(int(value)) for value in columns[index]])
        else:
            fields.append(list(map(format, columns[index], itertools.repeat(spec))))
    return list(map("".join, zip(*fields, strict=False)))


@dataclass(frozen=True, slots=True, init=False)
class LedgerEntry:
    """One reward given (or taken back) for one event by one rule.

    A frozen record with slots: a long replay creates millions of them. Its reason is
    kept as a template and its arguments, and written only when :attr:`reason` is read.
    The fields keep the order they had as a tuple, so positional construction still holds.
    ``__init__`` is written by hand: it sets the slots through their descriptors, which
    costs half of the generated frozen ``__init__`` (its ``object.__setattr__`` per field).

    Attributes:
        event_id: the purchase or refund that caused the entry.
        customer_id: whose ledger it belongs to.
        rule: the id of the rule that gave the reward.
        kind: what is given: points, discount, free, voucher or gift_card.
        points: points given (negative when taken back); None for other kinds.
        value_minor: the reward's value in minor units; None for points.
        units: units freed or discounted, 1 per voucher or gift card; None for points.
        money: the program's currency, for showing amounts.
        template: the reason, either text with ``{n}`` placeholders (``{n:money}`` for
            amounts) or a function of ``(currency, *arguments)`` that writes it.
        arguments: what fills the placeholders.
    """

    event_id: str
    customer_id: str
    rule: str
    kind: EntryKind
    points: int | None
    value_minor: int | None
    units: int | None
    money: Currency
    template: str | Callable[..., str] = field(repr=False)
    arguments: tuple[Any, ...] = field(default=(), repr=False)

    def __init__(
        self,
        event_id: str,
        customer_id: str,
        rule: str,
        kind: EntryKind,
        points: int | None,
        value_minor: int | None,
        units: int | None,
        money: Currency,
        template: str | Callable[..., str],
        arguments: tuple[Any, ...] = (),
    ) -> None:
        _set_event_id(self, event_id)
        _set_customer_id(self, customer_id)
        _set_rule(self, rule)
        _set_kind(self, kind)
        _set_points(self, points)
        _set_value_minor(self, value_minor)
        _set_units(self, units)
        _set_money(self, money)
        _set_template(self, template)
        _set_arguments(self, arguments)

    def __repr__(self) -> str:
        return (
            f"LedgerEntry(event_id={self.event_id!r}, customer_id={self.customer_id!r}, "
            f"rule={self.rule!r}, kind={self.kind!r}, points={self.points!r}, "
            f"value={self.value!r}, units={self.units!r}, reason={self.reason!r})"
        )

    @property
    def value(self) -> Decimal | None:
        """The reward's value in currency, exact to the minor unit."""
        return None if self.value_minor is None else self.money.to_decimal(self.value_minor)

    @property
    def reason(self) -> str:
        """Why the customer got this, in words a marketer can read."""
        if callable(self.template):
            return self.template(self.money, *self.arguments)
        return format_reason(self.money, self.template, self.arguments)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The entry in the JSON output contract (docs/json-output.md)."""
        value = self.value
        return {
            "event_id": self.event_id,
            "rule": self.rule,
            "kind": self.kind,
            "points": self.points,
            "value": None if value is None else str(value),
            "units": self.units,
            "reason": self.reason,
        }


def _setter(name: str) -> Callable[[LedgerEntry, Any], None]:
    """The slot's own setter, which a frozen dataclass's ``__setattr__`` does not guard."""
    setter: Callable[[LedgerEntry, Any], None] = LedgerEntry.__dict__[name].__set__
    return setter


_set_event_id = _setter("event_id")
_set_customer_id = _setter("customer_id")
_set_rule = _setter("rule")
_set_kind = _setter("kind")
_set_points = _setter("points")
_set_value_minor = _setter("value_minor")
_set_units = _setter("units")
_set_money = _setter("money")
_set_template = _setter("template")
_set_arguments = _setter("arguments")


@dataclass(frozen=True, slots=True)
class ExpiryDue:
    """Points of a customer that will expire on a local date, if nothing spends them first."""

    on: date
    points: int

    def to_dict(self) -> dict[str, Any]:
        """The expiry in the JSON output contract."""
        return {"date": self.on.isoformat(), "points": self.points}


@dataclass(frozen=True, slots=True)
class CustomerResult:
    """What one customer earned, and where they stand at the end.

    Attributes:
        customer_id: the customer.
        ledger: their entries for the evaluated events, in the order they happened.
        points: their points balance: available and pending together.
        available_points: points they can spend now (negative while they owe points).
        pending_points: points still waiting out the return period.
        tier: their tier as of the evaluation's ``as_of`` (or just after their last event).
        stamps: per punch-card rule, units or visits toward the next reward.
        save: builds the saved state; use :attr:`state`.
        tier_changes: each change of the tier that applies, oldest first: at the purchases
            of this evaluation, then at the report.
        next_tier: the level above the window's level and what it still needs; None at
            the top level or without tiers.
        upcoming_expiry: the points left that will expire, summed per local date, soonest
            first, as of the evaluation's ``as_of`` (or the customer's last event).
    """

    customer_id: str
    ledger: tuple[LedgerEntry, ...]
    points: int
    available_points: int
    pending_points: int
    tier: str | None
    stamps: Mapping[str, int]
    save: Callable[[], CustomerState] = field(repr=False, compare=False)
    tier_changes: tuple[TierChange, ...] = ()
    next_tier: NextTier | None = None
    upcoming_expiry: tuple[ExpiryDue, ...] = ()

    @property
    def state(self) -> CustomerState:
        """The customer's final state, to save and resume from (built when asked for)."""
        return self.save()

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The customer in the JSON output contract."""
        return {
            "customer_id": self.customer_id,
            "points": self.points,
            "available_points": self.available_points,
            "pending_points": self.pending_points,
            "tier": self.tier,
            "tier_changes": [change.to_dict() for change in self.tier_changes],
            "next_tier": None if self.next_tier is None else self.next_tier.to_dict(),
            "stamps": dict(self.stamps),
            "upcoming_expiry": [due.to_dict() for due in self.upcoming_expiry],
            "ledger": [entry.to_dict() for entry in self.ledger],
        }


@dataclass(frozen=True, slots=True)
class Totals:
    """What the program gave over the evaluated events, and what that costs.

    Money is in minor units; use :meth:`to_dict` or the ``*_value`` helpers for Decimal.
    """

    money: Currency = field(repr=False)
    point_value: Decimal = field(repr=False)
    customers: int = 0
    purchases: int = 0
    refunds: int = 0
    refunded_purchases: int = 0
    """Purchases of these events that their refunds gave back some or all of."""
    fully_refunded_purchases: int = 0
    """Those of ``refunded_purchases`` with every unit given back."""
    gross_spend: int = 0
    points_issued: int = 0
    points_reversed: int = 0
    discount_value: int = 0
    discount_units: int = 0
    free_value: int = 0
    free_units: int = 0
    vouchers: int = 0
    voucher_value: int = 0
    gift_cards: int = 0
    gift_card_value: int = 0
    redemptions: int = 0
    points_redeemed: int = 0
    redemption_value: int = 0
    rejected_redemptions: int = 0
    points_expired: int = 0
    points_written_off: int = 0
    rewards_capped: int = 0
    rewards_set_aside: int = 0
    referrals: int = 0

    @property
    def points_net(self) -> int:
        """Points issued less points taken back by refunds."""
        return self.points_issued - self.points_reversed

    @property
    def points_cost(self) -> int:
        """What the net points cost, in minor units, rounded half-up once."""
        numerator, denominator = self.point_value.as_integer_ratio()
        scaled = self.points_net * numerator * self.money.minor_per_major
        return divide_half_up(scaled, denominator)

    @property
    def value_given(self) -> int:
        """Money given now, in minor units: discounts, free items, vouchers and gift cards at
        face value, and the value of the catalogue rewards points were redeemed for."""
        return (
            self.discount_value
            + self.free_value
            + self.voucher_value
            + self.gift_card_value
            + self.redemption_value
        )

    @property
    def points_outstanding(self) -> int:
        """Points the entries leave with customers: issued, less reversed, redeemed and
        expired, plus written off (the sum of the customers' ``points``)."""
        return (
            self.points_net - self.points_redeemed - self.points_expired + self.points_written_off
        )

    @property
    def liability(self) -> int:
        """The outstanding points at ``points.value``, in minor units, rounded half-up once."""
        return self._points_money(self.points_outstanding)

    @property
    def breakage(self) -> int:
        """The expired points at ``points.value``, in minor units: shown, never a cost."""
        return self._points_money(self.points_expired)

    @property
    def estimated_cost(self) -> int:
        """Value given now plus the liability, in minor units (docs/cost.md)."""
        return self.value_given + self.liability

    def _points_money(self, points: int) -> int:
        numerator, denominator = self.point_value.as_integer_ratio()
        return divide_half_up(points * numerator * self.money.minor_per_major, denominator)

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The totals in the JSON output contract."""
        show = self.money.to_decimal
        return {
            "customers": self.customers,
            "purchases": self.purchases,
            "refunds": self.refunds,
            "refunded_purchases": self.refunded_purchases,
            "fully_refunded_purchases": self.fully_refunded_purchases,
            "gross_spend": str(show(self.gross_spend)),
            "points_issued": self.points_issued,
            "points_reversed": self.points_reversed,
            "points_net": self.points_net,
            "points_cost": str(show(self.points_cost)),
            "discount_value": str(show(self.discount_value)),
            "discount_units": self.discount_units,
            "free_item_value": str(show(self.free_value)),
            "free_units": self.free_units,
            "vouchers": self.vouchers,
            "voucher_value": str(show(self.voucher_value)),
            "gift_cards": self.gift_cards,
            "gift_card_value": str(show(self.gift_card_value)),
            "redemptions": self.redemptions,
            "points_redeemed": self.points_redeemed,
            "redemption_value": str(show(self.redemption_value)),
            "rejected_redemptions": self.rejected_redemptions,
            "points_expired": self.points_expired,
            "points_written_off": self.points_written_off,
            "rewards_capped": self.rewards_capped,
            "rewards_set_aside": self.rewards_set_aside,
            "referrals": self.referrals,
            "value_given": str(show(self.value_given)),
            "points_outstanding": self.points_outstanding,
            "liability": str(show(self.liability)),
            "breakage": str(show(self.breakage)),
            "estimated_cost": str(show(self.estimated_cost)),
        }


def total(
    entries: Iterable[LedgerEntry],
    *,
    money: Currency,
    point_value: Decimal,
    customers: int,
    purchases: int,
    refunds: int,
    gross_spend: int,
    refunded_purchases: int = 0,
    fully_refunded_purchases: int = 0,
) -> Totals:
    """Add up ledger entries into program totals."""
    sums: dict[str, int] = dict.fromkeys(ENTRY_SUMS, 0)
    for entry in entries:
        kind = entry.kind
        if kind == "points":
            points = entry.points or 0
            if points >= 0:
                sums["points_issued"] += points
            else:
                sums["points_reversed"] -= points
        elif kind == "discount":
            sums["discount_value"] += entry.value_minor or 0
            sums["discount_units"] += entry.units or 0
        elif kind == "free":
            sums["free_value"] += entry.value_minor or 0
            sums["free_units"] += entry.units or 0
        elif kind == "voucher":
            sums["vouchers"] += entry.units or 0
            sums["voucher_value"] += entry.value_minor or 0
        elif kind == "gift_card":
            sums["gift_cards"] += entry.units or 0
            sums["gift_card_value"] += entry.value_minor or 0
        elif kind == "redemption":
            sums["redemptions"] += 1 if (entry.units or 0) >= 0 else -1  # -1: a cancellation
            sums["points_redeemed"] -= entry.points or 0
            sums["redemption_value"] += entry.value_minor or 0
        elif kind == "rejected":
            sums["rejected_redemptions"] += 1
        elif kind == "expiry":
            sums["points_expired"] -= entry.points or 0
        elif kind == "written_off":
            sums["points_written_off"] += entry.points or 0
        elif kind == "capped":
            sums["rewards_capped"] += 1
        elif kind == "set_aside":
            sums["rewards_set_aside"] += 1
        elif kind == "opening":
            sums["points_issued"] += entry.points or 0
        else:  # a referral: -1 for a held one that a refund reversed (units -1)
            sums["referrals"] += -1 if (entry.units or 0) < 0 else 1
    return Totals(
        money=money,
        point_value=point_value,
        customers=customers,
        purchases=purchases,
        refunds=refunds,
        refunded_purchases=refunded_purchases,
        fully_refunded_purchases=fully_refunded_purchases,
        gross_spend=gross_spend,
        **sums,
    )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of evaluating a program over a history.

    Attributes:
        program: the program's id.
        money: the program's currency.
        points_name: what the program calls its points.
        customers: one result per customer, ordered by customer id.
        totals: what the program gave and what it costs.
    """

    program: str
    money: Currency
    points_name: str
    customers: tuple[CustomerResult, ...]
    totals: Totals
    _by_id: dict[str, CustomerResult] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def customer(self, customer_id: str) -> CustomerResult:
        """The result of one customer, found in constant time.

        Raises:
            KeyError: the customer had no event and no saved state.
        """
        by_id = self._by_id
        if by_id is None:
            # Built on the first call, once: an evaluation is immutable.
            by_id = {result.customer_id: result for result in self.customers}
            object.__setattr__(self, "_by_id", by_id)
        return by_id[customer_id]

    def only(
        self,
        customer_id: str,
        *,
        purchases: int,
        refunds: int,
        gross_spend: int,
        refunded_purchases: int = 0,
        fully_refunded_purchases: int = 0,
    ) -> Evaluation:
        """This evaluation narrowed to one customer, totals added up from their ledger.

        ``purchases``, ``refunds``, ``gross_spend`` (minor units), ``refunded_purchases``
        and ``fully_refunded_purchases`` are the customer's own, which the ledger alone
        cannot tell.
        """
        kept = tuple(result for result in self.customers if result.customer_id == customer_id)
        totals = total(
            (entry for result in kept for entry in result.ledger),
            money=self.money,
            point_value=self.totals.point_value,
            customers=len(kept),
            purchases=purchases,
            refunds=refunds,
            gross_spend=gross_spend,
            refunded_purchases=refunded_purchases,
            fully_refunded_purchases=fully_refunded_purchases,
        )
        return replace(self, customers=kept, totals=totals)

    @property
    def entries(self) -> Sequence[LedgerEntry]:
        """Every ledger entry, customer by customer."""
        return [entry for result in self.customers for entry in result.ledger]

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, indented by 2, as the command line prints it."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The whole evaluation in the JSON output contract (docs/json-output.md)."""
        return {
            "format": JSON_FORMAT,
            "program": self.program,
            "currency": self.money.code,
            "customers": [result.to_dict() for result in self.customers],
            "totals": self.totals.to_dict(),
        }
