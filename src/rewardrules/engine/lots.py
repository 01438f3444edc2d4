"""Points after they are earned: lots that wait, expire, are spent and are taken back.

Every purchase's points become a :class:`Lot`: when they were earned, when they become
available (after ``points.pending_for``), when they expire (``points.expire_after``, maybe
rounded up to the end of a calendar period). Lots are kept oldest first, and because every
lot waits and lasts equally long, they also become available and expire oldest first;
only a migrated customer's opening lots (``Customer.opening_points``) may carry expiries of
their own, which are honoured wherever they fall. The rules are in docs/lifecycle.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from rewardrules.engine.ledger import EntryKind, ExpiryDue, LedgerEntry
from rewardrules.money import Currency
from rewardrules.program.model import CatalogueReward, Program

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

OPENING = "opening#"
"""The source of an opening lot is this and its place in the profile, from 1: ``opening#1``."""
OPENING_RULE = "customers.opening_points"
"""The ``rule`` of the entries of opening lots: where they come from."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time: a number of days (24 hours each) or of calendar months.

    Days and weeks are elapsed time, whatever the clocks do; months and years are counted on
    the local calendar (docs/lifecycle.md says why).
    """

    days: int = 0
    months: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read '14 days', '2 weeks', '6 months', '1 year' (validated by the program)."""
        count_text, unit = text.split()
        count = int(count_text)
        if unit.startswith("day"):
            return cls(days=count, text=text)
        if unit.startswith("week"):
            return cls(days=7 * count, text=text)
        if unit.startswith("month"):
            return cls(months=count, text=text)
        return cls(months=12 * count, text=text)

    @property
    def is_zero(self) -> bool:
        """Whether it is no time at all ('0 days')."""
        return not self.days and not self.months

    def after(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The instant this long after ``instant``; months at the same local time of day."""
        if not self.months:
            return elapsed(instant, timedelta(days=self.days))
        local = instant.astimezone(zone)
        month_index = local.month - 1 + self.months
        year, month = local.year + month_index // 12, month_index % 12 + 1
        last_day = _MONTH_DAYS[month - 1] + (1 if month == 2 and _leap(year) else 0)
        moved = local.replace(year=year, month=month, day=min(local.day, last_day), fold=0)
        return fixed_offset(moved.replace(tzinfo=zone))


def fixed_offset(moment: datetime) -> datetime:
    """``moment`` with its UTC offset as a fixed tzinfo: the same instant and wall clock.

    An instant held in a named zone that falls in an hour the clocks skip or repeat is
    never equal (``==``) to an instant in another tzinfo (PEP 495), so an expiry or a
    deadline in such an hour would not be reached by an event or ``as_of`` at that very
    instant; with a fixed offset it compares as the instant it is (and it is written the
    same way in a saved state).
    """
    offset = moment.utcoffset()
    return moment if offset is None else moment.astimezone(timezone(offset))


def elapsed(instant: datetime, span: timedelta) -> datetime:
    """The instant ``span`` of elapsed time after ``instant`` (before it, if negative).

    Python adds a timedelta to the wall clock of a datetime whose tzinfo is a zone (a gift
    at local midnight, a zone-aware datetime from Python), which across a daylight-saving
    change is an hour off 24-hour days; counting in UTC is exact for every tzinfo. The
    result keeps ``instant``'s tzinfo, so a fixed offset stays as it was written.
    """
    if isinstance(instant.tzinfo, timezone):
        return instant + span  # a fixed offset: the wall clock is elapsed time
    return (instant.astimezone(UTC) + span).astimezone(instant.tzinfo)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def end_of_period(instant: datetime, period: str, zone: ZoneInfo) -> datetime:
    """The first instant of the local month, quarter or year after the one ``instant`` is in."""
    local = instant.astimezone(zone).date()
    if period == "month":
        step = 1
        first_month = local.month
    elif period == "quarter":
        step = 3
        first_month = (local.month - 1) // 3 * 3 + 1
    else:
        step = 12
        first_month = 1
    month_index = first_month - 1 + step
    start = date(local.year + month_index // 12, month_index % 12 + 1, 1)
    return fixed_offset(datetime.combine(start, time(0), zone))


@dataclass(frozen=True, slots=True)
class PointsPolicy:
    """The program's points settings, compiled."""

    money: Currency
    zone: ZoneInfo
    name: str
    pending_for: Duration | None
    expire_after: Duration | None
    round_up_to: str | None
    inactivity: Duration | None
    activity: frozenset[str]
    clamp: bool
    earn_on_gross: bool
    rewards: dict[str, CatalogueReward]

    @classmethod
    def compile(cls, program: Program) -> PointsPolicy:
        """Read the durations and index the catalogue."""
        points = program.points

        def duration(text: str | None) -> Duration | None:
            return None if text is None else Duration.parse(text)

        inactivity = points.inactivity()

        return cls(
            money=program.money,
            zone=program.zone,
            name=points.name,
            pending_for=duration(points.pending_for),
            expire_after=duration(points.expire_after),
            round_up_to=points.expire_round_up_to,
            inactivity=None if inactivity is None else duration(inactivity.after),
            activity=frozenset(() if inactivity is None else inactivity.activity),
            clamp=points.negative_balance == "clamp",
            earn_on_gross=points.earn_on == "gross",
            rewards={reward.id: reward for reward in program.rewards},
        )

    @property
    def has_clock(self) -> bool:
        """Whether points ever change with time alone (waiting or expiring)."""
        return (
            self.pending_for is not None
            or self.expire_after is not None
            or self.inactivity is not None
        )

    def expiry_of(self, earned_at: datetime) -> datetime | None:
        """When points earned at ``earned_at`` expire, if they do."""
        if self.expire_after is None:
            return None
        expires = self.expire_after.after(earned_at, self.zone)
        if self.round_up_to is not None:
            expires = end_of_period(expires, self.round_up_to, self.zone)
        return expires


class SavedLotLike(Protocol):
    """What :func:`upcoming_expiry` reads of a lot, working or saved."""

    @property
    def earned_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def points(self) -> int: ...
    @property
    def lasting(self) -> bool: ...


class Lot:
    """Points from one purchase: how many are left, when they can be spent, when they go.

    ``lasting``: earned at a tier whose points never expire (no expiry, no inactivity).
    """

    __slots__ = ("available_at", "earned_at", "expires_at", "lasting", "points", "source")

    def __init__(
        self,
        source: str,
        earned_at: datetime,
        available_at: datetime,
        expires_at: datetime | None,
        points: int,
        lasting: bool = False,
    ) -> None:
        self.source = source
        self.earned_at = earned_at
        self.available_at = available_at
        self.expires_at = expires_at
        self.points = points
        self.lasting = lasting


@dataclass(frozen=True, slots=True)
class Taken:
    """Points a redemption took from one lot (which a cancellation gives back)."""

    source: str
    earned_at: datetime
    points: int


@dataclass(frozen=True, slots=True)
class Spent:
    """An applied redemption: the reward, how many, and the points it took from each lot."""

    reward: str
    quantity: int
    value: int
    taken: tuple[Taken, ...]


@dataclass(frozen=True, slots=True)
class WriteOff:
    """Points a refund wrote off (``negative_balance: clamp``) that a cancellation may still
    recover: those of the redemptions applied before the refund and not cancelled since
    (``redemptions``), as a cancellation pays back under ``allow`` only a debt that came
    after its redemption."""

    refund: str
    points: int
    redemptions: tuple[str, ...]


class PointsAccount:
    """A customer's lots, debt, last purchase and activity: the points part of the working
    state.

    For ``expire_on_inactivity``, ``active_at`` is the last activity that counts (the
    deadline counts from it); ``settled_at`` the last one that can no longer be undone (a
    redemption, a referrer's reward, a purchase no longer refundable); ``counting`` the
    purchases after it that count and that a full refund could still undo. ``spent`` holds
    the applied redemptions not cancelled, by id (a cancellation gives their points back to
    the lots they came from; ``per_customer`` counts their units). ``written_off``: under
    ``negative_balance: clamp``, the write-offs a cancellation may still recover, oldest
    first (the points a cancelled redemption gives back recover them first; earnings never
    do).
    """

    __slots__ = (
        "active_at",
        "counting",
        "dated",
        "debt",
        "last_purchase_at",
        "lots",
        "settled_at",
        "spent",
        "written_off",
    )

    def __init__(self) -> None:
        self.lots: list[Lot] = []
        self.debt = 0
        self.written_off: list[WriteOff] = []
        self.last_purchase_at: datetime | None = None
        self.active_at: datetime | None = None
        self.settled_at: datetime | None = None
        self.counting: dict[str, datetime] = {}
        # An opening lot has an expiry of its own: lots may then expire in another order
        # than they were earned, and expire even if the program's points never do.
        self.dated = False
        self.spent: dict[str, Spent] = {}

    def units_of(self, reward_id: str) -> int:
        """Units of a reward redeemed and not cancelled."""
        return sum(spent.quantity for spent in self.spent.values() if spent.reward == reward_id)

    @property
    def balance(self) -> int:
        """Available and pending points together, less any debt."""
        return sum(lot.points for lot in self.lots) - self.debt

    def pending(self, at: datetime | None) -> int:
        """Points not yet available at ``at`` (all waiting points when ``at`` is None)."""
        return sum(lot.points for lot in self.lots if at is None or lot.available_at > at)

    def available(self, at: datetime | None) -> int:
        """Points that can be spent at ``at``, less any debt (may be negative)."""
        return self.balance - self.pending(at)


def bought(policy: PointsPolicy, account: PointsAccount, purchase_id: str, at: datetime) -> None:
    """Note a purchase just evaluated: the last purchase, and activity if purchases count."""
    account.last_purchase_at = at
    if policy.inactivity is not None and "purchase" in policy.activity:
        account.counting[purchase_id] = at
        _active(account, at)


def active(policy: PointsPolicy, account: PointsAccount, kind: str, at: datetime) -> None:
    """Note an activity that cannot be undone (``redemption``, ``referral``) at ``at``."""
    if policy.inactivity is None or kind not in policy.activity:
        return
    if account.settled_at is None or at > account.settled_at:
        account.settled_at = at
    # Purchases at or before it can no longer be the last activity: forget them.
    if account.counting:
        account.counting = {key: when for key, when in account.counting.items() if when > at}
    _active(account, at)


def _active(account: PointsAccount, at: datetime) -> None:
    if account.active_at is None or at > account.active_at:
        account.active_at = at


def refunded_in_full(
    policy: PointsPolicy, account: PointsAccount, customer_id: str, purchase_id: str, at: datetime
) -> list[LedgerEntry]:
    """A purchase refunded in full (at ``at``) no longer counts as activity: the deadline
    counts from the last activity left. Returns the expiries of that deadline when it has
    already passed (written after the refund's own entries), so that they are written when
    the refund is the customer's last event too."""
    if account.counting.pop(purchase_id, None) is None:
        return []
    before = account.active_at
    last = account.settled_at
    if account.counting:
        newest = max(account.counting.values())
        last = newest if last is None or newest > last else last
    account.active_at = last
    if last == before or last is None:
        return []
    return advance(policy, account, customer_id, at)


def settle(account: PointsAccount, purchase_id: str) -> None:
    """A purchase that can no longer be refunded: its activity can no longer be undone."""
    at = account.counting.pop(purchase_id, None)
    if at is not None and (account.settled_at is None or at > account.settled_at):
        account.settled_at = at


def _entry(
    policy: PointsPolicy,
    event_id: str,
    customer_id: str,
    rule: str,
    kind: EntryKind,
    points: int | None,
    reason: str,
    value: int | None = None,
    units: int | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        event_id, customer_id, rule, kind, points, value, units, policy.money, reason, ()
    )


def earn(
    policy: PointsPolicy,
    account: PointsAccount,
    source: str,
    at: datetime,
    points: int,
    waits: bool = True,
    lasting: bool = False,
) -> None:
    """Keep a purchase's points as a lot; a debt is paid back first.

    ``waits`` False: the points are available at once (a gift that no purchase earned, so
    no return period applies). ``lasting``: they never expire (earned at a tier whose
    points never expire).
    """
    if points <= 0:
        return
    # Only an expiry can be escaped: without one, a lasting lot is like any other.
    lasting = lasting and (policy.expire_after is not None or policy.inactivity is not None)
    repaid = min(account.debt, points)
    account.debt -= repaid
    points -= repaid
    if points and not policy.has_clock and account.lots and account.lots[-1].expires_at is None:
        # Without waiting or expiry every point is like every other: one lot holds them
        # all (a long replay would otherwise keep a lot per purchase for nothing). Only an
        # opening lot can expire here, and it is not merged into.
        account.lots[-1].points += points
        return
    if points:
        period = policy.pending_for if waits else None
        available_at = at if period is None else period.after(at, policy.zone)
        expires = None if lasting else policy.expiry_of(at)
        account.lots.append(Lot(source, at, available_at, expires, points, lasting))


def open_lot(
    policy: PointsPolicy,
    account: PointsAccount,
    customer_id: str,
    number: int,
    earned_at: datetime,
    expires_at: datetime | None,
    points: int,
) -> LedgerEntry:
    """Start a migrated customer with one lot of their opening balance; return its entry.

    The lot is available at once and expires at ``expires_at``, or as the program's
    expiry says for points earned at ``earned_at``. Lots are opened oldest first, before
    any event of the customer.
    """
    source = f"{OPENING}{number}"
    expires = expires_at if expires_at is not None else policy.expiry_of(earned_at)
    lots = account.lots
    if not policy.has_clock and expires is None and lots and lots[-1].expires_at is None:
        lots[-1].points += points  # merged, as earn merges lots that never expire
    else:
        lots.append(Lot(source, earned_at, earned_at, expires, points))
        account.dated = account.dated or expires_at is not None
    day = _local_day(policy, earned_at)
    until = "" if expires is None else f", expiring on {_local_day(policy, expires)}"
    reason = f"opening balance: {points} {policy.name} earned on {day}{until}"
    return _entry(policy, source, customer_id, OPENING_RULE, "opening", points, reason)


def upcoming_expiry(
    policy: PointsPolicy, lots: Sequence[Lot | SavedLotLike], active_at: datetime | None
) -> tuple[ExpiryDue, ...]:
    """The points left that will expire, summed per local date, soonest first.

    A lot expires at its ``expires_at`` or, with ``points.expire_on_inactivity``, at the
    inactivity deadline (``active_at``, the last activity that counts, plus that long) if it
    was earned by then and that comes first, as ``advance`` would expire it if no activity
    came before. Lots already expired are not in ``lots``; a lot that never expires (no
    expiry, or ``lasting``) is not counted.
    """
    if (
        policy.expire_after is None
        and policy.inactivity is None
        and not any(lot.expires_at is not None for lot in lots)
    ):
        return ()
    deadline = None
    if policy.inactivity is not None and active_at is not None:
        deadline = policy.inactivity.after(active_at, policy.zone)
    by_day: dict[date, int] = {}
    for lot in lots:
        if not lot.points or lot.lasting:
            continue
        moment = lot.expires_at
        if (
            deadline is not None
            and lot.earned_at <= deadline
            and (moment is None or deadline < moment)
        ):
            moment = deadline
        if moment is not None:
            day = _local_day(policy, moment)
            by_day[day] = by_day.get(day, 0) + lot.points
    return tuple(ExpiryDue(day, points) for day, points in sorted(by_day.items()))


def _local_day(policy: PointsPolicy, instant: datetime) -> date:
    return instant.astimezone(policy.zone).date()


def advance(
    policy: PointsPolicy,
    account: PointsAccount,
    customer_id: str,
    until: datetime,
    inclusive: bool = True,
) -> list[LedgerEntry]:
    """Expire what is due up to ``until``, oldest first; return the expiry entries."""
    entries: list[LedgerEntry] = []
    if not policy.has_clock and not account.dated:
        return entries

    def due(moment: datetime | None) -> bool:
        return moment is not None and (moment < until or (inclusive and moment == until))

    deadline = None
    if policy.inactivity is not None and account.active_at is not None:
        deadline = policy.inactivity.after(account.active_at, policy.zone)
    inactive = deadline is not None and due(deadline)
    lots = account.lots
    # Lots expire oldest first; one whose own expiry comes after the inactivity deadline
    # expires at the deadline instead, with every lot earned before it. A lot given after
    # the deadline (a gift at a date, without a purchase) is not touched by that deadline.
    # Opening lots come first, but a gift at a date given before the first event is
    # earned before them and may expire first: while any is left, look at every lot.
    any_order = account.dated or (bool(lots) and lots[0].source.startswith(OPENING))
    _expire_due(policy, lots, customer_id, due, deadline if inactive else None, entries, any_order)
    if inactive and deadline is not None:
        kept = []
        for lot in lots:
            if lot.earned_at > deadline or lot.lasting:
                kept.append(lot)
            elif lot.points:
                entries.append(
                    _expiry(policy, lot, customer_id, "points.expire_on_inactivity", deadline)
                )
        lots[:] = kept
        _expire_due(policy, lots, customer_id, due, None, entries, any_order)
    return entries


def _expire_due(
    policy: PointsPolicy,
    lots: list[Lot],
    customer_id: str,
    due: Callable[[datetime | None], bool],
    deadline: datetime | None,
    entries: list[LedgerEntry],
    any_order: bool = False,
) -> None:
    """Expire lots whose own expiry is due, oldest first, stopping at a lot that the
    inactivity ``deadline`` (if any) expires first. Lasting lots (no expiry) are passed.

    The program's lots expire in the order they were earned. With ``any_order`` (an
    opening lot has an expiry of its own, which may come before older lots' or after
    newer ones') every lot is looked at, and the lots due expire in the order of their
    expiry.
    """
    if not any_order:
        index = 0
        while index < len(lots):
            first = lots[index]
            first_expiry = first.expires_at
            if first_expiry is None and first.lasting:
                index += 1
                continue
            if not due(first_expiry):
                break
            if (
                deadline is not None
                and first_expiry is not None
                and deadline < first_expiry
                and first.earned_at <= deadline
            ):
                break
            lot = lots.pop(index)
            if lot.points:
                entries.append(_expiry(policy, lot, customer_id, "points.expire_after"))
        return
    found: list[tuple[datetime, int]] = []
    for index, lot in enumerate(lots):
        expiry = lot.expires_at
        if expiry is None or not due(expiry):
            continue
        if deadline is not None and deadline < expiry and lot.earned_at <= deadline:
            continue  # the deadline expires it first; a later lot may still be due before
        found.append((expiry, index))
    found.sort()
    for _, index in found:
        lot = lots[index]
        if lot.points:
            entries.append(_expiry(policy, lot, customer_id, _expiry_rule(policy, lot)))
    gone = {index for _, index in found}
    lots[:] = [lot for index, lot in enumerate(lots) if index not in gone]


def _expiry_rule(policy: PointsPolicy, lot: Lot) -> str:
    """What expires a lot at its ``expires_at``: the program's expiry, or the opening
    balance's own date."""
    if lot.source.startswith(OPENING) and lot.expires_at != policy.expiry_of(lot.earned_at):
        return OPENING_RULE
    return "points.expire_after"


def _expiry(
    policy: PointsPolicy,
    lot: Lot,
    customer_id: str,
    rule: str,
    at: datetime | None = None,
) -> LedgerEntry:
    moment = at or lot.expires_at
    assert moment is not None  # noqa: S101 -- an expiring lot has a moment
    earned = _local_day(policy, lot.earned_at)
    gone = _local_day(policy, moment)
    if rule == OPENING_RULE:
        reason = (
            f"{lot.points} {policy.name} of the opening balance, earned on {earned}, "
            f"expired on {gone}"
        )
        points = lot.points
        lot.points = 0
        return _entry(policy, lot.source, customer_id, rule, "expiry", -points, reason)
    if rule == "points.expire_after":
        why = f"{policy.expire_after.text if policy.expire_after else ''} after they were earned"
        if policy.round_up_to:
            why += f", to the end of the {policy.round_up_to}"
    else:
        text = policy.inactivity.text if policy.inactivity else ""
        why = f"{text} without {_activity_words(policy.activity)}"
    reason = f"{lot.points} {policy.name} earned on {earned} expired on {gone} ({why})"
    points = lot.points
    lot.points = 0
    return _entry(policy, lot.source, customer_id, rule, "expiry", -points, reason)


def _activity_words(activity: frozenset[str]) -> str:
    """'a purchase', 'a purchase or redemption', in the docs' order."""
    words = [kind for kind in ("purchase", "redemption", "referral") if kind in activity]
    if len(words) == 1:
        return f"a {words[0]}"
    return f"a {', '.join(words[:-1])} or {words[-1]}"


def _oldest_first(lots: list[Lot], at: datetime, available: bool) -> Iterator[Lot]:
    return (lot for lot in lots if lot.points and (lot.available_at <= at) == available)


def take_back(
    policy: PointsPolicy,
    account: PointsAccount,
    customer_id: str,
    refund_id: str,
    purchase_id: str,
    at: datetime,
    points: int,
) -> list[LedgerEntry]:
    """Take ``points`` back after a refund: from the purchase's lot, then oldest first.

    Returns a ``written_off`` entry when the program clamps and the points were gone.
    Where the program's points neither wait nor expire, a purchase's points were merged
    into the lot that never expires (``earn``): that lot is the purchase's own, so a
    refund never takes from a migrated customer's expiring opening lot before it.
    """
    wanted = points
    merged = not policy.has_clock
    own = [
        lot
        for lot in account.lots
        if lot.source == purchase_id or (merged and lot.expires_at is None)
    ]
    others_available = list(_oldest_first(account.lots, at, available=True))
    others_pending = list(_oldest_first(account.lots, at, available=False))
    for lot in (*own, *others_available, *others_pending):
        if not wanted:
            break
        taken = min(lot.points, wanted)
        lot.points -= taken
        wanted -= taken
    if not wanted:
        return []
    if not policy.clamp:
        account.debt += wanted
        return []
    if account.spent:  # a redemption it came after may be cancelled: recoverable until then
        account.written_off.append(WriteOff(refund_id, wanted, tuple(account.spent)))
    reason = (
        f"{wanted} {policy.name} of refunded purchase {purchase_id} were already spent or "
        "expired; written off (the program clamps the balance at 0)"
    )
    return [
        _entry(
            policy, refund_id, customer_id, "points.negative_balance", "written_off", wanted, reason
        )
    ]


def redemption_refusal(
    policy: PointsPolicy,
    reward_id: str,
    day: date,
    quantity: int,
    tier: str | None,
    units_before: int,
) -> str | None:
    """Why a redemption is rejected before the balance is looked at, or None.

    ``tier`` is the customer's tier when redeeming; ``units_before`` the units of the
    reward they redeemed before (and did not cancel).
    """
    reward = policy.rewards.get(reward_id)
    if reward is None:
        known = ", ".join(policy.rewards) or "none"
        return f"rejected: there is no reward '{reward_id}' (the rewards are: {known})"
    window = reward.available
    if window is not None and (
        (window.starts is not None and day < window.starts)
        or (window.ends is not None and day > window.ends)
    ):
        span = f"{window.starts or '...'} to {window.ends or '...'}"
        return f"rejected: {reward.name} can be redeemed from {span}, not on {day}"
    if reward.tiers is not None and tier not in reward.tiers:
        at = "no tier" if tier is None else f"tier {tier}"
        return f"rejected: {reward.name} is for tier {' or '.join(reward.tiers)} only (at {at})"
    most = reward.per_customer
    if most is not None and units_before + quantity > most:
        return (
            f"rejected: {reward.name} is limited to {most} per customer ({units_before} "
            f"redeemed before, {quantity} asked)"
        )
    return None


def redemption_terms(policy: PointsPolicy, reward: CatalogueReward, quantity: int) -> RedeemTerms:
    """What a redemption of ``quantity`` units costs in points, what it costs the business
    (the value less the cash the customer pays, never below 0) and its reason."""
    cost = reward.cost * quantity
    value = policy.money.to_minor(reward.value)
    cash = 0 if reward.cash is None else policy.money.to_minor(reward.cash)
    units = "" if quantity == 1 else f"{quantity} x "
    reason = f"redeemed {units}{reward.name} for {cost} {policy.name}"
    if cash:
        reason += f" and {policy.money.format(cash * quantity)} in cash"
    return RedeemTerms(cost, max(value - cash, 0) * quantity, reason)


@dataclass(frozen=True, slots=True)
class RedeemTerms:
    """A redemption's points, value (minor units, cash deducted) and reason."""

    cost: int
    value: int
    reason: str


def redeem(
    policy: PointsPolicy,
    account: PointsAccount,
    customer_id: str,
    event_id: str,
    reward_id: str,
    at: datetime,
    quantity: int = 1,
    tier: str | None = None,
) -> list[LedgerEntry]:
    """Spend points on a catalogue reward, oldest available first, or record why not."""
    reward = policy.rewards.get(reward_id)
    units_before = (
        0 if reward is None or reward.per_customer is None else account.units_of(reward_id)
    )
    refusal = redemption_refusal(
        policy, reward_id, _local_day(policy, at), quantity, tier, units_before
    )
    if refusal is not None or reward is None:
        rule = reward_id if reward is None else reward.id
        return [_entry(policy, event_id, customer_id, rule, "rejected", None, refusal or "")]
    terms = redemption_terms(policy, reward, quantity)
    available = account.available(at)
    if available < terms.cost:
        reason = (
            f"rejected: {reward.name} costs {terms.cost} {policy.name}, "
            f"but only {max(available, 0)} are available"
        )
        pending = account.pending(at)
        if pending:
            reason += f" ({pending} more are still pending)"
        return [_entry(policy, event_id, customer_id, reward.id, "rejected", None, reason)]
    wanted = terms.cost
    taken: list[Taken] = []
    for lot in _oldest_first(account.lots, at, available=True):
        part = min(lot.points, wanted)
        lot.points -= part
        wanted -= part
        taken.append(Taken(lot.source, lot.earned_at, part))
        if not wanted:
            break
    active(policy, account, "redemption", at)
    account.spent[event_id] = Spent(reward.id, quantity, terms.value, tuple(taken))
    return [
        _entry(
            policy,
            event_id,
            customer_id,
            reward.id,
            "redemption",
            -terms.cost,
            terms.reason,
            terms.value,
            quantity,
        )
    ]


def cancellation_reason(
    policy: PointsPolicy,
    redemption_id: str,
    spent: Spent,
    points: tuple[int, int, int],
    recovered: int = 0,
) -> str:
    """What a cancellation gave back: ``points`` are the points given back, those of
    lots expired since, and those of them that paid a debt; ``recovered`` those of them
    that recovered points written off (``negative_balance: clamp``)."""
    restored, gone, repaid = points
    reward = policy.rewards.get(spent.reward)
    name = spent.reward if reward is None else reward.name
    units = "" if spent.quantity == 1 else f"{spent.quantity} x "
    reason = f"cancelled redemption {redemption_id} of {units}{name}: {restored} {policy.name} back"
    if gone:
        reason += f" ({gone} more had expired since and are not given back)"
    if repaid:
        reason += f"; {repaid} of them paid back a debt"
    if recovered:
        reason += f"; {recovered} of them recovered {policy.name} written off"
    return reason


def recover_written_off(
    policy: PointsPolicy,
    written_off: list[WriteOff],
    customer_id: str,
    event_id: str,
    redemption_id: str,
    points: int,
) -> tuple[list[LedgerEntry], list[WriteOff]]:
    """Recover, with ``points`` a cancellation of ``redemption_id`` gives back, the points
    written off after that redemption and not recovered yet, oldest write-off first: one
    ``written_off`` entry (negative) per refund recovered from. Returns them and the
    write-offs left: the redemption no longer recovers anything, and a write-off that no
    redemption can recover any more is forgotten (it stays written off)."""
    entries: list[LedgerEntry] = []
    kept: list[WriteOff] = []
    for found in written_off:
        left = found.points
        if points and redemption_id in found.redemptions:
            recovered = min(left, points)
            points -= recovered
            left -= recovered
            reason = (
                f"{recovered} {policy.name} written off at refund {found.refund} recovered: "
                f"cancelled redemption {redemption_id} gave them back"
            )
            entries.append(
                _entry(
                    policy,
                    event_id,
                    customer_id,
                    "points.negative_balance",
                    "written_off",
                    -recovered,
                    reason,
                )
            )
        others = tuple(key for key in found.redemptions if key != redemption_id)
        if left and others:
            kept.append(WriteOff(found.refund, left, others))
    return entries, kept


def cancel_redemption(
    policy: PointsPolicy,
    account: PointsAccount,
    customer_id: str,
    event_id: str,
    redemption_id: str,
) -> list[LedgerEntry]:
    """Give a redemption's points back to the lots they were taken from.

    A lot that has expired since (it is no longer among the lots) keeps its points
    expired: they are not given back. Points given back pay a debt first, as earned points
    do; under ``negative_balance: clamp`` they first recover the points refunds wrote off
    after the redemption (:func:`recover_written_off`). Returns one ``redemption`` entry
    with the points given back (positive), the value taken back (negative) and the units
    (negative), then a ``written_off`` entry (negative) per refund whose written-off points
    it recovered; none when the redemption was rejected.
    """
    spent = account.spent.pop(redemption_id, None)
    if spent is None:
        return []
    lots = {(lot.source, lot.earned_at): lot for lot in account.lots}
    back = [(lots.get((part.source, part.earned_at)), part) for part in spent.taken]
    restored = sum(part.points for lot, part in back if lot is not None)
    gone = sum(part.points for lot, part in back if lot is None)
    repaid = min(account.debt, restored)
    account.debt -= repaid
    recovery: list[LedgerEntry] = []
    if account.written_off:
        recovery, account.written_off = recover_written_off(
            policy, account.written_off, customer_id, event_id, redemption_id, restored - repaid
        )
    recovered = -sum(entry.points or 0 for entry in recovery)
    owed = repaid + recovered
    for lot, part in back:
        if lot is not None:
            paid = min(owed, part.points)
            owed -= paid
            lot.points += part.points - paid
    reason = cancellation_reason(policy, redemption_id, spent, (restored, gone, repaid), recovered)
    entries = [
        _entry(
            policy,
            event_id,
            customer_id,
            spent.reward,
            "redemption",
            restored,
            reason,
            -spent.value,
            -spent.quantity,
        )
    ]
    return entries + recovery
