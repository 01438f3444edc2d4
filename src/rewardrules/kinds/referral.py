"""``referral``: the referrer is rewarded when the friend they referred first buys.

Business rule: a customer whose profile names ``referred_by`` qualifies with their first
purchase (at or after joining, when the profile says when) that the filter admits, that has
an eligible line priced above zero and that pays at least ``min_paid`` on the eligible
lines after price rules. At that purchase the friend gets ``referred`` (if set) and the
friend's ledger records a ``referral`` entry; the referrer gets ``referrer`` in their own
ledger at the same instant, as a :class:`~rewardrules.events.ReferralQualified` fact.

Edges: each friend qualifies once per rule. The referrer's reward is available at once and
is not taken back when the friend returns the purchase; the friend's own points are the
purchase's points and are taken back like a bonus. A rule's ``limit`` counts the
referrer's rewards (for example at most 5 referrals a year).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rewardrules.events import ReferralQualified
from rewardrules.kinds._gifts import GiftPlan, eligible_priced_units, paid_on_eligible
from rewardrules.ledger import LedgerEntry
from rewardrules.money import Currency
from rewardrules.program import Referral
from rewardrules.scope import PurchaseContext, Scope


@dataclass(frozen=True, slots=True)
class ReferralPlan:
    """A referral rule: both gifts and the minimum in minor units."""

    rule: Referral
    scope: Scope
    referrer: GiftPlan
    referred: GiftPlan | None
    min_paid: int
    points_name: str
    money: Currency

    @classmethod
    def compile(cls, rule: Referral, money: Currency, points_name: str) -> ReferralPlan:
        """Compile the gifts, filter and minimum."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            referrer=GiftPlan.of(rule.referrer, money),
            referred=None if rule.referred is None else GiftPlan.of(rule.referred, money),
            min_paid=money.to_minor(rule.min_paid),
            points_name=points_name,
            money=money,
        )

    def what(self) -> str:
        """How the rule is called in reasons."""
        return self.rule.description or "referral"


def referral_at_purchase(
    plan: ReferralPlan,
    referred_by: str,
    context: PurchaseContext,
    amounts: Sequence[int],
) -> tuple[ReferralQualified | None, list[LedgerEntry]]:
    """Whether a purchase is the friend's qualifying one: the fact, and the friend's entries."""
    if eligible_priced_units(plan.scope, context) == 0:
        return None, []
    if paid_on_eligible(plan.scope, context, amounts) < plan.min_paid:
        return None, []
    purchase = context.purchase
    fact = ReferralQualified(
        id=purchase.id,
        customer_id=referred_by,
        at=purchase.at,
        referred=purchase.customer_id,
        rule=plan.rule.id,
    )
    entries = [
        LedgerEntry(
            purchase.id,
            purchase.customer_id,
            plan.rule.id,
            "referral",
            None,
            None,
            None,
            plan.money,
            _marker_reason,
            (fact, plan),
        )
    ]
    if plan.referred is not None:
        why = f"{plan.what()}: first qualifying purchase as a friend of {referred_by}"
        entries.append(
            plan.referred.entry(
                purchase.id,
                purchase.customer_id,
                plan.rule.id,
                plan.money,
                plan.points_name,
                why,
            )
        )
    return fact, entries


def referrer_reward(plan: ReferralPlan, fact: ReferralQualified) -> LedgerEntry:
    """The referrer's entry for a friend's qualifying purchase."""
    why = f"{plan.what()}: {fact.referred}, whom you referred, made a first qualifying purchase"
    return plan.referrer.entry(
        fact.id, fact.customer_id, plan.rule.id, plan.money, plan.points_name, why
    )


def _marker_reason(money: Currency, fact: ReferralQualified, plan: ReferralPlan) -> str:
    gift = plan.referrer.words(money, plan.points_name)
    referrer = fact.customer_id
    return (
        f"{plan.what()}: first qualifying purchase of a friend referred by {referrer}; "
        f"the referral reward ({gift}) goes to {referrer}'s ledger"
    )


def referral_facts(entries: Iterable[LedgerEntry]) -> list[ReferralQualified]:
    """The referral facts a friend's entries carry, to apply to the referrers' states.

    ``evaluate`` applies them itself; an application that uses ``step`` passes each to
    ``step`` on the referrer's state.
    """
    return [
        entry.arguments[0]
        for entry in entries
        if entry.kind == "referral" and isinstance(entry.arguments[0], ReferralQualified)
    ]
