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

With ``hold_for`` the referrer's reward is held until the purchase's instant plus
``hold_for`` (``evaluation.gifts`` gives it then). A refund of the purchase before then
that leaves it paying less than ``min_paid`` on the eligible lines, or no eligible priced
unit, reverses it: the friend's entries carry a fact with ``reversed_by`` for the
referrer, and the friend's next qualifying purchase may earn the referral again (with the
friend's own gift again, unless the friend kept the first one: a voucher, or points a
partial refund left). A refund from the hold's end on changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import Finding, KindSpec, Now, ReferenceExamples, Returned
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import Duration
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import ReferralQualified, Refund
from rewardrules.kinds._gifts import (
    GiftPlan,
    at_least,
    eligible_priced_units,
    gift_refund_words,
    keep_points,
    minimum_refusal,
    not_joined,
    paid_on_eligible,
    refund_fixed_points,
)
from rewardrules.money import Currency
from rewardrules.program.model import Program, Referral
from rewardrules.text import counted


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
    hold: Duration | None = None
    zone: ZoneInfo | None = None

    @classmethod
    def compile(
        cls, rule: Referral, money: Currency, points_name: str, zone: ZoneInfo | None = None
    ) -> ReferralPlan:
        """Compile the gifts, filter, minimum and hold."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            referrer=GiftPlan.of(rule.referrer, money),
            referred=None if rule.referred is None else GiftPlan.of(rule.referred, money),
            min_paid=money.to_minor(rule.min_paid),
            points_name=points_name,
            money=money,
            hold=None if rule.hold_for is None else Duration.parse(rule.hold_for),
            zone=zone,
        )

    def what(self) -> str:
        """How the rule is called in reasons."""
        return self.rule.description or "referral"

    def held_until(self, at: datetime) -> datetime | None:
        """When the hold of a purchase at ``at`` ends; None without ``hold_for`` (or with a
        hold of 0 days, which holds nothing)."""
        if self.hold is None:
            return None
        until = self.hold.after(at, self.zone or ZoneInfo("UTC"))
        return until if until > at else None


def referral_at_purchase(
    plan: ReferralPlan,
    referred_by: str,
    context: PurchaseContext,
    amounts: Sequence[int],
    gift_given: bool = False,
) -> tuple[ReferralQualified | None, list[LedgerEntry]]:
    """Whether a purchase is the friend's qualifying one: the fact, and the friend's entries.

    ``gift_given``: the friend kept their own gift of a purchase whose referral a refund
    reversed (a voucher, or points a partial refund left); it is not given again.
    """
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
    if plan.referred is not None and not gift_given:
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
    """The referrer's entry for a friend's qualifying purchase (at the hold's end, if held)."""
    why = f"{plan.what()}: {fact.referred}, whom you referred, made a first qualifying purchase"
    if plan.hold is not None:
        why += f" ({fact.id}), not returned within the hold of {plan.hold.text}"
    return plan.referrer.entry(
        fact.id, fact.customer_id, plan.rule.id, plan.money, plan.points_name, why
    )


def _marker_reason(money: Currency, fact: ReferralQualified, plan: ReferralPlan) -> str:
    gift = plan.referrer.words(money, plan.points_name)
    referrer = fact.customer_id
    text = (
        f"{plan.what()}: first qualifying purchase of a friend referred by {referrer}; "
        f"the referral reward ({gift}) goes to {referrer}'s ledger"
    )
    until = plan.held_until(fact.at)
    if until is None:
        return text
    return (
        f"{text}, held until {held_date(until, plan)} (friend's purchase {fact.id} may "
        "still be returned)"
    )


def held_date(until: datetime, plan: ReferralPlan) -> str:
    """The hold's end as the program's local date, with the time when not midnight."""
    local = until.astimezone(plan.zone or ZoneInfo("UTC"))
    if local.time() == local.time().replace(hour=0, minute=0, second=0, microsecond=0):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def _reversal_reason(
    money: Currency, fact: ReferralQualified, plan: ReferralPlan, refund: Refund
) -> str:
    refunded_on = refund.at.astimezone(plan.zone or ZoneInfo("UTC")).date().isoformat()
    gift = plan.referrer.words(money, plan.points_name)
    return (
        f"{plan.what()}: reversed: friend's purchase {fact.id} was refunded on {refunded_on} "
        f"within the hold; {fact.customer_id} does not get the referral reward ({gift}), "
        "and the next qualifying purchase may earn it"
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


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: ReferralPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    rule_id = plan.rule.id
    profile = state.profile
    if profile is None or profile.referred_by is None or rule_id in state.bonuses:
        return []
    if profile.joined_at is not None and context.purchase.at < profile.joined_at:
        return []
    earlier = state.friend_holds.get(rule_id)  # a reversed referral: was the gift kept?
    gift_kept = earlier is not None and earlier[3]
    fact, entries = referral_at_purchase(
        plan, profile.referred_by, context, basket.amounts, gift_kept
    )
    if fact is not None:
        state.bonuses[rule_id] = None
        state.outbox.append(fact)
        keep_points(basket, rule_id, entries)
        until = plan.held_until(fact.at)
        if until is not None:
            # A gift kept from an earlier reversed purchase stays kept: were this one
            # reversed too, the friend must not get a second gift at the next.
            state.friend_holds[rule_id] = (fact.id, until, None, gift_kept)
    return entries


def _refund(
    plan: ReferralPlan,
    state: WorkingState,
    record: PurchaseRecord,
    refund: Refund,
    before: list[int],
    refunded: list[int],
) -> list[LedgerEntry]:
    """The friend's points as a bonus's; then, within a hold, whether the referral stands."""
    entries = refund_fixed_points(plan, state, record, refund, before, refunded)
    rule_id = plan.rule.id
    hold = state.friend_holds.get(rule_id)
    if hold is None or state.profile is None or state.profile.referred_by is None:
        return entries
    purchase_id, until, reversed_by, kept_before = hold
    if purchase_id != record.context.purchase.id or reversed_by is not None:
        return entries
    if refund.at >= until or not _falls_below(plan, record):
        return entries  # the hold is over, or the purchase still qualifies
    # The friend keeps a voucher, and points a partial refund left (record.points), and
    # whatever they kept of an earlier reversed purchase (this one then gave no gift).
    kept = kept_before or (
        plan.referred is not None
        and (plan.referred.points is None or record.points.get(rule_id, 0) > 0)
    )
    state.friend_holds[rule_id] = (purchase_id, until, refund.id, kept)
    del state.bonuses[rule_id]
    purchase = record.context.purchase
    fact = ReferralQualified.model_construct(
        id=purchase_id,
        customer_id=state.profile.referred_by,
        at=refund.at,
        referred=purchase.customer_id,
        rule=rule_id,
        reversed_by=refund.id,
    )
    state.outbox.append(fact)
    entries.append(
        LedgerEntry(
            refund.id,
            purchase.customer_id,
            rule_id,
            "referral",
            None,
            None,
            REVERSED,
            plan.money,
            _reversal_reason,
            (fact, plan, refund),
        )
    )
    return entries


REVERSED = -1
"""The ``units`` of a friend's ``referral`` entry that reverses a held referral: the totals
count it as minus one referral (a qualifying purchase's entry has none)."""


def _falls_below(plan: ReferralPlan, record: PurchaseRecord) -> bool:
    """Whether what is left of a purchase no longer qualifies: no eligible priced unit, or
    less than ``min_paid`` paid on the eligible lines (what was paid less what was given
    back)."""
    context = record.context
    if eligible_priced_units(plan.scope, context, record.refunded_units) == 0:
        return True
    left = [paid - back for paid, back in zip(record.paid, record.refunded_amount)]
    return paid_on_eligible(plan.scope, context, left) < plan.min_paid


def _why_not(
    plan: ReferralPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    # The engine's checks in its order: the profile and what was given, then the filter,
    # then what the purchase pays on the rule's lines.
    refusal = _profile_refusal(plan, record, state, zone)
    if refusal is None:
        refusal = scope_refusal(plan, record.context)
    if refusal is None:
        refusal = minimum_refusal(plan.scope, plan.money, plan.min_paid, record)
    return refusal or "it gave nothing for this purchase"


def _profile_refusal(
    plan: ReferralPlan, record: PurchaseRecord, state: WorkingState, zone: tzinfo
) -> str | None:
    profile = state.profile
    if profile is None or profile.referred_by is None:
        return "not a referred customer (no referred_by in the profile)"
    if plan.rule.id in state.bonuses:
        return f"friend already qualified (referred by {profile.referred_by}; once per rule)"
    if profile.joined_at is None:
        return None
    if record.context.purchase.at < profile.joined_at:
        return not_joined(profile.joined_at, zone)
    return None


def _next_reward(plan: ReferralPlan, state: WorkingState, now: Now) -> tuple[str, date | None]:
    """As a referred friend still to qualify, what qualifies; else the referrer's side (its
    limits count the referrer's rewards), and the first local date it can come."""
    profile, rule_id = state.profile, plan.rule.id
    minimum = at_least(plan.money.format(plan.min_paid), plan.min_paid)
    if profile is not None and profile.referred_by is not None and rule_id not in state.bonuses:
        text = f"waiting for a qualifying purchase{minimum} (referred by {profile.referred_by})"
        if plan.referred is not None:
            text += f", which gives {plan.referred.words(plan.money, plan.points_name)}"
        return text, None
    gift = plan.referrer.words(plan.money, plan.points_name)
    friends = sum(1 for _, referral in state.referrals if referral == rule_id)
    so_far = f"{counted(friends, 'friends')} qualified so far"
    held = sum(1 for _, referral in state.held if referral == rule_id)
    if held:
        so_far += f", {counted(held, 'rewards')} held"
    return f"{gift} for each referred friend's first purchase{minimum} ({so_far})", now.local_date


def _refund_words(
    plan: ReferralPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    return gift_refund_words(plan.rule.id, plan.referred, plan.points_name, record)


_LONGEST_HOLD = Duration.parse("1 year")
"""Past this, a hold is probably a typo (``30 months`` for ``30 days``): no return window
of a shop is that long, and the referrer waits the whole time."""

_STARTS = tuple(datetime(2026 + month // 12, month % 12 + 1, 1, tzinfo=UTC) for month in range(24))
"""Starting instants a month apart: a calendar duration is longer than another when it is
longer from each of them (a month is 28 to 31 days)."""


def _hold_findings(rule: Referral, program: Program) -> Iterator[Finding]:
    """A hold that cannot do its job (``referral-hold``): of no time, far longer than a
    return window, or outlasting ``refunds.within`` (no refund can come that late)."""
    if rule.hold_for is None:
        return
    hold, path = Duration.parse(rule.hold_for), ("hold_for",)
    if hold.days == 0 and hold.months == 0:
        yield Finding(
            path,
            f"a hold of {hold.text} gives the referrer's reward at the friend's purchase: no "
            "refund can reverse it",
            suggestion="leave hold_for out, or hold for the return window, say 30 days",
        )
        return
    if _longer(hold, _LONGEST_HOLD):
        yield Finding(
            path,
            f"a hold of {hold.text}: the referrer waits more than a year for the reward",
            suggestion="hold for the return window of the friend's purchase, say 30 days",
        )
    within = program.refunds.within
    if within is not None and _longer(hold, Duration.parse(within)):
        yield Finding(
            path,
            f"a hold of {hold.text} outlasts refunds.within ({within}): no refund can come "
            f"after {within}, so the reward waits longer than any refund could reverse it",
            suggestion=f"hold for {within} or less",
        )


def _longer(first: Duration, second: Duration) -> bool:
    """Whether ``first`` is longer than ``second`` from any start (UTC calendar months)."""
    zone = ZoneInfo("UTC")
    return all(first.after(start, zone) > second.after(start, zone) for start in _STARTS)


SPEC: KindSpec[Referral, ReferralPlan] = KindSpec(
    model=Referral,
    compile=lambda rule, settings: ReferralPlan.compile(
        rule, settings.money, settings.points_name, settings.zone
    ),
    purchase=_purchase,
    refund=_refund,
    # Never in a group (it rewards no purchase) nor limited at a purchase; its mark all the same.
    state_slices=lambda plan: (("bonuses", plan.rule.id),),
    changes_prices=lambda plan: False,
    dated=None,
    rewards_referrer=referrer_reward,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=_refund_words,
    gives_fixed_gifts=True,
    lint={"referral-hold": _hold_findings},
    reference=ReferenceExamples(
        rule_id="bring-a-friend",
        keys={},
        apart=(),
        refused=frozenset({"exclusive_group"}),
    ),
)
"""What the engine and the tools know about ``referral``."""
