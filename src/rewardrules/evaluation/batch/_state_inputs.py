"""What the batch run hands its saved states: the columns a customer's state is read from.

``StateColumns`` gathers what the run computed that ``_states`` reads when a state is
asked for (tiers, paid amounts, refund steps, net points per event, points per rule,
punch-card counts, gift-card spend, bonuses, the slices' reader, the resumed seeds);
``RulePoints`` and ``GiftCardSpend`` are an earning rule's and a gift card rule's share
of it, and ``gift_card_spend`` computes the latter from a gift card stage's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import PointsAccount
from rewardrules.engine.state import CustomerState
from rewardrules.engine.tiers import calendar_key
from rewardrules.evaluation.batch._cancels import Catalogue
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints
from rewardrules.evaluation.batch._giftcards import GiftCardColumns
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._slices import SliceReader
from rewardrules.evaluation.batch._timeline import Walk
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import Customer


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
