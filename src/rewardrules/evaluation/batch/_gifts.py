"""The gifts that read profiles, in one evaluation of the batch engine: the glue between
the run (``_evaluate``) and the modules that compute them (``_dated`` at purchases,
``_referrals`` for the facts, ``_timeline`` at dates and for referrers).

It writes a gift rule's entries at purchases into the ledger, walks the customers who get
gifts at dates or referrers' rewards, and gives back what the run's ledger, balances,
tier reports, results and totals need of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from rewardrules.engine.ledger import CustomerResult, ExpiryDue, LedgerEntry
from rewardrules.engine.tiers import TierCounter
from rewardrules.evaluation.batch._accounts import lasting_purchases
from rewardrules.evaluation.batch._bonus import PurchaseContextMaker
from rewardrules.evaluation.batch._dated import (
    GiftColumns,
    GiftsGiven,
    ProfileColumns,
    Standing,
    gifts_at_purchases,
)
from rewardrules.evaluation.batch._frame import Flags, Frame
from rewardrules.evaluation.batch._holds import FriendRefunds
from rewardrules.evaluation.batch._limits import LimitColumns, bonus_releases
from rewardrules.evaluation.batch._referrals import Fact, Repetition, facts_of, repeated_ids
from rewardrules.evaluation.batch._refunds import RefundStep, emptying
from rewardrules.evaluation.batch._resumed_referrals import (
    FriendSeeds,
    friend_seeds,
    saved_fact_keys,
    saved_refund_effects,
)
from rewardrules.evaluation.batch._resumed_slices import saved_purchases_before
from rewardrules.evaluation.batch._state_inputs import RulePoints
from rewardrules.evaluation.batch._timeline import Walker, Walks, walk_customers
from rewardrules.events import Customer
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.referral import ReferralPlan

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = np.iinfo(np.int64).min
"""The instant of a saved state's event, for the repeated ids: before every new one."""
_INSTANT = timedelta(microseconds=1)


def _written(at: int, offset: int) -> datetime:
    moment = _EPOCH + timedelta(microseconds=at)
    return moment.astimezone(timezone(timedelta(seconds=offset))) if offset else moment


def within_limits(
    limited: LimitColumns,
    frame: Frame,
    priced: Flags,
    given: GiftsGiven,
    steps: list[RefundStep],
) -> None:
    """A birthday or sign-up gift at purchases within its rule's limits, as a limited step
    gives it (``stacking.limited_step``): points cut (``cut_points``, the points a refund
    takes back returning to the allowance, as a bonus's do), or a voucher given whole or not
    (``cut_entries``). ``given`` is changed in place: its entries noted, its points cut."""
    events = np.asarray(given.events, dtype=np.int64)
    zeros = np.zeros(frame.events, dtype=np.int64)
    if given.entries[0].kind == "points":
        wanted = zeros.copy()
        wanted[events] = [entry.points or 0 for entry in given.entries]
        releases = bonus_releases(frame, priced, wanted, steps)
        cut, cuts = limited.cut_points_column(frame, wanted, releases)
        given.entries = limited.noted(events, given.entries, cuts, "points")
        given.points = {event: int(cut[event]) for event in given.events if cut[event]}
        return
    units, values = zeros.copy(), zeros.copy()
    units[events] = 1
    values[events] = [entry.value_minor or 0 for entry in given.entries]
    _, cuts = limited.cut_counted(frame, units, values)
    given.entries = limited.noted(events, given.entries, cuts, "counted")


class GiftLedger:
    """What the gift rules gave in one run, and where it goes."""

    def __init__(
        self,
        run: Any,
        profiles: dict[str, Customer],
        supplied: pa.Table | None,
        until: tuple[int, bool] | None,
    ) -> None:
        self.run = run
        self.profiles = profiles
        frame = run.frame
        self.columns = ProfileColumns.of(frame, profiles)
        self.facts: list[Fact] = []
        self.supplied: list[Fact] = []
        self.repeated: Repetition | None = None
        self.standing: Standing | None = None
        if supplied is not None and supplied.num_rows:
            facts = facts_of(supplied)
            if until is not None:
                instant, inclusive = until
                facts = [
                    fact
                    for fact in facts
                    if fact.at < instant or (inclusive and fact.at == instant)
                ]
            first_at = dict(zip(frame.event_ids.tolist(), frame.at.tolist()))
            saved_keys: set[tuple[str, str]] = set()
            if run.resumed is not None:  # the saved states' events and facts came first
                saved_keys = saved_fact_keys(run.resumed.saved)
                for state in run.resumed.saved.values():
                    for held in (
                        (row.id for row in state.purchases),
                        state.refunds,
                        state.redemptions,
                    ):
                        first_at.update(dict.fromkeys(held, _FIRST))
            self.repeated = repeated_ids(facts, first_at, saved_keys)
            self.facts = facts
            self.supplied = list(facts)
        self.walks = Walks()
        self.released: dict[int, list[tuple[str, int, date]]] = {}
        """Per refund, the points of a friend's gift under a limited referral rule it took
        back (``Walker.released``)."""
        self.referrals = 0
        self.seeds: dict[str, FriendSeeds | None] = {}
        """Per referral rule, its friends' seeds from the saved states (when resuming)."""

    def written(self, event: int) -> datetime:
        """An event's instant, with the UTC offset it was written with."""
        frame = self.run.frame
        return _written(int(frame.at[event]), int(frame.utc_offset[event]))

    def at_purchases(self, ledger: Any, position: int, stage: GiftColumns) -> None:
        """A gift rule's entries at purchases, and its points taken back at refunds."""
        run, frame = self.run, self.run.frame
        lines = run.lines_for(stage.plan.rule.id)
        aside = run.groups.aside.get(stage.plan.rule.id)
        # A group's member: given where it is tried (``_grouped_gifts``), and not where the
        # group set it aside.
        paid = (
            run.paid if aside is None else run.groups.earns_on(stage.plan.rule.id, run.paid, True)
        )
        found = stage.qualifying(frame, run.tier, lines, paid, self.columns)
        if aside is not None:
            found = found & ~aside
        seeds = self._friend_seeds(stage.plan)
        if seeds is not None:  # friends marked by their saved states (``_resumed_referrals``)
            found = found & ~seeds.barred
        standing = None
        if isinstance(stage.plan, BirthdayPlan) and stage.plan.has_conditions:
            standing = self._standing()
        holds = self._friend_refunds(stage, seeds)
        given = gifts_at_purchases(stage, frame, found, self.columns, standing, holds)
        priced = stage.priced(frame, run.tier, lines)
        limited = run.limited.get(stage.plan.rule.id)
        # A referral rule's limits bound the referrer's rewards (in ``_timeline``), not the
        # friend's gift here (``stacking.purchase_stages``).
        if limited is not None and given.events and not isinstance(stage.plan, ReferralPlan):
            within_limits(limited, frame, priced, given, run.refunds.steps)
        if given.facts is not None:
            self.facts += facts_of(given.facts)
        if given.entries:
            ledger.add(position, np.asarray(given.events, dtype=np.int64), given.entries)
        ledger.tally.give_at(frame, given.points, stage.plan.rule.id)
        for event, points in given.points.items():
            ledger.points[event] += points
        for entry in given.entries:
            if entry.kind == "voucher":
                ledger.sums["vouchers"] += 1
                ledger.sums["voucher_value"] += entry.value_minor or 0
            elif entry.kind == "referral":
                self.referrals += 1
        if not given.points or not run.refunds.steps:
            self._keep_points(stage.plan.rule.id, given, [])
            self._reversals(ledger, position, given)
            return
        contexts = PurchaseContextMaker(frame, run.tier, run.names, self.written)
        taken = stage.take_back(frame, priced, given.points, run.refunds.steps, contexts)
        self._keep_points(stage.plan.rule.id, given, [event for event, _ in taken])
        if isinstance(stage.plan, ReferralPlan) and stage.plan.rule.id in run.plan.limits:
            purchase_of = {step.event: step.purchase for step in run.refunds.steps}
            for event, entry in taken:
                local = date.fromordinal(int(frame.local_date[purchase_of[event]]))
                self.released.setdefault(event, []).append(
                    (stage.plan.rule.id, -(entry.points or 0), local)
                )
        if taken:
            refunds = np.asarray([event for event, _ in taken], dtype=np.int64)
            entries = [entry for _, entry in taken]
            back = np.asarray([entry.points or 0 for entry in entries], dtype=np.int64)
            ledger.add(position, refunds, entries)
            np.add.at(ledger.points, refunds, back)
            ledger.taken_back += int(back.sum())
        self._reversals(ledger, position, given)

    def _friend_refunds(
        self, stage: GiftColumns, seeds: FriendSeeds | None
    ) -> FriendRefunds | None:
        """What the facts pass of a referral rule with ``hold_for`` reads: the friends'
        refunds within the hold may reverse a referral (``_holds``), and a friend's saved
        state may say they kept their gift; None for another rule, or nothing to read."""
        run, frame, plan = self.run, self.run.frame, stage.plan
        if not isinstance(plan, ReferralPlan) or plan.hold is None:
            return None
        if not run.refunds.steps and seeds is None:
            return None
        return FriendRefunds(
            plan,
            frame,
            run.refunds.steps,
            stage.priced(frame, run.tier, run.purchase_lines),
            stage.scope.line_flags(run.tier, frame) & run.purchase_lines,
            run.paid,
            self.written,
            {} if seeds is None else seeds.kept,
        )

    def _friend_seeds(self, plan: Any) -> FriendSeeds | None:
        """A referral rule's friends as their saved states leave them (None: no state
        says anything of the rule, or not resuming)."""
        resumed = self.run.resumed
        if resumed is None or not isinstance(plan, ReferralPlan):
            return None
        rule_id = plan.rule.id
        if rule_id not in self.seeds:
            self.seeds[rule_id] = friend_seeds(
                self.run.frame, resumed.saved, resumed.refunds, rule_id
            )
        return self.seeds[rule_id]

    def _keep_points(self, rule_id: str, given: GiftsGiven, refunds: list[int]) -> None:
        """What a saved purchase keeps of a gift's points: given, and none after a refund
        took them back (``_states``)."""
        run = self.run
        points = np.zeros(run.frame.events, dtype=np.int64)
        for event, amount in given.points.items():
            points[event] = amount
        purchase_of = {step.event: step.purchase for step in run.refunds.steps}
        run.rule_points.append(RulePoints(rule_id, points, {purchase_of[e]: 0 for e in refunds}))

    def _reversals(self, ledger: Any, position: int, given: GiftsGiven) -> None:
        """A held referral's reversals by the friends' refunds, after the points the same
        refund takes back (the kind module's order); each counts as minus one referral."""
        if given.reversals:
            refunds = np.asarray([event for event, _ in given.reversals], dtype=np.int64)
            ledger.add(position, refunds, [entry for _, entry in given.reversals])
            self.referrals -= len(given.reversals)

    def standing_now(self, plan: Any, tier: Any, paid: Any) -> Standing | None:
        """What a birthday with conditions reads at purchases, at these tiers and amounts
        (a group's trials, before they settle); None for another gift."""
        if not isinstance(plan, BirthdayPlan) or not plan.has_conditions:
            return None
        return self._standing(tier, paid)

    def _standing(self, tier: Any = None, paid: Any = None) -> Standing:
        """What a birthday's member_for and purchase_within read at purchases (built once,
        at the run's tiers and amounts; anew at others)."""
        if self.standing is None or tier is not None:
            run = self.run
            frame = run.frame
            purchase_of = {step.event: step.purchase for step in run.refunds.steps}
            emptied = emptying(frame, run.refunds.steps)
            firsts = self._first_facts(
                run.tier if tier is None else tier, run.paid if paid is None else paid
            )
            starts = frame.customer_start.tolist()

            def start_of(customer: int) -> tuple[datetime | None, bool]:
                profile = self.profiles.get(frame.customer_ids[customer])
                if profile is not None and profile.joined_at is not None:
                    return profile.joined_at, True
                first = self.written(starts[customer])
                fact = firsts.get(frame.customer_ids[customer])
                saved = (
                    None
                    if run.resumed is None
                    else run.resumed.first_event(frame.customer_ids[customer])
                )
                if saved is not None:  # the saved state's first event (``state.first_event_at``)
                    first = saved
                return (fact if fact is not None and fact < first else first), False

            standing = Standing(
                frame,
                run.purchases,
                {purchase_of[event]: event for event in emptied},
                start_of,
                self.written,
                None if run.resumed is None else saved_purchases_before(run.resumed, frame),
            )
            if tier is not None:
                return standing
            self.standing = standing
        return self.standing

    def _first_facts(self, tier: Any, paid: Any) -> dict[str, datetime]:
        """Per referrer, their first referral fact: supplied, or raised by a friend's
        qualifying purchase under any referral rule (the reference folds it as the
        referrer's event, their first if it comes before their own)."""
        run, frame = self.run, self.run.frame
        facts = list(self.supplied)
        for stage in run.earning_stages:
            if isinstance(stage, GiftColumns) and isinstance(stage.plan, ReferralPlan):
                # Not where a final rule stopped the referral (``_finals`` settles the stops
                # of rules written after the birthday that reads these facts).
                lines = run.lines_for(stage.plan.rule.id)
                found = stage.qualifying(frame, tier, lines, paid, self.columns)
                seeds = self._friend_seeds(stage.plan)
                if seeds is not None:
                    found = found & ~seeds.barred
                raised = gifts_at_purchases(stage, frame, found, self.columns).facts
                if raised is not None:
                    facts += facts_of(raised)
        firsts: dict[str, datetime] = {}
        for fact in facts:
            known = firsts.get(fact.referrer)
            if known is None or fact.written < known:
                firsts[fact.referrer] = fact.written
        return firsts

    def walk(self, points: Any, flags: Any, cutoff: tuple[datetime, bool, datetime] | None) -> Any:
        """Walk the customers with gifts at dates or rewards; the frame's customers walked."""
        run = self.run
        # A refund in full stops a purchase counting: as activity, and for a birthday's
        # purchase_within.
        counted = run.plan.points.inactivity or any(
            isinstance(rule.plan, BirthdayPlan) and rule.plan.purchase_within is not None
            for rule in run.plan.dated
        )
        emptied = emptying(run.frame, run.refunds.steps) if counted else None
        resumed = run.resumed
        if emptied is not None and resumed is not None:  # of saved purchases too
            emptied = emptied | resumed.refunds.emptied
        if resumed is not None:  # what refunds of saved purchases raise for referrers
            reversals, releases = saved_refund_effects(run.plan, resumed.refunds)
            self.facts += reversals
            self.referrals -= len(reversals)  # each counts as minus one referral
            for event, released in releases.items():
                self.released.setdefault(event, []).extend(released)
        lasting = lasting_purchases(run.plan.points, run.plan.tiers, run.tier, flags[0])
        walker = Walker(
            run.plan,
            run.frame,
            points,
            flags,
            self.written,
            cutoff,
            emptied or frozenset(),
            lasting,
            run.catalogue,
            self.released,
            {} if resumed is None else resumed.saved,
        )
        self.walks = walk_customers(walker, self.profiles, self.facts, self.repeated)
        return np.asarray(self.walks.frame_customers, dtype=np.int64)

    def place(self, ledger: Any, rules: int) -> None:
        """Put the walks' entries around the events' own."""
        for position, (events, entries) in (
            (0, self.walks.before),
            (rules + 1, self.walks.after),
            (rules + 2, self.walks.last),
        ):
            if entries:
                ledger.add(position, np.asarray(events, dtype=np.int64), entries)

    def balances(self, balances: list[int], available: list[int]) -> None:
        """The walked customers' balances at the report."""
        for customer, walk in self.walks.walks.items():
            balances[customer] = walk.balance
            available[customer] = walk.available

    def upcoming(self, upcoming: dict[int, tuple[ExpiryDue, ...]]) -> None:
        """The walked customers' upcoming expiries at the report."""
        for customer, walk in self.walks.walks.items():
            upcoming[customer] = walk.upcoming

    def openings(self) -> dict[int, Customer]:
        """The frame's customers who start from a profile's opening, with the profile."""
        profiles = self.profiles
        if not any(profile.opens for profile in profiles.values()):
            return {}
        return {
            position: profiles[customer]
            for position, customer in enumerate(self.run.frame.customer_ids)
            if customer in profiles and profiles[customer].opens
        }

    def last_facts(self) -> dict[int, datetime]:
        """The frame's customers whose last moment is a referrer's reward after their last
        event: the tier is reported then."""
        return {
            customer: walk.last_item
            for customer, walk in self.walks.walks.items()
            if walk.last_is_fact and walk.last_item is not None
        }

    def report_instants(self, last: Any, last_facts: dict[int, datetime]) -> tuple[Any, Any]:
        """Each customer's report instant and local date: their last event's, or the last
        referrer's reward after it."""
        frame, zone = self.run.frame, self.run.plan.zone
        instant, local_date = frame.at[last], frame.local_date[last]
        for customer, moment in last_facts.items():
            instant[customer] = (moment - _EPOCH) // _INSTANT
            local_date[customer] = moment.astimezone(zone).date().toordinal()
        return instant, local_date

    def sums(self) -> tuple[dict[str, int], list[LedgerEntry]]:
        """What the walks gave (points, vouchers), the gifts they set aside, the gifts
        limits left nothing of in the ledgers of customers without events (the others are
        counted in the run's ledger), and the account entries they wrote."""
        sums = {"points": 0, "vouchers": 0, "voucher_value": 0, "set_aside": 0, "capped": 0}
        for entry in self.walks.gifts():
            if entry.kind == "points":
                sums["points"] += entry.points or 0
            elif entry.kind == "voucher":
                sums["vouchers"] += 1
                sums["voucher_value"] += entry.value_minor or 0
            elif entry.kind == "opening":  # issued, as ``ledger.total`` counts them
                sums["points"] += entry.points or 0
            elif entry.kind == "set_aside":
                sums["set_aside"] += 1
        sums["capped"] = sum(
            entry.kind == "capped" for walk in self.walks.others for entry in walk.gifts
        )
        return sums, self.walks.account()

    def results(
        self, results: tuple[CustomerResult, ...], unsaved: Any
    ) -> tuple[CustomerResult, ...]:
        """The results with the customers who have no event of their own, in id order."""
        if not self.walks.others:
            return results
        run = self.run
        plan, cutoff = run.plan, run.cutoff
        stamps = {rule_id: 0 for rule_id, _ in plan.stamp_cards}
        extra = []
        for walk in self.walks.others:
            tier = None
            changes: tuple[Any, ...] = ()
            next_tier = None
            profile = self.profiles.get(walk.customer_id)
            if plan.tiers is not None:
                if cutoff is not None:
                    instant, local_date = cutoff.instant, cutoff.local_date
                else:
                    assert walk.last_item is not None  # noqa: S101 -- a walk with entries
                    instant = walk.last_item
                    local_date = instant.astimezone(plan.zone).date()
                counter = TierCounter()
                if walk.opened and profile is not None and profile.tier and profile.tier_until:
                    counter.grant(plan.tiers, profile.tier, profile.tier_until)
                tier, changes, next_tier = counter.report(
                    plan.tiers, plan.money, instant, local_date, walk.moment or instant
                )
            extra.append(
                CustomerResult(
                    customer_id=walk.customer_id,
                    ledger=tuple(walk.last),
                    points=walk.balance,
                    available_points=walk.available,
                    pending_points=walk.balance - walk.available,
                    tier=tier,
                    stamps=dict(stamps),
                    save=partial(unsaved, walk, profile),
                    tier_changes=changes,
                    next_tier=next_tier,
                    upcoming_expiry=walk.upcoming,
                )
            )
        return tuple(sorted([*results, *extra], key=lambda result: result.customer_id))
