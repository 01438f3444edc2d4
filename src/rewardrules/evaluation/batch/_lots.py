"""Points accounts in integers: lots as parallel lists of microseconds and points.

The same rules as the reference's ``engine.lots`` (``earn``, ``advance``, ``take_back``,
``redeem``), written over ints instead of ``Lot`` objects and datetimes: a lot's instants
are UTC microseconds, and the instants it waits to and expires at are worked out once per
purchase (once per local date when the expiry is rounded up to a calendar period, since it
then depends on nothing else). ``_accounts`` uses it for every program without
``points.expire_on_inactivity``; the inactivity deadline moves with each purchase and is
left to the reference's functions there.

The reasons and entries are the reference's, word for word (``lots._entry``); a test
compares the two on drawn histories.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from rewardrules.engine.ledger import ExpiryDue, LedgerEntry
from rewardrules.engine.lots import (
    PointsPolicy,
    Spent,
    _entry,
    cancellation_reason,
    redemption_refusal,
    redemption_terms,
)
from rewardrules.evaluation.batch._cancels import Catalogue

if TYPE_CHECKING:
    from collections.abc import Callable

    from rewardrules.evaluation.batch._accounts import Accounts
    from rewardrules.evaluation.batch._frame import Flags, Frame, Ints

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_NO_CATALOGUE = Catalogue()
NEVER = 2**62
"""A lot that does not expire: later than any instant a datetime can hold."""


def microseconds(moment: datetime) -> int:
    """An aware datetime as UTC microseconds since the epoch."""
    return (moment - _EPOCH) // _INSTANT


class _Clock:
    """When a purchase's points become available and when they expire, in microseconds."""

    def __init__(self, policy: PointsPolicy, frame: Frame, moment: Callable[[int], datetime]):
        self.policy, self.frame, self.moment = policy, frame, moment
        pending, expiry = policy.pending_for, policy.expire_after
        self.wait = 0 if pending is None else pending.days * _DAY_US
        self.wait_months = pending is not None and pending.months != 0
        self.lasts = NEVER if expiry is None else expiry.days * _DAY_US
        self.by_date = expiry is not None and expiry.months != 0 and policy.round_up_to is not None
        self.exact = expiry is not None and (expiry.months != 0 or policy.round_up_to is not None)
        self.expiries: dict[int, int] = {}
        self.days: dict[int, date] = {}

    def available_at(self, event: int, at: int) -> int:
        """When points earned at ``event`` can be spent (``Duration.after`` of the wait)."""
        if self.wait_months:
            pending = self.policy.pending_for
            assert pending is not None  # noqa: S101 -- wait_months says it is set
            return microseconds(pending.after(self.moment(event), self.policy.zone))
        return at + self.wait

    def expires_at(self, event: int, at: int) -> int:
        """When points earned at ``event`` expire (``PointsPolicy.expiry_of``), or NEVER.

        Months, rounded up to the end of a month, quarter or year, land on the first local
        midnight of a period that the local date of the purchase alone decides.
        """
        if not self.exact:
            return NEVER if self.lasts == NEVER else at + self.lasts
        if not self.by_date:
            return self._expiry(event)
        day = int(self.frame.local_date[event])
        found = self.expiries.get(day)
        if found is None:
            found = self.expiries[day] = self._expiry(event)
        return found

    def _expiry(self, event: int) -> int:
        expires = self.policy.expiry_of(self.moment(event))
        assert expires is not None  # noqa: S101 -- exact says the points expire
        return microseconds(expires)

    def local_day(self, instant: int) -> date:
        """The local date of an instant in the program's zone."""
        found = self.days.get(instant)
        if found is None:
            moment = _EPOCH + timedelta(microseconds=instant)
            found = self.days[instant] = moment.astimezone(self.policy.zone).date()
        return found


def run_integer_accounts(  # noqa: PLR0915 (one hot loop, on purpose)
    frame: Frame,
    policy: PointsPolicy,
    points: Ints,
    flags: tuple[Flags, Flags, Flags],
    moment: Callable[[int], datetime],
    cutoff: tuple[datetime, bool, datetime] | None,
    replayed: list[int],
    accounts: Accounts,
    catalogue: Catalogue = _NO_CATALOGUE,
) -> None:
    """``_accounts.run_accounts`` for a policy without ``expire_on_inactivity``.

    A redemption keeps which lots (by index) it took its points from, as ``lots.redeem``
    keeps its ``Spent``; a cancellation (``catalogue.cancels``) gives them back to the lots
    still there, those in front of the first unexpired lot having expired.
    """
    assert policy.inactivity is None  # noqa: S101 -- the caller checks
    purchases, refunds, _ = (flag.tolist() for flag in flags)
    clock = _Clock(policy, frame, moment)
    has_clock = policy.has_clock
    name = policy.name
    expired_rule = "points.expire_after"
    why = f"{policy.expire_after.text if policy.expire_after else ''} after they were earned"
    if policy.round_up_to:
        why += f", to the end of the {policy.round_up_to}"
    ids = frame.event_ids
    at_of = frame.at.tolist()
    local_of = frame.local_date.tolist()
    dates: dict[int, date] = {}

    def _date(ordinal: int) -> date:
        found = dates[ordinal] = date.fromordinal(ordinal)
        return found

    starts = frame.customer_start.tolist()
    points_of = points.tolist()
    until = (
        None if cutoff is None else (microseconds(cutoff[0]), cutoff[1], microseconds(cutoff[2]))
    )
    expired_at, expired = accounts.expired_at, accounts.expired
    events_out, entries_out = accounts.events, accounts.entries
    cancels, tier_at, asked = catalogue.cancels, catalogue.tiers, frame.units.tolist()

    def expire(
        until: int, inclusive: bool, customer_id: str, out_at: list[int], out: list[LedgerEntry]
    ) -> int:
        """Pop the due lots from the front (``lots._expire_due``); return the new front."""
        head = front[0]
        while head < len(expires) and (
            expires[head] < until or (inclusive and expires[head] == until)
        ):
            left = lot_points[head]
            if left:
                earned_day = dates.get(earned[head]) or _date(earned[head])
                gone = clock.local_day(expires[head])
                reason = f"{left} {name} earned on {earned_day} expired on {gone} ({why})"
                out_at.append(out_event[0])
                out.append(
                    _entry(
                        policy, sources[head], customer_id, expired_rule, "expiry", -left, reason
                    )
                )
                lot_points[head] = 0
            head += 1
        front[0] = head
        return head

    out_event = [0]
    front = [0]
    for customer in replayed:
        customer_id = frame.customer_ids[customer]
        sources: list[str] = []
        earned: list[int] = []  # local date ordinals
        available: list[int] = []
        expires: list[int] = []
        lot_points: list[int] = []
        front[0] = 0
        debt = 0
        units: dict[str, int] = {}  # per reward, units redeemed (for per_customer)
        spent: dict[int, tuple[Spent, list[tuple[int, int]]]] = {}  # by redemption event
        first, end = starts[customer], starts[customer + 1]
        for event in range(first, end):
            at = at_of[event]
            head = front[0]
            if has_clock and head < len(expires) and expires[head] <= at:
                out_event[0] = event
                expire(at, True, customer_id, expired_at, expired)
            written: list[LedgerEntry] = []
            if purchases[event]:
                gained = points_of[event]
                if gained > 0:
                    repaid = min(debt, gained)
                    debt -= repaid
                    gained -= repaid
                    if gained and not has_clock and len(lot_points) > front[0]:
                        lot_points[front[0]] += gained
                    elif gained:
                        sources.append(ids[event])
                        earned.append(local_of[event])
                        available.append(clock.available_at(event, at))
                        expires.append(clock.expires_at(event, at))
                        lot_points.append(gained)
            elif refunds[event]:
                wanted = -points_of[event]
                if wanted:
                    purchase_id = frame.purchase_id[event].as_py()
                    lots = range(front[0], len(lot_points))
                    own = [lot for lot in lots if sources[lot] == purchase_id]
                    ready = [lot for lot in lots if lot_points[lot] and available[lot] <= at]
                    waiting = [lot for lot in lots if lot_points[lot] and available[lot] > at]
                    for lot in (*own, *ready, *waiting):
                        if not wanted:
                            break
                        taken = min(lot_points[lot], wanted)
                        lot_points[lot] -= taken
                        wanted -= taken
                    if wanted and not policy.clamp:
                        debt += wanted
                    elif wanted:
                        reason = (
                            f"{wanted} {name} of refunded purchase {purchase_id} were already "
                            "spent or expired; written off (the program clamps the balance at 0)"
                        )
                        written = [
                            _entry(
                                policy,
                                ids[event],
                                customer_id,
                                "points.negative_balance",
                                "written_off",
                                wanted,
                                reason,
                            )
                        ]
            elif event in cancels:
                undone = spent.pop(cancels[event], None)
                if undone is not None:
                    kept, taken = undone
                    units[kept.reward] -= kept.quantity
                    restored = sum(part for lot, part in taken if lot >= front[0])
                    gone = sum(part for lot, part in taken if lot < front[0])
                    repaid = min(debt, restored)
                    debt -= repaid
                    owed = repaid
                    for lot, part in taken:
                        if lot >= front[0]:
                            paid = min(owed, part)
                            owed -= paid
                            lot_points[lot] += part - paid
                    redemption_id = ids[cancels[event]]
                    reason = cancellation_reason(
                        policy, redemption_id, kept, (restored, gone, repaid)
                    )
                    written = [
                        _entry(
                            policy,
                            ids[event],
                            customer_id,
                            kept.reward,
                            "redemption",
                            restored,
                            reason,
                            -kept.value,
                            -kept.quantity,
                        )
                    ]
            else:
                lots = range(front[0], len(lot_points))
                reward_id = frame.reward[event].as_py()
                reward = policy.rewards.get(reward_id)
                day = date.fromordinal(local_of[event])
                before = units.get(reward_id, 0)
                quantity = asked[event]
                refusal = redemption_refusal(
                    policy, reward_id, day, quantity, tier_at.get(event), before
                )
                if refusal is not None or reward is None:
                    rule = reward_id if reward is None else reward.id
                    written = [
                        _entry(
                            policy, ids[event], customer_id, rule, "rejected", None, refusal or ""
                        )
                    ]
                else:
                    terms = redemption_terms(policy, reward, quantity)
                    pending = sum(lot_points[lot] for lot in lots if available[lot] > at)
                    ready_points = sum(lot_points[lot] for lot in lots) - debt - pending
                    if ready_points < terms.cost:
                        reason = (
                            f"rejected: {reward.name} costs {terms.cost} {name}, "
                            f"but only {max(ready_points, 0)} are available"
                        )
                        if pending:
                            reason += f" ({pending} more are still pending)"
                        written = [
                            _entry(
                                policy, ids[event], customer_id, reward.id, "rejected", None, reason
                            )
                        ]
                    else:
                        wanted = terms.cost
                        parts: list[tuple[int, int]] = []
                        for lot in lots:
                            if lot_points[lot] and available[lot] <= at:
                                taken = min(lot_points[lot], wanted)
                                lot_points[lot] -= taken
                                wanted -= taken
                                parts.append((lot, taken))
                                if not wanted:
                                    break
                        units[reward_id] = before + quantity
                        spent[event] = (Spent(reward.id, quantity, terms.value, ()), parts)
                        written = [
                            _entry(
                                policy,
                                ids[event],
                                customer_id,
                                reward.id,
                                "redemption",
                                -terms.cost,
                                terms.reason,
                                terms.value,
                                quantity,
                            )
                        ]
            for entry in written:
                events_out.append(event)
                entries_out.append(entry)
        report = at_of[end - 1]
        if until is not None:
            instant, inclusive, report = until
            if has_clock:
                out_event[0] = end - 1
                expire(instant, inclusive, customer_id, accounts.closing_at, accounts.closing)
        lots = range(front[0], len(lot_points))
        balance = sum(lot_points[lot] for lot in lots) - debt
        accounts.balances[customer] = balance
        accounts.available[customer] = balance - sum(
            lot_points[lot] for lot in lots if available[lot] > report
        )
        if policy.expire_after is not None:
            by_day: dict[date, int] = {}
            for lot in lots:
                if lot_points[lot] and expires[lot] != NEVER:
                    day = clock.local_day(expires[lot])
                    by_day[day] = by_day.get(day, 0) + lot_points[lot]
            accounts.upcoming[customer] = tuple(
                ExpiryDue(day, left) for day, left in sorted(by_day.items())
            )
