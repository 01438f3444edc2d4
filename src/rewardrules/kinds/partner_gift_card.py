"""``partner_gift_card``: a partner's gift card for every ``every_spend`` paid in a window.

Business rule: the qualifying paid spend (paid amounts of eligible lines) adds up per
window (lifetime, calendar year, quarter or month, in the program's time zone). The cards
a window has earned are ``highest net spend reached // every_spend``, at most
``max_per_window``; a purchase that raises that number issues the difference, as one
``gift_card`` entry whose ``units`` is the number of cards and ``value`` their total.

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
    if due <= cards:
        return (net, highest, cards), []
    purchase = context.purchase
    issued = due - cards
    # One entry however many cards: the work is bounded by the purchase, not its amount.
    entry = LedgerEntry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        "gift_card",
        None,
        plan.value * issued,
        issued,
        plan.money,
        _cards_reason,
        (plan, cards + 1, issued, highest, plan.window_of(context)),
    )
    return (net, highest, due), [entry]


def _cards_reason(
    money: Currency, plan: GiftCardPlan, first: int, issued: int, spent: int, key: str
) -> str:
    """'2nd Cinema gift card: ...' or '3 Cinema gift cards of 10.00 (2nd to 4th): ...'."""
    partner = plan.rule.partner
    if issued == 1:
        cards = f"{ordinal(first)} {partner} gift card"
    else:
        last = ordinal(first + issued - 1)
        cards = (
            f"{issued} {partner} gift cards of {money.format(plan.value)} "
            f"({ordinal(first)} to {last})"
        )
    return (
        f"{cards}: {money.format(spent)} spent {window_words(key)}, one card per "
        f"{money.format(plan.every_spend)} ({money.format(plan.value * issued)})"
    )


def refund_partner_gift_card(
    window: GiftCardWindowTotals, refunded_spend: int
) -> GiftCardWindowTotals:
    """Lower a window's net spend by refunded qualifying spend; cards stay issued."""
    net, highest, cards = window
    return (net - refunded_spend, highest, cards)
