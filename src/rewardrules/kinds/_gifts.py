"""What the bonus kinds share: a gift of points or a voucher, and taking fixed points back.

``bonus_points``, ``birthday``, ``signup_bonus`` and ``referral`` give a fixed reward
rather than one computed from the spend; a fixed reward given at a purchase is taken back
once none of the purchase's eligible priced units is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import Returned
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.money import Currency
from rewardrules.program._rule_base import _Rule
from rewardrules.program.model import Gift, VoucherSpec
from rewardrules.text import counted


@dataclass(frozen=True, slots=True)
class GiftPlan:
    """Points or a voucher, in integers."""

    points: int | None
    voucher_value: int
    voucher_name: str

    @classmethod
    def compile(cls, points: int | None, voucher: VoucherSpec | None, money: Currency) -> GiftPlan:
        """Read points or a voucher (exactly one is set)."""
        if voucher is None:
            return cls(points, 0, "")
        return cls(None, money.to_minor(voucher.value), voucher.name or voucher.sku)

    @classmethod
    def of(cls, gift: Gift, money: Currency) -> GiftPlan:
        """Compile a :class:`Gift`."""
        return cls.compile(gift.points, gift.voucher, money)

    def words(self, money: Currency, points_name: str) -> str:
        """'100 points' or 'a voucher for a slice of cake (3.50)'."""
        if self.points is not None:
            return counted(self.points, points_name)
        return f"a voucher for {self.voucher_name} ({money.format(self.voucher_value)})"

    def entry(
        self,
        event_id: str,
        customer_id: str,
        rule_id: str,
        money: Currency,
        points_name: str,
        why: str,
    ) -> LedgerEntry:
        """The ledger entry of this gift: a ``points`` or a ``voucher`` entry."""
        text = f"{why}: {self.words(money, points_name)}"
        if self.points is not None:
            return LedgerEntry(
                event_id, customer_id, rule_id, "points", self.points, None, None, money, text
            )
        return LedgerEntry(
            event_id, customer_id, rule_id, "voucher", None, self.voucher_value, 1, money, text
        )


def dated_event_id(rule_id: str, moment: datetime, zone: ZoneInfo) -> str:
    """The id a gift given at a date is filed under: ``<rule>@<local date>``."""
    return f"{rule_id}@{moment.astimezone(zone).date().isoformat()}"


def eligible_priced_units(
    scope: Scope, context: PurchaseContext, refunded: Sequence[int] | None = None
) -> int:
    """Units of the lines a filter admits whose price is above zero, less those refunded."""
    eligible = scope.eligible_lines(context)
    lines, prices = context.purchase.lines, context.unit_prices
    done = refunded or [0] * len(lines)
    return sum(
        line.quantity - gone
        for line, flag, price, gone in zip(lines, eligible, prices, done)
        if flag and price > 0
    )


def paid_on_eligible(scope: Scope, context: PurchaseContext, amounts: Sequence[int]) -> int:
    """What the purchase pays (after earlier price rules) on the lines a filter admits."""
    return sum(amount for amount, flag in zip(amounts, scope.eligible_lines(context)) if flag)


def take_back_fixed(
    rule_id: str,
    scope: Scope,
    context: PurchaseContext,
    refunded_units: Sequence[int],
    earned: int,
    refund_id: str,
    points_name: str,
    money: Currency,
) -> tuple[int, list[LedgerEntry]]:
    """Take fixed points back once no eligible priced unit of the purchase is left."""
    if earned == 0 or eligible_priced_units(scope, context, refunded_units) > 0:
        return earned, []
    entry = LedgerEntry(
        refund_id,
        context.purchase.customer_id,
        rule_id,
        "points",
        -earned,
        None,
        None,
        money,
        f"refund of purchase {context.purchase.id}: nothing it earned the bonus with is left, "
        f"{counted(earned, points_name)} taken back",
        (),
    )
    return 0, [entry]


# --- what the gift kinds (bonus, birthday, sign-up, referral) share in their specs ----


class FixedPointsPlan(Protocol):
    """A plan whose points at a purchase are fixed: taken back whole, or not at all."""

    @property
    def rule(self) -> _Rule:
        """The rule as written."""

    @property
    def scope(self) -> Scope:
        """Its dates and filter."""

    @property
    def points_name(self) -> str:
        """What the program calls its points."""

    @property
    def money(self) -> Currency:
        """The program's currency."""


def refund_fixed_points(
    plan: FixedPointsPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    """Fixed points given at the purchase go when nothing eligible is left; vouchers stay."""
    rule_id = plan.rule.id
    earned = record.points.get(rule_id, 0)
    if earned == 0:
        return []
    now, entries = take_back_fixed(
        rule_id,
        plan.scope,
        record.context,
        record.refunded_units,
        earned,
        refund.id,
        plan.points_name,
        plan.money,
    )
    record.points[rule_id] = now
    return entries


def keep_points(basket: Basket, rule_id: str, entries: list[LedgerEntry]) -> None:
    """Note on the basket the points a gift's entries give at the purchase."""
    points = sum(entry.points or 0 for entry in entries if entry.kind == "points")
    if points:
        basket.points[rule_id] = points


def not_joined(joined_at: datetime, zone: tzinfo) -> str:
    """'not joined yet (joins 2026-03-01 09:00)'."""
    return f"not joined yet (joins {joined_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')})"


def minimum_refusal(
    scope: Scope, money: Currency, minimum: int | None, record: PurchaseRecord
) -> str | None:
    """Why a purchase does not qualify for a gift at a first purchase of a minimum."""
    if minimum is None:
        return "it gives at joining, not at a purchase"
    paid = paid_on_eligible(scope, record.context, record.paid)
    if paid < minimum:
        return f"pays {money.format(paid)} on eligible lines, needs {money.format(minimum)}"
    return None


class _PlanWithGift(Protocol):
    """A plan that gives one gift at a purchase (birthday, sign-up)."""

    @property
    def rule(self) -> _Rule: ...

    @property
    def gift(self) -> GiftPlan: ...

    @property
    def points_name(self) -> str: ...


def refund_words_of_gift(
    plan: _PlanWithGift,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    """A gift rule's ``refund_words`` hook: :func:`gift_refund_words` for its gift."""
    return gift_refund_words(plan.rule.id, plan.gift, plan.points_name, record)


def gift_refund_words(
    rule_id: str, gift: GiftPlan | None, points_name: str, record: PurchaseRecord
) -> str:
    """What a refund did to a gift at the purchase, when it took nothing back."""
    # The engine takes a gift's points back only when nothing eligible is left.
    if record.points.get(rule_id, 0):
        return "the points stay: some of what earned them is still bought"
    nothing = f"no {points_name} of it to take back on purchase {record.purchase.id}"
    if gift is not None and gift.points is None:
        return f"{nothing}; a voucher is never taken back"
    return nothing


def at_least(shown: str, minor: int) -> str:
    """' of at least 15.00', or nothing for a minimum of zero."""
    return f" of at least {shown}" if minor else ""
