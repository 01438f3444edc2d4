"""Per-rule limits over columns: what a rule wanted to give, cut to what its limits leave.

A limit's usage runs through a customer's events in order and depends on what was given
before it (and on points refunds gave back): a sequential count. The columns say, for
every limit, the period of each event as one integer (a day's ordinal, the ordinal of the
Monday of an ISO week, a month or year number, 0 for lifetime). An event in no period
that asks for more than its limit allows (a sum per customer and period, in numpy) is
never cut, and what it counts is read by no cut: it is skipped. The events of the other
periods run in a tight integer loop, event by event, as ``rewardrules.engine.limits``
counts: the same allowance, the same cut, the same record, the same release of points at
refunds. The entries are then noted with the reference's own functions (``cut_points``,
``cut_entries``, ``note_cut``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.limits import Allowance, LimitPlan, cut_entries, cut_points, note_cut
from rewardrules.evaluation.batch._cards import CardReward
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.kinds.every_nth_free import PunchCardPlan, card_within

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Wanted = tuple[int, int, int]
"""(points, rewards, value) a rule wants to give at an event, or gave."""

Give = Callable[[int, Allowance], Wanted]
"""Given an event and what its limits leave, give within it; return what was given."""


def period_keys(per: str, local_date: Ints) -> Ints:
    """Each event's period for a limit ``per`` day, week, month, year or lifetime, as an
    integer that is equal exactly when ``limits.period_key`` is."""
    if per == "day":
        return local_date
    if per == "week":
        return local_date - (local_date - 1) % 7  # date.fromordinal(1) is a Monday
    if per in ("month", "year"):
        days = (local_date - _EPOCH_ORDINAL).astype("datetime64[D]")
        unit = "datetime64[M]" if per == "month" else "datetime64[Y]"
        return days.astype(unit).astype(np.int64)
    return np.zeros(len(local_date), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Release:
    """A refund of a purchase of a limited rule: the points the rule's entry would hold
    on what the refund leaves (before being held to what was given)."""

    event: int
    purchase: int
    left_worth: int


@dataclass(slots=True)
class LimitColumns:
    """A rule's limits over a frame: the period of each event for each limit."""

    plan: LimitPlan
    keys: tuple[Ints | None, ...]
    """Per limit, each event's period (None for ``per: purchase``)."""
    seeds: dict[int, list[tuple[int, int]]] | None = None
    """When resuming: per customer (index) with a saved usage, each limit's (period, used)
    as its state saved them, the count's start (``_resumed_slices``)."""
    saved_releases: dict[int, list[tuple[tuple[int | None, ...], int]]] | None = None
    """When resuming: per refund of a saved purchase, the points it took back and, per
    limit, the period of that purchase (``_resumed_slices``)."""

    @classmethod
    def of(cls, plan: LimitPlan, frame: Frame) -> LimitColumns:
        """Each limit's periods over the frame's local dates."""
        keys = tuple(
            None if limit.per == "purchase" else period_keys(limit.per, frame.local_date)
            for limit in plan.limits
        )
        return cls(plan, keys)

    # --- the sequential count ------------------------------------------------------------

    def _may_cut(self, frame: Frame, wanted: tuple[Ints, Ints, Ints], events: Ints) -> Flags:
        """The events in a period some limit could cut (asked more there than it allows),
        per customer; a ``per: purchase`` limit's own events. Usage starts again in each
        period, so an event in no such period is never cut, and what it counts matters
        only in its own periods, which no cut reads (an unflagged limit never binds)."""
        customers = frame.customer[events]
        flagged = np.zeros(frame.events, dtype=np.bool_)
        for index, (limit, keys) in enumerate(zip(self.plan.limits, self.keys)):
            asked = wanted[("points", "rewards", "value").index(limit.measure)][events]
            # Float sums, with room for their rounding: an event flagged needlessly only
            # runs through the exact loop.
            bound = float(limit.most) * (1 - 1e-6) - 1
            if keys is None:
                flagged[events[asked.astype(np.float64) >= bound]] = True
                continue
            # Events are in time order per customer, and periods follow local dates: a
            # customer's period is a run of consecutive events.
            period = keys[events]
            starts = np.ones(len(events), dtype=np.bool_)
            starts[1:] = (customers[1:] != customers[:-1]) | (period[1:] != period[:-1])
            first = np.flatnonzero(starts)
            totals = np.add.reduceat(asked.astype(np.float64), first)
            if self.seeds:  # what saved states counted in the period already
                totals += self._seeded(index, customers[first], period[first])
            over = first[totals >= bound]
            if not len(over):
                continue
            # Every event of those (customer, period) pairs, refunds included.
            low = int(keys.min())
            pair = frame.customer.astype(np.int64) * (int(keys.max()) - low + 1) + (keys - low)
            flagged |= np.isin(pair, pair[events[over]])
        return flagged

    def _seeded(self, index: int, customers: Ints, periods: Ints) -> npt.NDArray[np.float64]:
        """Per (customer, period) run, what limit ``index`` counted there before resuming."""
        found = np.zeros(len(customers), dtype=np.float64)
        seeds = self.seeds or {}
        for run, (customer, period) in enumerate(zip(customers.tolist(), periods.tolist())):
            seed = seeds.get(customer)
            if seed is not None and seed[index][0] == period:
                found[run] = seed[index][1]
        return found

    def run(  # noqa: PLR0915 (one hot loop, on purpose)
        self,
        frame: Frame,
        wanted: tuple[Ints, Ints, Ints],
        give: Give,
        releases: Sequence[Release] = (),
        probe: Flags | None = None,
    ) -> dict[int, Allowance]:
        """Count the limits through each customer's events; cut where they bind.

        ``wanted`` is per event what the rule would give (points, rewards, value);
        ``give`` is called at an event whose want does not fit what is left, and gives
        within it. ``releases`` are the refunds of the rule's purchases (points rules):
        the points a refund takes back return to the allowance of the purchase's period,
        if it is still the one counted. At the events ``probe`` flags (an exclusive group's
        set-aside purchases) the rule is tried within what is left and counts nothing.
        Returns the allowance of each event that was cut (or would be, where probed).
        """
        points_wanted, rewards_wanted, value_wanted = wanted
        asking = np.flatnonzero((points_wanted != 0) | (rewards_wanted != 0) | (value_wanted != 0))
        if not len(asking):
            return {}
        may_cut = self._may_cut(frame, wanted, asking)
        if not may_cut.any():
            return {}
        purchases = asking[may_cut[asking]].tolist()
        by_event: dict[int, list[Release]] = {}
        for release in releases:
            if may_cut[release.event]:
                by_event.setdefault(release.event, []).append(release)
        saved_releases = self.saved_releases or {}
        order = sorted({*purchases, *by_event, *(e for e in saved_releases if may_cut[e])})
        limits = self.plan.limits
        customers, wants, probed = _at_events(order, frame.customer, wanted, probe)
        only = self.keys[0]
        if len(limits) == 1 and only is not None and not self.seeds and not saved_releases:
            periods = (only[np.asarray(order, dtype=np.int64)].tolist(), only)
            return self._run_one(
                order, customers, wants, probed, periods, points_wanted, by_event, give
            )
        keys = [None if column is None else column.tolist() for column in self.keys]
        measures = [("points", "rewards", "value").index(limit.measure) for limit in limits]
        mosts = [limit.most for limit in limits]
        cuts: dict[int, Allowance] = {}
        given_points: dict[int, int] = {}
        net: dict[int, int] = {}
        usage: list[tuple[int, int]] = []
        current = -1
        for position, event in enumerate(order):
            customer = customers[position]
            if customer != current:
                current = customer
                usage = list((self.seeds or {}).get(customer, [(0, 0)] * len(limits)))
            if saved_releases and event in saved_releases:
                _release_saved(usage, measures, saved_releases[event])
            for release in by_event.get(event, ()):
                purchase = release.purchase
                earned = net.get(purchase, given_points.get(purchase, int(points_wanted[purchase])))
                if earned == 0:
                    continue
                now = min(release.left_worth, earned)
                net[purchase] = now
                if now != earned:
                    self._release(usage, keys, purchase, earned - now)
            want: Wanted = wants[position]
            if (event in by_event or event in saved_releases) and not any(want):
                continue
            least = _least(usage, keys, measures, mosts, event)
            given = want
            if not (
                (least[0] is None or want[0] <= least[0])
                and (least[1] is None or want[1] <= least[1])
                and (least[2] is None or want[2] <= least[2])
            ):
                _, remaining = _left(usage, keys, measures, mosts, event)
                allowance = Allowance(least[0], least[1], least[2], limits, tuple(remaining))
                cuts[event] = allowance
                given = give(event, allowance)
                given_points[event] = given[0]
            if probed[position]:
                continue
            _record(usage, keys, measures, given, event)
        return cuts

    def _run_one(
        self,
        order: list[int],
        customers: list[int],
        wants: list[Wanted],
        probed: list[bool],
        periods: tuple[list[int], Ints],
        points_wanted: Ints,
        by_event: dict[int, list[Release]],
        give: Give,
    ) -> dict[int, Allowance]:
        """:meth:`run` for a rule with one limit over periods and nothing saved, the
        common case, with the usage as two locals rather than a list of pairs: the same
        allowance, cut, record and release at each event, without a call per event.
        ``periods``: the limit's period at each event of ``order``, and its column (for
        the purchases refunds release points to)."""
        period_at, keys_of = periods
        limits = self.plan.limits
        measure = ("points", "rewards", "value").index(limits[0].measure)
        most = limits[0].most
        releases_points = measure == 0
        cuts: dict[int, Allowance] = {}
        given_points: dict[int, int] = {}
        net: dict[int, int] = {}
        period, used = 0, 0
        current = -1
        for position, event in enumerate(order):
            customer = customers[position]
            if customer != current:
                current = customer
                period, used = 0, 0
            released = by_event.get(event)
            if released is not None:
                for release in released:
                    purchase = release.purchase
                    earned = net.get(
                        purchase, given_points.get(purchase, int(points_wanted[purchase]))
                    )
                    if earned == 0:
                        continue
                    now = min(release.left_worth, earned)
                    net[purchase] = now
                    if (
                        now != earned
                        and releases_points
                        and used
                        and period == int(keys_of[purchase])
                    ):
                        used = max(used - (earned - now), 0)
            want = wants[position]
            if released is not None and not any(want):
                continue
            at = period_at[position]
            left = most
            if used and period == at:
                left = max(most - used, 0)
            given = want
            if want[measure] > left:
                least: list[int | None] = [None, None, None]
                least[measure] = left
                allowance = Allowance(least[0], least[1], least[2], limits, (left,))
                cuts[event] = allowance
                given = give(event, allowance)
                given_points[event] = given[0]
            if probed[position]:
                continue
            amount = given[measure]
            if amount:
                used = (used if period == at else 0) + amount
                period = at
        return cuts

    def _release(
        self, usage: list[tuple[int, int]], keys: list[list[int] | None], purchase: int, points: int
    ) -> None:
        for index, (limit, keys_of) in enumerate(zip(self.plan.limits, keys)):
            if limit.measure != "points" or keys_of is None:
                continue
            period, used = usage[index]
            if used and period == keys_of[purchase]:
                usage[index] = (period, max(used - points, 0))

    # --- what each kind gives within an allowance ---------------------------------------

    def cut_points_column(
        self,
        frame: Frame,
        points: Ints,
        releases: Sequence[Release] = (),
        probe: Flags | None = None,
    ) -> tuple[Ints, dict[int, Allowance]]:
        """A points rule's (or a bonus's) points cut to its limits: the points given per
        event, and the allowance of each cut event. A purchase given points is one reward.
        ``probe``: see :meth:`run`."""
        given = points.copy()

        def give(event: int, allowance: Allowance) -> Wanted:
            most = int(points[event])
            if allowance.points is not None and allowance.points < most:
                most = allowance.points
            if allowance.rewards is not None and allowance.rewards < 1:
                most = 0
            given[event] = most
            return most, 1 if most else 0, 0

        rewards = (points != 0).astype(np.int64)
        cuts = self.run(frame, (points, rewards, np.zeros_like(points)), give, releases, probe)
        return given, cuts

    def cut_counted(
        self, frame: Frame, units: Ints, values: Ints, probe: Flags | None = None
    ) -> tuple[Ints, dict[int, Allowance]]:
        """Vouchers or gift cards (``units`` of them per event, worth ``values`` in all)
        given whole or not, as many as fit: the units given per event, and the cuts.
        ``probe``: see :meth:`run`."""
        given = units.copy()

        def give(event: int, allowance: Allowance) -> Wanted:
            count = int(units[event])
            each = int(values[event]) // count
            take = count
            if allowance.rewards is not None and allowance.rewards < take:
                take = allowance.rewards
            if allowance.value is not None and each * take > allowance.value:
                take = allowance.value // each
            given[event] = take
            return 0, take, each * take

        zeros = np.zeros(len(units), dtype=np.int64)
        cuts = self.run(frame, (zeros, units, values), give, probe=probe)
        return given, cuts

    def noted(
        self,
        events: Ints,
        entries: list[LedgerEntry],
        cuts: dict[int, Allowance],
        kind: str,
    ) -> list[LedgerEntry]:
        """Earning entries (one per event) with the reference's note on the cut ones:
        ``kind`` is ``points`` (points cut) or ``counted`` (vouchers, gift cards);
        ``events`` are in order."""
        if not cuts:
            return entries
        noted = list(entries)
        cut = sorted(cuts)
        positions = np.searchsorted(events, cut).tolist()
        for event, position in zip(cut, positions, strict=True):
            allowance = cuts[event]
            entry = entries[position]
            if kind == "points":
                _, kept = cut_points(self.plan, allowance, [entry], entry.points or 0)
            else:
                kept = cut_entries(self.plan, allowance, [entry])
            noted[position] = kept[0]
        return noted

    def noted_prices(
        self,
        within: dict[int, LedgerEntry],
        cuts: dict[int, tuple[Allowance, Wanted, LedgerEntry]],
    ) -> dict[int, LedgerEntry]:
        """A price rule's entry at each cut event, noted (``note_cut``): the entry of what
        was given within the limit, or a ``capped`` one from what was wanted."""
        noted = {}
        for event, (allowance, wanted, wanted_entry) in cuts.items():
            given = within.get(event)
            entries = [] if given is None else [given]
            noted[event] = note_cut(self.plan, allowance, wanted, entries, wanted_entry)[0]
        return noted


def discount_within(taken: list[int], most_value: int | None) -> list[int]:
    """A tiered discount's lines run again within ``most_value``, in line order."""
    if most_value is None:
        return taken
    value = 0
    within = []
    for discount in taken:
        within.append(min(discount, most_value - value))
        value += within[-1]
    return within


PriceCut = tuple[Allowance, Wanted, object]
"""At a price rule's cut event: the allowance, what the rule wanted, and what it would
have given (the discount's value and units, or the punch card's reward)."""


def limit_discount(
    limited: LimitColumns,
    frame: Frame,
    before: Ints,
    after: Ints,
    taken: Ints,
    units_left: Ints,
    probe: Flags | None = None,
) -> tuple[Ints, Ints, dict[int, PriceCut]]:
    """A tiered discount's lines cut to its limits (``tiered_discount`` with
    ``most_value``, nothing when no reward is left): the amounts after it, each line's
    discount, and the cut events. ``probe``: see :meth:`LimitColumns.run`."""
    starts = frame.line_start
    value = np.asarray(np.add.reduceat(taken, starts[:-1]) if frame.events else taken[:0])
    within: dict[int, list[int]] = {}

    def give(event: int, allowance: Allowance) -> Wanted:
        lines = [int(amount) for amount in taken[starts[event] : starts[event + 1]]]
        if allowance.rewards == 0:
            new = [0] * len(lines)
        else:
            new = discount_within(lines, allowance.value)
        within[event] = new
        given = sum(new)
        return 0, 1 if given else 0, given

    rewards = (value > 0).astype(np.int64)
    zeros = np.zeros(frame.events, dtype=np.int64)
    cuts = limited.run(frame, (zeros, rewards, value), give, probe=probe)
    if not cuts:
        return after, taken, {}
    after, taken = after.copy(), taken.copy()
    found: dict[int, PriceCut] = {}
    for event, allowance in cuts.items():
        start, end = int(starts[event]), int(starts[event + 1])
        lines = taken[start:end]
        units = sum(int(left) for left, amount in zip(units_left[start:end], lines) if amount > 0)
        wanted_value = int(value[event])
        found[event] = (allowance, (0, 1, wanted_value), (wanted_value, units))
        taken[start:end] = within[event]
        after[start:end] = before[start:end] - taken[start:end]
    return after, taken, found


def limit_card(
    limited: LimitColumns,
    frame: Frame,
    plan: PunchCardPlan,
    completed: Ints,
    qualifying: Ints,
    before: tuple[Ints, Ints],
    after: tuple[Ints, Ints],
    rewards: list[CardReward],
    probe: Flags | None = None,
    capped: dict[int, CardReward] | None = None,
) -> tuple[Ints, Ints, list[CardReward], dict[int, PriceCut]]:
    """A punch card's free or discounted units cut to its limits (``every_nth_free``
    with ``most_units`` and ``most_value``), run again from the amounts before it: the
    amounts and units left after it, its rewards, and the cut events. ``probe``: see
    :meth:`LimitColumns.run`. ``capped``: the events where an exclusive group's member
    was capped where the group runs (``Groups.capped_in_trial``), with what it wanted
    there: it gives nothing. Where its limits would let it give on the basket the winner
    left, it is capped as it was tried, wanting what it wanted there; where they cap it
    there too, its entry says what it wanted there (``stacking._as_tried``)."""
    capped = capped or {}
    left_by_event = {reward.event: reward for reward in rewards}
    rewards = [capped.get(reward.event, reward) for reward in rewards]
    capped_as_left: set[int] = set()
    units = np.zeros(frame.events, dtype=np.int64)
    value = np.zeros(frame.events, dtype=np.int64)
    for reward in rewards:
        units[reward.event] = reward.units
        value[reward.event] = reward.value
    starts = frame.line_start
    amounts, units_left = after
    within: dict[int, tuple[list[int], list[int], int, int]] = {}

    def give(event: int, allowance: Allowance) -> Wanted:
        start, end = int(starts[event]), int(starts[event + 1])
        line_amounts = [int(amount) for amount in before[0][start:end]]
        line_left = [int(left) for left in before[1][start:end]]
        if event in capped:
            fits, _ = card_within(
                plan,
                int(completed[event]),
                qualifying[start:end].tolist(),
                list(line_amounts),
                list(line_left),
                allowance.rewards,
                allowance.value,
            )
            if not fits:
                capped_as_left.add(event)
            within[event] = (line_amounts, line_left, 0, 0)
            return 0, 0, 0
        given, worth = card_within(
            plan,
            int(completed[event]),
            qualifying[start:end].tolist(),
            line_amounts,
            line_left,
            allowance.rewards,
            allowance.value,
        )
        within[event] = (line_amounts, line_left, given, worth)
        return 0, given, worth

    zeros = np.zeros(frame.events, dtype=np.int64)
    cuts = limited.run(frame, (zeros, units, value), give, probe=probe)
    if not cuts:
        return amounts, units_left, rewards, {}
    amounts, units_left = amounts.copy(), units_left.copy()
    found: dict[int, PriceCut] = {}
    kept = []
    for reward in rewards:
        allowance = cuts.get(reward.event)
        if allowance is None:
            kept.append(reward)
            continue
        event = reward.event
        line_amounts, line_left, given, worth = within[event]
        start, end = int(starts[event]), int(starts[event + 1])
        amounts[start:end] = line_amounts
        units_left[start:end] = line_left
        wanted = left_by_event[event] if event in capped_as_left else reward
        found[event] = (allowance, (0, wanted.units, wanted.value), wanted)
        if given:
            kept.append(CardReward(event, reward.after, reward.completed, given, worth))
    return amounts, units_left, kept, found


def with_noted(
    events: Ints, part: list[LedgerEntry], noted: dict[int, LedgerEntry]
) -> tuple[Ints, list[LedgerEntry]]:
    """A rule's entries (one per event) with the noted ones put in or in place."""
    entries = dict(zip(events.tolist(), part))
    entries.update(noted)
    order = sorted(entries)
    return np.asarray(order, dtype=np.int64), [entries[event] for event in order]


_KEPT = 1 << 62
"""Worth left to a bonus purchase that keeps an eligible unit: its points stay."""


def bonus_releases(
    frame: Frame,
    priced: Flags,
    given: Ints,
    steps: Sequence[RefundStep],
) -> list[Release]:
    """A bonus's refunds: a refund that leaves none of a purchase's priced eligible units
    takes its points back (``take_back_fixed``), and gives them back to the limits."""
    releases = []
    for step in steps:
        purchase = step.purchase
        if not given[purchase]:
            continue
        start = int(frame.line_start[purchase])
        count = len(step.units_after)
        flags = priced[start : start + count].tolist()
        quantities = frame.quantity[start : start + count].tolist()
        left = sum(q - done for q, done, flag in zip(quantities, step.units_after, flags) if flag)
        releases.append(Release(step.event, purchase, _KEPT if left else 0))
    return releases


def _release_saved(
    usage: list[tuple[int, int]],
    measures: list[int],
    releases: Sequence[tuple[tuple[int | None, ...], int]],
) -> None:
    """Give the points refunds of a saved purchase took back (each with its purchase's
    period per limit) to each points limit's usage, if that period is still the one
    counted (``LimitPlan.release_points``)."""
    for periods, points in releases:
        for index, period in enumerate(periods):
            if measures[index] != 0 or period is None:
                continue
            current, used = usage[index]
            if used and current == period:
                usage[index] = (current, max(used - points, 0))


def _at_events(
    order: list[int], customer_of: Ints, wanted: tuple[Ints, Ints, Ints], probe: Flags | None
) -> tuple[list[int], list[Wanted], list[bool]]:
    """At the events counted (``order``), as lists read once each: the customer, what the
    rule wants (points, rewards, value), whether it is probed."""
    chosen = np.asarray(order, dtype=np.int64)
    customers: list[int] = customer_of[chosen].tolist()
    points, rewards, value = (column[chosen].tolist() for column in wanted)
    wants = list(zip(points, rewards, value, strict=True))
    probed: list[bool] = [False] * len(order) if probe is None else probe[chosen].tolist()
    return customers, wants, probed


def _least(
    usage: list[tuple[int, int]],
    keys: list[list[int] | None],
    measures: list[int],
    mosts: list[int],
    event: int,
) -> list[int | None]:
    """Per measure, the least any limit leaves at ``event``: :func:`_left` without what
    each limit leaves, which only a cut reads (this runs at every event counted)."""
    least: list[int | None] = [None, None, None]
    for index, keys_of in enumerate(keys):
        left = mosts[index]
        if keys_of is not None:
            period, used = usage[index]
            if used and period == keys_of[event]:
                left = max(left - used, 0)
        known = least[measures[index]]
        if known is None or left < known:
            least[measures[index]] = left
    return least


def _left(
    usage: list[tuple[int, int]],
    keys: list[list[int] | None],
    measures: list[int],
    mosts: list[int],
    event: int,
) -> tuple[list[int | None], list[int]]:
    """Per measure, the least any limit leaves at ``event`` (``LimitPlan.allowance``); and
    what each limit leaves."""
    remaining = []
    least: list[int | None] = [None, None, None]
    for index, (keys_of, most) in enumerate(zip(keys, mosts, strict=True)):
        left = most
        if keys_of is not None:
            period, used = usage[index]
            if used and period == keys_of[event]:
                left = max(most - used, 0)
        remaining.append(left)
        known = least[measures[index]]
        if known is None or left < known:
            least[measures[index]] = left
    return least, remaining


def _record(
    usage: list[tuple[int, int]],
    keys: list[list[int] | None],
    measures: list[int],
    given: Wanted,
    event: int,
) -> None:
    """Count what a rule gave at ``event`` in each limit's period (``LimitPlan.record``)."""
    for index, keys_of in enumerate(keys):
        amount = given[measures[index]]
        if not amount or keys_of is None:
            continue
        period = keys_of[event]
        previous, used = usage[index]
        usage[index] = (period, (used if previous == period else 0) + amount)
