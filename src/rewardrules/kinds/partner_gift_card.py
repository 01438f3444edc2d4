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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import KindSpec, Now, ReferenceExamples, Returned
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.tiers import calendar_key
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Refund
from rewardrules.money import Currency
from rewardrules.program.model import PartnerGiftCard
from rewardrules.text import NOTHING_LEFT, for_window, in_window, ordinal, window_words

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


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: GiftCardPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    windows = state.gift_cards.setdefault(plan.rule.id, {})
    key = plan.window_of(context)
    windows[key], entries = partner_gift_card(
        plan, windows.get(key, EMPTY_WINDOW), context, basket.amounts
    )
    basket.earned_on[plan.rule.id] = basket.amounts
    return entries


def _refund(
    plan: GiftCardPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    if plan.rule.id in record.earned_on:
        refunded = record.refunded_of(plan.rule.id, record.refunded_units, before)
    spend = plan.qualifying_spend(record.context, refunded)
    if spend:
        windows = state.gift_cards.setdefault(plan.rule.id, {})
        key = plan.window_of(record.context)
        windows[key] = refund_partner_gift_card(windows.get(key, EMPTY_WINDOW), spend)
    return []


def _why_not(
    plan: GiftCardPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    refusal = scope_refusal(plan, record.context)
    if refusal is not None:
        return refusal
    spend = plan.qualifying_spend(record.context, record.paid)
    if spend == 0:
        return NOTHING_LEFT
    key = plan.window_of(record.context)
    net, highest, cards = state.gift_cards.get(plan.rule.id, {}).get(key, EMPTY_WINDOW)
    money = plan.money
    if plan.limit is not None and cards >= plan.limit:
        return f"{money.format(spend)} counted, limit of {plan.limit} reached{for_window(key)}"
    threshold = (highest // plan.every_spend + 1) * plan.every_spend
    shown = f"{money.to_decimal(net)}/{money.format(threshold)}"
    return f"{money.format(spend)} counted, {shown}{in_window(key)}"


def _next_reward(plan: GiftCardPlan, state: WorkingState, now: Now) -> tuple[str, date]:
    key = calendar_key(plan.rule.window, now.local_date)
    net, highest, cards = state.gift_cards.get(plan.rule.id, {}).get(key, EMPTY_WINDOW)
    if plan.limit is not None and cards >= plan.limit:
        return f"limit of {plan.limit} reached{for_window(key)}", now.local_date
    needed = (highest // plan.every_spend + 1) * plan.every_spend - net
    text = (
        f"{plan.money.format(needed)} more spend{in_window(key)} for the next "
        f"{plan.rule.partner} gift card"
    )
    return text, now.local_date


def _refund_words(
    plan: GiftCardPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    rule_id, money = plan.rule.id, plan.money
    amounts = returned.amounts
    if rule_id in record.earned_on:  # the spend it counted, before a later price rule
        amounts = record.refunded_of(rule_id, record.refunded_units, returned.units_before)
    spend = plan.qualifying_spend(record.context, amounts)
    if spend == 0:
        return "no qualifying spend was returned"
    key = plan.window_of(record.context)
    net = state.gift_cards[rule_id][key][0]
    return (
        f"{money.format(spend)} less spend{in_window(key)}, {money.format(net)} now; "
        "gift cards already given stay"
    )


SPEC: KindSpec[PartnerGiftCard, GiftCardPlan] = KindSpec(
    model=PartnerGiftCard,
    compile=lambda rule, settings: GiftCardPlan.compile(rule, settings.money),
    purchase=_purchase,
    refund=_refund,
    state_slices=lambda plan: (("gift_cards", plan.rule.id),),
    changes_prices=lambda plan: False,
    dated=None,
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=False,
    lint={},
    reference=ReferenceExamples(
        rule_id="grocery-gift-card",
        keys={
            "partner": "Green Basket Grocery",
            "value": Decimal("10.00"),
            "every_spend": Decimal("200.00"),
            "max_per_window": 3,
        },
        apart=(),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``partner_gift_card``."""
