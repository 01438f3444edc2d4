"""Saved states from the batch engine's columns: ``CustomerResult.state`` as the reference's.

The batch engine keeps no per-customer objects while it runs; a customer's state is built
when it is read, from the columns the run computed (tiers, paid amounts, refunds, points
per rule, punch-card counts) and a short loop over that customer's events for what is a
matter of order (the points account's lots, gift-card windows, when each tier was
reached). Everything a state holds goes through ``rewardrules.engine.state``'s public models
(``CustomerState``, ``SavedPurchase``, ``SavedLot``, ``GiftCardWindow``, ``TierAmount``)
in this module and its helpers alone, so that a change of the saved shape is adapted
here: ``_state_inputs`` (the columns handed over), ``_state_account`` (the points account
replayed), ``_state_purchases`` (the kept purchases as saved columns), ``_state_rules``
(where each rule ran, its slices' order, gift-card windows, bonuses) and ``_state_tiers``
(retention, forgotten purchases' tier amounts); this module assembles the state.

Dicts keep the reference's insertion order (it shows in the JSON and the digest): a rule
appears in ``stamps``, ``gift_cards`` and a purchase's ``points`` in the order the rules
run, a gift-card window when its first purchase is made, a bonus when it is first given.
"""

from __future__ import annotations

import copy
from datetime import date

from rewardrules.engine._state_columns import purchase_columns, window_columns
from rewardrules.engine._state_save import saved_spent, saved_written_off
from rewardrules.engine.lots import settle
from rewardrules.engine.state import CustomerState, GiftCardWindow, SavedLot
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._slices import Slices, Timeline
from rewardrules.evaluation.batch._state_account import replay_account
from rewardrules.evaluation.batch._state_inputs import StateColumns
from rewardrules.evaluation.batch._state_purchases import (
    forget,
    saved_purchases,
    settled_purchase,
)
from rewardrules.evaluation.batch._state_rules import (
    first_ran,
    gift_card_windows,
    rule_bonuses,
    running_places,
)
from rewardrules.evaluation.batch._state_tiers import forgotten_tiers, retention


class SavedStates:
    """Builds each customer's final state on demand (``CustomerResult.state``)."""

    def __init__(self, columns: StateColumns) -> None:
        self.columns = columns
        self._last_step: dict[int, RefundStep] | None = None
        """Per refunded purchase, its last refund (built once, when a state is first read)."""
        self._purchase_of: dict[int, int] | None = None
        """Per refund, its purchase."""
        self._running = running_places(columns.plan)
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
            account = replay_account(columns, customer, events)
        moment = columns.moment
        found = self._slices(customer, events)
        last_event_at = (None if found is None else found.last_event_at) or moment(end - 1)
        kept, forgotten = forget(columns, bought, last_event_at)
        for event in forgotten:
            settle(account, frame.event_ids[event])  # no longer refundable, as the reference
        window_tier, reached = retention(columns, bought)
        tier_amounts, tier_window = forgotten_tiers(columns, forgotten, last_event_at)
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
            written_off=saved_written_off(account),
            last_purchase_at=account.last_purchase_at,
            settled_active_at=account.settled_at,
            last_event_at=last_event_at,
            stamps={
                rule_id: int(final[customer])
                for rule_id, final in first_ran(columns, self._running, columns.stamps, bought)
            },
            gift_cards={
                rules.rule_id: {
                    key: GiftCardWindow(
                        net_spend=money.to_decimal(net),
                        highest_spend=money.to_decimal(highest),
                        cards=cards,
                    )
                    for key, (net, highest, cards) in gift_card_windows(
                        columns, self._refunded_purchase(), rules, events, customer
                    ).items()
                }
                for rules in first_ran(columns, self._running, columns.gift_cards, bought)
            },
            exponent=money.exponent if kept else None,
            purchase_columns=purchase_columns(
                saved_purchases(columns, self._running, self._last_refunds(), kept)
            ),
            refunds=tuple(ids[event] for event in events if refunds[event]),
            redemptions=tuple(
                ids[event] for event in events if redemptions[event] or event in targets
            ),
            spent=saved_spent(account),
            cancellations={ids[event]: targets[event] for event in events if event in targets},
            window_tier=window_tier,
            tier_reached=reached,
            forgotten_until=moment(forgotten[-1]) if forgotten else None,
            settled_purchase_at=settled_purchase(columns, self._last_refunds(), forgotten),
            tier_amounts=tier_amounts,
            window_columns=window_columns(tier_window),
            tier_granted=None if granted is None else granted.tier,
            tier_granted_until=None if granted is None else granted.tier_until,
            bonuses=rule_bonuses(columns, bought) if found is None else found.bonuses,
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

    def _refunded_purchase(self) -> dict[int, int]:
        if self._purchase_of is None:
            self._purchase_of = {step.event: step.purchase for step in self.columns.steps}
        return self._purchase_of

    def _last_refunds(self) -> dict[int, RefundStep]:
        if self._last_step is None:
            self._last_step = {step.purchase: step for step in self.columns.steps}
        return self._last_step
