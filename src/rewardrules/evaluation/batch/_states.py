"""Saved states from the batch engine's columns: ``CustomerResult.state`` as the reference's.

The batch engine keeps no per-customer objects while it runs; a customer's state is built
when it is read, from the columns the run computed (tiers, paid amounts, refunds, points
per rule, punch-card counts) and a short loop over that customer's events for what is a
matter of order (the points account's lots, gift-card windows, when each tier was
reached). Everything a state holds goes through ``rewardrules.engine.state``'s public models
(``CustomerState``, ``SavedPurchase``, ``SavedLot``, ``GiftCardWindow``, ``TierAmount``)
in this module alone, so that a change of the saved shape is adapted here.

Dicts keep the reference's insertion order (it shows in the JSON and the digest): a rule
appears in ``stamps``, ``gift_cards`` and a purchase's ``points`` in the order the rules
run, a gift-card window when its first purchase is made, a bonus when it is first given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

import numpy as np

from rewardrules.engine._state_columns import (
    SavedLine,
    SavedPurchase,
    TierAmount,
    purchase_columns,
    window_columns,
)
from rewardrules.engine._state_format import micros
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import (
    PointsAccount,
    advance,
    bought,
    cancel_redemption,
    earn,
    elapsed,
    redeem,
    refunded_in_full,
    settle,
    take_back,
)
from rewardrules.engine.state import (
    CustomerState,
    GiftCardWindow,
    SavedLot,
    saved_spent,
)
from rewardrules.engine.tiers import calendar_key
from rewardrules.evaluation.batch._accounts import lasting_purchases
from rewardrules.evaluation.batch._cancels import Catalogue
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._giftcards import GiftCardColumns
from rewardrules.evaluation.batch._opening import open_lots
from rewardrules.evaluation.batch._refunds import RefundStep, emptying
from rewardrules.evaluation.batch._slices import SliceReader, Slices, Timeline
from rewardrules.evaluation.batch._timeline import Walk
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import purchase_stages
from rewardrules.events import Customer

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RulePoints:
    """What an earning rule gave each purchase, and what is left of it after refunds."""

    rule_id: str
    given: Ints
    """Points per event (the purchases')."""
    net: Mapping[int, int]
    """Per refunded purchase, what the rule's points are after its refunds."""
    earned_on: Any = None
    """Per line, the shares a rule by payment method earned on (None for other rules)."""
    wanted: Ints | None = None
    """Points per event before a limit cut them (None: ``given``): a rule by payment
    method keeps its shares where it earned, even where a limit cut its points to none."""


@dataclass(frozen=True, slots=True)
class GiftCardSpend:
    """A gift card rule's qualifying spend per event, and each purchase's window."""

    rule_id: str
    every_spend: int
    limit: int | None
    spend: Ints
    """Per purchase, its qualifying paid spend; per refund, the qualifying amount it gives
    back (in its purchase's window)."""
    window: Callable[[int], str]
    """The window key of a purchase (by event)."""
    earned_on: Ints | None = None
    """Per line, what it earned on where not what was paid (beside its exclusive group's
    price member: the group's basket); None when it earned on what was paid."""
    saved_refunds: Mapping[int, tuple[str, int, int]] = field(default_factory=dict)
    """Per refund of a purchase a saved state keeps: its window key, the purchase's local
    date and the spend it gives back (``_saved_refunds``)."""


@dataclass(frozen=True, slots=True)
class StateColumns:
    """What the run computed that a saved state reads (see ``_evaluate._Run``)."""

    plan: ProgramPlan
    frame: Frame
    flags: tuple[Any, Any, Any]
    """Which events are purchases, refunds, redemptions."""
    tier: Ints
    window_tier: Ints
    paid: Sequence[int] | Ints
    tier_amounts: Ints | None
    """What each purchase counts toward tiers after its refunds (None without tiers)."""
    steps: list[RefundStep]
    points: Ints
    """Net points per event, as the account sees them (negative at refunds)."""
    rule_points: list[RulePoints]
    stamps: list[tuple[str, Ints]]
    """Per punch card, in running order, each customer's final count."""
    gift_cards: list[GiftCardSpend]
    bonuses: list[tuple[str, Ints]]
    """Per bonus rule, in running order, the points given per event."""
    moment: Callable[[int], datetime]
    """An event's instant, as it was written."""
    cutoff: tuple[datetime, bool] | None
    stopped: Ints | None = None
    """Per event, the step of the final rule that stopped its later rules (``final: true``),
    past the last step where none did; None when no rule is final."""
    openings: Mapping[int, Customer] = field(default_factory=dict)
    """Per customer (index) who starts from a profile's opening, the profile."""
    catalogue: Catalogue = field(default_factory=Catalogue)
    """The cancellations' redemptions and the tiers redemptions ask at."""
    seeds: Callable[[int], PointsAccount | None] | None = None
    """Per customer (index) resumed from a saved state, its saved account (``_resume``)."""
    merge: Callable[..., CustomerState] | None = None
    """Merges a resumed customer's state of the new history with the saved one (given the
    account and every punch card's final count)."""
    window_seeds: Callable[[str, str], Mapping[str, tuple[int, int, int]]] | None = None
    """Per customer id and gift card rule, the windows a saved state holds (net, highest,
    cards in minor units), when resuming."""
    emptied: frozenset[int] | None = None
    """The refunds that refund their purchase in full, when resuming (refunds of saved
    purchases among them); None: those of ``steps``."""

    ledger: Callable[[int], Sequence[LedgerEntry]] | None = None
    """A customer's ledger (by index): what the limits', gifts' and groups' slices read."""
    slices: SliceReader | None = None
    """Builds those slices (``_slices``); None when the program keeps none."""
    walks: Mapping[int, Walk] = field(default_factory=dict)
    """Per customer walked for gifts at dates or referrers' rewards, their walk (whose
    account holds the gifts)."""
    aside: Sequence[tuple[str, Any]] = ()
    """Per member of an exclusive group, in running order, the purchases it is set aside at."""
    saved_refunds: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    """When resuming, per refund of a purchase a saved state keeps, that purchase's id and
    local date (``_saved_refunds``)."""


class SavedStates:
    """Builds each customer's final state on demand (``CustomerResult.state``)."""

    def __init__(self, columns: StateColumns) -> None:
        self.columns = columns
        self._last_step: dict[int, RefundStep] | None = None
        """Per refunded purchase, its last refund (built once, when a state is first read)."""
        self._purchase_of: dict[int, int] | None = None
        """Per refund, its purchase."""
        _, order = purchase_stages(columns.plan)
        self._running = {rule.id: place for place, rule in enumerate(order)}
        """Each rule's place in the reference's running order (an exclusive group's members
        run together, at the first one's place): the order a purchase's points are kept in."""

    def state_of(self, customer: int) -> CustomerState:
        """The state the reference engine would save for the customer (by index)."""
        columns = self.columns
        plan, frame = columns.plan, columns.frame
        purchases, refunds, redemptions = columns.flags
        cancels, saved_cancels = columns.catalogue.cancels, columns.catalogue.saved_cancels
        first, end = int(frame.customer_start[customer]), int(frame.customer_start[customer + 1])
        events = range(first, end)
        bought = [event for event in events if purchases[event]]
        walk = columns.walks.get(customer)
        if walk is not None and walk.lots is not None:  # its account holds the gifts
            account = copy.deepcopy(walk.lots)
        else:
            account = self._account(customer, events)
        moment = columns.moment
        found = self._slices(customer, events)
        last_event_at = (None if found is None else found.last_event_at) or moment(end - 1)
        kept, forgotten = self._forget(bought, last_event_at)
        for event in forgotten:
            settle(account, frame.event_ids[event])  # no longer refundable, as the reference
        window_tier, reached = self._retention(bought)
        tier_amounts, tier_window = self._forgotten_tiers(forgotten, last_event_at)
        ids = frame.event_ids
        targets = {
            event: ids[cancels[event]] if event in cancels else saved_cancels[event]
            for event in events
            if event in cancels or event in saved_cancels
        }
        money = plan.money
        granted = columns.openings.get(customer)
        if plan.tiers is None or granted is None or granted.tier_until is None:
            granted = None
        state = CustomerState.model_construct(
            program=plan.program.program,
            customer_id=frame.customer_ids[customer],
            points=account.balance,
            lots=tuple(
                SavedLot(
                    source=lot.source,
                    earned_at=lot.earned_at,
                    available_at=lot.available_at,
                    expires_at=lot.expires_at,
                    points=lot.points,
                    lasting=lot.lasting,
                )
                for lot in account.lots
            ),
            debt=account.debt,
            last_purchase_at=account.last_purchase_at,
            settled_active_at=account.settled_at,
            last_event_at=last_event_at,
            stamps={
                rule_id: int(final[customer])
                for rule_id, final in self._first_ran(columns.stamps, bought)
            },
            gift_cards={
                rules.rule_id: {
                    key: GiftCardWindow(
                        net_spend=money.to_decimal(net),
                        highest_spend=money.to_decimal(highest),
                        cards=cards,
                    )
                    for key, (net, highest, cards) in self._gift_card_windows(
                        rules, events, customer
                    ).items()
                }
                for rules in self._first_ran(columns.gift_cards, bought)
            },
            exponent=money.exponent if kept else None,
            purchase_columns=purchase_columns(self._saved_purchases(kept)),
            refunds=tuple(ids[event] for event in events if refunds[event]),
            redemptions=tuple(
                ids[event] for event in events if redemptions[event] or event in targets
            ),
            spent=saved_spent(account),
            cancellations={ids[event]: targets[event] for event in events if event in targets},
            window_tier=window_tier,
            tier_reached=reached,
            forgotten_until=moment(forgotten[-1]) if forgotten else None,
            settled_purchase_at=self._settled_purchase(forgotten),
            tier_amounts=tier_amounts,
            window_columns=window_columns(tier_window),
            tier_granted=None if granted is None else granted.tier,
            tier_granted_until=None if granted is None else granted.tier_until,
            bonuses=self._bonuses(bought) if found is None else found.bonuses,
            first_event_at=moment(first) if found is None else found.first_event_at,
            birthdays={} if found is None else found.birthdays,
            limits={} if found is None else found.limits,
            referrals=() if found is None else found.referrals,
            referral_holds=() if found is None else found.referral_holds,
        )
        if columns.merge is None:
            return state
        counts = {rule_id: int(final[customer]) for rule_id, final in columns.stamps}
        levels = [(moment(event), int(columns.window_tier[event])) for event in bought]
        return columns.merge(frame.customer_ids[customer], state, account, counts, levels)

    def _slices(self, customer: int, events: range) -> Slices | None:
        """The slices of limits, gifts and groups (``_slices``), if the program keeps any."""
        columns = self.columns
        reader = columns.slices
        if reader is None or columns.ledger is None:
            return None
        frame = columns.frame
        purchases, refunds, _ = columns.flags
        ids = frame.event_ids
        purchase_of = self._refunded_purchase()
        first, last = events[0], events[-1]
        timeline = Timeline(
            index={str(ids[event]): event for event in events},
            purchase=lambda event: bool(purchases[event]),
            refund=lambda event: bool(refunds[event]),
            local_date=lambda event: date.fromordinal(int(frame.local_date[event])),
            moment=columns.moment,
            refunded=purchase_of.__getitem__,
            purchase_id=lambda event: (
                columns.saved_refunds[event][0]
                if event in columns.saved_refunds
                else str(ids[purchase_of[event]])
            ),
            first=(int(frame.at[first]), str(ids[first]), columns.moment(first)),
            last=(int(frame.at[last]), str(ids[last]), columns.moment(last)),
            saved_refunds=columns.saved_refunds,
        )
        return reader.slices(frame.customer_ids[customer], columns.ledger(customer), timeline)

    # --- the points account -----------------------------------------------------------

    def _account(self, customer: int, events: Iterable[int]) -> PointsAccount:
        """The customer's points account, replayed on the points the rules computed (as
        ``_accounts.run_accounts`` does, without its entries)."""
        columns = self.columns
        frame, policy = columns.frame, columns.plan.points
        purchases, refunds, _ = columns.flags
        catalogue = columns.catalogue
        customer_id = frame.customer_ids[customer]
        ids = frame.event_ids
        emptied = emptying(frame, columns.steps) if policy.inactivity else frozenset()
        if columns.emptied is not None:
            emptied = columns.emptied
        lasting = lasting_purchases(policy, columns.plan.tiers, columns.tier, purchases)
        account = (None if columns.seeds is None else columns.seeds(customer)) or PointsAccount()
        profile = columns.openings.get(customer)
        if profile is not None:
            open_lots(columns.plan, account, profile)
        for event in events:
            at = columns.moment(event)
            if policy.has_clock or account.dated:
                advance(policy, account, customer_id, at)
            if purchases[event]:
                earned = int(columns.points[event])
                earn(policy, account, ids[event], at, earned, lasting=event in lasting)
                bought(policy, account, ids[event], at)
            elif refunds[event]:
                back = -int(columns.points[event])
                purchase_id = frame.purchase_id[event].as_py()
                if back:
                    take_back(policy, account, customer_id, ids[event], purchase_id, at, back)
                if event in emptied:
                    refunded_in_full(account, purchase_id)
            elif (target := catalogue.cancelled(event, ids)) is not None:
                cancel_redemption(policy, account, customer_id, ids[event], target)
            else:
                reward = frame.reward[event].as_py()
                units, tier = int(frame.units[event]), catalogue.tiers.get(event)
                redeem(policy, account, customer_id, ids[event], reward, at, units, tier)
        if columns.cutoff is not None:
            instant, inclusive = columns.cutoff
            advance(policy, account, customer_id, instant, inclusive)
        return account

    # --- purchases --------------------------------------------------------------------

    def _forget(self, bought: list[int], now: datetime) -> tuple[list[int], list[int]]:
        """The purchases kept and forgotten (``refunds.within``), oldest first.

        The reference forgets from the front after every purchase and at the end, never
        the newest; since the instant only grows, that is one pass at the last event.
        """
        plan = self.columns.plan
        within = plan.refunds_within
        if within is None:
            return bought, []
        moment = self.columns.moment
        count = 0
        while count < len(bought) - 1 and within.after(moment(bought[count]), plan.zone) < now:
            count += 1
        return bought[count:], bought[:count]

    def _settled_purchase(self, forgotten: list[int]) -> datetime | None:
        """When the latest forgotten purchase not refunded in full was made (``forget``):
        a forgotten purchase can no longer be refunded, so its last refund is its final."""
        frame, last = self.columns.frame, self._last_refunds()
        for event in reversed(forgotten):
            step = last.get(event)
            start, end = int(frame.line_start[event]), int(frame.line_start[event + 1])
            if step is None or list(step.units_after) != frame.quantity[start:end].tolist():
                return self.columns.moment(event)
        return None

    def _refunded_purchase(self) -> dict[int, int]:
        if self._purchase_of is None:
            self._purchase_of = {step.event: step.purchase for step in self.columns.steps}
        return self._purchase_of

    def _last_refunds(self) -> dict[int, RefundStep]:
        if self._last_step is None:
            self._last_step = {step.purchase: step for step in self.columns.steps}
        return self._last_step

    def _saved_purchases(self, kept: list[int]) -> tuple[SavedPurchase, ...]:
        """The kept purchases as ``state.saved_row`` writes them: integers read straight
        from the frame's columns (minor units, microseconds, offset seconds), each column
        read once for the customer's kept purchases."""
        if not kept:
            return ()
        columns = self.columns
        frame = columns.frame
        last = self._last_refunds()
        names = () if columns.plan.tiers is None else columns.plan.tiers.names
        chosen = np.asarray(kept, dtype=np.int64)
        ats = frame.at[chosen].tolist()
        offsets = frame.utc_offset[chosen].tolist()
        tiers = columns.tier[chosen].tolist()
        stores = frame.store.take(chosen).to_pylist()
        given = [
            (rule.rule_id, rule.given[chosen].tolist(), rule.net)
            for rule in sorted(columns.rule_points, key=lambda rule: self._running[rule.rule_id])
        ]
        shares = [
            (
                rule.rule_id,
                (rule.given if rule.wanted is None else rule.wanted)[chosen].tolist(),
                rule.earned_on,
            )
            for rule in columns.rule_points
            if rule.earned_on is not None
        ]
        # A gift card beside its group's price member keeps what it saw wherever it ran.
        shares += [
            (cards.rule_id, self._ran_at(cards.rule_id, chosen), cards.earned_on)
            for cards in columns.gift_cards
            if cards.earned_on is not None
        ]
        shares.sort(key=lambda share: self._running[share[0]])
        # The lines of the kept purchases: one run of rows, from the first to the last.
        first, end = int(frame.line_start[kept[0]]), int(frame.line_start[kept[-1] + 1])
        starts = (frame.line_start[chosen] - first).tolist()
        ends = (frame.line_start[chosen + 1] - first).tolist()
        skus = frame.sku.texts(first, end)
        categories = frame.category.texts(first, end)
        quantities = frame.quantity[first:end].tolist()
        prices = frame.unit_price[first:end].tolist()
        paid = np.asarray(columns.paid[first:end], dtype=np.int64).tolist()
        ids = frame.event_ids
        stopped, stages = columns.stopped, columns.plan.stage_rules

        aside = sorted(columns.aside, key=lambda member: self._running[member[0]])

        def stopped_at(event: int) -> tuple[str, ...]:
            """The rules an exclusive group set aside at a purchase (in running order), then
            those a final rule stopped there: the rules of the later steps."""
            found = tuple(rule for rule, flags in aside if flags[event])
            if stopped is None:
                return found
            return found + tuple(
                rule for stage in stages[int(stopped[event]) + 1 :] for rule in stage
            )

        rows = []
        for place, event in enumerate(kept):
            start, stop = starts[place], ends[place]
            step = last.get(event)
            count = stop - start
            units = (0,) * count if step is None else step.units_after
            amounts = (0,) * count if step is None else step.amounts_after
            points: dict[str, int] = {}
            for rule_id, gave, net in given:
                if gave[place]:
                    points[rule_id] = net.get(event, gave[place])
            index = tiers[place]
            earned: dict[str, tuple[int, ...]] = {}
            for rule_id, gave, on in shares:
                if gave[place]:  # the shares it earned on (before a limit), when not paid
                    seen = tuple(int(share) for share in on[first + start : first + stop])
                    if list(seen) != paid[start:stop]:
                        earned[rule_id] = seen
            lines = tuple(
                SavedLine(cast("str", sku), category, quantity, price, line_paid, done, back)
                for sku, category, quantity, price, line_paid, done, back in zip(
                    skus[start:stop],  # a purchase line's sku: the frame refused a missing one
                    categories[start:stop],
                    quantities[start:stop],
                    prices[start:stop],
                    paid[start:stop],
                    units,
                    amounts,
                    strict=True,
                )
            )
            rows.append(
                SavedPurchase(
                    str(ids[event]),
                    ats[place],
                    offsets[place],
                    stores[place],
                    None if index < 0 else names[index],
                    lines,
                    points,
                    stopped_at(event),
                    earned,
                )
            )
        return tuple(rows)

    # --- rules ------------------------------------------------------------------------

    def _ran(self, rule_id: str) -> Any:
        """Per event, whether a rule ran there: not where a final rule of an earlier step
        gave something (``final: true``), nor where its exclusive group set it aside; None
        when it ran at every purchase."""
        columns = self.columns
        ran = None
        if columns.stopped is not None:
            step = next(
                (index for index, rules in enumerate(columns.plan.stage_rules) if rule_id in rules),
                None,
            )
            ran = None if step is None else columns.stopped >= step
        aside = dict(columns.aside).get(rule_id)
        if aside is not None:
            ran = ~aside if ran is None else ran & ~aside
        return ran

    def _ran_at(self, rule_id: str, chosen: Ints) -> list[bool]:
        """Whether a rule ran at each of these purchases (``_ran``)."""
        ran = self._ran(rule_id)
        return [True] * len(chosen) if ran is None else ran[chosen].tolist()

    @staticmethod
    def _rule_id(rule: object) -> str:
        if isinstance(rule, GiftCardSpend):
            return rule.rule_id
        return cast("tuple[str, Any]", rule)[0]

    def _first_ran(self, rules: Sequence[T], bought: list[int]) -> list[T]:
        """The rules (each a ``(rule_id, ...)`` pair or a ``GiftCardSpend``, in running order)
        that ran at one of these purchases, in the order their slices were made: by the
        first purchase each ran at (an exclusive group's member set aside at the first ones
        makes its slice later), then running order."""
        if not bought:
            return []
        first: list[tuple[int, int, T]] = []
        for place, rule in enumerate(rules):
            rule_id = (
                rule.rule_id
                if isinstance(rule, GiftCardSpend)
                else cast("tuple[str, Any]", rule)[0]
            )
            ran = self._ran(rule_id)
            if ran is None:
                first.append((bought[0], place, rule))
                continue
            hits = np.flatnonzero(ran[bought])
            if len(hits):
                first.append((bought[int(hits[0])], place, rule))
        first.sort(key=lambda item: (item[0], self._running[self._rule_id(item[2])], item[1]))
        return [rule for _, _, rule in first]

    def _gift_card_windows(
        self, rules: GiftCardSpend, events: Iterable[int], customer: int
    ) -> dict[str, tuple[int, int, int]]:
        """A gift card rule's windows (net, highest, cards), as ``partner_gift_card`` and
        ``refund_partner_gift_card`` leave them."""
        purchases, refunds, _ = self.columns.flags
        purchase_of = self._refunded_purchase()
        windows: dict[str, tuple[int, int, int]] = {}
        seeds = self.columns.window_seeds
        if seeds is not None:  # resumed: the windows a saved state holds go on from it
            windows = dict(seeds(self.columns.frame.customer_ids[customer], rules.rule_id))
        ran = self._ran(rules.rule_id)
        for event in events:
            spend = int(rules.spend[event])
            if purchases[event] and (ran is None or ran[event]):
                key = rules.window(event)
                net, highest, cards = windows.get(key, (0, 0, 0))
                if spend:
                    net += spend
                    if net > highest:
                        highest = net
                        due = highest // rules.every_spend
                        if rules.limit is not None:
                            due = min(due, rules.limit)
                        cards = max(cards, due)
                windows[key] = (net, highest, cards)
            elif event in rules.saved_refunds:  # of a purchase a saved state keeps
                key, _, back = rules.saved_refunds[event]
                net, highest, cards = windows.get(key, (0, 0, 0))
                windows[key] = (net - back, highest, cards)
            elif refunds[event] and spend and (ran is None or ran[purchase_of[event]]):
                key = rules.window(purchase_of[event])
                net, highest, cards = windows.get(key, (0, 0, 0))
                windows[key] = (net - spend, highest, cards)
        return windows

    def _bonuses(self, bought: list[int]) -> tuple[str, ...]:
        """The bonus rules that gave the customer their points, in the order given."""
        found: dict[str, None] = {}
        for event in bought:
            for rule_id, given in self.columns.bonuses:
                if given[event]:
                    found.setdefault(rule_id)
        return tuple(found)

    # --- tiers ------------------------------------------------------------------------

    def _retention(self, bought: list[int]) -> tuple[str | None, dict[str, datetime]]:
        """For ``keep_for`` and ``keep_until``: the window level at the last purchase, and
        when each level was last reached (``TierCounter.level_before``)."""
        tiers = self.columns.plan.tiers
        if tiers is None or not tiers.holds or not bought:
            return None, {}
        window = self.columns.window_tier
        reached: dict[int, int] = {}
        previous = -1
        for event in bought:
            level = int(window[event])
            for index in range(previous + 1, level + 1):
                reached[index] = event
            previous = level
        names = tiers.names
        moment = self.columns.moment
        window_name = None if previous < 0 else names[previous]
        return window_name, {names[index]: moment(reached[index]) for index in sorted(reached)}

    def _forgotten_tiers(
        self, forgotten: list[int], now: datetime
    ) -> tuple[dict[str, int], tuple[TierAmount, ...]]:
        """What the forgotten purchases still count in the tier window read next
        (``WorkingState._forgotten_tiers``)."""
        columns = self.columns
        tiers, amounts = columns.plan.tiers, columns.tier_amounts
        if tiers is None or amounts is None or not forgotten:
            return {}, ()
        local_date = columns.frame.local_date
        if tiers.span is None:
            key = calendar_key(tiers.window, now.astimezone(tiers.zone).date())
            amount = sum(
                int(amounts[event])
                for event in forgotten
                if calendar_key(tiers.window, date.fromordinal(int(local_date[event]))) == key
            )
            return ({key: amount} if amount else {}), ()
        start = micros(elapsed(now, -tiers.span))
        at = columns.frame.at
        return {}, tuple(
            TierAmount(int(at[event]), int(amounts[event]))
            for event in forgotten
            if start <= int(at[event])
        )


def gift_card_spend(
    stage: GiftCardColumns,
    frame: Frame,
    tier: Ints,
    paid: Ints,
    purchase_lines: Flags,
    steps: list[RefundStep],
    beside_price: bool = False,
) -> GiftCardSpend:
    """A gift card rule's qualifying spend per event (``GiftCardPlan.qualifying_spend``):
    of what each purchase paid, and of what each refund gives back."""
    plan = stage.plan
    eligible = stage.scope.line_flags(tier, frame) & purchase_lines
    spend = np.zeros(frame.events, dtype=np.int64)
    if frame.events:
        spend = np.add.reduceat(np.where(eligible, paid, 0), frame.line_start[:-1])
    for step in steps:
        start = int(frame.line_start[step.purchase])
        flags = eligible[start : start + len(step.amounts_after)].tolist()
        spend[step.event] = sum(
            after - before
            for after, before, flag in zip(step.amounts_after, step.amounts_before, flags)
            if flag
        )
    window = plan.rule.window
    local_date = frame.local_date

    def key_of(event: int) -> str:
        return calendar_key(window, date.fromordinal(int(local_date[event])))

    return GiftCardSpend(
        plan.rule.id,
        plan.every_spend,
        plan.limit,
        np.asarray(spend, dtype=np.int64),
        key_of,
        paid if beside_price else None,
    )
