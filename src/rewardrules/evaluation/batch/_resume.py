"""Resuming from saved states (``states=``): each resumed customer seeded from their state.

A saved state is read with the reference engine's own checks and restore
(``fold._restore``: the same errors, the same ``WorkingState``). What the state carries
into the new history is then handed to the columns as per-customer seeds: a punch card's
count (an offset to its cumulative sums), a bonus given once per customer or a sign-up
bonus at a purchase (the customer's purchases no longer qualify), a birthday's last year
given, a limit's usage and the walks of gifts at dates (``_resumed_slices``), a friend's
referral mark and hold and a referrer's friends and held rewards (``_resumed_referrals``),
the points account (lots, debt, pending points, the
redemptions a cancellation gives back, the activity ``expire_on_inactivity`` counts from:
the account loop starts from it instead of an empty account). Refunds of saved
purchases run through the reference's steps (``_saved_refunds``), tiers get what the saved
purchases count (``_resumed_tiers``), and the state saved at the end is the new history's
merged with the saved one (``_resumed_states``). A customer with a saved state and no
new event is reported by the reference's own ``fold._result`` on their restored state
(nothing to compute but the state itself), after the reference's own fold of the referral
facts the new history raises for them, if any. A new event (or fact) older than its
customer's saved state is the reference's error.

What a program's states hold that the columns cannot take yet would be refused by name
(``UnsupportedError``, ``support.resume_unsupported``), before anything is computed: every
rule kind's slices are seeded today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np

from rewardrules.engine._state_format import instant, micros
from rewardrules.engine._state_restore import restore, restore_account
from rewardrules.engine.ledger import CustomerResult, LedgerEntry
from rewardrules.engine.lots import PointsAccount
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import calendar_key
from rewardrules.engine.working_state import WorkingState
from rewardrules.errors import REPEATED_EVENT_ID, Problem, event_error
from rewardrules.evaluation.batch._bonus import BonusColumns
from rewardrules.evaluation.batch._cards import CardColumns
from rewardrules.evaluation.batch._dated import GiftColumns
from rewardrules.evaluation.batch._frame import Frame, UnsupportedError
from rewardrules.evaluation.batch._giftcards import GiftCardColumns
from rewardrules.evaluation.batch._opening import Grants
from rewardrules.evaluation.batch._referrals import Fact
from rewardrules.evaluation.batch._resumed_states import merged_state
from rewardrules.evaluation.batch._resumed_tiers import SavedTiers
from rewardrules.evaluation.batch._saved_refunds import SavedRefunds, saved_refunds
from rewardrules.evaluation.batch._tiers import Retention, TierWindows, calendar_keys
from rewardrules.evaluation.batch.support import resume_unsupported
from rewardrules.evaluation.fold import _Cutoff, _fold_event, _restore, _result, _saved_states
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.bonus_points import BonusPlan
from rewardrules.kinds.signup_bonus import SignupPlan


def _refuse(features: list[str]) -> None:
    if features:
        listed = "; ".join(features)
        message = (
            f"the batch engine does not resume {listed} yet; "
            "evaluate with engine='reference' to resume"
        )
        raise UnsupportedError([Problem(message=message, code="unsupported")])


@dataclass(slots=True)
class Resumed:
    """The saved states of an evaluation, restored, and their seeds over a frame."""

    plan: ProgramPlan
    saved: Mapping[str, CustomerState]
    """Per customer id, the saved state (as given)."""
    refunds: SavedRefunds = field(default_factory=SavedRefunds)
    """The new history's refunds of purchases the saved states keep (set by ``check``)."""
    cancels: dict[int, str] = field(default_factory=dict)
    """Per cancellation (event) of a redemption a saved state holds, its id (``check``)."""
    saved_tiers: SavedTiers | None = None
    """The saved tier entries over the frame (set by :meth:`tiers`)."""
    frame: Frame | None = None
    """The new history's frame (set by ``check``)."""
    given_profiles: Mapping[str, Customer] = field(default_factory=dict)
    """The profiles as given (set by :meth:`profiles`): an idle customer's state reads its
    own, as the reference's (gifts at dates up to ``as_of``)."""

    @classmethod
    def of(cls, plan: ProgramPlan, states: object) -> Resumed:
        """Read and check the saved states as the reference engine does.

        Raises:
            HistoryError: a state of another program, given twice or under another
                customer, changed after it was saved, or not of this program's currency
                (the reference's errors).
            UnsupportedError: the program uses what the batch engine does not resume yet.
        """
        given = _saved_states(states)  # type: ignore[arg-type]
        for saved in given:
            _restore(plan, saved)  # the reference's checks and errors, in its order
        if given:
            _refuse(resume_unsupported(plan.program))  # nothing today; kept for what comes
        return cls(plan, {saved.customer_id: saved for saved in given})

    def profiles(self, profiles: dict[str, Customer]) -> dict[str, Customer]:
        """The profiles, without the opening of a customer with a saved state: the state
        already holds it (``fold._start_profiles`` opens only the others)."""
        self.given_profiles = profiles
        return {
            customer_id: (
                profile.model_copy(update={"opening_points": (), "tier": None, "tier_until": None})
                if customer_id in self.saved and profile.opens
                else profile
            )
            for customer_id, profile in profiles.items()
        }

    def restored(self, customer_id: str) -> WorkingState:
        """A fresh working state of the customer, as the reference restores it."""
        plan = self.plan
        counts = plan.points.inactivity is not None and "purchase" in plan.points.activity
        state = restore(self.saved[customer_id], plan.money, plan.zone, plan.tiers, counts)
        state.profile = self.given_profiles.get(customer_id)  # as ``fold.evaluate``
        return state

    def account(self, customer_id: str) -> PointsAccount | None:
        """The customer's points account as saved (a fresh copy), or None without a state."""
        saved = self.saved.get(customer_id)
        if saved is None:
            return None
        plan = self.plan
        account = PointsAccount()
        counts = plan.points.inactivity is not None and "purchase" in plan.points.activity
        restore_account(saved, account, counts)  # as ``restore`` restores it
        return account

    # --- checks -----------------------------------------------------------------------

    def check(self, frame: Frame) -> None:
        """Read the new history's events a saved state is needed for: the refunds of
        purchases it keeps, the cancellations of redemptions it holds (``refunds``,
        ``cancels``); raise the reference's error for an id a saved state holds.

        Raises:
            HistoryError: an event repeats the id of an event a saved state holds, or one
                of those refunds or cancellations is one the reference refuses.
        """
        if not self.saved:
            return
        self._check_ids(frame)
        cancels = np.flatnonzero(frame.flags_of("cancel_redemption")).tolist()
        self.frame = frame
        self.refunds = saved_refunds(self.plan, frame, self.saved, self.restored, _moment(frame))
        self.cancels = self._saved_cancels(frame, cancels)

    def _saved_cancels(self, frame: Frame, cancels: list[int]) -> dict[int, str]:
        """Per cancellation of a redemption a saved state holds, that redemption's id; the
        reference's errors for one it refuses (``fold._apply_cancellation``).

        Raises:
            HistoryError: the redemption is itself a cancellation, or was already
                cancelled (in the saved state, or earlier in the new history).
        """
        found: dict[int, str] = {}
        ids = frame.event_ids
        named = {event: frame.redemption_id[event].as_py() for event in cancels}
        for event in sorted(cancels, key=lambda event: (int(frame.at[event]), ids[event])):
            customer_id = frame.customer_ids[int(frame.customer[event])]
            saved = self.saved.get(customer_id)
            target = named[event]
            if saved is None or target not in saved.redemptions:
                continue  # of a new redemption (or of none): ``_cancels``
            if target in saved.cancellations:
                message = (
                    f"it cancels redemption {target}, which customer {customer_id} has not "
                    "made before it; check the redemption id"
                )
                raise event_error(ids[event], message, "redemption_id")
            earlier = next(
                (key for key, value in saved.cancellations.items() if value == target), None
            )
            if earlier is None:
                earlier = next(
                    (
                        ids[other]
                        for other, value in found.items()
                        if value == target
                        and frame.customer_ids[int(frame.customer[other])] == customer_id
                    ),
                    None,
                )
            if earlier is not None:
                message = f"redemption {target} was already cancelled by {earlier}; cancel it once"
                raise event_error(ids[event], message, "redemption_id")
            found[event] = target
        return found

    def _check_ids(self, frame: Frame) -> None:
        """The first event (by instant, then id) whose id a saved state holds, or that
        comes before its customer's saved state: the reference's error."""
        held: set[str] = set()
        for saved in self.saved.values():
            held.update(row.id for row in saved.purchases)
            held.update(saved.refunds)
            held.update(saved.redemptions)
            held.update(kept.id for kept in saved.referrals)  # ``fold._evaluate``'s fact ids
        ids = frame.event_ids
        found: list[tuple[int, str, str, str]] = []
        if held:
            found += [
                (int(frame.at[event]), event_id, REPEATED_EVENT_ID, "")
                for event, event_id in enumerate(ids.tolist())
                if event_id in held
            ]
        for customer, customer_id in self.seeded_customers(frame).items():
            last = self.saved[customer_id].last_event_at
            first = int(frame.customer_start[customer])
            if last is not None and int(frame.at[first]) < micros(last):
                moment = _moment(frame)(first)
                message = (
                    f"it happened at {moment.isoformat()}, before the customer's saved state "
                    f"(last event at {last.isoformat()}); evaluate it from an earlier state"
                )
                found.append((int(frame.at[first]), str(ids[first]), message, "at"))
        if found:
            _, event_id, message, path = min(found)
            raise event_error(event_id, message, *([path] if path else []))

    # --- seeds --------------------------------------------------------------------------

    def stages(self, stages: Sequence[Any], frame: Frame) -> list[Any]:
        """The rules' stages seeded for the frame's resumed customers: a punch card's
        count, a bonus given once per customer or a sign-up bonus already given, the last
        birthday year a birthday at purchases gave."""
        if not self.saved:
            return list(stages)
        customers = frame.customer_ids
        seeded: list[Any] = []
        for stage in stages:
            rule_id = stage.plan.rule.id
            seed = stage
            if isinstance(stage, CardColumns):
                offset = np.asarray(
                    [self._stamps(customer_id, rule_id) for customer_id in customers],
                    dtype=np.int64,
                )
                seed = replace(stage, offset=offset) if offset.any() else stage
                gone = self.refunds.gone.get(rule_id)
                if gone:
                    seed = replace(seed, saved_gone=gone)
            elif isinstance(stage, GiftCardColumns):
                seeds = self._window_seeds(frame, stage)
                seed = replace(stage, seeds=seeds) if seeds else stage
                backs = self.refunds.windows.get(rule_id)
                if backs:
                    given_back = {event: (day, back) for event, (_, day, back) in backs.items()}
                    seed = replace(seed, saved_refunds=given_back)
            elif isinstance(stage, GiftColumns) and isinstance(stage.plan, BirthdayPlan):
                done = np.asarray(
                    [self._year(customer_id, rule_id) for customer_id in customers],
                    dtype=np.int64,
                )
                seed = replace(stage, years_done=done) if done.any() else stage
            elif isinstance(stage, BonusColumns | GiftColumns) and _once(stage):
                given = np.asarray(
                    [self._given(customer_id, rule_id) for customer_id in customers],
                    dtype=np.bool_,
                )
                seed = replace(stage, given_before=given) if given.any() else stage
            seeded.append(seed)
        return seeded

    def _window_seeds(
        self, frame: Frame, stage: GiftCardColumns
    ) -> dict[tuple[int, int], tuple[int, int, int]]:
        """Per (customer, window key) of a new purchase, the window a saved state holds."""
        rule = stage.plan.rule
        purchases = frame.flags_of("purchase")
        found: dict[tuple[int, int], tuple[int, int, int]] = {}
        for customer, customer_id in enumerate(frame.customer_ids):
            windows = self.windows(customer_id, rule.id)
            if not windows:
                continue
            start = int(frame.customer_start[customer])
            end = int(frame.customer_start[customer + 1])
            bought = [event for event in range(start, end) if purchases[event]]
            days = frame.local_date[np.asarray(bought, dtype=np.int64)]
            for day, number in zip(days.tolist(), calendar_keys(rule.window, days).tolist()):
                window = windows.get(calendar_key(rule.window, date.fromordinal(day)))
                if window is not None:
                    found[(customer, number)] = window
        return found

    def windows(self, customer_id: str, rule_id: str) -> dict[str, tuple[int, int, int]]:
        """A gift card rule's windows a saved state holds (net, highest, cards; minor
        units), in the state's order."""
        saved = self.saved.get(customer_id)
        if saved is None:
            return {}
        to_minor = self.plan.money.to_minor
        return {
            key: (to_minor(window.net_spend), to_minor(window.highest_spend), window.cards)
            for key, window in saved.gift_cards.get(rule_id, {}).items()
        }

    def _stamps(self, customer_id: str, rule_id: str) -> int:
        saved = self.saved.get(customer_id)
        return 0 if saved is None else saved.stamps.get(rule_id, 0)

    def _year(self, customer_id: str, rule_id: str) -> int:
        saved = self.saved.get(customer_id)
        return 0 if saved is None else saved.birthdays.get(rule_id, 0)

    def first_event(self, customer_id: str) -> datetime | None:
        """When the customer's saved state says their first event was (None: no state)."""
        saved = self.saved.get(customer_id)
        return None if saved is None else saved.first_event_at

    def _given(self, customer_id: str, rule_id: str) -> bool:
        saved = self.saved.get(customer_id)
        return saved is not None and rule_id in saved.bonuses

    def tiers(self, frame: Frame, windows: TierWindows, retention: Retention | None) -> SavedTiers:
        """The saved tier entries over the frame: the windows' base, the retention's seeds
        (``_resumed_tiers``)."""
        assert self.plan.tiers is not None  # noqa: S101 -- called with tiers
        saved = SavedTiers(self.plan.tiers, frame, self.saved, self.refunds.tier_amounts)
        saved.windows = windows
        if saved.customers:
            saved.windows = replace(windows, base=saved.base(), report_base=saved.report_base)
            if retention is not None:
                retention.saved_window = saved.window_level()
                retention.saved_until = saved.held_until()
        self.saved_tiers = saved
        return saved

    def grants(self, frame: Frame, grants: Grants | None) -> Grants | None:
        """The frame's granted tiers with those the saved states keep (``tier_granted``
        until ``tier_granted_until``, as ``restore`` grants them)."""
        tiers = self.plan.tiers
        if tiers is None:
            return grants
        count = len(frame.customer_ids)
        level = np.full(count, -1, dtype=np.int64) if grants is None else grants.level.copy()
        until = np.zeros(count, dtype=np.int64) if grants is None else grants.until.copy()
        found = False
        for customer, customer_id in enumerate(frame.customer_ids):
            saved = self.saved.get(customer_id)
            if saved is None or saved.tier_granted is None or saved.tier_granted_until is None:
                continue
            level[customer] = tiers.index_of(saved.tier_granted)
            until[customer] = micros(saved.tier_granted_until)
            found = True
        return Grants(level, until) if found else grants

    def seeded_customers(self, frame: Frame) -> dict[int, str]:
        """The frame's customers (by index) with a saved state."""
        return {
            customer: customer_id
            for customer, customer_id in enumerate(frame.customer_ids)
            if customer_id in self.saved
        }

    # --- results --------------------------------------------------------------------------

    def merged(
        self,
        customer_id: str,
        state: CustomerState,
        account: PointsAccount,
        counts: Mapping[str, int],
        bought: Sequence[tuple[datetime, int]] = (),
    ) -> CustomerState:
        """The state the reference saves after resuming (``_resumed_states``)."""
        return merged_state(self, customer_id, state, account, counts, bought)

    def idle(
        self,
        frame_customers: Iterable[str],
        cutoff: _Cutoff | None,
        facts: Mapping[str, Sequence[Fact]] | None = None,
    ) -> list[CustomerResult]:
        """The results of the customers with a saved state and no new event: the
        reference's own, from their restored state (their state, the referral ``facts``
        the new history raised for them, checked already, folded in their order, and what
        ``as_of`` expires)."""
        present = set(frame_customers)
        found = []
        prices: dict[Any, int] = {}
        for customer_id in sorted(self.saved):
            if customer_id in present:
                continue
            state = self.restored(customer_id)
            ledger: list[LedgerEntry] = []
            for fact in (facts or {}).get(customer_id, ()):
                _fold_event(self.plan, state, fact.event(), ledger, prices)
            found.append(_result(self.plan, state, ledger, cutoff))
        return found


def with_idle(
    results: tuple[CustomerResult, ...], idle: list[CustomerResult]
) -> tuple[tuple[CustomerResult, ...], list[LedgerEntry]]:
    """The results with the idle resumed customers', in id order, and their entries."""
    if not idle:
        return results, []
    merged = sorted([*results, *idle], key=lambda result: result.customer_id)
    return tuple(merged), [entry for result in idle for entry in result.ledger]


def _once(stage: BonusColumns | GiftColumns) -> bool:
    """Whether a saved state's mark (``bonuses``) keeps the rule from giving again: a bonus
    once per customer, a sign-up bonus at a purchase."""
    plan = stage.plan
    if isinstance(plan, BonusPlan):
        return plan.rule.once_per_customer
    return isinstance(plan, SignupPlan)


def _moment(frame: Frame) -> Any:
    """An event's instant as it was written (UTC when no offset was kept)."""

    def moment(event: int) -> datetime:
        return instant(int(frame.at[event]), int(frame.utc_offset[event]))

    return moment
