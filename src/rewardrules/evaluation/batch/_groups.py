"""Exclusive groups over columns: which member of a group each purchase goes to.

The reference (``stacking.group_step``) tries every member of a group on the same basket
and state, applies the one worth most and sets the other rewarding members aside: the
purchase does not count for them, nor does a refund of it. Over columns the engine keeps,
per member, a mask of the purchases it is set aside at. Starting with none set aside, a
pass computes prices and tiers with the members' qualifying units (or points) masked
where they are set aside, and each member's *trial* at each purchase: what it would give
there from its state before the purchase (which only earlier masks shape), on the basket
where the group runs. The trials pick the winners, hence new masks; the passes repeat
until the masks no longer change. A decision depends only on earlier events (and, at one
purchase, on earlier groups), so by induction a fixed point is the reference's answer.

A group runs where its first member runs: its price members run together there (the
price stages are reordered), and its members' entries at purchases take that place in
the ledger, in member order; at refunds each rule keeps its own place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rewardrules.engine.ledger import NOTE_KINDS, LedgerEntry
from rewardrules.engine.limits import Allowance
from rewardrules.evaluation.batch._amounts import times
from rewardrules.evaluation.batch._bonus import BonusColumns, PurchaseContextMaker, bonus_column
from rewardrules.evaluation.batch._cards import CardColumns, CardCounts, CardReward
from rewardrules.evaluation.batch._dated import GiftColumns
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._giftcards import CardsIssued, GiftCardColumns
from rewardrules.evaluation.batch._ledger import EntryPart
from rewardrules.evaluation.batch._limits import LimitColumns, PriceCut, bonus_releases
from rewardrules.evaluation.batch._members import (
    earns_on,
    earns_on_shares,
    limited_card,
    limited_discount,
    limited_points,
    steps_on,
)
from rewardrules.evaluation.batch._payments import earned_on
from rewardrules.evaluation.batch._rules import (
    AnyDiscount,
    GiftItemColumns,
    Numbers,
    PointsColumns,
    per_event,
)
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import GroupStep, Worth, _set_aside_reason, _won, worth


@dataclass(slots=True)
class Trial:
    """What a member would give at each event, tried on the group's basket."""

    rewarding: Flags
    money: Ints
    """Minor units of money (free, discounted, vouchers) per event: int64, or Python
    integers where a reward's value times its count passes int64 (``_amounts.times``)."""
    points: Ints
    detail: Any = None
    """What its entries are written from: card rewards, or (value, units) of a discount."""
    cuts: dict[int, Allowance] = field(default_factory=dict)
    """A limited member: the allowance at each event its limits cut (its trial is within)."""
    prices: dict[int, PriceCut] = field(default_factory=dict)
    """A limited price member: at each event its limits cut, what it wanted (``_limits``)."""


@dataclass(slots=True)
class Group:
    """One exclusive group: its members (rule ids) in running order, and their ranks."""

    name: str
    members: list[str]
    ranks: list[tuple[int, int]]
    step: GroupStep


@dataclass(slots=True)
class Groups:
    """The program's exclusive groups and, per member, where it is set aside."""

    frame: Frame
    plan: ProgramPlan
    groups: list[Group]
    group_of: dict[str, Group]
    aside: dict[str, Flags] = field(default_factory=dict)
    trials: dict[str, Trial] = field(default_factory=dict)
    winner: dict[str, Ints] = field(default_factory=dict)
    """Per group, each event's winning member (an index into ``members``), -1 for none."""
    start: tuple[Numbers, Ints] | None = None
    """The basket where the current price group runs: amounts and units left."""
    payments: Any = None
    """The purchases' payments (``_payments.Payments``), for points rules by payment method."""
    limited: dict[str, LimitColumns] = field(default_factory=dict)
    """Per limited rule's id, its limits (a limited earning member is tried within them)."""
    baskets: dict[str, Numbers] = field(default_factory=dict)
    """Per group with a price member, the amounts its price members leave: its earning
    members run there (``_members.earns_on``), after the winner's prices."""
    tried_baskets: dict[str, Numbers] = field(default_factory=dict)
    """Per group with a price member, the amounts where it runs: every member's trial."""

    @classmethod
    def of(cls, plan: ProgramPlan, frame: Frame) -> Groups:
        """The groups of the plan, with nothing set aside yet."""
        place = {rule.id: index for index, rule in enumerate(plan.program.rules)}
        program = plan.program
        found: dict[str, Group] = {}
        for rule in plan.running:
            name = rule.rule.exclusive_group
            if name is None:
                continue
            if name not in found:
                step = GroupStep(
                    name, (), (), program.points.value, plan.money, program.points.name
                )
                found[name] = Group(name, [], [], step)
            found[name].members.append(rule.id)
            found[name].ranks.append((rule.rule.priority, place[rule.id]))
        group_of = {member: group for group in found.values() for member in group.members}
        aside = {member: np.zeros(frame.events, dtype=np.bool_) for member in group_of}
        return cls(frame, plan, list(found.values()), group_of, aside)

    # --- price stages ---------------------------------------------------------------------

    def in_order(self, stages: list[Any]) -> list[Any]:
        """The price stages in running order, a group's members together at its first."""
        ordered: list[Any] = []
        placed: set[str] = set()
        for stage in stages:
            rule_id = stage.plan.rule.id
            group = self.group_of.get(rule_id)
            if group is None:
                ordered.append(stage)
            elif group.name not in placed:
                placed.add(group.name)
                ordered += [
                    other for other in stages if self.group_of.get(other.plan.rule.id) is group
                ]
        return ordered

    def enter(self, rule_id: str, amounts: Numbers, units_left: Ints) -> None:
        """Keep the basket where a group's first price member runs."""
        group = self.group_of.get(rule_id)
        if group is not None and group.members[0] == rule_id:
            self.start = (amounts, units_left)
            self.tried_baskets[group.name] = amounts

    def leave(self, rule_id: str, amounts: Numbers) -> None:
        """Keep the amounts a group's price member leaves (the last one's are the group's)."""
        group = self.group_of.get(rule_id)
        if group is not None:
            self.baskets[group.name] = amounts

    def earns_on(self, rule_id: str, paid: Numbers, tried: bool = False) -> Numbers:
        """What a member earns on: beside a price member, what its group's price members
        leave (with ``tried``, its group's basket, where it is tried), else ``paid``."""
        group = self.group_of.get(rule_id)
        baskets = self.tried_baskets if tried else self.baskets
        return earns_on(baskets, None if group is None else group.name, paid)

    def beside_price(self, rule_id: str) -> bool:
        """Whether a member earns on its group's basket, beside a price member."""
        group = self.group_of.get(rule_id)
        return group is not None and group.name in self.baskets

    def refunds_of(self, rule_id: str, steps: list[Any], paid: Numbers) -> list[Any]:
        """The refunds as a member that earns on its group's basket sees them."""
        seen = self.earns_on(rule_id, paid)
        return steps if seen is paid else steps_on(self.frame, steps, seen)

    def masked(self, rule_id: str, line_values: Any) -> Any:
        """Line values with a member's set-aside purchases' lines zeroed."""
        aside = self.aside.get(rule_id)
        if aside is None or not aside.any():
            return line_values
        return np.where(aside[self.frame.line_event], 0, line_values).astype(line_values.dtype)

    def discount(
        self, stage: AnyDiscount, tier: Ints, purchase_lines: Flags, before: Numbers
    ) -> tuple[Numbers, Numbers]:
        """A discount member: its trial on the group's basket, then its run without the
        purchases it is set aside at."""
        frame, rule_id = self.frame, stage.plan.rule.id
        assert self.start is not None  # noqa: S101 -- entered at the group's first member
        amounts, units_left = self.start
        _, tried = stage.apply(frame, tier, amounts, purchase_lines)
        value = np.asarray(per_event(frame, tried), dtype=np.int64)
        units = np.asarray(per_event(frame, np.where(tried > 0, units_left, 0)), dtype=np.int64)
        zero = np.zeros(frame.events, dtype=np.int64)
        self.trials[rule_id] = Trial(value > 0, value, zero, (value, units))
        limited = self.limited.get(rule_id)
        if limited is not None:  # tried within what its limits leave
            value, units, cuts = limited_discount(
                limited, frame, self.start, tried, self.aside[rule_id]
            )
            self.trials[rule_id] = Trial(
                value > 0,
                value,
                zero,
                (value, units),
                {event: cut[0] for event, cut in cuts.items()},
                cuts,
            )
        _, taken = stage.apply(frame, tier, before, purchase_lines)
        taken = self.masked(rule_id, np.asarray(taken))
        return before - taken, taken

    def card(
        self,
        stage: CardColumns,
        qualifying: Ints,
        counts: CardCounts,
        basket: tuple[Numbers, Ints] | None = None,
    ) -> tuple[Ints, Ints, list[CardReward]] | None:
        """A card member's trial: from its count before each purchase (its own
        set-aside purchases not counted), on the group's basket (price cards) or as
        vouchers.

        When ``basket`` (the one it runs on) is the group's, the card's own run is its
        trial without the set-aside purchases: returned, so the engine frees units once.
        """
        frame, plan = self.frame, stage.plan
        tried = _tried_counts(frame, stage, qualifying, counts)
        zero = np.zeros(frame.events, dtype=np.int64)
        if plan.reward == "voucher":
            every = plan.every
            completed = tried.after // every - tried.before // every
            completed = np.where(completed > 0, completed, 0)
            money = times(completed, plan.voucher_value)
            self.trials[plan.rule.id] = Trial(completed > 0, money, zero, tried)
            return None
        assert self.start is not None  # noqa: S101 -- entered at the group's first member
        amounts, units_left = self.start
        start = (np.asarray(amounts, dtype=np.int64), units_left)
        freed, left, rewards = stage.free(frame, tried, qualifying, *start)
        limited = self.limited.get(plan.rule.id)
        within, cuts = rewards, dict[int, PriceCut]()
        if limited is not None:  # tried within what its limits leave
            within, cuts = limited_card(
                limited,
                frame,
                stage,
                tried,
                qualifying,
                start,
                (freed, left, rewards),
                self.aside[plan.rule.id],
            )
        rewarding = np.zeros(frame.events, dtype=np.bool_)
        money = zero.copy()
        if within:  # over columns: a long history completes hundreds of thousands of cards
            given_at = np.fromiter((reward.event for reward in within), np.int64, len(within))
            rewarding[given_at] = True
            money[given_at] = [reward.value for reward in within]
        self.trials[plan.rule.id] = Trial(
            rewarding,
            money,
            zero,
            within,
            {event: cut[0] for event, cut in cuts.items()},
            cuts,
        )
        if basket is None or basket[0] is not amounts or basket[1] is not units_left:
            return None
        # At a purchase it is not set aside at, its count (hence what it frees) is its
        # trial's; where it is set aside, it frees nothing.
        aside = self.aside[plan.rule.id]
        lines = aside[frame.line_event]
        return (
            np.where(lines, start[0], freed),
            np.where(lines, units_left, left),
            [reward for reward in rewards if not aside[reward.event]],
        )

    def capped_in_trial(self, rule_id: str, rewards: list[CardReward]) -> dict[int, CardReward]:
        """A limited punch card member's purchases where its limits capped it on the group's
        basket but it completes cards on the basket the winner left: what it wanted in its
        trial. A group gives one reward: it is capped there too (``stacking._as_tried``)."""
        trial = self.trials.get(rule_id)
        if trial is None:
            return {}
        aside = self.aside[rule_id]
        found = {}
        for reward in rewards:
            event = reward.event
            if not trial.rewarding[event] and event in trial.prices and not aside[event]:
                wanted = trial.prices[event][2]
                assert isinstance(wanted, CardReward)  # noqa: S101 -- a card's own trial
                found[event] = wanted
        return found

    # --- earning members and the decision ----------------------------------------------

    def earning(
        self, stages: list[Any], tier: Ints, paid: Numbers, purchase_lines: Flags, steps: Any
    ) -> None:
        """The earning members' trials: bonuses, vouchers, gift cards, gift items and points
        (``steps``: the refunds, which take units off a voucher card)."""
        frame = self.frame
        for stage in stages:
            rule_id = stage.plan.rule.id
            if rule_id not in self.group_of:
                continue
            zero = np.zeros(frame.events, dtype=np.int64)
            if isinstance(stage, BonusColumns):
                priced = stage.priced(frame, tier, purchase_lines)
                masked = self.masked(rule_id, priced)
                points = bonus_trial(frame, stage, priced, masked)
                self.trials[rule_id] = Trial(points > 0, zero, points, points)
                limited = self.limited.get(rule_id)
                if limited is not None:
                    # Within its limits, as ``_bonus_entries`` gives it where it counts.
                    releases = bonus_releases(frame, masked, stage.given(frame, masked), steps)
                    within, cuts = limited.cut_points_column(
                        frame, points, releases, self.aside[rule_id]
                    )
                    self.trials[rule_id] = Trial(within > 0, zero, within, points, cuts)
            elif isinstance(stage, CardColumns):
                qualifying = stage.qualifying(frame, tier, purchase_lines)
                counts = stage.counts(frame, self.masked(rule_id, qualifying), steps)
                self.card(stage, qualifying, counts)
                tried: CardCounts = self.trials[rule_id].detail
                every = stage.plan.every
                completed = tried.after // every - tried.before // every
                self._within_limits(stage, np.where(completed > 0, completed, 0))
            elif isinstance(stage, GiftCardColumns):
                issued = stage.tried(
                    frame,
                    tier,
                    np.asarray(self.earns_on(rule_id, paid), dtype=np.int64),
                    purchase_lines,
                    self.refunds_of(rule_id, steps, paid),
                    self.aside[rule_id],
                    np.asarray(self.earns_on(rule_id, paid, tried=True), dtype=np.int64),
                )
                rewarding = np.zeros(frame.events, dtype=np.bool_)
                units = zero.copy()
                for cards in issued:
                    rewarding[cards.event] = True
                    units[cards.event] = cards.last - cards.first + 1
                money = times(units, stage.plan.value)
                self.trials[rule_id] = Trial(rewarding, money, zero, issued)
                self._within_limits(stage, units)
            elif isinstance(stage, GiftItemColumns):
                # A gift item reads the purchase only (no basket, no state): its trial is
                # what it gives, one unit at the gift's value.
                events = stage.given(frame, tier, purchase_lines)
                rewarding = np.zeros(frame.events, dtype=np.bool_)
                rewarding[events] = True
                money = times(rewarding.astype(np.int64), stage.plan.gift_value or 0)
                self.trials[rule_id] = Trial(rewarding, money, zero, events)
                self._within_limits(stage, rewarding.astype(np.int64))
            else:
                assert isinstance(stage, PointsColumns)  # noqa: S101 -- support admits these
                self._points(stage, tier, paid, purchase_lines, steps)

    def _points(
        self, stage: PointsColumns, tier: Ints, paid: Numbers, purchase_lines: Flags, steps: Any
    ) -> None:
        """A points member's trial: on its group's basket beside a price member, and within
        its limits (as ``_earning_entries`` gives it where it counts)."""
        frame, rule_id = self.frame, stage.plan.rule.id
        zero = np.zeros(frame.events, dtype=np.int64)
        source = earned_on(stage, frame, self.earns_on(rule_id, paid, True), self.payments)
        weights = stage.weights(frame, tier, purchase_lines)
        points = stage.points(frame, tier, source, weights)  # exact: _earning_entries checks
        self.trials[rule_id] = Trial(points != 0, zero, points, points)
        limited = self.limited.get(rule_id)
        if limited is None:
            return
        names = () if self.plan.tiers is None else self.plan.tiers.names
        shares = earns_on_shares(stage, self.beside_price(rule_id))
        within, cuts = limited_points(
            limited,
            stage,
            frame,
            points,
            (source, weights, tier, names, shares),
            steps,
            self.aside[rule_id],
        )
        self.trials[rule_id] = Trial(within != 0, zero, within, points, cuts)

    def _within_limits(self, stage: Any, units: Ints) -> None:
        """A limited member giving vouchers, gift cards or gift items (``units`` of them per
        event in its trial): its trial within its limits, each given whole or not, counted
        where it is not set aside (as ``_noted_counted`` and ``_gift_item_entries`` give it)."""
        rule_id = stage.plan.rule.id
        limited = self.limited.get(rule_id)
        if limited is None:
            return
        trial = self.trials[rule_id]
        within, cuts = limited.cut_counted(self.frame, units, trial.money, self.aside[rule_id])
        each = np.where(units > 0, trial.money // np.maximum(units, 1), 0)
        self.trials[rule_id] = Trial(  # within is at most units: no more than the trial's
            within > 0, within * each, trial.points, trial.detail, cuts
        )

    def decide(self) -> bool:
        """Pick each purchase's winner from the trials; True when a mask changed."""
        changed = False
        exponent = self.plan.money.exponent
        for group in self.groups:
            numerator, denominator = group.step.point_value.as_integer_ratio()
            trials = [self.trials[member] for member in group.members]
            scale = 10**exponent
            # Worth in units of 1 / (10**exponent * denominator): exact integers, in int64
            # when every worth surely fits (Python integers otherwise).
            kind = _worth_type(trials, denominator, numerator * scale)
            worths = [
                trial.money.astype(kind) * denominator
                + trial.points.astype(kind) * numerator * scale
                for trial in trials
            ]
            best = np.full(self.frame.events, -1, dtype=np.int64)
            best_worth: Any = np.zeros(self.frame.events, dtype=kind)
            best_points = np.zeros(self.frame.events, dtype=np.int64)
            for index in sorted(range(len(trials)), key=lambda index: group.ranks[index]):
                trial = trials[index]
                better = trial.rewarding & (
                    (best < 0)
                    | (worths[index] > best_worth)
                    | ((worths[index] == best_worth) & (trial.points > best_points))
                )
                best = np.where(better, index, best)
                best_worth = np.where(better, worths[index], best_worth)
                best_points = np.where(better, trial.points, best_points)
            self.winner[group.name] = best
            for index, member in enumerate(group.members):
                aside = trials[index].rewarding & (best != index)
                if not np.array_equal(aside, self.aside[member]):
                    self.aside[member] = aside
                    changed = True
        return changed

    # --- the ledger ----------------------------------------------------------------------

    def places(self, positions: dict[str, int]) -> dict[int, int]:
        """Each member's ledger position mapped to its group's (where they differ)."""
        found: dict[int, int] = {}
        for group in self.groups:
            place = min(positions[member] for member in group.members)
            for member in group.members:
                if positions[member] != place:
                    found[positions[member]] = place
        return found

    def noted(self, part: EntryPart) -> EntryPart:
        """A winner's entries, noted at the purchases where it beat other members."""
        rule = part.rule
        if part.built is not None:  # entries already made: of one rule (a limited member's)
            rule = part.built[0].rule if part.built else ""
        group = self.group_of.get(rule)
        if group is None or not len(part):
            return part
        index = group.members.index(rule)
        losers = [self.aside[member] for member in group.members]
        notes: dict[int, tuple[str, tuple[str, ...]]] = {}
        won = self.winner[group.name]
        for event in np.flatnonzero((won == index) & np.logical_or.reduce(losers)).tolist():
            others = tuple(member for member, aside in zip(group.members, losers) if aside[event])
            notes[event] = (group.name, others)
        if not notes:
            return part
        events = part.events.tolist()
        if part.built is not None:  # a limited member's entries, noted where it won
            built = [
                entry
                if entry.kind in NOTE_KINDS or entry.rule != rule or notes.get(event) is None
                else replace(entry, template=_won, arguments=(entry, notes[event]))
                for entry, event in zip(part.built, events)
            ]
            return EntryPart.of_entries(part.events, built)
        arguments = part.arguments

        def noted_arguments(position: int) -> tuple[Any, ...]:
            own = arguments(position) if callable(arguments) else arguments[position]
            return (part.template, part.kind, own, notes.get(events[position]))

        return EntryPart(
            part.events,
            part.rule,
            part.kind,
            part.points,
            part.value,
            part.units,
            _noted_reason,
            noted_arguments,
        )

    def set_aside(self, run: Any, rule_id: str) -> tuple[Ints, list[LedgerEntry]] | None:
        """A member's ``set_aside`` entries: what it would have given, and to whom it lost."""
        aside = self.aside.get(rule_id)
        if aside is None or not aside.any():
            return None
        group = self.group_of[rule_id]
        events = np.flatnonzero(aside)
        won = self.winner[group.name]
        would = would_entries(run, self.trials[rule_id], rule_id, events)
        # The winners' entries at these events, built once per winning member.
        winning: dict[int, LedgerEntry] = {}
        for index in np.unique(won[events]).tolist():
            winner = group.members[index]
            chosen = events[won[events] == index]
            built = would_entries(run, self.trials[winner], winner, chosen)
            winning.update(zip(chosen.tolist(), built))
        frame = self.frame
        # An entry's worth is its kind's, points' and value's: worked out once for each
        # (a long history sets aside tens of thousands of purchases worth a few amounts).
        worths: dict[tuple[str, int | None, int | None], Worth] = {}

        def worth_of(entry: LedgerEntry) -> Worth:
            key = (entry.kind, entry.points, entry.value_minor)
            found = worths.get(key)
            if found is None:
                found = worths[key] = worth(group.step, [entry])
            return found

        entries = []
        for event, event_id, customer, index, given in zip(
            events.tolist(),
            frame.event_ids[events].tolist(),
            frame.customer[events].tolist(),
            won[events].tolist(),
            would,
        ):
            winner = group.members[index]
            entries.append(
                LedgerEntry(
                    str(event_id),
                    frame.customer_ids[customer],
                    rule_id,
                    "set_aside",
                    None,
                    None,
                    None,
                    self.plan.money,
                    _set_aside_reason,
                    (
                        group.step,
                        winner,
                        worth_of(winning[event]),
                        worth_of(given),
                        [given],
                    ),
                )
            )
        return events, entries


def _worth_type(trials: list[Trial], money_factor: int, points_factor: int) -> type:
    """``np.int64`` when every trial's money and points, scaled to a worth, fit in it;
    ``object`` (exact Python integers) otherwise."""
    bound = 0
    for trial in trials:
        for column, factor in ((trial.money, money_factor), (trial.points, points_factor)):
            if len(column):
                bound += max(abs(int(column.max())), abs(int(column.min()))) * factor
    return np.int64 if bound < 2**62 else object


def _noted_reason(
    money: Any, template: Any, kind: Any, arguments: Any, note: tuple[str, tuple[str, ...]] | None
) -> str:
    """The entry's own reason, then, where it won its group, the note saying over whom."""
    entry = LedgerEntry("", "", "", kind, None, None, None, money, template, arguments)
    return entry.reason if note is None else _won(money, entry, note)


def _tried_counts(
    frame: Frame, stage: CardColumns, qualifying: Ints, counts: CardCounts
) -> CardCounts:
    """The card's count after each purchase were it to count there (its count before
    it stays the masked one: earlier set-aside purchases did not count)."""
    per_purchase = (
        np.add.reduceat(qualifying, frame.line_start[:-1])
        if frame.events
        else np.zeros(0, dtype=np.int64)
    )
    added = (per_purchase > 0).astype(np.int64) if stage.plan.counts_visits else per_purchase
    return CardCounts(counts.before, counts.before + added, counts.final)


def bonus_trial(frame: Frame, stage: BonusColumns, priced: Flags, masked: Flags) -> Numbers:
    """The bonus each purchase would get: once per customer counts only what was given."""
    units = np.where(priced, frame.quantity, 0)
    qualifies = np.add.reduceat(units, frame.line_start[:-1]) > 0 if frame.events else priced
    if stage.plan.rule.once_per_customer:
        given = stage.given(frame, masked) > 0
        total = np.concatenate(([0], np.cumsum(given)))
        before = total[:-1] - total[frame.customer_start[frame.customer]]
        qualifies = qualifies & (before == 0)
        if stage.given_before is not None:  # given before a saved state (``_resume``)
            qualifies = qualifies & ~stage.given_before[frame.customer]
    return bonus_column(qualifies, stage.plan.points)


def would_entries(run: Any, trial: Trial, rule_id: str, events: Ints) -> list[LedgerEntry]:
    """A member's entries at these purchases as it would have given them (its trial)."""
    stage = run.stage_of[rule_id]
    if isinstance(stage, GiftColumns):  # a birthday or sign-up gift: its trial's entries
        return [trial.detail[event] for event in events.tolist()]
    scratch = dict.fromkeys(
        (
            "free_value",
            "free_units",
            "discount_value",
            "discount_units",
            "vouchers",
            "voucher_value",
            "gift_cards",
            "gift_card_value",
        ),
        0,
    )
    if isinstance(stage, AnyDiscount):
        value, units = trial.detail
        part = run._discount_entries(stage, events, value[events], units[events])
        if trial.prices:
            return _noted_prices(run, stage, events, part, trial.prices)
    elif isinstance(stage, CardColumns) and stage.plan.reward == "voucher":
        counts: CardCounts = trial.detail
        # Nothing completes but at these events: their entries alone are written.
        before = counts.after.copy()
        before[events] = counts.before[events]
        chosen = CardCounts(before, counts.after, counts.final)
        _, part = run._voucher_entries(stage, chosen, scratch)
    elif isinstance(stage, CardColumns):
        wanted = set(events.tolist())
        rewards: list[CardReward] = [r for r in trial.detail if r.event in wanted]
        _, part = run._card_entries(stage, rewards, scratch)
        if trial.prices:
            return _noted_prices(run, stage, events, part, trial.prices)
    elif isinstance(stage, GiftItemColumns):
        part = run.gift_item_part(stage, events)
    elif isinstance(stage, GiftCardColumns):
        wanted = set(events.tolist())
        issued: list[CardsIssued] = [cards for cards in trial.detail if cards.event in wanted]
        _, part = run._gift_card_entries(stage, issued, scratch)
    elif isinstance(stage, BonusColumns):
        frame = run.frame
        contexts = PurchaseContextMaker(frame, run.tier, run.names, run.written)
        reason = stage.reason(contexts(int(events[0])))
        points = trial.detail[events].tolist()
        part = EntryPart(events, rule_id, "points", points, None, None, reason, [()] * len(events))
    else:
        part = run.points_part(stage, events, trial.detail)
    built = list(run._built(part))
    if not trial.cuts:
        return built
    # A limited member: as it would have given them within its limits (noted).
    cuts = {event: trial.cuts[event] for event in events.tolist() if event in trial.cuts}
    kind = "points" if isinstance(stage, BonusColumns | PointsColumns) else "counted"
    noted: list[LedgerEntry] = run.limited[rule_id].noted(events, built, cuts, kind)
    return noted


def _noted_prices(
    run: Any, stage: Any, events: Ints, part: EntryPart, prices: dict[int, PriceCut]
) -> list[LedgerEntry]:
    """A limited price member's entries at these purchases as its trial gave them within
    its limits, noted where they cut it (``note_cut``)."""
    chosen = {event: prices[event] for event in events.tolist() if event in prices}
    if not chosen:
        return list(run._built(part))
    _, noted = run._noted_prices(stage, events, part, chosen)
    return list(noted)
