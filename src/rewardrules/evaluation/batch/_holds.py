"""Referral holds (a rule's ``hold_for``) in the batch engine, on both sides of a referral.

**The friend's side** (:class:`FriendRefunds`, in the facts pass): without a hold a friend
qualifies once, at their first qualifying purchase. With one, the friend's refunds of that
purchase are followed up to the hold's end, as the kind module's ``_refund`` follows them:
the first that leaves the purchase with no eligible unit priced above zero, or paying less
than ``min_paid`` on the rule's lines, reverses the referral. The friend's ledger records
the reversal at that refund, the referrer gets a second fact (``reversed_by``) at the
refund's instant, and the friend's next qualifying purchase after the refund qualifies
again, held again (with the friend's own gift again, unless they kept the first: a
voucher, or points the refund left). A refund at or after the hold's end changes nothing.
Friends are few beside purchases and a friend's refunds fewer still: a short loop over the
qualifying purchases of each friend, reading the refund steps (``_refunds``) as columns.

**The referrer's side** (:class:`HeldRewards`, in ``_timeline``'s walk): a fact under a
rule with a hold is held until the purchase's instant plus ``hold_for`` and given at the
referrer's first event or fact at or after then, or by ``as_of`` (``gifts.release_held``);
a reversal takes a held reward back before it is given. :class:`HoldChecks` refuses, in
evaluation order, a reversal the reference refuses (``gifts._reverse``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import Duration
from rewardrules.errors import event_error
from rewardrules.evaluation.batch._frame import Flags, Frame
from rewardrules.evaluation.batch._referrals import FACT_SCHEMA, Fact, check_fact
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._rules import Numbers
from rewardrules.events import ReferralQualified, Refund
from rewardrules.kinds.referral import REVERSED, ReferralPlan

# The reversal's reason (private to its kind module, which alone writes it).
from rewardrules.kinds.referral import _reversal_reason as reversal_reason

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _INSTANT


@dataclass(frozen=True, slots=True)
class FriendRefunds:
    """What the facts pass reads under a rule with a hold: the friends' refunds of their
    qualifying purchases, and the purchases' lines as the rule sees them."""

    plan: ReferralPlan
    frame: Frame
    steps: Sequence[RefundStep]
    """Every refund as applied, in the reference's order (``Refunds.steps``)."""
    priced: Flags
    """Per line: an eligible line priced above zero (``GiftColumns.priced``)."""
    eligible: Flags
    """Per line: a line of a purchase the rule's filter admits."""
    paid: Numbers
    """Per line: what it paid after the price rules."""
    written: Callable[[int], datetime]
    """An event's instant as written."""
    kept: Mapping[int, bool] = field(default_factory=dict)
    """Per customer (frame index), when resuming: whether the friend kept their own gift of
    a referral reversed before (``SavedHold.gift_kept``, ``_resumed_referrals``)."""

    def facts(self, candidates: pa.Table) -> tuple[pa.Table, list[tuple[int, LedgerEntry]]]:
        """The facts pass under a hold.

        Args:
            candidates: the qualifying purchases (as ``_referrals.qualified_facts`` reads
                them), with ``row``, each one's event; each friend's in evaluation order.

        Returns:
            The facts (``FACT_SCHEMA``, then ``row``: the purchase, or for a reversal the
            refund; ``gift``: whether the friend gets their own gift at the purchase;
            ``order_id``), in event order; and the friend's reversal entries, each at
            its refund's event, in event order.
        """
        frame = self.frame
        rows: list[int] = np.asarray(candidates.column("row"), dtype=np.int64).tolist()
        referrers = [str(referrer) for referrer in candidates.column("referred_by").to_pylist()]
        of_purchase: dict[int, list[RefundStep]] = {}
        wanted = set(rows)
        for step in self.steps:
            if step.purchase in wanted:
                of_purchase.setdefault(step.purchase, []).append(step)
        owners = frame.customer[np.asarray(rows, dtype=np.int64)]
        # Each friend's rows are together (the frame is sorted by customer).
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]).tolist()
        found: dict[str, list[Any]] = {
            name: [] for name in (*FACT_SCHEMA.names, "row", "gift", "order_id")
        }
        reversals: list[tuple[int, LedgerEntry]] = []
        for start, end in zip(starts, [*starts[1:], len(rows)], strict=True):
            if start == end:
                break  # no friend qualifies
            self._friend(rows[start:end], referrers[start], of_purchase, found, reversals)
        order = sorted(range(len(found["row"])), key=found["row"].__getitem__)
        columns = {name: [values[index] for index in order] for name, values in found.items()}
        at = pa.array(columns.pop("at"), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        kinds = {"utc_offset": pa.int32(), "row": pa.int64(), "gift": pa.bool_()}
        arrays = {
            name: at if name == "at" else pa.array(columns[name], kinds.get(name, pa.string()))
            for name in (*FACT_SCHEMA.names, "row", "gift", "order_id")
        }
        table = pa.table(arrays)
        reversals.sort(key=lambda reversal: reversal[0])
        return table, reversals

    def _friend(
        self,
        purchases: list[int],
        referrer: str,
        of_purchase: Mapping[int, list[RefundStep]],
        found: dict[str, list[Any]],
        reversals: list[tuple[int, LedgerEntry]],
    ) -> None:
        """One friend's qualifying purchases: the first, and after each reversal the next
        after the reversing refund."""
        plan, frame, ids = self.plan, self.frame, self.frame.event_ids
        friend = frame.customer_ids[int(frame.customer[purchases[0]])]
        after, kept = -1, self.kept.get(int(frame.customer[purchases[0]]), False)
        for purchase in purchases:
            if purchase <= after:
                continue  # made before the refund that reversed the referral: qualified then
            gift = plan.referred is not None and not kept
            self._add(found, purchase, purchase, referrer, friend, None, gift)
            until = plan.held_until(self.written(purchase))
            if until is None:
                return  # a hold of no time holds nothing
            step = self._reversing(purchase, _microseconds(until), of_purchase.get(purchase, []))
            if step is None:
                return  # the referral stands
            refund_id = str(ids[step.event])
            self._add(found, step.event, purchase, referrer, friend, refund_id, False)
            # What the friend kept stays kept, through later reversals of giftless ones.
            kept = kept or (
                plan.referred is not None
                and (
                    plan.referred.points is None
                    or (gift and plan.referred.points > 0 and self._units_left(purchase, step) > 0)
                )
            )
            reversals.append((step.event, self._reversal(purchase, step, referrer, friend)))
            after = step.event

    def _add(
        self,
        found: dict[str, list[Any]],
        event: int,
        purchase: int,
        referrer: str,
        friend: str,
        refund_id: str | None,
        gift: bool,
    ) -> None:
        """One fact: the purchase's, or (with ``refund_id``) its reversal at ``event``."""
        frame = self.frame
        found["event_id"].append(str(frame.event_ids[purchase]))
        found["customer_id"].append(referrer)
        found["at"].append(int(frame.at[event]))
        found["utc_offset"].append(int(frame.utc_offset[event]))
        found["referred"].append(friend)
        found["rule"].append(self.plan.rule.id)
        found["reversed_by"].append(refund_id)
        found["row"].append(event)
        found["gift"].append(gift)
        found["order_id"].append(str(frame.event_ids[event]))

    def _reversing(self, purchase: int, until: int, steps: list[RefundStep]) -> RefundStep | None:
        """The refund within the hold after which the purchase no longer qualifies."""
        for step in steps:
            if int(self.frame.at[step.event]) >= until:
                return None  # the hold is over: no later refund changes anything
            if self._units_left(purchase, step) == 0 or self._paid_left(purchase, step) < (
                self.plan.min_paid
            ):
                return step
        return None

    def _units_left(self, purchase: int, step: RefundStep) -> int:
        """Eligible units priced above zero the purchase keeps after ``step``."""
        start = int(self.frame.line_start[purchase])
        quantities = self.frame.quantity[start : start + len(step.units_after)].tolist()
        flags = self.priced[start : start + len(step.units_after)].tolist()
        return sum(
            quantity - gone
            for quantity, gone, flag in zip(quantities, step.units_after, flags, strict=True)
            if flag
        )

    def _paid_left(self, purchase: int, step: RefundStep) -> int:
        """What the purchase pays on the rule's lines after ``step`` (paid less given back)."""
        start = int(self.frame.line_start[purchase])
        paid = self.paid[start : start + len(step.amounts_after)].tolist()
        flags = self.eligible[start : start + len(step.amounts_after)].tolist()
        return sum(
            int(amount) - back
            for amount, back, flag in zip(paid, step.amounts_after, flags, strict=True)
            if flag
        )

    def _reversal(self, purchase: int, step: RefundStep, referrer: str, friend: str) -> LedgerEntry:
        """The friend's ``referral`` entry at the refund, as the kind module writes it."""
        plan, ids = self.plan, self.frame.event_ids
        moment = self.written(step.event)
        refund_id = str(ids[step.event])
        fact = ReferralQualified.model_construct(
            id=str(ids[purchase]),
            customer_id=referrer,
            at=moment,
            referred=friend,
            rule=plan.rule.id,
            reversed_by=refund_id,
        )
        refund = Refund.model_construct(
            id=refund_id, customer_id=friend, at=moment, purchase_id=str(ids[purchase])
        )
        return LedgerEntry(
            refund_id,
            friend,
            plan.rule.id,
            "referral",
            None,
            None,
            REVERSED,
            plan.money,
            reversal_reason,
            (fact, plan, refund),
        )


def hold_end(referrals: Mapping[str, Any], fact: Fact, zone: Any) -> datetime | None:
    """When a referrer's reward for ``fact`` is given: the hold's end; None when given at
    once (no ``hold_for``, or a hold of no time), as ``gifts.apply_referral`` decides."""
    hold = getattr(referrals[fact.rule].rule, "hold_for", None)
    if hold is None:
        return None
    until = _duration(hold).after(fact.written, zone)
    return until if until > fact.written else None


_DURATIONS: dict[str, Duration] = {}


def _duration(text: str) -> Duration:
    found = _DURATIONS.get(text)
    if found is None:
        found = _DURATIONS[text] = Duration.parse(text)
    return found


@dataclass(slots=True)
class HoldChecks:
    """The reference's checks of a referrer's facts, in evaluation order, with holds: a
    reversal must take back a reward still held (``gifts._reverse``), and after one the
    friend may be rewarded again under the rule."""

    referrals: Mapping[str, Any]
    zone: Any
    held: dict[tuple[str, str, str], tuple[datetime, str]] = field(default_factory=dict)
    """Per (referrer, fact id, rule), the hold's end and the friend."""

    def check(self, fact: Fact, rewarded: set[tuple[str, str]]) -> None:
        """Check one fact (``rewarded``: the referrer's (rule, friend) pairs so far).

        Raises:
            HistoryError: as ``gifts.apply_referral`` refuses the fact.
        """
        if fact.reversed_by is None:
            check_fact(fact, self.referrals, rewarded)
            until = hold_end(self.referrals, fact, self.zone)
            if until is not None:
                self.held[(fact.referrer, fact.event_id, fact.rule)] = (until, fact.referred)
            return
        if fact.rule not in self.referrals or fact.referred == fact.referrer:
            check_fact(fact, self.referrals, set())  # refused for its rule or referrer
        if getattr(self.referrals[fact.rule].rule, "hold_for", None) is None:
            raise event_error(
                fact.event_id,
                f"it reverses a referral under rule '{fact.rule}', which holds nothing (it "
                "has no hold_for): leave reversed_by out, or give the rule a hold_for",
                "reversed_by",
            )
        key = (fact.referrer, fact.event_id, fact.rule)
        held = self.held.get(key)
        # A reward whose hold ended by the reversal's instant was given before it.
        if held is None or held[0] <= fact.written or held[1] != fact.referred:
            raise event_error(
                fact.event_id,
                f"it reverses the referral of {fact.referred}'s purchase {fact.event_id} "
                f"under rule '{fact.rule}', but customer {fact.referrer} holds no such "
                "reward (never held, already reversed, or given when its hold ended); supply "
                "the fact of the purchase first, and a reversal only for a refund within "
                "the hold",
                "reversed_by",
            )
        del self.held[key]
        rewarded.discard((fact.rule, fact.referred))


@dataclass(slots=True)
class HeldRewards:
    """A referrer's rewards held during their walk: by (fact id, rule), the hold's end and
    the fact."""

    held: dict[tuple[str, str], tuple[datetime, Fact]] = field(default_factory=dict)
    first_end: datetime | None = None
    """The earliest hold's end among ``held`` (None when nothing is held): most items of a
    walk come before it, and need not look at the rewards held."""

    def take(self, fact: Fact, until: datetime | None) -> bool:
        """Hold a fact's reward until ``until``, or take a held one back (a reversal);
        False when the reward is to be given now."""
        key = (fact.event_id, fact.rule)
        if fact.reversed_by is not None:
            self.held.pop(key, None)  # checked by ``HoldChecks``
            self._first()
            return True
        if until is None:
            return False
        self.held[key] = (until, fact)
        if self.first_end is None or until < self.first_end:
            self.first_end = until
        return True

    def due(self, until: datetime, inclusive: bool) -> list[tuple[datetime, Fact]]:
        """The rewards whose hold ends before ``until`` (or at it, when ``inclusive``), in
        the order ``gifts.release_held`` gives them, no longer held."""
        first = self.first_end
        if first is None or first > until or (first == until and not inclusive):
            return []
        ready = sorted(
            (moment, key)
            for key, (moment, _) in self.held.items()
            if moment < until or (inclusive and moment == until)
        )
        given = [(moment, self.held.pop(key)[1]) for moment, key in ready]
        self._first()
        return given

    def _first(self) -> None:
        self.first_end = min((moment for moment, _ in self.held.values()), default=None)


def released(fact: Fact, moment: datetime) -> Fact:
    """A held fact as given at the hold's end."""
    return Fact(
        _microseconds(moment),
        fact.event_id,
        fact.referrer,
        fact.referred,
        fact.rule,
        moment,
    )
