"""What the bonus kinds share: a gift of points or a voucher, and taking fixed points back.

``bonus_points``, ``birthday``, ``signup_bonus`` and ``referral`` give a fixed reward
rather than one computed from the spend; a fixed reward given at a purchase is taken back
once none of the purchase's eligible priced units is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rewardrules.kinds._words import counted
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program import Gift, VoucherSpec
from rewardrules.scope import PurchaseContext, Scope


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
