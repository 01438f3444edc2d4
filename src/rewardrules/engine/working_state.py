"""The mutable state of one customer while the engine folds over its events.

A :class:`WorkingState` holds amounts as integer minor units, a running tier counter and,
per purchase it can still refund, a :class:`PurchaseRecord` of what the purchase paid and
earned. ``_state_restore.restore`` builds one from a saved
:class:`~rewardrules.engine.state.CustomerState`, and ``_state_save.save`` turns it back into
one; the purchases of a saved state are opened into records only when a refund needs them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rewardrules.engine._state_columns import NO_WINDOW, WindowColumns
from rewardrules.engine._state_format import micros
from rewardrules.engine.lots import Duration, PointsAccount, settle
from rewardrules.engine.refunds import refunded_amount
from rewardrules.engine.scope import PurchaseContext
from rewardrules.engine.tiers import TierCounter, TierPlan
from rewardrules.events import Customer, Purchase, ReferralQualified

_DAY_MICROS = 86_400_000_000

if TYPE_CHECKING:  # restoring opens saved purchases into this state's records
    from rewardrules.engine._state_restore import Opener


_PAID: Mapping[str, list[int]] = MappingProxyType({})
"""No rule earned on other amounts than the purchase's paid amounts (shared, never changed)."""


class PurchaseRecord:
    """A purchase inside the working state: what it paid and what it earned."""

    __slots__ = (
        "at",
        "context",
        "earned_on",
        "in_window",
        "local_date",
        "paid",
        "points",
        "refunded_amount",
        "refunded_units",
        "set_aside",
        "tier_amount",
        "tier_slot",
    )

    def __init__(
        self,
        context: PurchaseContext,
        paid: list[int],
        points: dict[str, int],
        tier_amount: int,
        refunded_units: list[int] | None = None,
        refunded_amount: list[int] | None = None,
    ) -> None:
        self.context = context
        # Copied out of the context: the tier counter reads them for every purchase.
        self.at = context.purchase.at
        self.local_date = context.local_date
        self.paid = paid
        self.points = points
        self.tier_amount = tier_amount
        self.refunded_units = refunded_units or [0] * len(paid)
        self.refunded_amount = refunded_amount or [0] * len(paid)
        self.set_aside: tuple[str, ...] = ()
        """Rules that lost an exclusive group at this purchase: a refund leaves them be."""
        self.in_window = False
        self.earned_on: Mapping[str, list[int]] = _PAID
        """Per rule that earned on other amounts than ``paid``, each line's amount it saw."""
        self.tier_slot: int | None = None
        """For a purchase opened from a saved state, its place in the tier counter's saved
        rolling window (``TierCounter.saved_at``); None for one evaluated here."""

    @property
    def purchase(self) -> Purchase:
        """The purchase itself."""
        return self.context.purchase

    def gross_left(self) -> list[int]:
        """Each line's gross amount for the units not yet refunded."""
        return [
            price * (line.quantity - done)
            for price, line, done in zip(
                self.context.unit_prices, self.context.purchase.lines, self.refunded_units
            )
        ]

    def paid_left(self) -> list[int]:
        """Each line's paid amount not yet refunded."""
        return [paid - refunded for paid, refunded in zip(self.paid, self.refunded_amount)]

    def left_of(self, rule_id: str) -> list[int]:
        """Each line's amount the rule earned on, less the share of the refunded units."""
        seen = self.earned_on.get(rule_id)
        if seen is None:
            return self.paid_left()
        gone = self.refunded_of(rule_id, self.refunded_units)
        return [amount - back for amount, back in zip(seen, gone)]

    def refunded_of(
        self, rule_id: str, units: Sequence[int], before: Sequence[int] | None = None
    ) -> list[int]:
        """The share of the amounts a rule earned on that ``units`` refunded per line take
        (less the share of ``before``), as :func:`refunded_amount` shares paid amounts."""
        seen = self.earned_on.get(rule_id, self.paid)
        lines = self.context.purchase.lines
        now = [refunded_amount(a, line.quantity, n) for a, line, n in zip(seen, lines, units)]
        if before is None:
            return now
        return [
            taken - refunded_amount(amount, line.quantity, done)
            for taken, amount, line, done in zip(now, seen, lines, before)
        ]

    def fully_refunded(self) -> bool:
        """Whether every unit of every line has been refunded."""
        lines = self.context.purchase.lines
        return all(done == line.quantity for done, line in zip(self.refunded_units, lines))


class WorkingState:
    """The mutable state of one customer during one evaluation.

    The purchases of a saved state stay as they were saved (``saved``) until a refund
    needs one (:meth:`record`): resuming reads none of them, and saving writes the
    untouched ones back as they were.
    """

    __slots__ = (
        "account",
        "birthdays",
        "bonuses",
        "cancellations",
        "customer_id",
        "first_event_at",
        "forgotten_until",
        "friend_holds",
        "gift_cards",
        "held",
        "last_event_at",
        "limit_usage",
        "next_gift_at",
        "opener",
        "order",
        "outbox",
        "passed_over",
        "profile",
        "purchases",
        "redemptions",
        "referrals",
        "refunds",
        "saved",
        "saved_order",
        "saved_window",
        "settled_purchase_at",
        "stamps",
        "tiers",
    )

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.account = PointsAccount()
        self.last_event_at: datetime | None = None
        self.stamps: dict[str, int] = {}
        self.gift_cards: dict[str, dict[str, tuple[int, int, int]]] = {}
        self.purchases: dict[str, PurchaseRecord] = {}
        # The saved state's purchases not opened yet, and the ids of all it held, in order.
        self.saved: dict[str, int] = {}  # id: its index in the saved columns
        self.saved_order: tuple[str, ...] = ()
        self.saved_window: WindowColumns = NO_WINDOW  # the saved rolling window's forgotten
        self.opener: Opener | None = None
        # The purchases' ids oldest first, to forget them from the front: deleting the
        # first keys of a dict one by one makes finding the next first key ever slower.
        self.order: deque[str] = deque()
        self.forgotten_until: datetime | None = None
        # The latest forgotten purchase not refunded in full (for purchase_within).
        self.settled_purchase_at: datetime | None = None
        self.refunds: dict[str, None] = {}  # an ordered set: ids in the order evaluated
        self.redemptions: dict[str, None] = {}
        self.cancellations: dict[str, str] = {}  # cancel id: the redemption it cancelled
        self.bonuses: dict[str, None] = {}
        self.tiers = TierCounter()
        self.profile: Customer | None = None
        self.first_event_at: datetime | None = None
        self.birthdays: dict[str, int] = {}
        self.limit_usage: dict[str, tuple[str, int]] = {}
        # (fact id, rule): friend. One purchase of a friend may qualify under two rules.
        self.referrals: dict[tuple[str, str], str] = {}
        self.outbox: list[ReferralQualified] = []  # facts for referrers, not saved
        # As a referrer: (fact id, rule) of ``referrals`` whose reward is held, until when.
        self.held: dict[tuple[str, str], datetime] = {}
        # As a referred friend: rule: (qualifying purchase, hold's end, reversing refund,
        # whether the friend kept their own gift of a reversed purchase).
        self.friend_holds: dict[str, tuple[str, datetime, str | None, bool]] = {}
        # The next gift at a date, once worked out (not saved: a resumed state works it out).
        self.next_gift_at: datetime | None = None
        # Gifts at dates passed over, (gift id, rule, moment, why), when something reads
        # them (explain sets a list); not saved.
        self.passed_over: list[tuple[str, str, datetime, str]] | None = None

    @property
    def points(self) -> int:
        """The points balance: available and pending, less any debt."""
        return self.account.balance

    def knows(self, event_id: str) -> bool:
        """Whether an event with this id was already evaluated for this customer."""
        return (
            event_id in self.purchases
            or event_id in self.saved
            or event_id in self.refunds
            or event_id in self.redemptions
        )

    def knows_fact(self, fact_id: str, rule: str) -> bool:
        """Whether this referral fact (a friend's purchase under a rule) was applied."""
        return (fact_id, rule) in self.referrals

    def event_ids(self) -> list[str]:
        """Every event id evaluated for this customer."""
        return [*self.saved, *self.purchases, *self.refunds, *self.redemptions]

    def add_purchase(self, purchase_id: str, record: PurchaseRecord) -> None:
        """Keep a purchase just evaluated (the newest)."""
        self.purchases[purchase_id] = record
        self.order.append(purchase_id)

    def record(self, purchase_id: str) -> PurchaseRecord | None:
        """A kept purchase as a record (a saved one is opened now), or None if not kept."""
        found = self.purchases.get(purchase_id)
        if found is not None:
            return found
        index = self.saved.pop(purchase_id, None)
        if index is None or self.opener is None:
            return None
        found = self.purchases[purchase_id] = self.opener.open(self, index)
        return found

    def _instant_of(self, purchase_id: str) -> datetime:
        index = self.saved.get(purchase_id)
        if index is not None and self.opener is not None:
            return self.opener.instant(index)
        return self.purchases[purchase_id].at

    def forget(self, within: Duration, zone: ZoneInfo, now: datetime) -> None:
        """Forget the purchases that can no longer be refunded at ``now`` (``refunds.within``).

        The newest purchase is kept whatever its age: the tier it was made at is where tier
        changes are seen from, and ``last_purchase_at`` is checked against it. A rolling
        tier window keeps counting them (it holds its own records), and a calendar window's
        totals already include them.
        """
        order = self.order
        if len(order) < 2:
            return
        # A span of days, after a saved purchase, compared in microseconds: the oldest
        # kept purchase is still in it at most steps, and its instant is not made for that.
        opener, saved = self.opener, self.saved
        span = None if within.months or opener is None else within.days * _DAY_MICROS
        now_at = 0 if span is None else micros(now)
        while len(order) > 1:
            index = saved.get(order[0])
            if span is not None and index is not None and opener is not None:
                if opener.columns.at[index] + span >= now_at:
                    return
                at = opener.instant(index)
            else:
                at = self._instant_of(order[0])
                if within.after(at, zone) >= now:
                    return
            gone = order.popleft()
            index = self.saved.pop(gone, None)
            if index is None or self.opener is None:
                kept = not self.purchases.pop(gone).fully_refunded()
            else:
                kept = self.opener.kept(index)
            if kept:
                self.settled_purchase_at = at
            self.forgotten_until = at
            settle(self.account, gone)

    def last_purchase_kept(self, leaving_out: str | None = None) -> datetime | None:
        """When the latest purchase evaluated that is not refunded in full was made (the
        one ``leaving_out`` names left out), forgotten ones included; None without one."""
        # Newest first: the kept purchases are in evaluation order, after the forgotten.
        for purchase_id in reversed(self.order):
            if purchase_id == leaving_out:
                continue
            record = self.purchases.get(purchase_id)
            if record is not None:
                if not record.fully_refunded():
                    return record.at
                continue
            index = self.saved[purchase_id]
            if self.opener is not None and self.opener.kept(index):
                return self.opener.instant(index)
        return self.settled_purchase_at


def tier_amount(record: PurchaseRecord, plan: TierPlan | None) -> int:
    """What a purchase counts toward tiers now: its paid amount left, 1 if not refunded in
    full, or its points left (``qualify_by: points``)."""
    if plan is None or plan.by_spend:
        return sum(record.paid) - sum(record.refunded_amount)
    if plan.by_points:
        return sum(record.points.values())
    return 0 if record.fully_refunded() else 1


def tier_amount_of(plan: TierPlan | None, paid: list[int], points: Mapping[str, int]) -> int:
    """What a purchase just evaluated counts toward tiers (as :func:`tier_amount`)."""
    if plan is None or plan.by_spend:
        return sum(paid)
    if plan.by_points:
        return sum(points.values())
    return 1
