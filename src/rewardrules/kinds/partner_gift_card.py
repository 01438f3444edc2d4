"""``partner_gift_card``: a partner's gift card for every ``every_spend`` paid in a window.

Business rule: the qualifying paid spend (paid amounts of eligible lines) adds up per
window (lifetime, calendar year, quarter or month, in the program's time zone). The cards
a window has earned are ``highest net spend reached // every_spend``, at most
``max_per_window``; a purchase that raises that number issues the difference.

Edges: a refund lowers the net spend of the original purchase's window but never revokes a
card, and spending back up to a threshold already rewarded issues nothing, because cards
follow the highest net spend, not the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rewardrules.kinds._words import ordinal, window_words
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program import PartnerGiftCard
from rewardrules.scope import PurchaseContext, Scope
from rewardrules.tiers import calendar_key

GiftCardWindowTotals = tuple[int, int, int]
"""(net spend, highest net spend, cards issued) in one window, money in minor units."""

EMPTY_WINDOW: GiftCardWindowTotals = (0, 0, 0)

GIFT_CARD_REASON = "{0} {1} gift card: {2:money} spent {3}, one card per {4:money} ({5:money})"
"""The reason of a gift card entry: ordinal, partner, spend, window, threshold, value."""


@dataclass(frozen=True, slots=True)
class GiftCardPlan:
    """A gift card rule in minor units."""

    rule: PartnerGiftCard
    scope: Scope
    value: int
    every_spend: int
    limit: int | None
    money: Currency

    @classmethod
    def compile(cls, rule: PartnerGiftCard, money: Currency) -> GiftCardPlan:
        """Bring the card's value and threshold to minor units."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            value=money.to_minor(rule.value),
            every_spend=money.to_minor(rule.every_spend),
            limit=rule.max_per_window,
            money=money,
        )

    def window_of(self, context: PurchaseContext) -> str:
        """The window a purchase's spend belongs to."""
        return calendar_key(self.rule.window, context.local_date)

    def qualifying_spend(self, context: PurchaseContext, paid: Sequence[int]) -> int:
        """The paid amount of the lines the rule covers."""
        eligible = self.scope.eligible_lines(context)
        return sum(amount for amount, flag in zip(paid, eligible) if flag)


def partner_gift_card(
    plan: GiftCardPlan,
    window: GiftCardWindowTotals,
    context: PurchaseContext,
    paid: Sequence[int],
) -> tuple[GiftCardWindowTotals, list[LedgerEntry]]:
    """Add a purchase's qualifying spend to its window and issue the cards it earns."""
    spend = plan.qualifying_spend(context, paid)
    net, highest, cards = window
    if spend == 0:
        return window, []
    net += spend
    if net <= highest:
        return (net, highest, cards), []
    highest = net
    due = highest // plan.every_spend
    if plan.limit is not None and due > plan.limit:
        due = plan.limit
    purchase = context.purchase
    key = plan.window_of(context)
    entries = [
        LedgerEntry(
            purchase.id,
            purchase.customer_id,
            plan.rule.id,
            "gift_card",
            None,
            plan.value,
            1,
            plan.money,
            GIFT_CARD_REASON,
            (
                ordinal(number),
                plan.rule.partner,
                highest,
                window_words(key),
                plan.every_spend,
                plan.value,
            ),
        )
        for number in range(cards + 1, due + 1)
    ]
    return (net, highest, max(cards, due)), entries


def refund_partner_gift_card(
    window: GiftCardWindowTotals, refunded_spend: int
) -> GiftCardWindowTotals:
    """Lower a window's net spend by refunded qualifying spend; cards stay issued."""
    net, highest, cards = window
    return (net - refunded_spend, highest, cards)
