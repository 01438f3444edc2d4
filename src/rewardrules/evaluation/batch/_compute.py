"""What the rules compute over a frame, before any ledger entry: tiers and prices to their
fixed point, and the refunds on what was paid.

Each rule of the plan becomes a stage over the frame (``_stage``): price stages change the
amounts paid, in running order; earning stages read them (``_evaluate`` writes their
entries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardrules.engine.tiers import TierPlan
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch._bonus import BonusColumns
from rewardrules.evaluation.batch._cards import CardColumns
from rewardrules.evaluation.batch._dated import GiftColumns
from rewardrules.evaluation.batch._finals import EarningStops, reaches_back
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._giftcards import GiftCardColumns
from rewardrules.evaluation.batch._grouped_gifts import gift_trial
from rewardrules.evaluation.batch._groups import Groups
from rewardrules.evaluation.batch._limits import LimitColumns, PriceCut, limit_card, limit_discount
from rewardrules.evaluation.batch._opening import Grants
from rewardrules.evaluation.batch._payments import Payments
from rewardrules.evaluation.batch._refunds import Refunds
from rewardrules.evaluation.batch._resumed_slices import seed_limits
from rewardrules.evaluation.batch._rules import (
    AnyDiscount,
    DiscountColumns,
    GiftItemColumns,
    Numbers,
    OrderDiscountColumns,
    PointsColumns,
    per_event,
)
from rewardrules.evaluation.batch._tier_passes import DiscountPasses
from rewardrules.evaluation.batch._tiers import Retention, TierWindows, levels
from rewardrules.evaluation.batch.support import refuse
from rewardrules.evaluation.fold import _Cutoff
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.every_nth_free import PunchCardPlan
from rewardrules.kinds.order_discount import OrderDiscountPlan
from rewardrules.kinds.partner_gift_card import GiftCardPlan
from rewardrules.kinds.points_per_spend import PointsPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.kinds.tiered_discount import TieredDiscountPlan


class Computation:
    """The frame, the compiled rules, and what they computed: tiers, prices, refunds."""

    gifts: Any
    """The gifts that read profiles (``_gifts.GiftLedger``), made from the run first: a
    group's birthday or sign-up member is tried with the profiles."""

    def __init__(
        self,
        plan: ProgramPlan,
        frame: Frame,
        cutoff: _Cutoff | None,
        tier_points: Ints | None = None,
        grants: Grants | None = None,
        *,
        stops: Ints | None = None,
        gifts: Callable[[Any], Any] | None = None,
        resumed: Any = None,
    ) -> None:
        self.plan, self.frame, self.cutoff = plan, frame, cutoff
        self.resumed = resumed
        """The saved states resumed from (``_resume.Resumed``), or None."""
        self.tier_points = tier_points
        """With ``qualify_by: points``, what each purchase counts toward tiers (the points
        the rules gave it) and what each refund changes in it (``_evaluate``'s guess)."""
        self.grants = grants
        """Migrated customers' granted tiers (``_opening``), or None."""
        self.purchases: Flags = frame.flags_of("purchase")
        self.purchase_lines: Flags = self.purchases[frame.line_event]
        self.is_refund: Flags = frame.flags_of("refund")
        within = None if plan.refunds_within is None else (plan.refunds_within, plan.zone)
        self.refunds = Refunds.of(frame, self._own_refunds(), self.purchases, within)
        tiers = plan.tiers
        self.names: tuple[str, ...] = () if tiers is None else tiers.names
        self.payments = (
            Payments.of(frame, plan.money, self.purchases) if plan.by_payment_method else None
        )
        """The purchases' payments, read when a rule earns by payment method."""
        self.step_of = {rule: step for step, rules in enumerate(plan.stage_rules) for rule in rules}
        """Each purchase rule's step in running order (an exclusive group is one step)."""
        self.stopped: Ints = np.full(frame.events, len(plan.stage_rules), dtype=np.int64)
        """Per event, the step of the first final rule that gave something at it (past the
        last step where none did): the rules of later steps do not run there."""
        self.finals = EarningStops.of(plan, frame.events, stops) if reaches_back(plan) else None
        """The earning rules' stops guessed from the run before, where they reach back to
        rules decided before them (``_finals``); None where they do not."""
        if gifts is not None:
            self.gifts = gifts(self)
        self.groups = Groups.of(plan, frame)
        self.groups.payments = self.payments
        self.price_stages = self.groups.in_order(
            [_stage(rule, frame, tiers) for rule in plan.price_rules]
        )
        self.earning_stages = [_stage(rule, frame, tiers) for rule in plan.earning_rules]
        if resumed is not None:  # punch cards' counts and bonuses given, as saved
            self.price_stages = resumed.stages(self.price_stages, frame)
            self.earning_stages = resumed.stages(self.earning_stages, frame)
        self.limited = {
            rule: LimitColumns.of(limits, frame) for rule, limits in plan.limits.items()
        }
        """Per limited rule's id, its limits over the frame (``_limits``)."""
        if resumed is not None and resumed.saved and self.limited:  # counting from the states
            self.limited = seed_limits(self.limited, frame, resumed.saved, resumed.refunds)
        self.groups.limited = self.limited
        self.price_cuts: dict[str, dict[int, PriceCut]] = {}
        """Per limited price rule's id, the events its limits cut (at the last pass)."""
        # What refunds take off the cards depends on units only: known before any price.
        self._apply_refunds_once()
        self.tier: Ints = np.full(frame.events, -1, dtype=np.int64)
        self.windows = None if tiers is None else TierWindows.of(tiers, frame, self.purchases)
        self.retention: Retention | None = None
        if tiers is not None and tiers.holds:
            self.retention = Retention(tiers, frame, self.purchases)
        self.saved_tiers = self._saved_tiers()
        # The window's level at each event, before retention raises it (``tier``).
        self.window_tier: Ints = self.tier
        self._price_and_settle()

    def _price_and_settle(self) -> None:
        """The prices, and with tiers, levels and prices to their fixed point. With
        discounts only (``_tier_passes``) nothing carries over from a pass at no tier:
        the tiers' first pass prices from the gross."""
        passes = None if self.windows is None else DiscountPasses.of(self)
        if passes is None:
            self.paid, self.given = self._grouped_prices()
        if self.windows is not None:
            self._settle_tiers(self.windows, passes)

    def _own_refunds(self) -> Flags:
        """The refunds the columns apply: not those of purchases saved states keep
        (``_saved_refunds`` applies them)."""
        resumed = self.resumed
        if resumed is None or not resumed.refunds.events:
            return self.is_refund
        refunds = self.is_refund.copy()
        refunds[sorted(resumed.refunds.events)] = False
        return refunds

    def _saved_tiers(self) -> Any:
        """What saved states' purchases count toward tiers (``_resumed_tiers``), with the
        windows and retention seeded; None when not resuming a program with tiers."""
        if self.plan.tiers is None or self.windows is None or self.resumed is None:
            return None
        saved = self.resumed.tiers(self.frame, self.windows, self.retention)
        self.windows = saved.windows
        return saved

    def _apply_refunds_once(self) -> None:
        """Run the refunds on units (what they take off the cards depends on units only),
        raising the first error in the reference's order: of the columns' refunds, or of
        the refunds of saved purchases (``_saved_refunds``)."""
        frame = self.frame
        deferred = None if self.resumed is None else self.resumed.refunds.error
        try:
            self.refunds.apply(frame, np.zeros(len(frame.line_event), dtype=np.int64))
        except HistoryError as error:
            if deferred is not None and deferred[0] < _event_key(frame, error):
                raise deferred[1] from None
            raise
        if deferred is not None:
            raise deferred[1]

    def _grouped_prices(self) -> tuple[Numbers, list[Any]]:
        """Prices at these tiers, passes repeated until the exclusive groups' set-aside
        purchases no longer change (``_groups``)."""
        groups = self.groups
        for _ in range(self.frame.events + 2):
            paid, given = self._prices()
            if not groups.groups:
                return paid, given
            # Each earning member is tried on the lines no final rule of an earlier step
            # stopped (an earning rule's stops guessed from the run before: ``_finals``).
            for stage in self.earning_stages:
                rule_id = stage.plan.rule.id
                if rule_id not in groups.group_of:
                    continue
                lines = self.lines_for(rule_id)
                if isinstance(stage, GiftColumns):
                    groups.trials[rule_id] = gift_trial(self, stage, paid, lines)
                else:
                    groups.earning([stage], self.tier, paid, lines, self.refunds.steps)
            if not groups.decide():
                return paid, given
        raise AssertionError("the exclusive groups did not settle")  # pragma: no cover

    def lines_for(self, rule_id: str) -> Flags:
        """The purchase lines a rule runs on: none of a purchase where a final rule of an
        earlier step gave something (``final: true``)."""
        step = self.step_of.get(rule_id)
        if not self.plan.final_rules or step is None:
            return self.purchase_lines
        return self.purchase_lines & (self.stopped >= step)[self.frame.line_event]

    def gave(self, rule_id: str, events: Ints) -> None:
        """A rule gave something (not a note) at ``events``: if it is final, the rules of
        later steps do not run at those purchases."""
        if rule_id not in self.plan.final_rules or not len(events):
            return
        chosen = events[self.purchases[events]]
        self.stopped[chosen] = np.minimum(self.stopped[chosen], self.step_of[rule_id])
        if self.finals is not None:
            self.finals.add(rule_id, chosen, self.step_of[rule_id])

    def _prices(self) -> tuple[Numbers, list[Any]]:
        """What each line is paid after the price rules, and what each rule gave; then the
        refunds on those amounts."""
        frame, tier = self.frame, self.tier
        amounts: Numbers = frame.gross
        units_left = frame.quantity
        given: list[Any] = []
        self.stopped[:] = len(self.plan.stage_rules)  # each pass decides anew
        if self.finals is not None:  # the earning rules' stops, as the run before found them
            np.minimum(self.stopped, self.finals.guess, out=self.stopped)
        for stage in self.price_stages:
            rule_id = stage.plan.rule.id
            lines = self.lines_for(rule_id)
            limited = self.limited.get(rule_id)
            grouped = rule_id in self.groups.group_of
            self.groups.enter(rule_id, amounts, units_left)
            if isinstance(stage, AnyDiscount):
                before = amounts
                if grouped:
                    amounts, taken = self.groups.discount(stage, tier, lines, before)
                else:
                    amounts, taken = stage.apply(frame, tier, amounts, lines)
                if limited is not None:
                    amounts, taken, cuts = limit_discount(
                        limited, frame, before, amounts, taken, units_left
                    )
                    self.price_cuts[stage.plan.rule.id] = cuts
                units = per_event(frame, np.where(taken > 0, units_left, 0))
                given.append((taken, units))
                gave = np.flatnonzero(np.asarray(per_event(frame, taken), dtype=np.int64) > 0)
                self.gave(rule_id, gave)
            else:
                assert isinstance(stage, CardColumns)  # noqa: S101 -- the price stages
                qualifying = stage.qualifying(frame, tier, lines)
                if grouped:
                    tried = qualifying
                    qualifying = self.groups.masked(stage.plan.rule.id, qualifying)
                counts = stage.counts(frame, qualifying, self.refunds.steps)
                ran = (
                    self.groups.card(stage, tried, counts, (amounts, units_left))
                    if grouped
                    else None
                )
                start = (np.asarray(amounts, dtype=np.int64), units_left)
                if ran is None:
                    ran = stage.free(frame, counts, qualifying, *start)
                amounts, units_left, rewards = ran
                if limited is not None:
                    every = stage.plan.every
                    amounts, units_left, rewards, cuts = limit_card(
                        limited,
                        frame,
                        stage.plan,
                        counts.after // every - counts.before // every,
                        qualifying,
                        start,
                        (amounts, units_left),
                        rewards,
                        capped=self.groups.capped_in_trial(rule_id, rewards) if grouped else None,
                    )
                    self.price_cuts[stage.plan.rule.id] = cuts
                given.append((counts, rewards))
                self.gave(rule_id, np.asarray([reward.event for reward in rewards], np.int64))
            self.groups.leave(rule_id, amounts)
        self.refunds.apply(frame, np.asarray(amounts, dtype=np.int64))
        return amounts, given

    def _tier_amounts(self, paid: Numbers, event_paid: Ints | None = None) -> Ints:
        """What each purchase counts toward tiers when it is made (``event_paid``: what
        each event paid, when known)."""
        assert self.plan.tiers is not None  # noqa: S101 -- only with tiers
        if self.plan.tiers.by_points:
            if self.tier_points is None:
                return np.zeros(self.frame.events, dtype=np.int64)
            return np.where(self.purchases, self.tier_points, 0)
        if not self.plan.tiers.by_spend:
            return self.purchases.astype(np.int64)
        if event_paid is not None:
            return event_paid
        return np.asarray(per_event(self.frame, paid), dtype=np.int64)

    def _tier_deltas(self) -> Ints:
        """What each refund changes in what its purchase counts toward tiers, from then on:
        the paid amount it gives back, or the purchase itself once refunded in full."""
        assert self.plan.tiers is not None  # noqa: S101 -- only with tiers
        steps = self.refunds.steps
        if self.plan.tiers.by_points:
            points = self.tier_points
            return np.asarray(
                [0 if points is None else int(points[step.event]) for step in steps],
                dtype=np.int64,
            )
        if self.plan.tiers.by_spend:
            return np.asarray([-step.given_back for step in steps], dtype=np.int64)
        quantity = self.frame.quantity
        line_start = self.frame.line_start
        deltas = []
        for step in steps:
            bought = quantity[line_start[step.purchase] : line_start[step.purchase + 1]].tolist()
            whole = list(step.units_after) == bought and list(step.units_before) != bought
            deltas.append(-1 if whole else 0)
        return np.asarray(deltas, dtype=np.int64)

    def _final_tier_amounts(self) -> Ints:
        """What each purchase counts toward tiers after all its refunds."""
        amounts = self._tier_amounts(self.paid).copy()
        purchases = np.asarray([step.purchase for step in self.refunds.steps], dtype=np.int64)
        np.add.at(amounts, purchases, self._tier_deltas())
        return amounts

    def _levels(self, sums: Ints) -> tuple[Ints, Ints]:
        """The window's level at each event, and the level that applies (with retention)."""
        assert self.plan.tiers is not None  # noqa: S101 -- only with tiers
        window = levels(self.plan.tiers, sums)
        applied = window if self.retention is None else self.retention.levels(window)
        if self.grants is not None:  # a grant is not a level reached: after retention
            applied = self.grants.at_purchases(self.frame, self.purchases, applied)
        return window, applied

    def _settle_tiers(self, windows: TierWindows, passes: DiscountPasses | None) -> None:
        """Iterate levels and prices to their fixed point (see ``_tiers``); with
        ``passes``, later passes reprice only the events whose level moved."""
        frame = self.frame
        pairs = [(step.event, step.purchase) for step in self.refunds.steps]
        ranges = windows.change_ranges(frame, pairs)
        sums = windows.sums_before(self._tier_amounts(frame.gross), ranges, self._tier_deltas())
        self.window_tier, self.tier = self._levels(sums)
        moved: Ints | None = None  # the events whose level moved since the last pass
        for _ in range(frame.events + 2):
            if passes is not None and moved is not None and passes.worth(moved, frame.events):
                # Only the lines of the events whose level moved (``_tier_passes``).
                self.paid, self.given = passes.reprice(self, moved, self.purchase_lines)
            else:
                self.paid, self.given = self._grouped_prices()
                if passes is not None:
                    passes.keep(frame, self.paid, self.given)
            counts = self._tier_amounts(self.paid, None if passes is None else passes.event_paid)
            sums = windows.sums_before(counts, ranges, self._tier_deltas())
            window_tier, settled = self._levels(sums)
            # Retention can hide a window level that moved: keep the one these prices give.
            self.window_tier = window_tier
            moved = np.flatnonzero(settled != self.tier)
            if not len(moved):
                return
            self.tier = settled
        raise AssertionError("the tier iteration did not settle")  # pragma: no cover


def _event_key(frame: Frame, error: HistoryError) -> tuple[int, str]:
    """The (instant, id) of the event an error names (``event <id>``), for ordering."""
    where = str(error.problems[0].path[0]) if error.problems and error.problems[0].path else ""
    event_id = where.removeprefix("event ")
    found = np.flatnonzero(frame.event_ids == event_id)
    return (int(frame.at[found[0]]), event_id) if len(found) else (-(2**63), event_id)


def _stage(rule: Any, frame: Frame, tiers: TierPlan | None) -> Any:  # noqa: RET503 -- refuse raises
    """A rule compiled over the frame, or a refusal of a kind the batch engine lacks."""
    if isinstance(rule, TieredDiscountPlan):
        return DiscountColumns.of(rule, frame, tiers)
    if isinstance(rule, OrderDiscountPlan) and rule.gives_gift:
        return GiftItemColumns.of(rule, frame, tiers)
    if isinstance(rule, OrderDiscountPlan):
        return OrderDiscountColumns.of(rule, frame, tiers)
    if isinstance(rule, PointsPlan):
        return PointsColumns.of(rule, frame, tiers)
    if isinstance(rule, PunchCardPlan):
        return CardColumns.of(rule, frame, tiers)
    if isinstance(rule, GiftCardPlan):
        return GiftCardColumns.of(rule, frame, tiers)
    if isinstance(rule, BonusPlan):
        return BonusColumns.of(rule, frame, tiers)
    if isinstance(rule, BirthdayPlan | SignupPlan | ReferralPlan):
        return GiftColumns.of(rule, frame, tiers)
    # support.unsupported refused every other kind before anything ran.
    refuse([f"rule '{rule.rule.id}': kind {rule.rule.kind}"])  # pragma: no cover
