"""What each rule leaves in a saved state, read from the run's columns.

Where a rule ran (not past a final rule's stop, not set aside by its exclusive group),
the order the rules' slices were made in (``stamps`` and ``gift_cards`` keep it), a gift
card rule's windows as ``partner_gift_card`` and its refund step leave them, and the
bonus rules that gave the customer points, in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from rewardrules.evaluation.batch._frame import Ints
from rewardrules.evaluation.batch._state_inputs import GiftCardSpend, StateColumns
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.evaluation.stacking import purchase_stages

T = TypeVar("T")


def running_places(plan: ProgramPlan) -> dict[str, int]:
    """Each rule's place in the reference's running order (an exclusive group's members
    run together, at the first one's place): the order a purchase's points are kept in."""
    _, order = purchase_stages(plan)
    return {rule.id: place for place, rule in enumerate(order)}


def rule_ran(columns: StateColumns, rule_id: str) -> Any:
    """Per event, whether a rule ran there: not where a final rule of an earlier step
    gave something (``final: true``), nor where its exclusive group set it aside; None
    when it ran at every purchase."""
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


def ran_at(columns: StateColumns, rule_id: str, chosen: Ints) -> list[bool]:
    """Whether a rule ran at each of these purchases (``rule_ran``)."""
    ran = rule_ran(columns, rule_id)
    return [True] * len(chosen) if ran is None else ran[chosen].tolist()


def _rule_id(rule: object) -> str:
    if isinstance(rule, GiftCardSpend):
        return rule.rule_id
    return cast("tuple[str, Any]", rule)[0]


def first_ran(
    columns: StateColumns, running: Mapping[str, int], rules: Sequence[T], bought: list[int]
) -> list[T]:
    """The rules (each a ``(rule_id, ...)`` pair or a ``GiftCardSpend``, in running order)
    that ran at one of these purchases, in the order their slices were made: by the
    first purchase each ran at (an exclusive group's member set aside at the first ones
    makes its slice later), then running order."""
    if not bought:
        return []
    first: list[tuple[int, int, T]] = []
    for place, rule in enumerate(rules):
        ran = rule_ran(columns, _rule_id(rule))
        if ran is None:
            first.append((bought[0], place, rule))
            continue
        hits = np.flatnonzero(ran[bought])
        if len(hits):
            first.append((bought[int(hits[0])], place, rule))
    first.sort(key=lambda item: (item[0], running[_rule_id(item[2])], item[1]))
    return [rule for _, _, rule in first]


def gift_card_windows(
    columns: StateColumns,
    purchase_of: Mapping[int, int],
    rules: GiftCardSpend,
    events: Iterable[int],
    customer: int,
) -> dict[str, tuple[int, int, int]]:
    """A gift card rule's windows (net, highest, cards), as ``partner_gift_card`` and
    ``refund_partner_gift_card`` leave them."""
    purchases, refunds, _ = columns.flags
    windows: dict[str, tuple[int, int, int]] = {}
    seeds = columns.window_seeds
    if seeds is not None:  # resumed: the windows a saved state holds go on from it
        windows = dict(seeds(columns.frame.customer_ids[customer], rules.rule_id))
    ran = rule_ran(columns, rules.rule_id)
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


def rule_bonuses(columns: StateColumns, bought: list[int]) -> tuple[str, ...]:
    """The bonus rules that gave the customer their points, in the order given."""
    found: dict[str, None] = {}
    for event in bought:
        for rule_id, given in columns.bonuses:
            if given[event]:
                found.setdefault(rule_id)
    return tuple(found)
